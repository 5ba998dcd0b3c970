"""Shared fixtures: tiny structures built in code, and the path to ../shared data.

Every test that reads ../shared goes through :func:`shared_path` (``from conftest import
shared_path``), which skips the test when the data is absent and fails it when it lacks
``@pytest.mark.shared``, so that ``-m shared`` / ``-m "not shared"`` select exactly the
tests that need the data.
"""

from __future__ import annotations

import pytest
import shared_data
from pymatgen.core import Lattice, Structure
from shared_data import SHARED, SHARED_DATASETS, shared_path

__all__ = ["SHARED", "SHARED_DATASETS", "shared_path"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Record the running test for :func:`shared_data.shared_path`'s marker check."""
    shared_data.running.append(item)
    try:
        return (yield)
    finally:
        shared_data.running.pop()


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
