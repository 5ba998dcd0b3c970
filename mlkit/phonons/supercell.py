"""Choice of the finite-displacement supercell."""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["choose_supercell_matrix", "perpendicular_widths_A"]


def perpendicular_widths_A(lattice_A: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of a cell, shape (3,); rows of ``lattice_A`` are vectors."""
    a = np.asarray(lattice_A, dtype=float)
    volume = abs(np.linalg.det(a))
    return np.array([volume / np.linalg.norm(np.cross(a[(i + 1) % 3], a[(i + 2) % 3]))
                     for i in range(3)])


def choose_supercell_matrix(
    lattice_A: np.ndarray, n_atoms: int, min_atoms: int = 80, max_multiplier: int = 8,
    atom_slack: float = 1.5,
) -> np.ndarray:
    """Diagonal supercell with at least ``min_atoms`` atoms and widths as equal as possible.

    Among diagonal multipliers ``(n1, n2, n3)`` giving at least ``min_atoms`` atoms, those
    with at most ``atom_slack`` times the smallest such atom count are kept; of these the
    one with the smallest ratio of largest to smallest perpendicular width wins (ties: fewer
    atoms, then the larger smallest width). Axes of equal width get equal multipliers when
    such a candidate is among those kept, so the supercell keeps the lattice's symmetry.

    Parameters
    ----------
    lattice_A : ndarray, shape (3, 3)
        Unit-cell vectors as rows.
    n_atoms : int
        Atoms in the unit cell.

    Returns
    -------
    ndarray of int, shape (3, 3)
        Diagonal supercell matrix (phonopy's ``supercell_matrix``).
    """
    widths = perpendicular_widths_A(lattice_A)
    if n_atoms >= min_atoms:
        return np.eye(3, dtype=int)
    candidates = []
    for mult in itertools.product(range(1, max_multiplier + 1), repeat=3):
        atoms = n_atoms * int(np.prod(mult))
        if atoms < min_atoms:
            continue
        w = widths * np.array(mult)
        candidates.append((atoms, float(w.max() / w.min()), -float(w.min()), mult))
    if not candidates:
        raise ValueError(f"no supercell up to {max_multiplier}^3 reaches {min_atoms} atoms")
    fewest = min(c[0] for c in candidates)
    kept = [c for c in candidates if c[0] <= atom_slack * fewest]
    # axes of equal width keep equal multipliers where possible (a supercell that breaks the
    # lattice's symmetry needs more displacements)
    equal = [(i, j) for i in range(3) for j in range(i + 1, 3)
             if abs(widths[i] - widths[j]) <= 0.01 * max(widths[i], widths[j])]
    symmetric = [c for c in kept if all(c[3][i] == c[3][j] for i, j in equal)]
    best = min(symmetric or kept, key=lambda c: (round(c[1], 6), c[0], c[2]))
    return np.diag(best[3]).astype(int)
