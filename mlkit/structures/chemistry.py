"""Chemistry of a structure: oxidation states, element roles, ionic radii, electronegativity.

The one answer to "which elements are anions" used by featurization, polyanion
detection, the MD temperature rule and the framework-melting mask.

Oxidation states (:func:`guess_oxidation_states`)
    On the composition (occupancies included), the first of these steps that succeeds;
    an integer composition (an ordered cell) starts with pymatgen, a fractional one
    (a disordered or non-stoichiometric cell, Li6.4La3Zr1.4Ta0.6O12) with the fractional
    search, which is bounded and exact about its tolerance:

    * pymatgen's charge-balance guess (``Composition.oxi_state_guesses``, ICSD-frequency
      ranked, mixed valence allowed) with the ICSD/common states on the REDUCED integer
      formula; the most probable guess in which every anion is more electronegative
      than every cation (:func:`electronegativity_consistent`) and no element is in
      state 0, else the most probable consistent one, else the most probable one;
    * the fractional search (:func:`fractional_oxidation_states`), first with each
      element's common states, then with its common + ICSD states: one integer state
      per element, charge-balanced on the fractional composition within
      :data:`NET_CHARGE_TOLERANCE` of the total |charge| (refined occupancies are rarely
      exactly neutral; the Ewald sum adds a neutralising background), else one metal
      in a mixed (fractional) state between two of its states (Bi(+4.4) in
      Ba0.6K0.4BiO3, Fe(+2.5) in Li0.5FePO4);
    * pymatgen's guess with every known state (perchlorates, polysulfides, Zintl
      phases), among the guesses in which the least electronegative element is
      positive (Na2AuAs: As(-3), not NaGe: Na(-1)), chosen as in the first step.

    pymatgen's steps are skipped when the reduced formula has more than
    :data:`MAX_GUESS_ATOMS` atoms or pymatgen would enumerate more than
    :data:`MAX_GUESS_COMBINATIONS` per-element combinations (its cost explodes: 86 s
    for Li7Ge11(PO4)18 with all states); the fractional search skips a state set with
    more than :data:`MAX_FRACTIONAL_COMBINATIONS` combinations. When nothing balances,
    :class:`OxidationStateError` names the closest assignment and its net charge (a CIF
    that misses the Li of a garnet: Li35.76La24Zr16O96 is 5.6 % short). States already
    on the structure (from a CIF) are used as they are (:func:`oxidation_states`).

Roles (:func:`element_roles`)
    Negative state = anion (ligand), positive = cation (a polyanion centre unless it is
    the mobile ion). Without any charge-balanced guess the anions are the elements of
    :data:`ANION_CANDIDATES` present (H only when no other is present), else the single
    most electronegative element. The mobile ion is never an anion (NaTe3, NaGe). One
    geometric correction: an anion element whose sites are mostly covalently bonded to
    a more electronegative anion is a cation in its highest common state (S in
    Na2SO4.nH2O, P in PS4 guessed as P(-3)).

Radii (:func:`ionic_radius_A`)
    Shannon (1976) crystal radius of the ion; one fallback chain when it is not
    tabulated (anions: :data:`ANION_RADII_A`, atomic radius + 0.8 A; cations: average
    Shannon radius, atomic radius).

Polyanion centres (:func:`can_centre_polyanion`)
    Alkali and alkaline-earth metals (groups 1 and 2, H included) are counter-cations:
    they never centre a polyanion (K+, Ca2+, Ba2+ sit in large, ionic sites). One
    exception, Be: BeO4/BeF4 are covalent tetrahedral polyanions (Na2BeF4, an analogue of
    Na2SO4), so Be may centre one. Rotors (:func:`mlkit.structures.find_rotors`) and the
    rotation screen use this; :func:`mlkit.structures.find_polyanions` only when asked
    (``counter_cations=False``).

Covalent radii (:func:`covalent_radius_A`): Cordero et al. (2008) single-bond radii
    (pymatgen's ``CovalentRadius`` table, the one the covalent correction uses), else the
    atomic radius.

Centre-centre bonds (:func:`forms_centre_bonds`)
    Only p-block centres (B, C, Si, P, S, Ge, As, Se, Sn, Sb, Te, Ga, ...) bond to each
    other into one multi-centre polyanion (P2S6, B12H12, C2O4, Ge2Se6). Short contacts
    between d- or f-block cations (Cu(I)-Cu(I) 2.99 A in Na3Cu5O4, Pd-Pd 2.77 A in
    stacked PdO4 squares, La-La 4.0 A within 1.15 x the large Cordero radii of La) are no
    bonds of a rotating group.

Electronegativity (:func:`pauling`): Pauling scale, NaN where not tabulated.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from pymatgen.core import Composition, Element, Species, Structure, get_el_sp

from mlkit.errors import MlkitError
from mlkit.structures.disorder import majority_symbols

__all__ = [
    "ANION_ATOMIC_OFFSET_A",
    "ANION_CANDIDATES",
    "ANION_RADII_A",
    "CHALCOGENS",
    "COUNTER_CATION_GROUPS",
    "COVALENT_BOND_FACTOR",
    "HALIDES",
    "MAX_GUESS_ATOMS",
    "MAX_FRACTIONAL_COMBINATIONS",
    "MAX_GUESS_COMBINATIONS",
    "NET_CHARGE_TOLERANCE",
    "OxidationStateError",
    "POLYANION_CENTRE_EXCEPTIONS",
    "anion_elements",
    "can_centre_polyanion",
    "composition_roles",
    "covalent_radius_A",
    "forms_centre_bonds",
    "electronegativity_consistent",
    "element_roles",
    "fractional_oxidation_states",
    "guess_oxidation_states",
    "ionic_radius_A",
    "oxidation_states",
    "pauling",
    "symbol",
]

#: Fallback anions (no charge-balanced guess), in this order of preference.
ANION_CANDIDATES = ("F", "Cl", "Br", "I", "O", "S", "Se", "Te", "N", "H")
#: Monovalent halide and divalent chalcogenide anions (the MD temperature rule).
HALIDES = frozenset({"F", "Cl", "Br", "I"})
CHALCOGENS = frozenset({"O", "S", "Se", "Te"})
#: Reduced formulas with more atoms skip pymatgen's guess (steps 1 and 3).
MAX_GUESS_ATOMS = 120
#: Largest number of per-element state combinations handed to pymatgen's guess.
MAX_GUESS_COMBINATIONS = 20_000
#: Largest net charge of an accepted assignment, as a fraction of the total |charge|
#: sum_el n_el |q_el| (2 %: Li6.24La3Zr2O11.9 passes, a garnet CIF 5.6 % short of Li fails).
NET_CHARGE_TOLERANCE = 0.02
#: Assignments whose net charge is below this fraction of the total |charge| count as
#: neutral and are ranked before the merely tolerated ones (rounded refined occupancies:
#: Co(+3), not Co(+2), in Li1.2Mn0.54Ni0.13Co0.13O2, 0.13 % off).
NEUTRAL_CHARGE_FRACTION = 0.005
#: Largest number of per-element state combinations of one fractional search (numpy:
#: 9 ms for 24,000 combinations, so about 0.1 s at the cap).
MAX_FRACTIONAL_COMBINATIONS = 200_000
#: An anion closer than this factor times the sum of covalent radii to a more
#: electronegative anion is bonded to it (S in SO4, Cl in ClO4, I in IO3).
COVALENT_BOND_FACTOR = 1.15
#: Radii (A) of anions missing from the Shannon table, crystal-radius scale like
#: pymatgen's Shannon table (Pauling ionic radius - 0.14 A).
ANION_RADII_A = {
    "H": 1.26,
    "B": 1.90,
    "C": 2.46,
    "Si": 2.57,
    "Ge": 2.58,
    "Sn": 2.80,
    "P": 1.98,
    "As": 2.08,
    "Sb": 2.31,
    "Bi": 2.40,
}


#: Periodic-table groups of counter-cations that never centre a polyanion (H never does).
COUNTER_CATION_GROUPS = (1, 2)
#: Elements of those groups that do centre polyanions (BeO4, BeF4 tetrahedra).
POLYANION_CENTRE_EXCEPTIONS = frozenset({"Be"})

#: Anions in neither table: atomic radius + this (A).
ANION_ATOMIC_OFFSET_A = 0.8


class OxidationStateError(MlkitError):
    """No charge-balanced oxidation states were found (message names the formula)."""


# -- elements ---------------------------------------------------------------------------
@lru_cache(maxsize=512)
def pauling(element: str) -> float:
    """Pauling electronegativity of ``element`` (NaN where not tabulated, e.g. He)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(Element(element).X)


