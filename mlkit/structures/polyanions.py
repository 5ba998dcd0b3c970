"""Polyanions: polyhedra centred on cations other than the mobile ion.

Roles of elements
-----------------
:func:`mlkit.structures.chemistry.element_roles` decides them (the same answer the
features, the MD temperature rule and the framework-melting mask use): an element with a
negative state is an **anion** (ligand), with a positive state a **cation**. Centres are
the cations other than ``mobile_ion``, which is never an anion. Every site plays the role
of its majority element (see :mod:`mlkit.structures.disorder`), with one exception: a site
whose centre elements together occupy it at least as much as its majority element does is
a centre of its most occupied centre element (:func:`centre_element`; the Li0.5Mn0.5
octahedral sites of the inverse spinel Li2MnCl4 centre MnCl6, where the alphabetical tie
would make them Li sites and leave the structure without polyhedra).

Bonding criterion
-----------------
``method="radius"`` (default): an anion site is a ligand of a centre when
``d <= (1 + tol) * (r_centre + r_anion)`` with ``tol = 0.25`` and the radii from pymatgen's
Shannon table for the guessed (rounded) oxidation states
(:func:`mlkit.structures.chemistry.ionic_radius_A`, with its one fallback chain).
``method="relative"``: ligand when ``d <= rel_cutoff * d_min`` (``rel_cutoff = 1.25``), with
``d_min`` the centre's shortest distance to any anion site.
Both are capped by ``max_distance_A = 4.5`` A. All periodic images are searched
(``Structure.get_neighbor_list``); the image of every ligand relative to the unit cell of
the centre is recorded. Centres with fewer than ``min_coordination = 2`` ligands are not
polyhedra and are not returned; H is never a centre (``exclude_centres``).
``counter_cations=False`` also drops the centres that
:func:`mlkit.structures.chemistry.can_centre_polyanion` rejects (alkali and alkaline-earth
spectators such as K, Ca, Ba; Be excepted): the polyanions proper, as rotors and the
rotation screen see them. The default keeps every cation (the framework of
``classify_connectivity`` and of the features).

Shape
-----
CN 2 ``linear`` (ligand-centre-ligand angle >= 150 deg, else ``other``); CN 3 ``triangle``;
CN 4 ``tetrahedron`` (largest L-C-L angle < 150 deg; square-planar/see-saw -> ``other``);
CN 6 ``octahedron`` (at least three trans L-C-L angles >= 150 deg; trigonal prism ->
``other``); any other CN ``other``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from mlkit.structures.chemistry import can_centre_polyanion, element_roles, ionic_radius_A
from mlkit.structures.disorder import majority_symbols

__all__ = [
    "BONDING_METHODS",
    "Polyanion",
    "centre_element",
    "find_polyanions",
    "polyhedron_shape",
]

BONDING_METHODS = ("radius", "relative")
TRANS_ANGLE_DEG = 150.0


@dataclass(frozen=True)
class Polyanion:
    """One cation-centred polyhedron.

    Attributes
    ----------
    center_index : int
        Index of the central site in the structure.
    center_species : str
        Element symbol of the centre (majority species for a disordered site).
    ligand_indices : tuple of int
        Site indices of the ligand anions, sorted by distance.
    ligand_species : tuple of str
        Their element symbols.
    ligand_images : tuple of (int, int, int)
        Lattice translation of each ligand relative to the stored ligand site, for the
        centre at its stored position.
    distances_A : tuple of float
        Centre-ligand distances (A).
    shape : str
        ``"tetrahedron"``, ``"octahedron"``, ``"triangle"``, ``"linear"`` or ``"other"``.
    """

    center_index: int
    center_species: str
    ligand_indices: tuple[int, ...]
    ligand_species: tuple[str, ...]
    ligand_images: tuple[tuple[int, int, int], ...]
    distances_A: tuple[float, ...]
    shape: str

    @property
    def coordination_number(self) -> int:
        """Number of ligands."""
        return len(self.ligand_indices)

    @property
    def mean_distance_A(self) -> float:
        """Mean centre-ligand distance (A)."""
        return float(np.mean(self.distances_A)) if self.distances_A else float("nan")

    @property
    def ligand_atoms(self) -> frozenset[tuple[int, tuple[int, int, int]]]:
        """The ligand atoms as ``(site index, image)`` pairs."""
        return frozenset(zip(self.ligand_indices, self.ligand_images, strict=True))


def polyhedron_shape(vectors_A: np.ndarray) -> str:
    """Shape name of a polyhedron from its centre-to-ligand vectors.

    Parameters
    ----------
    vectors_A : ndarray of shape (n_ligands, 3)
        Cartesian vectors from the centre to each ligand (A).

    Returns
    -------
    str
        ``"linear"``, ``"triangle"``, ``"tetrahedron"``, ``"octahedron"`` or ``"other"``.
    """
    v = np.asarray(vectors_A, dtype=float)
    n = len(v)
    if n < 2:
        return "other"
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    cos = np.clip(u @ u.T, -1.0, 1.0)
    iu = np.triu_indices(n, k=1)
    angles = np.degrees(np.arccos(cos[iu]))
    n_trans = int(np.sum(angles >= TRANS_ANGLE_DEG))
    if n == 2:
        return "linear" if n_trans == 1 else "other"
    if n == 3:
        return "triangle"
    if n == 4:
        return "tetrahedron" if n_trans == 0 else "other"
    if n == 6:
        return "octahedron" if n_trans >= 3 else "other"
    return "other"


def centre_element(species: Mapping[str, float], majority: str,
                   centre_elements: Collection[str]) -> str | None:
    """The element a (possibly disordered) site centres a polyhedron of, or None.

    Its majority element when that is a centre element; else its most occupied centre
    element when the centre elements together occupy the site at least as much as the
    majority element (Li0.5Mn0.5, Li0.5Mn0.45Ga0.05: Mn); else None (Li0.9Mn0.1: a Li site).

    Parameters
    ----------
    species : mapping of str to float
        Element -> occupancy on the site.
    majority : str
        The site's majority element (:func:`mlkit.structures.majority_symbols`).
    centre_elements : collection of str
        Elements that centre polyhedra.
    """
    if majority in centre_elements:
        return majority
    present = {el: x for el, x in species.items() if el in centre_elements and x > 0}
    if not present or sum(present.values()) < species.get(majority, 0.0) - 1e-9:
        return None
    return max(sorted(present), key=present.__getitem__)


def find_polyanions(
    structure: Structure,
    mobile_ion: str = "Na",
    *,
    method: str = "radius",
    tol: float = 0.25,
    rel_cutoff: float = 1.25,
    max_distance_A: float = 4.5,
    min_coordination: int = 2,
    exclude_centres: tuple[str, ...] = ("H",),
    counter_cations: bool = True,
) -> list[Polyanion]:
    """Find the polyhedra centred on cations other than the mobile ion.

    Parameters
    ----------
    structure : Structure
        Ordered or disordered (roles by majority species) periodic structure.
    mobile_ion : str, default "Na"
        Element excluded from the centres.
    method : {"radius", "relative"}, default "radius"
        Bonding criterion (module docstring).
    tol : float, default 0.25
        ``"radius"``: ligand when ``d <= (1 + tol) * (r_centre + r_anion)``.
    rel_cutoff : float, default 1.25
        ``"relative"``: ligand when ``d <= rel_cutoff * d_min``.
    max_distance_A : float, default 4.5
        No bond is longer than this (A).
    min_coordination : int, default 2
        Centres with fewer ligands are not returned.
    exclude_centres : tuple of str, default ("H",)
        Cations that never centre a polyhedron (H+ belongs to OH-/H2O/NH4+ groups; its
        hydrogen bonds would otherwise link polyhedra).
    counter_cations : bool, default True
        False: alkali and alkaline-earth cations (``can_centre_polyanion`` false) centre
        nothing either.

    Returns
    -------
    list of Polyanion
        Ordered by centre index.
    """
    if method not in BONDING_METHODS:
        raise ValueError(f"unknown bonding method {method!r}; choose from {BONDING_METHODS}")
    symbols = majority_symbols(structure)
    states = element_roles(structure, mobile_ion)
    anion_els = {el for el, v in states.items() if v < 0}
    centre_els = {
        el
        for el, v in states.items()
        if v > 0
        and el != mobile_ion
        and el not in exclude_centres
        and (counter_cations or can_centre_polyanion(el))
    }
    for i, site in enumerate(structure):
        if not site.is_ordered and symbols[i] not in anion_els:
            occupancy: dict[str, float] = {}
            for sp, x in site.species.items():
                occupancy[sp.symbol] = occupancy.get(sp.symbol, 0.0) + float(x)
            symbols[i] = centre_element(occupancy, symbols[i], centre_els) or symbols[i]
    centres = [i for i, el in enumerate(symbols) if el in centre_els]
    if not centres or not anion_els:
        return []
    is_anion = np.array([el in anion_els for el in symbols])
    radii = {el: ionic_radius_A(el, states[el]) for el in anion_els | centre_els}

    c_idx, p_idx, images, dists = structure.get_neighbor_list(
        max_distance_A, sites=[structure[i] for i in centres]
    )
    keep = is_anion[p_idx] & (dists > 1e-8)
    c_idx, p_idx, images, dists = c_idx[keep], p_idx[keep], images[keep], dists[keep]
    order = np.lexsort((dists, c_idx))
    c_idx, p_idx, images, dists = c_idx[order], p_idx[order], images[order], dists[order]
    bounds = np.searchsorted(c_idx, np.arange(len(centres) + 1))

    cart = structure.cart_coords
    matrix = structure.lattice.matrix
    out: list[Polyanion] = []
    for k, ci in enumerate(centres):
        lo, hi = bounds[k], bounds[k + 1]
        if hi == lo:
            continue
        cel = symbols[ci]
        pts, ims, ds = p_idx[lo:hi], images[lo:hi], dists[lo:hi]
        if method == "radius":
            cut = np.array([(1 + tol) * (radii[cel] + radii[symbols[j]]) for j in pts])
        else:
            cut = np.full(len(ds), rel_cutoff * ds[0])
        sel = ds <= cut
        if int(sel.sum()) < min_coordination:
            continue
        pts, ims, ds = pts[sel], ims[sel].astype(int), ds[sel]
        vectors = cart[pts] + ims @ matrix - cart[ci]
        out.append(
            Polyanion(
                center_index=int(ci),
                center_species=cel,
                ligand_indices=tuple(int(j) for j in pts),
                ligand_species=tuple(symbols[j] for j in pts),
                ligand_images=tuple(tuple(int(x) for x in im) for im in ims),
                distances_A=tuple(float(d) for d in ds),
                shape=polyhedron_shape(vectors),
            )
        )
    return out
