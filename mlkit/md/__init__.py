"""Molecular dynamics with universal ML potentials: runner, observers, trajectory store."""

from __future__ import annotations

from mlkit.md.run import ENSEMBLES, MDBlowUpError, MDResult, MDRun, MDSettings, run_dir_for
from mlkit.md.store import TrajectoryStore
from mlkit.md.supercell import make_supercell, perpendicular_widths_A, supercell_repeats
from mlkit.md.temperature import auto_temperature_K

__all__ = [
    "ENSEMBLES",
    "MDBlowUpError",
    "MDResult",
    "MDRun",
    "MDSettings",
    "TrajectoryStore",
    "auto_temperature_K",
    "make_supercell",
    "perpendicular_widths_A",
    "run_dir_for",
    "supercell_repeats",
]
