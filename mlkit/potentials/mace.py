"""MACE adapter (``mace-torch``); weights must be a local file (no download here)."""

from __future__ import annotations


def make_calculator(device: str, dtype: str = "float32", model_path: str | None = None):
    """Return a ``mace.calculators.MACECalculator`` for the local model ``model_path``."""
    from mace.calculators import MACECalculator

    return MACECalculator(model_paths=model_path, device=device, default_dtype=dtype)