def _en(element: str) -> float:
    x = pauling(element)
    return x if math.isfinite(x) else 0.0


@lru_cache(maxsize=256)
def can_centre_polyanion(element: str) -> bool:
    """Whether a cation of ``element`` can centre a polyanion (module doc).

    False for the alkali and alkaline-earth metals (:data:`COUNTER_CATION_GROUPS`, H
    included) except Be (:data:`POLYANION_CENTRE_EXCEPTIONS`); True for every other
    element. The role (cation or anion) is :func:`element_roles`' business.

    Parameters
    ----------
    element : str
        Element symbol.

    Returns
    -------
    bool
    """
    if element in POLYANION_CENTRE_EXCEPTIONS:
        return True
    return Element(element).group not in COUNTER_CATION_GROUPS


@lru_cache(maxsize=256)
def covalent_radius_A(element: str) -> float:
    """Single-bond covalent radius (A): Cordero et al., Dalton Trans. 2832 (2008)
    (pymatgen's ``CovalentRadius`` table), else the atomic radius, else NaN.
    """
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    r = CovalentRadius.radius.get(element)
    if r is not None:
        return float(r)
    r = Element(element).atomic_radius
    return float(r) if r is not None else math.nan


@lru_cache(maxsize=256)
def forms_centre_bonds(element: str) -> bool:
    """Whether a polyanion centre of ``element`` can bond to another centre (module doc):
    True for p-block elements.
    """
    return Element(element).block == "p"


