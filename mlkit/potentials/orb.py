"""ORB adapter (``orb-models``); weights must be a local checkpoint file."""

from __future__ import annotations


def make_calculator(device: str, dtype: str = "float32", model_path: str | None = None):
    """Return an ``orb_models`` ASE calculator built from the local checkpoint ``model_path``.

    The architecture is ``orb-v3-conservative-inf-omat`` (``orb_models.forcefield.pretrained``);
    its weights are read from ``model_path`` instead of being downloaded.
    """
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.calculator import ORBCalculator

    precision = "float32-high" if dtype == "float32" else "float64"
    orbff = pretrained.orb_v3_conservative_inf_omat(
        weights_path=model_path, device=device, precision=precision
    )
    return ORBCalculator(orbff, device=device)
