"""Tiny structures built in code for the featurizer tests."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

#: P-O bond length of the hand-built tetrahedron (A) and its cubic cell edge (A)
PO_A = 1.54
CELL_A = 7.0
TETRA_DIRECTIONS = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def na3po4_box(bonds_A: tuple[float, float, float, float] = (PO_A,) * 4) -> Structure:
    """One PO4 tetrahedron centred in a 7 A cube with three Na (Na3PO4, Z = 1)."""
    centre = np.full(3, CELL_A / 2)
    oxygens = [centre + d * u for d, u in zip(bonds_A, TETRA_DIRECTIONS, strict=True)]
    na = [[0, 0, 0], [CELL_A / 2, 0, 0], [0, CELL_A / 2, 0]]
    coords = [centre, *oxygens, *na]
    return Structure(
        Lattice.cubic(CELL_A),
        ["P", "O", "O", "O", "O", "Na", "Na", "Na"],
        coords,
        coords_are_cartesian=True,
    )


@pytest.fixture
def na3po4() -> Structure:
    return na3po4_box()


@pytest.fixture
def na3po4_factory():
    """``na3po4_box`` itself, for tests that distort the tetrahedron."""
    return na3po4_box


@pytest.fixture
def cscl() -> Structure:
    """CsCl-type CsCl, a = 4.11 A (2 atoms)."""
    return Structure(Lattice.cubic(4.11), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture
def nak_cl_disordered() -> Structure:
    """Rock salt with the cation site half Na, half K (a = 5.64 A)."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