def symbol(species: object) -> str:
    """Element symbol of a species or its string, e.g. ``"O2-"`` -> ``"O"``."""
    try:
        return get_el_sp(species).symbol
    except (ValueError, KeyError, TypeError):
        return "".join(ch for ch in str(species) if ch.isalpha())


def ionic_radius_A(element: str, oxidation_state: float | None) -> float:
    """Ionic radius (A) of ``element`` in ``round(oxidation_state)``.

    Shannon crystal radius (pymatgen's table) when tabulated. Else the one fallback
    chain: an anion (``oxidation_state < 0``, also fractional such as Se(-1.25) or
    H(-0.25)) takes :data:`ANION_RADII_A`, else its atomic radius + 0.8 A (about the
    anion's size: Se 1.95 A against Shannon's Se2- 1.84 A); a cation or an element
    without a state takes its average Shannon radius over the tabulated states, else its
    atomic radius; NaN when none exists.
    """
    el = Element(element)
    q = oxidation_state if oxidation_state is not None else math.nan
    if math.isfinite(q) and round(q) != 0:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = Species(element, int(round(q))).ionic_radius
        except (ValueError, KeyError):
            r = None
        if r is not None and float(r) > 0:
            return float(r)
    if q < 0:
        if element in ANION_RADII_A:
            return ANION_RADII_A[element]
        if el.atomic_radius is not None:
            return float(el.atomic_radius) + ANION_ATOMIC_OFFSET_A
    r_avg = float(el.average_ionic_radius)
    if r_avg > 0:
        return r_avg
    return float(el.atomic_radius) if el.atomic_radius is not None else math.nan


