"""Polyanions: polyhedra centred on cations other than the mobile ion.

Roles of elements
-----------------
Every site plays the role of its majority element (see :mod:`mlkit.structures.disorder`).
Oxidation states are guessed on the reduced integer composition of those majority
elements (``Composition.oxi_state_guesses``, cached by formula, about milliseconds; the
most probable guess in which every anion is more electronegative than every cation, else
the most probable one; all oxidation states are tried when the common ones fail): an
element with a negative guessed state is an **anion**, with a positive state a **cation**.
Then :func:`element_roles` applies one geometric correction (oxo-anion centres).
When no charge-balanced guess exists (intermetallics, odd valences) or the reduced formula
has more than ``MAX_GUESS_ATOMS`` (40) atoms (the guess is combinatorial: 7 s for a 58-atom
formula), the fallback is by electronegativity: anions are the elements of
``ANION_CANDIDATES`` (F Cl Br I O S Se Te N H) present, H only when no other candidate is
present; if none is present, the single most electronegative element (Pauling) is the
anion; every other element is a cation. Fallback states (for the radii) are the most
negative common state of an anion and the first positive common state of a cation.
Centres are the cations other than ``mobile_ion``.

Bonding criterion
-----------------
``method="radius"`` (default): an anion site is a ligand of a centre when
``d <= (1 + tol) * (r_centre + r_anion)`` with ``tol = 0.25`` and the radii from pymatgen's
Shannon table for the guessed (rounded) oxidation states (``Species.ionic_radius``;
fallbacks ``Element.average_ionic_radius`` then ``Element.atomic_radius``).
``method="relative"``: ligand when ``d <= rel_cutoff * d_min`` (``rel_cutoff = 1.25``), with
``d_min`` the centre's shortest distance to any anion site.
Both are capped by ``max_distance_A = 4.5`` A. All periodic images are searched
(``Structure.get_neighbor_list``); the image of every ligand relative to the unit cell of
the centre is recorded. Centres with fewer than ``min_coordination = 2`` ligands are not
polyhedra and are not returned; H is never a centre (``exclude_centres``). Anions missing
from the Shannon table (H-, P3-, As3-, C4-, Si4- ...) use ``FALLBACK_ANION_RADII_A``.

Shape
-----
CN 2 ``linear`` (ligand-centre-ligand angle >= 150 deg, else ``other``); CN 3 ``triangle``;
CN 4 ``tetrahedron`` (largest L-C-L angle < 150 deg; square-planar/see-saw -> ``other``);
CN 6 ``octahedron`` (at least three trans L-C-L angles >= 150 deg; trigonal prism ->
``other``); any other CN ``other``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymatgen.core import Composition, Structure
from pymatgen.core.periodic_table import Element, Species

from mlkit.structures.disorder import majority_symbols

__all__ = [
    "Polyanion",
    "find_polyanions",
    "element_roles",
    "ANION_CANDIDATES",
    "BONDING_METHODS",
    "polyhedron_shape",
]

ANION_CANDIDATES = ("F", "Cl", "Br", "I", "O", "S", "Se", "Te", "N", "H")
BONDING_METHODS = ("radius", "relative")
TRANS_ANGLE_DEG = 150.0
#: Reduced formulas with more atoms than this skip the oxidation-state guess (combinatorial cost).
MAX_GUESS_ATOMS = 40
#: Retry with all (not only common) oxidation states up to this many atoms (cost grows fast).
MAX_ALL_STATES_ATOMS = 24
#: An anion bonded to a more electronegative anion closer than this factor times the sum of
#: covalent radii is the centre of a polyanion (S in SO4, Cl in ClO4, I in IO3).
COVALENT_BOND_FACTOR = 1.15


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


@lru_cache(maxsize=8192)
def _guess_states(
    formula_items: tuple[tuple[str, int], ...],
) -> tuple[tuple[str, float], ...] | None:
    comp = Composition(dict(formula_items))
    reduced = comp.reduced_composition
    if reduced.num_atoms > MAX_GUESS_ATOMS:
        return None
    guesses: list = []
    try:
        guesses = list(reduced.oxi_state_guesses(max_sites=-MAX_GUESS_ATOMS))
        if not guesses and reduced.num_atoms <= MAX_ALL_STATES_ATOMS:
            # e.g. perchlorates: Cl(+7) is not among pymatgen's common states
            guesses = list(reduced.oxi_state_guesses(all_oxi_states=True))
    except Exception:  # noqa: BLE001 - pymatgen raises various errors for odd elements
        return None
    if not guesses:
        return None
    chosen = next((g for g in guesses if _electronegativity_consistent(g)), guesses[0])
    return tuple(sorted((el, float(v)) for el, v in chosen.items()))


def _electronegativity_consistent(states: dict[str, float]) -> bool:
    """Every anion is more electronegative than every cation (rejects NaBH4 as B(-3) H(+0.5))."""
    anions = [_electronegativity(el) for el, v in states.items() if v < 0]
    cations = [_electronegativity(el) for el, v in states.items() if v > 0]
    return not anions or not cations or min(anions) > max(cations)


def _electronegativity(el: str) -> float:
    x = float(Element(el).X)
    return x if np.isfinite(x) else 0.0


def _fallback_states(elements: list[str]) -> dict[str, float]:
    present = [el for el in ANION_CANDIDATES if el in elements]
    if len(present) > 1 and "H" in present:
        present.remove("H")
    if not present:
        present = [max(elements, key=_electronegativity)]
    states = {}
    for el in elements:
        common = Element(el).common_oxidation_states or Element(el).oxidation_states
        if el in present:
            negative = [s for s in common if s < 0]
            states[el] = float(min(negative)) if negative else -1.0
        else:
            positive = [s for s in common if s > 0]
            states[el] = float(positive[0]) if positive else 1.0
    return states


@lru_cache(maxsize=8192)
def _roles_cached(formula_items: tuple[tuple[str, int], ...]) -> tuple[tuple[str, float], ...]:
    guessed = _guess_states(formula_items)
    if guessed is not None:
        return guessed
    return tuple(sorted(_fallback_states([el for el, _ in formula_items]).items()))


def element_roles(structure: Structure) -> dict[str, float]:
    """Guessed oxidation state of every (majority) element; negative = anion.

    Composition-based guess (module docstring), then one geometric correction: an anion
    element whose sites are mostly covalently bonded (``d < COVALENT_BOND_FACTOR`` x sum of
    covalent radii) to a more electronegative anion element becomes a cation with its
    highest oxidation state (S in Na2SO4.nH2O guessed as S(-2), Cl and I in oxo-anions
    from the electronegativity fallback).

    Parameters
    ----------
    structure : Structure
        Ordered or disordered structure.

    Returns
    -------
    dict
        Element symbol -> oxidation state (mean guessed state; fallback -1/+1).
    """
    symbols = majority_symbols(structure)
    counts = Counter(symbols)
    states = dict(_roles_cached(tuple(sorted(counts.items()))))
    anions = [el for el, v in states.items() if v < 0]
    if len(anions) < 2:
        return states
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    cov = CovalentRadius.radius
    max_cut = COVALENT_BOND_FACTOR * 2 * max(cov.get(el, 1.5) for el in anions)
    sym = np.array(symbols)
    anion_sites = [i for i, el in enumerate(symbols) if el in anions]
    c_idx, p_idx, _img, dists = structure.get_neighbor_list(
        max_cut, sites=[structure[i] for i in anion_sites]
    )
    bonded: dict[str, set[int]] = {el: set() for el in anions}
    for c, p, d in zip(c_idx.tolist(), p_idx.tolist(), dists.tolist(), strict=True):
        a, b = symbols[anion_sites[c]], str(sym[p])
        if b not in anions or b == a or _electronegativity(b) <= _electronegativity(a):
            continue
        if d < COVALENT_BOND_FACTOR * (cov.get(a, 1.5) + cov.get(b, 1.5)):
            bonded[a].add(anion_sites[c])
    for el in anions:
        if len(bonded[el]) * 2 > counts[el]:
            states[el] = float(Element(el).max_oxidation_state or 1)
    return states


#: Anion radii (A, crystal-radius scale like pymatgen's Shannon table: Pauling ionic - 0.14)
#: for anions missing from the Shannon table.
FALLBACK_ANION_RADII_A = {
    "H": 1.26,
    "C": 2.46,
    "Si": 2.57,
    "Ge": 2.58,
    "Sn": 2.80,
    "P": 1.98,
    "As": 2.08,
    "Sb": 2.31,
    "Bi": 2.40,
    "B": 1.90,
}


def _radius(el: str, oxi: float) -> float:
    """Radius (A) of ``el`` in oxidation state ``oxi`` (Shannon crystal radius, fallbacks)."""
    state = int(round(oxi))
    if state != 0:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = Species(el, state).ionic_radius
            if r is not None:
                return float(r)
        except Exception:  # noqa: BLE001 - unknown state
            pass
    e = Element(el)
    if oxi < 0:
        if el in FALLBACK_ANION_RADII_A:
            return FALLBACK_ANION_RADII_A[el]
        return float(e.atomic_radius or 1.2) + 0.8
    r = e.average_ionic_radius
    if r and float(r) > 0:
        return float(r)
    return float(e.atomic_radius or 1.5)


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

    Returns
    -------
    list of Polyanion
        Ordered by centre index.
    """
    if method not in BONDING_METHODS:
        raise ValueError(f"unknown bonding method {method!r}; choose from {BONDING_METHODS}")
    symbols = majority_symbols(structure)
    states = element_roles(structure)
    # the mobile ion is a cation by definition here, even where the composition guess makes
    # it an anion (NaTe3, NaGe): it is never a ligand
    anion_els = {el for el, v in states.items() if v < 0 and el != mobile_ion}
    centre_els = {
        el for el, v in states.items() if v > 0 and el != mobile_ion and el not in exclude_centres
    }
    centres = [i for i, el in enumerate(symbols) if el in centre_els]
    if not centres or not anion_els:
        return []
    is_anion = np.array([el in anion_els for el in symbols])
    radii = {el: _radius(el, states[el]) for el in anion_els | centre_els}

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
