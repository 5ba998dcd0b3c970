"""Per-structure shared work: a :class:`StructureContext` is built ONCE per structure.

Every featurizer receives the same context, so the neighbour list, the oxidation
states, the polyanions, the connectivity and the Ewald sum are computed at most
once per structure (matminer recomputes neighbours in every featurizer).

Disordered sites (the "average" strategy) are handled by occupancy weights: each
site carries ``{element: occupancy}`` and per-atom statistics weight each element
on a site by its occupancy; counts such as atoms per cell are occupancy sums.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from mlkit.features.base import FeatureUnavailable

if TYPE_CHECKING:
    from pymatgen.core import Composition, Structure

__all__ = ["ANION_FALLBACK", "StructureContext", "guess_oxidation_states", "ionic_radius_A"]

#: elements treated as anions when no oxidation states can be assigned
ANION_FALLBACK = frozenset({"N", "O", "F", "S", "Cl", "Se", "Br", "Te", "I"})

#: reduced formulas with more atoms skip the oxidation-state guess (combinatorial cost)
MAX_GUESS_ATOMS = 120

#: two partial sites closer than this whose occupancies sum to <= 1 + SPLIT_OCCUPANCY_TOL are
#: alternative (split) positions: skipped by the shortest-distance features (A)
SPLIT_MAX_A = 2.0
SPLIT_OCCUPANCY_TOL = 0.1

#: largest number of per-element state combinations handed to pymatgen's guess (its cost)
MAX_GUESS_COMBINATIONS = 20_000

#: neighbour-list cutoff shared by all local features (A)
NEIGHBOR_CUTOFF_A = 5.0


def _integer_amounts(amounts: dict[str, float], max_multiplier: int = 60) -> dict[str, int]:
    """Smallest integer multiple of a (possibly fractional) composition (tolerance 0.01)."""
    for m in range(1, max_multiplier + 1):
        scaled = {el: a * m for el, a in amounts.items()}
        if all(abs(v - round(v)) < 0.01 * m for v in scaled.values()) and all(
            round(v) > 0 for v in scaled.values()
        ):
            return {el: round(v) for el, v in scaled.items()}
    raise FeatureUnavailable(
        "cannot guess oxidation states: composition has no small integer multiple"
    )


def _plausible(states: dict[str, float]) -> bool:
    """Fallback guesses must keep the most electronegative element negative and the
    least electronegative positive (rejects e.g. Na(-1) in NaCl2).
    """
    import warnings

    from pymatgen.core import Element

    if len(states) < 2:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        en = {el: Element(el).X for el in states}
    if any(math.isnan(v) for v in en.values()):
        return False
    most = max(en, key=en.__getitem__)
    least = min(en, key=en.__getitem__)
    return states[most] < 0 < states[least]


def _single_valence_guess(
    amounts: dict[str, float],
    max_combinations: int = 200_000,
    max_net_charge_fraction: float = 0.02,
) -> dict[str, float]:
    """One oxidation state per element from its common states, charge-balanced on the
    (possibly fractional) composition; ties ranked by ICSD occurrence (pymatgen's
    bond-valence priors). Exactly neutral assignments are preferred; refined occupancies
    are rarely exactly neutral, so a net charge up to ``max_net_charge_fraction`` of the
    total |charge| is accepted (the Ewald sum then adds pymatgen's neutralising
    background). Used where the reduced integer formula is too large for
    ``oxi_state_guesses`` (disordered structures such as Li6.4La3Zr1.4Ta0.6O12).
    """
    import itertools

    from pymatgen.core import Element, Species
    from pymatgen.core.bond_valence import PRIOR_PROB

    els = sorted(amounts)
    options = []
    for el in els:
        states = [s for s in Element(el).common_oxidation_states if s != 0] or [
            s for s in Element(el).oxidation_states if s != 0
        ]
        if not states:
            raise FeatureUnavailable(f"no known oxidation states for {el}")
        options.append(states)
    if math.prod(len(o) for o in options) > max_combinations:
        raise FeatureUnavailable("too many oxidation-state combinations to enumerate")
    best, best_key = None, None
    for combo in itertools.product(*options):
        charge = sum(amounts[el] * q for el, q in zip(els, combo, strict=True))
        gross = sum(amounts[el] * abs(q) for el, q in zip(els, combo, strict=True))
        if abs(charge) > max_net_charge_fraction * gross:
            continue
        score = sum(
            amounts[el] * math.log(PRIOR_PROB.get(Species(el, q), 0) + 1.0)
            for el, q in zip(els, combo, strict=True)
        )
        key = (abs(charge) > 1e-3 * gross, -score)  # neutral first, then most frequent
        if best_key is None or key < best_key:
            best, best_key = combo, key
    if best is None:
        raise FeatureUnavailable(
            "no charge-balanced single-valence oxidation states for "
            + "".join(f"{el}{amounts[el]:g}" for el in els)
        )
    return {el: float(q) for el, q in zip(els, best, strict=True)}


def guess_oxidation_states(structure: Structure) -> dict[str, float]:
    """Oxidation state per element, guessed on the REDUCED composition.

    Oxidation states already present on the structure (e.g. from a CIF) are used as
    they are (averaged per element). Otherwise, in order, the first that succeeds:

    1. pymatgen's charge-balance guess (``Composition.oxi_state_guesses``, ICSD-frequency
       ranked, mixed valence allowed) on the REDUCED integer composition with the
       ICSD/common states; the first guess is applied to every site of the element
       (per-site ``add_oxidation_state_by_guess`` gives the same states ~70x slower);
    2. one common state per element, charge-balanced on the (possibly fractional)
       composition (:func:`_single_valence_guess`);
    3. pymatgen's guess with every known state, keeping the first plausible guess (most
       electronegative element negative, least electronegative positive).

    Steps 1 and 3 are skipped when the reduced formula has more than ``MAX_GUESS_ATOMS``
    atoms or pymatgen would enumerate more than ``MAX_GUESS_COMBINATIONS`` per-element
    combinations (its cost explodes: 86 s for Li7Ge11(PO4)18 with all states).

    Raises
    ------
    FeatureUnavailable
        When no charge-balanced assignment exists.
    """
    from pymatgen.core import Composition

    present: dict[str, list[tuple[float, float]]] = {}
    all_have_oxi = True
    for site in structure:
        for sp, occ in site.species.items():
            oxi = getattr(sp, "oxi_state", None)
            if oxi is None:
                all_have_oxi = False
                break
            present.setdefault(sp.symbol, []).append((float(oxi), float(occ)))
        if not all_have_oxi:
            break
    if all_have_oxi and present:
        states = {
            el: sum(o * w for o, w in vals) / sum(w for _, w in vals)
            for el, vals in present.items()
        }
        if any(v != 0 for v in states.values()):
            return states

    comp = structure.composition.element_composition
    amounts = {el.symbol: float(a) for el, a in comp.items()}
    try:
        integer = _integer_amounts(amounts)
        reduced: Composition | None = Composition(integer).reduced_composition
        if reduced.num_atoms > MAX_GUESS_ATOMS:
            reduced = None
    except FeatureUnavailable:
        reduced = None
    # 1. pymatgen's guess (mixed valence allowed) on the reduced formula, ICSD/common states
    if reduced is not None and _guess_cost(reduced, all_states=False) <= MAX_GUESS_COMBINATIONS:
        guesses = _pymatgen_guesses(reduced, all_states=False)
        if guesses:
            return guesses[0]
    # 2. one common state per element (fractional compositions, bounded cost)
    try:
        return _single_valence_guess(amounts)
    except FeatureUnavailable:
        pass
    # 3. every known state (polysulfides, ozonides, Zintl phases), plausible guesses only
    if reduced is not None and _guess_cost(reduced, all_states=True) <= MAX_GUESS_COMBINATIONS:
        guesses = [g for g in _pymatgen_guesses(reduced, all_states=True) if _plausible(g)]
        if guesses:
            return guesses[0]
    formula = reduced.reduced_formula if reduced is not None else structure.composition.formula
    raise FeatureUnavailable(f"no charge-balanced oxidation states for {formula.replace(' ', '')}")


def _guess_cost(reduced: Composition, *, all_states: bool) -> int:
    """Number of per-element oxidation-state combinations pymatgen's guess enumerates."""
    from pymatgen.core import Element

    total = 0
    for el, n in reduced.items():
        e = Element(el.symbol)
        states = (
            e.oxidation_states
            if all_states
            else (e.icsd_oxidation_states or e.common_oxidation_states)
        )
        k = max(len(states), 1)
        total += math.comb(int(round(n)) + k - 1, k - 1)
    return total