# -- oxidation states ---------------------------------------------------------------------
def electronegativity_consistent(states: Mapping[str, float]) -> bool:
    """Every anion is more electronegative than every cation (rejects B(-3) H(+0.5))."""
    anions = [_en(el) for el, v in states.items() if v < 0]
    cations = [_en(el) for el, v in states.items() if v > 0]
    return not anions or not cations or min(anions) > max(cations)


def _plausible(states: Mapping[str, float]) -> bool:
    """The least electronegative element is positive (rejects Na(-1) Ge(+1) in NaGe;
    keeps Na(+1) Au(+1) As(-3) in Na2AuAs, where Au is more electronegative than As).
    """
    return states[min(states, key=_en)] > 0


def oxidation_states(structure: Structure) -> dict[str, float]:
    """Per-element oxidation states of a structure.

    The states on its species when every species carries one (occupancy-weighted mean
    per element), else :func:`guess_oxidation_states` of its composition.

    Raises
    ------
    OxidationStateError
        When no charge-balanced assignment exists.
    """
    given = _given_states(structure)
    if given is not None:
        return given
    comp = structure.composition.element_composition
    return guess_oxidation_states({el.symbol: float(a) for el, a in comp.items()})


def _given_states(structure: Structure) -> dict[str, float] | None:
    """Occupancy-weighted mean state per element when every species carries a state
    (not all zero), else None.
    """
    sums: dict[str, list[float]] = {}
    for site in structure:
        for sp, occ in site.species.items():
            oxi = getattr(sp, "oxi_state", None)
            if oxi is None:
                return None
            acc = sums.setdefault(sp.symbol, [0.0, 0.0])
            acc[0] += float(oxi) * float(occ)
            acc[1] += float(occ)
    states = {el: q / w for el, (q, w) in sums.items()}
    return states if any(v != 0 for v in states.values()) else None


def guess_oxidation_states(amounts: Mapping[str, float]) -> dict[str, float]:
    """Oxidation state per element of a composition ``{element: atoms}`` (module doc).

    Raises
    ------
    OxidationStateError
        When no charge-balanced assignment exists.
    """
    key = tuple(sorted((el, round(float(a), 6)) for el, a in amounts.items() if a > 0))
    return dict(_guess_cached(key))


