"""Tiny structures built in code for the structures tests."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from structures.builders import isolated_phosphate


@pytest.fixture
def phosphate() -> Structure:
    return isolated_phosphate()


@pytest.fixture
def perovskite() -> Structure:
    """Cubic perovskite NaNbO3, a = 3.95 A: corner-sharing NbO6 octahedra."""
    return Structure(
        Lattice.cubic(3.95),
        ["Na", "Nb", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


@pytest.fixture
def layered_natis2() -> Structure:
    """CdI2-type TiS2 layers with Na between them (P-3m1): edge-sharing TiS6 only.

    a = 3.45 A, c = 6.6 A, Ti-S = 2.45 A (S height chosen for that bond length).
    """
    a, c, d = 3.45, 6.6, 2.45
    h = np.sqrt(d**2 - (a / np.sqrt(3)) ** 2)
    z = h / c
    return Structure(
        Lattice.hexagonal(a, c),
        ["Ti", "S", "S", "Na"],
        [[0, 0, 0], [1 / 3, 2 / 3, z], [2 / 3, 1 / 3, -z], [0, 0, 0.5]],
    )


@pytest.fixture
def rocksalt_mgo() -> Structure:
    """Rock-salt MgO, a = 4.21 A (conventional, 8 atoms)."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.21), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


@pytest.fixture
def banio3() -> Structure:
    """Hexagonal BaNiO3 (P6_3/mmc): chains of face-sharing NiO6 octahedra along c."""
    return Structure.from_spacegroup(
        "P6_3/mmc",
        Lattice.hexagonal(5.58, 4.83),
        ["Ba", "Ni", "O"],
        [[1 / 3, 2 / 3, 0.75], [0, 0, 0], [0.15, 0.30, 0.25]],
    )
