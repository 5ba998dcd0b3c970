"""A potential named as a value, and one calculator per process for each such value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CalculatorSpec", "calculator_from_spec"]


@dataclass(frozen=True)
class CalculatorSpec:
    """Which potential to build (the arguments of :func:`mlkit.potentials.get_calculator`).

    Frozen and hashable, so batch workers can receive it and build the calculator once.
    """

    name: str = "sevennet"
    device: str = "cpu"
    model_path: str | None = None
    threads: int | None = 1


_CALCULATORS: dict[CalculatorSpec, Any] = {}


def calculator_from_spec(spec: CalculatorSpec) -> Any:
    """The ASE calculator of ``spec``, built on first use and reused in this process."""
    if spec not in _CALCULATORS:
        from mlkit.potentials.registry import get_calculator

        _CALCULATORS[spec] = get_calculator(spec.name, device=spec.device, threads=spec.threads,
                                            model_path=spec.model_path)
    return _CALCULATORS[spec]