@lru_cache(maxsize=8192)
def _guess_cached(key: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    amounts = dict(key)
    reduced = _reduced_integer(amounts)

    def pymatgen_icsd() -> dict[str, float] | None:
        guesses = _pymatgen_guesses(reduced, all_states=False)
        return _best(guesses) if guesses else None

    def pymatgen_all() -> dict[str, float] | None:
        guesses = [g for g in _pymatgen_guesses(reduced, all_states=True) if _plausible(g)]
        return _best(guesses) if guesses else None

    def fractional(state_set: str) -> Callable[[], dict[str, float] | None]:
        return lambda: _fractional_search(amounts, state_set).states

    integer = all(abs(a - round(a)) < 1e-6 for a in amounts.values())
    steps = [pymatgen_icsd, fractional("common"), fractional("icsd"), pymatgen_all]
    if not integer:  # fractional: the bounded search first, pymatgen's guesses after
        steps = [fractional("common"), fractional("icsd"), pymatgen_icsd, pymatgen_all]
    for step in steps:
        states = step()
        if states is not None:
            return tuple(sorted(states.items()))
    formula = reduced.reduced_formula if reduced is not None else Composition(amounts).formula
    raise OxidationStateError(
        f"no charge-balanced oxidation states for {formula.replace(' ', '')}"
        + _closest_note(amounts)
    )


def _best(guesses: list[dict[str, float]]) -> dict[str, float]:
    """The most probable guess that is electronegativity-consistent and has no element in
    state 0 (B(0) H(-1/4) in NaK(BH4)2 is an artefact of averaging), else the most
    probable consistent one, else the most probable one.
    """
    return min(
        guesses,
        key=lambda g: (not electronegativity_consistent(g), any(v == 0 for v in g.values())),
    )


def _reduced_integer(amounts: dict[str, float], max_multiplier: int = 60) -> Composition | None:
    """Reduced integer formula of a (possibly fractional) composition, tolerance 0.01;
    None when there is none or it has more than MAX_GUESS_ATOMS atoms.
    """
    for m in range(1, max_multiplier + 1):
        scaled = {el: a * m for el, a in amounts.items()}
        if all(abs(v - round(v)) < 0.01 * m and round(v) > 0 for v in scaled.values()):
            reduced = Composition({el: round(v) for el, v in scaled.items()}).reduced_composition
            return reduced if reduced.num_atoms <= MAX_GUESS_ATOMS else None
    return None


def _guess_cost(reduced: Composition, *, all_states: bool) -> int:
    """Number of per-element oxidation-state combinations pymatgen's guess enumerates."""
    total = 0
    for el, n in reduced.items():
        e = Element(el.symbol)
        if all_states:
            states = e.oxidation_states
        else:
            states = e.icsd_oxidation_states or e.common_oxidation_states
        k = max(len(states), 1)
        total += math.comb(int(round(n)) + k - 1, k - 1)
    return total


def _pymatgen_guesses(reduced: Composition | None, *, all_states: bool) -> list[dict[str, float]]:
    if reduced is None or _guess_cost(reduced, all_states=all_states) > MAX_GUESS_COMBINATIONS:
        return []
    try:
        guesses = reduced.oxi_state_guesses(max_sites=-1, all_oxi_states=all_states)
    except ValueError:
        return []
    return [{el: float(v) for el, v in g.items()} for g in guesses]


@dataclass(frozen=True)
class _Search:
    """Result of one fractional search: the chosen states (None when nothing balances)
    and the assignment closest to neutral with its net charge (e) and net/total ratio.
    """

    states: dict[str, float] | None
    closest: dict[str, float] | None = None
    net_charge: float = math.nan
    net_fraction: float = math.nan


def fractional_oxidation_states(
    amounts: Mapping[str, float], state_set: str = "icsd"
) -> dict[str, float] | None:
    """Charge-balanced oxidation states of a (possibly fractional) composition.

    One integer state per element from its common states (``state_set="common"``) or
    its common + ICSD states (``"icsd"``, e.g. Bi(+5), which pymatgen does not list as
    common), every anion more electronegative than every cation
    (:func:`electronegativity_consistent`: no Cl(+3) P(-3) in an argyrodite CIF with twice
    its Li). Accepted when the net charge is within :data:`NET_CHARGE_TOLERANCE` of the
    total |charge|; ranked neutral (:data:`NEUTRAL_CHARGE_FRACTION`) before tolerated,
    then by the ICSD frequency of the states (pymatgen's bond-valence priors, weighted by
    the amounts). When no
    integer assignment is accepted, one metal (``Element.is_metal``: not P in a
    thiophosphate short of S) takes the fractional state that makes the composition
    exactly neutral, if it lies between two of its states (mixed valence). All
    combinations are scored at once with numpy; a state set with more than
    :data:`MAX_FRACTIONAL_COMBINATIONS` combinations is not searched.

    Parameters
    ----------
    amounts : mapping of str to float
        Element -> atoms (per cell or per formula unit; only ratios matter).
    state_set : {"common", "icsd"}, default "icsd"

    Returns
    -------
    dict or None
        Element -> state (a mixed-valent metal's state is fractional); None when nothing
        balances.

    Examples
    --------
    >>> fractional_oxidation_states({"Li": 6.4, "La": 3, "Zr": 1.4, "Ta": 0.6, "O": 12})
    {'La': 3.0, 'Li': 1.0, 'O': -2.0, 'Ta': 5.0, 'Zr': 4.0}
    """
    amounts = {el: float(a) for el, a in amounts.items() if a > 0}
    return _fractional_search(amounts, state_set).states


def _state_options(element: str, state_set: str) -> tuple[int, ...]:
    """Non-zero candidate states of ``element`` in ``state_set`` (all known states when
    the set is empty, e.g. noble gases have none).
    """
    e = Element(element)
    states = {s for s in e.common_oxidation_states if s != 0}
    if state_set == "icsd":
        states |= {s for s in e.icsd_oxidation_states if s != 0}
    elif state_set != "common":
        raise ValueError(f"unknown state set {state_set!r}; choose 'common' or 'icsd'")
    return tuple(sorted(states or {s for s in e.oxidation_states if s != 0}))


@lru_cache(maxsize=1024)
def _log_prior(element: str, state: int) -> float:
    from pymatgen.core.bond_valence import PRIOR_PROB

    return math.log(PRIOR_PROB.get(Species(element, state), 0.0) + 1.0)


def _fractional_search(amounts: dict[str, float], state_set: str) -> _Search:
    import numpy as np

    els = sorted(amounts)
    n = np.array([amounts[el] for el in els], dtype=float)
    options = [_state_options(el, state_set) for el in els]
    if not els or any(not o for o in options):
        return _Search(None)
    if math.prod(len(o) for o in options) > MAX_FRACTIONAL_COMBINATIONS:
        return _Search(None)
    index = np.stack(
        np.meshgrid(*[np.arange(len(o)) for o in options], indexing="ij"), axis=-1
    ).reshape(-1, len(els))
    table = [np.asarray(o, dtype=float) for o in options]
    q = np.stack([table[j][index[:, j]] for j in range(len(els))], axis=1)  # (n_combos, k)
    prior = [np.array([_log_prior(el, s) for s in o]) for el, o in zip(els, options, strict=True)]
    score = sum(n[j] * prior[j][index[:, j]] for j in range(len(els)))
    net = q @ n
    gross = np.abs(q) @ n
    frac = np.abs(net) / gross
    en = np.array([_en(el) for el in els])
    positive = q > 0
    consistent = np.where(positive, np.inf, en).min(axis=1) > np.where(
        positive, en, -np.inf
    ).max(axis=1)
    nearest = int(np.lexsort((frac, ~consistent))[0])
    closest = {el: float(v) for el, v in zip(els, q[nearest], strict=True)}
    found = _Search(None, closest, float(net[nearest]), float(frac[nearest]))

    ok = np.flatnonzero((frac <= NET_CHARGE_TOLERANCE) & consistent)
    if len(ok):
        best = ok[np.lexsort((-score[ok], frac[ok] > NEUTRAL_CHARGE_FRACTION))[0]]
        return replace(found, states={el: float(v) for el, v in zip(els, q[best], strict=True)})
    # one mixed-valent metal makes the composition exactly neutral
    candidates = []  # (-score, |net charge|, element index, row, state)
    for j, el in enumerate(els):
        pos_states = [s for s in options[j] if s > 0]
        if len(pos_states) < 2 or not Element(el).is_metal:
            continue
        lo, hi = min(pos_states), max(pos_states)
        mixed = q[:, j] - net / n[j]
        valid = np.flatnonzero(positive[:, j] & consistent & (mixed >= lo - 1e-9)
                               & (mixed <= hi + 1e-9))
        if len(valid):
            k = valid[np.argmin(-score[valid])]
            candidates.append((-float(score[k]), abs(float(net[k])), j, int(k), float(mixed[k])))
    if not candidates:
        return found
    *_, j, row, state = min(candidates)
    states = {el: float(v) for el, v in zip(els, q[row], strict=True)}
    states[els[j]] = round(state, 6)
    return replace(found, states=states)


def _closest_note(amounts: dict[str, float]) -> str:
    """`` (closest: ..., net charge ...)`` for the error message, "" when unknown (no
    semicolon: featurization joins error reasons with "; ").
    """
    search = _fractional_search(amounts, "icsd")
    if search.closest is None:
        return ""
    states = " ".join(f"{el}{q:+g}" for el, q in sorted(search.closest.items(),
                                                          key=lambda kv: -kv[1]))
    return (f" (closest: {states}, net charge {search.net_charge:+.4g} e = "
            f"{search.net_fraction:.1%} of the total |charge|, over the "
            f"{NET_CHARGE_TOLERANCE:.0%} tolerance)")


def _fallback_states(elements: list[str]) -> dict[str, float]:
    """Electronegativity fallback: ANION_CANDIDATES present (H only alone), else the
    most electronegative element, are anions in their most negative common state.
    """
    present = [el for el in ANION_CANDIDATES if el in elements]
    if len(present) > 1 and "H" in present:
        present.remove("H")
    if not present:
        present = [max(elements, key=_en)]
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


# -- roles ----------------------------------------------------------------------------------
def composition_roles(amounts: Mapping[str, float], mobile_ion: str = "Na") -> dict[str, float]:
    """Oxidation state of every element of a composition; negative = anion.

    :func:`guess_oxidation_states`, else the electronegativity fallback (module doc);
    the mobile ion is never an anion (its first positive common state when guessed
    negative). No geometric correction: see :func:`element_roles`.
    """
    try:
        states = guess_oxidation_states(amounts)
    except OxidationStateError:
        states = _fallback_states(sorted(el for el, a in amounts.items() if a > 0))
    return _mobile_ion_positive(states, mobile_ion)


def element_roles(structure: Structure, mobile_ion: str = "Na") -> dict[str, float]:
    """Oxidation state of every element of a structure; negative = anion (ligand).

    :func:`oxidation_states` (given or guessed), else the electronegativity fallback;
    then the geometric correction of the module doc; the mobile ion is never an anion.

    Parameters
    ----------
    structure : Structure
        Ordered or disordered (sites play their majority element in the correction).
    mobile_ion : str, default "Na"

    Returns
    -------
    dict
        Element symbol -> oxidation state.
    """
    try:
        states = oxidation_states(structure)
    except OxidationStateError:
        states = _fallback_states(sorted(el.symbol for el in structure.composition.elements))
    states = _covalent_correction(structure, dict(states))
    return _mobile_ion_positive(states, mobile_ion)


def anion_elements(structure: Structure, mobile_ion: str = "Na") -> frozenset[str]:
    """Elements with a negative role in :func:`element_roles` (never the mobile ion)."""
    return frozenset(el for el, v in element_roles(structure, mobile_ion).items() if v < 0)


def _mobile_ion_positive(states: dict[str, float], mobile_ion: str) -> dict[str, float]:
    if states.get(mobile_ion, 1.0) <= 0:
        positive = [s for s in Element(mobile_ion).common_oxidation_states if s > 0]
        states = {**states, mobile_ion: float(positive[0]) if positive else 1.0}
    return states


def _covalent_correction(structure: Structure, states: dict[str, float]) -> dict[str, float]:
    """Anion elements mostly covalently bonded to a more electronegative anion become
    cations in their highest common oxidation state (never O or F: no positive common
    state; an O site 0.64 A from an F site is a broken CIF, not an O-F bond).
    """
    anions = [el for el, v in states.items() if v < 0]
    if len(anions) < 2:
        return states
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    cov = CovalentRadius.radius
    symbols = majority_symbols(structure)
    counts = Counter(symbols)
    max_cut = COVALENT_BOND_FACTOR * 2 * max(cov.get(el, 1.5) for el in anions)
    anion_sites = [i for i, el in enumerate(symbols) if el in anions]
    if not anion_sites:
        return states
    c_idx, p_idx, _, dists = structure.get_neighbor_list(
        max_cut, sites=[structure[i] for i in anion_sites]
    )
    bonded: dict[str, set[int]] = {el: set() for el in anions}
    for c, p, d in zip(c_idx.tolist(), p_idx.tolist(), dists.tolist(), strict=True):
        a, b = symbols[anion_sites[c]], symbols[p]
        if b not in anions or b == a or _en(b) <= _en(a):
            continue
        if d < COVALENT_BOND_FACTOR * (cov.get(a, 1.5) + cov.get(b, 1.5)):
            bonded[a].add(anion_sites[c])
    for el in anions:
        positive = [s for s in Element(el).common_oxidation_states if s > 0]
        if positive and len(bonded[el]) * 2 > counts[el]:
            states[el] = float(max(positive))
    return states
