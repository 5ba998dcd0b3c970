"""Rotors: the polyanion groups whose reorientation MD labels and constrained MD follow.

What is a rotor
---------------
By default the paper's choice (Yang et al. 2024): tetrahedral and octahedral polyanions,
i.e. the polyhedra of :func:`~mlkit.structures.find_polyanions` whose centre can centre a
polyanion (:func:`~mlkit.structures.chemistry.can_centre_polyanion`: the alkali and
alkaline-earth counter-cations K, Rb, Cs, Ca, Sr, Ba, Mg, ... are spectators, Be excepted;
the mobile ion and H never centre). ``shapes`` widens or narrows the shapes kept
(``"triangle"``, ``"linear"``, ``"other"`` on request).

Multi-centre groups (``clusters=True``)
---------------------------------------
Two p-block centres (:func:`~mlkit.structures.chemistry.forms_centre_bonds`: B, C, Si,
P, S, Ge, As, Se, Sn, Sb, Te, ...; d/f-block cation contacts such as Cu(I)-Cu(I) or Pd-Pd
are no bonds of a rotating group) are **bonded** when their distance is at most
``(1 + cluster_tol) * (r_a + r_b)`` (covalent radii of
:func:`~mlkit.structures.chemistry.covalent_radius_A`: Cordero 2008; ``cluster_tol = 0.15``,
the factor of the chemistry module's covalent correction) **and** they share no ligand
(centres bridged by a common ligand, as in edge- or face-sharing octahedra, are close
without a centre-centre bond). Bonded centres form one group: P2S6 (P-P 2.2 A), B10H10 and
B12H12 (B-B 1.7-1.8 A), S2O6. A group's ligands are the union of its centres' anion
ligands; it is kept whatever the shapes of its centres (shape ``"cluster"``), and each of
its centres needs only one ligand (each B of B10H10 has one H), while a single centre needs
``min_coordination`` ligands (default 2) and a shape in ``shapes``. Bonded centres that
reach their own periodic image (an infinite chain or network) are no finite group: each
of them is then treated as a single centre.

Not merged
----------
Groups that share ligands (corner-sharing dimers such as P2S7 or Si2O7, edge-sharing
dimers) are not isolated polyanions: ``find_rotors`` returns each centre as its own rotor
(if its shape is kept) and leaves the verdict to
:func:`~mlkit.structures.rotation_screen`, which rejects such frameworks.

Labels
------
Centre elements then ligand elements, each alphabetical with its count (count 1 omitted):
``PS4``, ``NbCl6``, ``P2S6``, ``B10H10``, ``PFO3``. Counts are those of the group (not
reduced) and count ligand *atoms* (site and lattice image), so a tiny cell in which one
ligand site appears twice around a centre still reads ``NbO6``; ``ligand_indices`` lists
the unique ligand *sites*.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from mlkit.errors import MlkitError
from mlkit.structures.chemistry import covalent_radius_A, forms_centre_bonds
from mlkit.structures.polyanions import Polyanion, find_polyanions

__all__ = ["DEFAULT_ROTOR_SHAPES", "Rotor", "find_rotors", "rotor_label"]

#: Shapes of single-centre rotors by default (the paper's tetrahedral/octahedral units).
DEFAULT_ROTOR_SHAPES = ("tetrahedron", "octahedron")

Image = tuple[int, int, int]


@dataclass(frozen=True)
class Rotor:
    """One rotating group: a polyanion (one centre) or a bonded cluster (several).

    Attributes
    ----------
    center_indices : tuple of int
        Site indices of the centre(s), sorted: one for PS4/NbCl6, two for P2S6, ten for
        B10H10.
    ligand_indices : tuple of int
        Unique ligand sites of the group (terminal anions: the S of P2S6, the H of
        B10H10), sorted.
    label : str
        Group formula, e.g. ``"PS4"``, ``"P2S6"`` (module docstring).
    shape : str
        ``"tetrahedron"``, ``"octahedron"`` (or another polyhedron shape when asked for)
        for a single centre; ``"cluster"`` for several.
    center_species : str
        Element of the centre(s); elements joined by ``"-"`` for a mixed cluster.
    """

    center_indices: tuple[int, ...]
    ligand_indices: tuple[int, ...]
    label: str
    shape: str
    center_species: str

    @property
    def atom_indices(self) -> tuple[int, ...]:
        """Centres and ligands, sorted unique site indices."""
        return tuple(sorted(set(self.center_indices) | set(self.ligand_indices)))

    @property
    def n_centers(self) -> int:
        """Number of centres (1 for a polyanion)."""
        return len(self.center_indices)


def rotor_label(center_elements: Sequence[str], ligand_elements: Sequence[str]) -> str:
    """Group formula: centre elements then ligand elements, each alphabetical with counts.

    Parameters
    ----------
    center_elements, ligand_elements : sequence of str
        One element symbol per centre atom / ligand atom.

    Returns
    -------
    str
        E.g. ``rotor_label(["P", "P"], ["S"] * 6) == "P2S6"``.
    """

    def part(elements: Sequence[str]) -> str:
        counts = Counter(elements)
        return "".join(f"{el}{n if n > 1 else ''}" for el, n in sorted(counts.items()))

    return part(center_elements) + part(ligand_elements)


def _bonded_pairs(
    structure: Structure, polys: Sequence[Polyanion], cluster_tol: float
) -> list[tuple[int, int, Image]]:
    """Bonded centre pairs ``(k, m, T)`` (indices into ``polys``; centre ``m`` translated
    by the lattice vector ``T``), each pair listed in both directions.
    """
    bonding = [k for k, p in enumerate(polys) if forms_centre_bonds(p.center_species)]
    if len(bonding) < 2:
        return []
    radii = {polys[k].center_species: covalent_radius_A(polys[k].center_species)
             for k in bonding}
    if not all(np.isfinite(r) for r in radii.values()):
        return []
    by_site = {polys[k].center_index: k for k in bonding}
    r_max = (1 + cluster_tol) * 2 * max(radii.values())
    c_idx, p_idx, images, dists = structure.get_neighbor_list(
        r_max, sites=[structure[polys[k].center_index] for k in bonding]
    )
    ligands = [p.ligand_atoms for p in polys]
    pairs = []
    for c, j, img, d in zip(c_idx.tolist(), p_idx.tolist(), images.tolist(), dists.tolist(),
                            strict=True):
        m = by_site.get(j)
        if m is None or d < 1e-8:
            continue
        c = bonding[c]
        a, b = polys[c], polys[m]
        if d > (1 + cluster_tol) * (radii[a.center_species] + radii[b.center_species]):
            continue
        t = (int(img[0]), int(img[1]), int(img[2]))
        shifted = {(lig, (im[0] + t[0], im[1] + t[1], im[2] + t[2])) for lig, im in ligands[m]}
        if shifted & ligands[c]:
            continue  # bridged by a common ligand: not a centre-centre bond
        pairs.append((c, m, t))
    return pairs


def _groups(
    n: int, pairs: Sequence[tuple[int, int, Image]]
) -> list[tuple[list[int], dict[int, Image], bool]]:
    """Connected components of the bond graph (members, lattice offset of every member
    relative to the first, finite); not finite when a member reaches its own image.
    """
    adj: dict[int, list[tuple[int, Image]]] = {}
    for a, b, t in pairs:
        adj.setdefault(a, []).append((b, t))
    seen: set[int] = set()
    out: list[tuple[list[int], dict[int, Image], bool]] = []
    for root in range(n):
        if root in seen or root not in adj:
            continue
        offset: dict[int, Image] = {root: (0, 0, 0)}
        queue, finite = deque([root]), True
        while queue:
            a = queue.popleft()
            for b, t in adj[a]:
                o = (offset[a][0] + t[0], offset[a][1] + t[1], offset[a][2] + t[2])
                if b not in offset:
                    offset[b] = o
                    queue.append(b)
                elif offset[b] != o:
                    finite = False
        seen.update(offset)
        out.append((sorted(offset), offset, finite))
    return out


def _single(poly: Polyanion) -> Rotor:
    atoms = poly.ligand_atoms
    symbol_of = dict(zip(poly.ligand_indices, poly.ligand_species, strict=True))
    return Rotor(
        center_indices=(poly.center_index,),
        ligand_indices=tuple(sorted({lig for lig, _ in atoms})),
        label=rotor_label([poly.center_species], [symbol_of[lig] for lig, _ in atoms]),
        shape=poly.shape,
        center_species=poly.center_species,
    )


def _cluster(polys: Sequence[Polyanion], members: list[int], offset: dict[int, Image]) -> Rotor:
    atoms: set[tuple[int, Image]] = set()
    symbol_of: dict[int, str] = {}
    for k in members:
        p, o = polys[k], offset[k]
        symbol_of.update(zip(p.ligand_indices, p.ligand_species, strict=True))
        for lig, im in p.ligand_atoms:
            atoms.add((lig, (im[0] + o[0], im[1] + o[1], im[2] + o[2])))
    centres = sorted(polys[k].center_index for k in members)
    elements = [polys[k].center_species for k in members]
    return Rotor(
        center_indices=tuple(centres),
        ligand_indices=tuple(sorted({lig for lig, _ in atoms})),
        label=rotor_label(elements, [symbol_of[lig] for lig, _ in atoms]),
        shape="cluster",
        center_species="-".join(sorted(set(elements))),
    )


def find_rotors(
    structure: Structure,
    mobile_ion: str = "Na",
    *,
    species: Sequence[str] | str | None = None,
    shapes: Sequence[str] = DEFAULT_ROTOR_SHAPES,
    clusters: bool = True,
    cluster_tol: float = 0.15,
    **criteria,
) -> list[Rotor]:
    """Find the rotating groups of a structure (module docstring).

    Parameters
    ----------
    structure : Structure
        Ordered or disordered (roles by majority species) periodic structure.
    mobile_ion : str, default "Na"
        Never a centre.
    species : sequence of str or str, optional
        Keep only the groups named here, by centre element (``"P"``) or label
        (``"PS4"``, ``"P2S6"``); every name must match a group.
    shapes : sequence of str, default ("tetrahedron", "octahedron")
        Shapes of single-centre groups kept (:func:`~mlkit.structures.polyhedron_shape`
        names). Clusters are kept whatever the shapes of their centres.
    clusters : bool, default True
        Merge bonded centres into one group (module docstring); False: every centre alone.
    cluster_tol : float, default 0.15
        Centres are bonded when ``d <= (1 + cluster_tol) * (r_cov_a + r_cov_b)``.
    **criteria
        Keywords of :func:`~mlkit.structures.find_polyanions` (``method``, ``tol``,
        ``rel_cutoff``, ``max_distance_A``, ``min_coordination``, ``exclude_centres``,
        ``counter_cations``; the last defaults to False here: spectators are no rotors).

    Returns
    -------
    list of Rotor
        Ordered by first centre index.

    Raises
    ------
    MlkitError
        When a name in ``species`` matches no group (one line naming it and the labels
        present).
    """
    min_cn = int(criteria.pop("min_coordination", 2))
    criteria.setdefault("counter_cations", False)
    polys = find_polyanions(
        structure, mobile_ion, min_coordination=1 if clusters else min_cn, **criteria
    )
    groups = _groups(len(polys), _bonded_pairs(structure, polys, cluster_tol)) if clusters else []
    candidates: list[Rotor] = []
    grouped: set[int] = set()
    for members, offset, finite in groups:
        if not finite:
            continue  # an infinite chain or network: its centres stay single
        grouped.update(members)
        candidates.append(_cluster(polys, members, offset))
    for k, p in enumerate(polys):
        if k not in grouped and p.coordination_number >= min_cn:
            candidates.append(_single(p))
    candidates.sort(key=lambda r: r.center_indices[0])
    kept = [r for r in candidates if r.shape == "cluster" or r.shape in shapes]
    if species is None:
        return kept
    names = [species] if isinstance(species, str) else list(species)

    def matches(rotor: Rotor, name: str) -> bool:
        return name == rotor.label or name in rotor.center_species.split("-")

    missing = [n for n in names if not any(matches(r, n) for r in kept)]
    if missing:
        present = sorted({r.label for r in kept})
        other = sorted({f"{r.label} ({r.shape})" for r in candidates if r not in kept})
        hint = f"; not kept by shapes: {', '.join(other)}" if other else ""
        raise MlkitError(
            f"species {', '.join(missing)} match no rotor in "
            f"{structure.composition.reduced_formula}; rotors present: "
            f"{', '.join(present) if present else 'none'}{hint}"
        )
    return [r for r in kept if any(matches(r, n) for n in names)]
