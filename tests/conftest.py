"""Shared fixtures: tiny structures built in code, and the path to ../shared data."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATASETS = SHARED / "datasets"


def shared_path(*parts: str) -> Path:
    """Path into ../shared/datasets, skipping the test when it is absent."""
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/datasets/{'/'.join(parts)} (absent on this machine)")
    return path


@pytest.fixture
def nacl() -> Structure:
    """Rock-salt NaCl, a = 5.64 A (8 atoms)."""
    coords = [[0, 0, 0], [0.5, 0.5, 0.5]]
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], coords)


@pytest.fixture
def licl() -> Structure:
    """Rock-salt LiCl, a = 5.13 A (8 atoms)."""
    coords = [[0, 0, 0], [0.5, 0.5, 0.5]]
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], coords)
