"""Framework connectivity from shared ligands between polyanions.

Definition
----------
A ligand *atom* is a (ligand site index, lattice image) pair. Polyhedron ``p`` (centre in the
home cell) and polyhedron ``q`` translated by the lattice vector ``T`` share the ligand atoms
present in both, i.e. ``(l, a)`` in ``p`` and ``(l, b)`` in ``q`` with ``T = a - b``. Every
distinct pair of polyhedra in the infinite crystal is counted **once per unit cell**: for
``p != q`` the key is ``(min(p, q), max(p, q), T)`` with ``T`` oriented from the smaller
index; a polyhedron sharing with its own image (``p == q``, ``T != 0``) is one pair per
``{T, -T}``. A pair sharing 1 ligand is a **corner**, 2 an **edge**, >= 3 a **face** share.

Class: no polyhedra -> ``"none"``; polyhedra but no shared ligand -> ``"isolated"``; only
one kind of share -> ``"corner"``/``"edge"``/``"face"``; several kinds -> ``"mixed"``.
``n_corner``/``n_edge``/``n_face`` are the numbers of such pairs per unit cell.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pymatgen.core import Structure

from mlkit.structures.polyanions import Polyanion

__all__ = ["Connectivity", "CONNECTIVITY_CLASSES", "classify_connectivity", "shared_ligand_pairs"]

CONNECTIVITY_CLASSES = ("isolated", "corner", "edge", "face", "mixed", "none")


@dataclass(frozen=True)
class Connectivity:
    """Framework class and counts of shared corners/edges/faces (pairs per unit cell)."""

    framework_class: str
    n_corner: int
    n_edge: int
    n_face: int

    @property
    def n_shared_pairs(self) -> int:
        """Pairs of polyhedra sharing at least one ligand, per unit cell."""
        return self.n_corner + self.n_edge + self.n_face


def _canonical_translation(t: tuple[int, int, int]) -> tuple[int, int, int]:
    neg = (-t[0], -t[1], -t[2])
    return t if t > neg else neg


def shared_ligand_pairs(
    polyanions: Sequence[Polyanion],
) -> dict[tuple[int, int, tuple[int, int, int]], int]:
    """Number of shared ligand atoms for every sharing pair of polyhedra.

    Parameters
    ----------
    polyanions : sequence of Polyanion
        Polyhedra of one structure (indices into this sequence are used in the keys).

    Returns
    -------
    dict
        ``(p, q, T) -> n_shared`` with ``p <= q`` and ``T`` the translation of ``q``
        (see the module docstring); each pair once per unit cell.
    """
    occurrences: dict[int, list[tuple[int, tuple[int, int, int]]]] = defaultdict(list)
    for k, poly in enumerate(polyanions):
        for lig, img in zip(poly.ligand_indices, poly.ligand_images, strict=True):
            occurrences[lig].append((k, tuple(img)))
    counts: dict[tuple[int, int, tuple[int, int, int]], int] = defaultdict(int)
    for occ in occurrences.values():
        n = len(occ)
        for i in range(n):
            p, a = occ[i]
            for j in range(i + 1, n):
                q, b = occ[j]
                t = (a[0] - b[0], a[1] - b[1], a[2] - b[2])
                if p == q:
                    if t == (0, 0, 0):
                        continue  # same atom listed twice in one polyhedron: not a share
                    key = (p, p, _canonical_translation(t))
                elif p < q:
                    key = (p, q, t)
                else:
                    key = (q, p, (-t[0], -t[1], -t[2]))
                counts[key] += 1
    return dict(counts)


def classify_connectivity(
    structure: Structure | None, polyanions: Sequence[Polyanion]
) -> Connectivity:
    """Classify the framework formed by the polyanions.

    Parameters
    ----------
    structure : Structure or None
        The structure the polyanions come from (used only to check indices).
    polyanions : sequence of Polyanion
        Output of :func:`~mlkit.structures.find_polyanions`.

    Returns
    -------
    Connectivity
        Class in :data:`CONNECTIVITY_CLASSES` and the corner/edge/face pair counts.
    """
    if structure is not None:
        n = len(structure)
        for poly in polyanions:
            if poly.center_index >= n or any(j >= n for j in poly.ligand_indices):
                raise ValueError("polyanion indices do not belong to this structure")
    if not polyanions:
        return Connectivity("none", 0, 0, 0)
    pairs = shared_ligand_pairs(polyanions)
    n_corner = sum(1 for v in pairs.values() if v == 1)
    n_edge = sum(1 for v in pairs.values() if v == 2)
    n_face = sum(1 for v in pairs.values() if v >= 3)
    kinds = [name for name, c in (("corner", n_corner), ("edge", n_edge), ("face", n_face)) if c]
    if not kinds:
        cls = "isolated"
    elif len(kinds) == 1:
        cls = kinds[0]
    else:
        cls = "mixed"
    return Connectivity(cls, n_corner, n_edge, n_face)
