"""Supercells whose every lattice direction is at least a minimum length."""

from __future__ import annotations

import numpy as np


def perpendicular_widths_A(matrix_A: np.ndarray) -> np.ndarray:
    """Distances between opposite cell faces.

    Parameters
    ----------
    matrix_A : ndarray of shape (3, 3)
        Lattice vectors as rows (angstrom).

    Returns
    -------
    ndarray of shape (3,)
        ``V / |a_j x a_k|`` for each direction i (angstrom): the thickness that
        matters for periodic-image separation, not the vector length.
    """
    m = np.asarray(matrix_A, dtype=float)
    volume = abs(np.linalg.det(m))
    return np.array(
        [volume / np.linalg.norm(np.cross(m[(i + 1) % 3], m[(i + 2) % 3])) for i in range(3)]
    )


def supercell_repeats(matrix_A: np.ndarray, min_length_A: float) -> tuple[int, int, int]:
    """Diagonal repeats so every perpendicular width is ``>= min_length_A``.

    ``min_length_A <= 0`` returns ``(1, 1, 1)``.
    """
    if min_length_A <= 0:
        return (1, 1, 1)
    widths = perpendicular_widths_A(matrix_A)
    reps = np.maximum(1, np.ceil(min_length_A / widths - 1e-9)).astype(int)
    return tuple(int(r) for r in reps)


def make_supercell(structure, min_length_A: float):
    """Return ``(supercell, repeats)`` for a pymatgen Structure (the input is not modified)."""
    reps = supercell_repeats(structure.lattice.matrix, min_length_A)
    return structure.make_supercell(reps, in_place=False), reps
