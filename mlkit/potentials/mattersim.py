"""MatterSim adapter; weights must be a local checkpoint file (no download here)."""

from __future__ import annotations


def make_calculator(device: str, dtype: str = "float32", model_path: str | None = None):
    """Return a ``mattersim.forcefield.MatterSimCalculator`` loaded from ``model_path``."""
    from mattersim.forcefield import MatterSimCalculator

    return MatterSimCalculator(load_path=model_path, device=device)
