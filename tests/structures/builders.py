"""Hand-built structures shared by the structures tests (importable as ``structures.builders``)."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure

P_O_A = 1.54  # P-O bond length used in the hand-built phosphate (A)
TETRA_DIRS = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)


def isolated_phosphate(mobile_ion: str = "Na", a_A: float = 8.0) -> Structure:
    """Cubic cell with one regular PO4 tetrahedron (P-O 1.54 A) and three mobile ions."""
    centre = np.array([0.5, 0.5, 0.5]) * a_A
    species = ["P"] + ["O"] * 4 + [mobile_ion] * 3
    coords = [centre, *(centre + P_O_A * TETRA_DIRS)]
    coords += [np.array(f) * a_A for f in ([0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0])]
    return Structure(Lattice.cubic(a_A), species, coords, coords_are_cartesian=True)
