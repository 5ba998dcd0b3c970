"""Universal ML interatomic potentials as ASE calculators (registry + one adapter each)."""

from __future__ import annotations

from mlkit.potentials.device import resolve_device, set_threads
from mlkit.potentials.registry import (
    POTENTIALS,
    PotentialSpec,
    available_potentials,
    default_weights,
    get_calculator,
    list_potentials,
    potential_version,
)

__all__ = [
    "POTENTIALS",
    "PotentialSpec",
    "available_potentials",
    "default_weights",
    "get_calculator",
    "list_potentials",
    "potential_version",
    "resolve_device",
    "set_threads",
]