def _pymatgen_guesses(reduced: Composition, *, all_states: bool) -> list[dict[str, float]]:
    try:
        guesses = reduced.oxi_state_guesses(max_sites=-1, all_oxi_states=all_states)
    except ValueError:
        return []
    return [{el: float(v) for el, v in g.items()} for g in guesses]


def ionic_radius_A(element: str, oxidation_state: float | None) -> float:
    """Ionic radius used by the packing fraction and the radius statistics (A).

    Shannon radius of the ion ``element`` in ``round(oxidation_state)`` when pymatgen
    has it; else the element's average Shannon radius over its oxidation states; else
    its atomic radius; NaN when none is tabulated.
    """
    from pymatgen.core import Element, Species

    el = Element(element)
    if oxidation_state is not None and not math.isnan(oxidation_state):
        oxi = int(round(oxidation_state))
        if oxi != 0:
            try:
                r = Species(element, oxi).ionic_radius
            except (ValueError, KeyError):
                r = None
            if r is not None and float(r) > 0:
                return float(r)
    r_avg = float(el.average_ionic_radius)
    if r_avg > 0:
        return r_avg
    if el.atomic_radius is not None:
        return float(el.atomic_radius)
    return math.nan


class StructureContext:
    """Lazily computed, cached per-structure quantities shared by all featurizers.

    Parameters
    ----------
    structure : pymatgen Structure
        Ordered or disordered (occupancies kept: the "average" strategy).
    source : str
        File path or id, used in messages.
    disorder : str
        Note returned by ``resolve_disorder`` (recorded in the ``disorder`` column).
    neighbor_cutoff_A : float
        Cutoff of the shared neighbour list.
    """

    def __init__(
        self,
        structure: Structure,
        source: str = "",
        *,
        disorder: str = "ordered",
        neighbor_cutoff_A: float = NEIGHBOR_CUTOFF_A,
    ) -> None:
        self.structure = structure
        self.source = source
        self.disorder = disorder
        self.neighbor_cutoff_A = neighbor_cutoff_A
        self.errors: dict[str, list[str]] = {}
        self._cache: dict[Any, Any] = {}
        self._lock = threading.RLock()

    # -- generic memoisation (failures are cached too) ----------------------------------
    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Value of ``compute()`` memoised under ``key``; a raised MlkitError is memoised too."""
        with self._lock:
            if key not in self._cache:
                try:
                    self._cache[key] = ("ok", compute())
                except FeatureUnavailable as exc:
                    self._cache[key] = ("err", exc)
            status, value = self._cache[key]
        if status == "err":
            raise value
        return value

    def add_error(self, group: str, reason: str) -> None:
        """Record why some features of ``group`` are NaN (goes to the ``error`` column)."""
        reasons = self.errors.setdefault(group, [])
        if reason not in reasons:
            reasons.append(reason)

    # -- composition and occupancies --------------------------------------------------
    @cached_property
    def site_occupancies(self) -> list[dict[str, float]]:
        """Per site ``{element: occupancy}`` (oxidation states dropped)."""
        out = []
        for site in self.structure:
            occ: dict[str, float] = {}
            for sp, x in site.species.items():
                occ[sp.symbol] = occ.get(sp.symbol, 0.0) + float(x)
            out.append(occ)
        return out

    @cached_property
    def is_ordered(self) -> bool:
        return bool(self.structure.is_ordered)

    @cached_property
    def n_atoms(self) -> float:
        """Number of atoms per cell (occupancy sum)."""
        return float(sum(sum(o.values()) for o in self.site_occupancies))

    @cached_property
    def elements(self) -> list[str]:
        return sorted({el for o in self.site_occupancies for el in o})

    @cached_property
    def element_amounts(self) -> dict[str, float]:
        """Atoms per cell of each element (occupancy sums)."""
        out: dict[str, float] = {}
        for occ in self.site_occupancies:
            for el, x in occ.items():
                out[el] = out.get(el, 0.0) + x
        return out

    def element_weights(self, element: str) -> np.ndarray:
        """Occupancy of ``element`` on every site, shape (n_sites,)."""
        return self.cached(
            ("element_weights", element),
            lambda: np.array([o.get(element, 0.0) for o in self.site_occupancies]),
        )

    def mobile_sites(self, mobile_ion: str) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the sites holding the mobile ion and its occupancy there."""
        w = self.element_weights(mobile_ion)
        idx = np.flatnonzero(w > 0)
        return idx, w[idx]

    def require_mobile_ion(self, mobile_ion: str) -> tuple[np.ndarray, np.ndarray]:
        idx, w = self.mobile_sites(mobile_ion)
        if len(idx) == 0:
            raise FeatureUnavailable(f"no {mobile_ion} in structure")
        return idx, w

    # -- neighbour list (computed once) ------------------------------------------------
    @cached_property
    def neighbors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All pairs within ``neighbor_cutoff_A``: (centers, neighbors, images, distances_A).

        Shapes (n_pairs,), (n_pairs,), (n_pairs, 3), (n_pairs,); each pair appears in both
        directions; sorted by centre index.
        """
        c, n, img, d = self.structure.get_neighbor_list(self.neighbor_cutoff_A)
        order = np.argsort(c, kind="stable")
        return c[order], n[order], img[order].astype(int), d[order]

    @cached_property
    def _neighbor_offsets(self) -> np.ndarray:
        c = self.neighbors[0]
        return np.searchsorted(c, np.arange(len(self.structure) + 1))

    def neighbors_of(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(neighbour indices, distances_A) of site ``i`` within the cutoff."""
        lo, hi = self._neighbor_offsets[i], self._neighbor_offsets[i + 1]
        return self.neighbors[1][lo:hi], self.neighbors[3][lo:hi]

    @cached_property
    def site_total_occupancy(self) -> np.ndarray:
        """Sum of occupancies on every site, shape (n_sites,)."""
        return np.array([sum(o.values()) for o in self.site_occupancies])

    def _split_pair(self, i: int | np.ndarray, j: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Mask of pairs that are alternative (split) positions, never occupied together:
        both sites partial, occupancies summing to <= 1 + SPLIT_OCCUPANCY_TOL, d < SPLIT_MAX_A.
        """
        occ = self.site_total_occupancy
        return (occ[i] + occ[j] <= 1.0 + SPLIT_OCCUPANCY_TOL) & (d < SPLIT_MAX_A)

    def min_distance_A(self, sources: np.ndarray, targets: np.ndarray) -> float:
        """Shortest periodic distance from any site in ``sources`` to any in ``targets``.

        A site's own periodic images count (distance > 0); split positions (see
        :meth:`_split_pair`) are skipped. Uses the shared neighbour list, and a growing
        sphere search only when nothing is within the cutoff.
        """
        targets_set = np.zeros(len(self.structure), dtype=bool)
        targets_set[targets] = True
        best = math.inf
        for i in sources:
            nn, d = self.neighbors_of(int(i))
            m = targets_set[nn] & (d > 1e-8) & ~self._split_pair(int(i), nn, d)
            if m.any():
                best = min(best, float(d[m].min()))
        if math.isfinite(best):
            return best
        radius = 2 * self.neighbor_cutoff_A
        while radius <= 64.0:
            c, n, _, d = self.structure.get_neighbor_list(
                radius, sites=[self.structure[int(i)] for i in sources]
            )
            src = np.asarray(sources)[c]
            m = targets_set[n] & (d > 1e-8) & ~self._split_pair(src, n, d)
            if m.any():
                return float(d[m].min())
            radius *= 2
        return math.nan

    # -- oxidation states -----------------------------------------------------------------
    def oxidation_states(self) -> dict[str, float]:
        """Per-element oxidation states (see :func:`guess_oxidation_states`)."""
        return self.cached("oxidation_states", lambda: guess_oxidation_states(self.structure))

    def anion_elements(self, mobile_ion: str = "Na") -> set[str]:
        """Elements with a negative oxidation state (mobile ion excluded).

        Without oxidation states: the elements of :data:`ANION_FALLBACK` present, else the
        most electronegative element other than the mobile ion (Zintl phases, e.g. Ge in
        NaGe).
        """
        try:
            oxi = self.oxidation_states()
            anions = {el for el, v in oxi.items() if v < 0 and el != mobile_ion}
            if anions:
                return anions
        except FeatureUnavailable:
            pass
        present = {el for el in self.elements if el in ANION_FALLBACK and el != mobile_ion}
        if present:
            return present
        from mlkit.features.elemental import _pauling

        others = [el for el in self.elements if el != mobile_ion and not math.isnan(_pauling(el))]
        return {max(others, key=_pauling)} if others else set()

    def site_radii_A(self) -> list[dict[str, float]]:
        """Per site ``{element: ionic radius (A)}`` (see :func:`ionic_radius_A`)."""

        def compute() -> list[dict[str, float]]:
            try:
                oxi: dict[str, float] = self.oxidation_states()
            except FeatureUnavailable:
                oxi = {}
            radius = {el: ionic_radius_A(el, oxi.get(el)) for el in self.elements}
            return [{el: radius[el] for el in occ} for occ in self.site_occupancies]

        return self.cached("site_radii", compute)

    @cached_property
    def oxidation_structure(self) -> Structure:
        """Copy of the structure decorated with the per-element oxidation states."""
        oxi = self.oxidation_states()
        s = self.structure.copy()
        s.remove_oxidation_states()
        s.add_oxidation_state_by_element(oxi)
        return s

    # -- electrostatics (one Ewald sum per structure) -----------------------------------
    def ewald(self, acc_factor: float = 8.0) -> Any:
        """The pymatgen ``EwaldSummation`` of the oxidation-decorated structure (cached).

        ``acc_factor`` = significant figures of each sum (pymatgen default 12; 8 is ~2x
        faster and within 1e-7 eV/atom of 12 on the phonondb_na structures).
        """

        def compute() -> Any:
            import warnings

            from pymatgen.analysis.ewald import EwaldSummation

            s = self.oxidation_structure
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ew = EwaldSummation(s, acc_factor=acc_factor)
                _ = ew.total_energy_matrix
            return ew

        return self.cached(("ewald", acc_factor), compute)

    # -- polyanions and connectivity (mlkit.structures) --------------------------------
    def polyanions(self, mobile_ion: str = "Na") -> list[Any]:
        """``mlkit.structures.find_polyanions`` result (cached per mobile ion)."""

        def compute() -> list[Any]:
            from mlkit.structures import find_polyanions

            try:
                return list(find_polyanions(self.structure, mobile_ion=mobile_ion))
            except FeatureUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - becomes the row's error reason
                raise FeatureUnavailable(f"polyanion search failed: {_one_line(exc)}") from exc

        return self.cached(("polyanions", mobile_ion), compute)

    def connectivity(self, mobile_ion: str = "Na") -> Any:
        """``mlkit.structures.classify_connectivity`` result (cached per mobile ion)."""

        def compute() -> Any:
            from mlkit.structures import classify_connectivity

            polys = self.polyanions(mobile_ion)
            try:
                return classify_connectivity(self.structure, polys)
            except Exception as exc:  # noqa: BLE001
                raise FeatureUnavailable(f"connectivity failed: {_one_line(exc)}") from exc

        return self.cached(("connectivity", mobile_ion), compute)

    def polyanion_cartesian(self, poly: Any) -> tuple[np.ndarray, np.ndarray]:
        """Cartesian coordinates (A) of a polyanion's centre, shape (3,), and ligands, (n, 3)."""
        lat = self.structure.lattice
        fc = self.structure.frac_coords
        centre = lat.get_cartesian_coords(fc[poly.center_index])
        lig_frac = fc[list(poly.ligand_indices)] + np.asarray(poly.ligand_images, dtype=float)
        return centre, lat.get_cartesian_coords(lig_frac)


def _symbol(species: str) -> str:
    """Element symbol of a species string such as ``"O2-"`` or ``"O"``."""
    from pymatgen.core import get_el_sp

    try:
        return get_el_sp(species).symbol
    except (ValueError, KeyError):
        return "".join(ch for ch in str(species) if ch.isalpha())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
