"""Policies for partially occupied (disordered) structures.

A site is *partial* when it holds more than one species or a total occupancy below 1.

``"average"`` (default)
    The disordered structure is kept as is. Downstream, the role of a site (mobile ion,
    polyanion centre, ligand) is its **majority species** (:func:`majority_element`, vacancy
    ignored) and species properties (masses, radii, electronegativities...) are averaged
    with the occupancies as weights (:func:`site_average`).
``"majority"``
    An ordered structure. Every partial site takes its majority species (its other species
    are lost). For each element, of the partial sites where it is the majority species the
    ``round(sum of those sites' total occupancies)`` sites are kept (the total occupancy of
    a site counts all its species, so a fully occupied mixed site such as Na0.6K0.4 is
    always kept, as Na; a half-empty or split site counts its fraction): highest occupancy
    first, ties broken by keeping the site
    farthest from the atoms of that element already kept (greedy farthest-point choice, so
    split positions and half-occupied neighbour sites are not kept together; two kept atoms
    of one element are never closer than ``SPLIT_EXCLUSION_A`` = 1.0 A, even if the
    occupancies ask for more, and never closer than ``SPLIT_EXCLUSION_OTHER_A`` = 0.7 A to
    an atom of another element kept before - elements are done in alphabetical order, e.g.
    O/F alternatives 0.64 A apart). The others are dropped. The composition can change
    (minority species, rounding) and the note says so.
``"refuse"``
    :class:`~mlkit.errors.StructureError` when any site is partial.

The returned note is recorded per row: ``"ordered"``, ``"average:12 partial sites"``,
``"majority:56 partial sites, 24 dropped"`` (``, formula A->B`` when it changed).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pymatgen.core import Structure
from pymatgen.core.periodic_table import Element

from mlkit.errors import StructureError

__all__ = [
    "DISORDER_STRATEGIES",
    "resolve_disorder",
    "is_partial",
    "n_partial_sites",
    "majority_element",
    "majority_symbols",
    "site_average",
]

DISORDER_STRATEGIES = ("average", "majority", "refuse")
#: ``"majority"``: two kept atoms of the same element are never closer than this (A).
SPLIT_EXCLUSION_A = 1.0
#: ``"majority"``: a kept atom is never closer than this to a kept atom of another element (A).
SPLIT_EXCLUSION_OTHER_A = 0.7
_TOL = 1e-6


def is_partial(site) -> bool:
    """True when a site holds several species or a total occupancy below 1."""
    comp = site.species
    return len(comp) != 1 or float(comp.num_atoms) < 1 - _TOL


def n_partial_sites(structure: Structure) -> int:
    """Number of partially occupied sites."""
    return sum(1 for site in structure if is_partial(site))


def _majority(site) -> tuple[str, float]:
    items = sorted(site.species.items(), key=lambda kv: (-kv[1], kv[0].symbol))
    sp, occ = items[0]
    return sp.symbol, float(occ)


def majority_element(site) -> str:
    """Element symbol of the site's majority species (ties: alphabetical; vacancy ignored)."""
    return _majority(site)[0]


def majority_symbols(structure: Structure) -> list[str]:
    """Majority element symbol of every site, shape (n_sites,)."""
    return [majority_element(site) for site in structure]


def site_average(site, prop: Callable[[Element], float]) -> float:
    """Occupancy-weighted mean of ``prop(element)`` over a site's species (vacancy excluded).

    Parameters
    ----------
    site : Site
        Ordered or disordered site.
    prop : callable
        Element -> float, e.g. ``lambda el: float(el.atomic_mass)``.
    """
    total = 0.0
    weight = 0.0
    for sp, occ in site.species.items():
        el = Element(sp.symbol)
        total += float(occ) * float(prop(el))
        weight += float(occ)
    if weight <= 0:
        return float("nan")
    return total / weight


def resolve_disorder(
    structure: Structure,
    strategy: str = "average",
    source: str = "",
) -> tuple[Structure, str]:
    """Apply a disorder strategy.

    Parameters
    ----------
    structure : Structure
        Input structure (not modified).
    strategy : {"average", "majority", "refuse"}
        See the module docstring.
    source : str
        File path or id for error messages.

    Returns
    -------
    structure : Structure
        A copy (``"average"``: disordered as given; ``"majority"``: ordered).
    note : str
        What was done, recorded per row.

    Raises
    ------
    ValueError
        Unknown strategy.
    StructureError
        ``"refuse"`` and the structure is disordered, or ``"majority"`` leaves no site.
    """
    if strategy not in DISORDER_STRATEGIES:
        raise ValueError(
            f"unknown disorder strategy {strategy!r}; choose from {DISORDER_STRATEGIES}"
        )
    n_partial = n_partial_sites(structure)
    if n_partial == 0:
        return structure.copy(), "ordered"
    if strategy == "refuse":
        raise StructureError(
            source or "structure",
            f"disordered ({n_partial} partially occupied sites) and disorder strategy is 'refuse'",
        )
    if strategy == "average":
        return structure.copy(), f"average:{n_partial} partial sites"
    return _order_by_majority(structure, source, n_partial)


def _order_by_majority(structure: Structure, source: str, n_partial: int) -> tuple[Structure, str]:
    symbols: list[str] = []
    occupancy: list[float] = []
    for site in structure:
        el, occ = _majority(site)
        symbols.append(el)
        # total occupancy of the site (all species): a full mixed site counts 1
        occupancy.append(float(site.species.num_atoms) if is_partial(site) else 1.0)
    keep = [not is_partial(site) for site in structure]
    frac = structure.frac_coords
    lattice = structure.lattice
    for el in sorted({symbols[i] for i in range(len(structure)) if not keep[i]}):
        candidates = [i for i in range(len(structure)) if not keep[i] and symbols[i] == el]
        n_keep = int(np.floor(sum(occupancy[i] for i in candidates) + 0.5))
        if n_keep == 0:
            continue
        # highest occupancy first; among equal occupancies the candidate farthest from the
        # atoms of this element already kept (split positions are never kept together)
        dist = lattice.get_all_distances(frac[candidates], frac[candidates])
        full = [i for i in range(len(structure)) if keep[i] and symbols[i] == el]
        if full:
            nearest_full = lattice.get_all_distances(frac[candidates], frac[full]).min(axis=1)
        else:
            nearest_full = np.full(len(candidates), np.inf)
        min_dist = nearest_full.copy()
        others = [i for i in range(len(structure)) if keep[i] and symbols[i] != el]
        if others:
            cross = lattice.get_all_distances(frac[candidates], frac[others]).min(axis=1)
        else:
            cross = np.full(len(candidates), np.inf)
        chosen: list[int] = []
        remaining = [k for k in range(len(candidates)) if cross[k] >= SPLIT_EXCLUSION_OTHER_A]
        for _ in range(n_keep):
            remaining = [k for k in remaining if min_dist[k] >= SPLIT_EXCLUSION_A]
            if not remaining:
                break  # only split partners of kept atoms left (occupancies sum above 1)
            best = max(occupancy[candidates[k]] for k in remaining)
            tied = [k for k in remaining if occupancy[candidates[k]] >= best - _TOL]
            pick = max(tied, key=lambda k: (min_dist[k], -k))
            chosen.append(pick)
            remaining.remove(pick)
            min_dist = np.minimum(min_dist, dist[pick])
        for k in chosen:
            keep[candidates[k]] = True
    idx = [i for i in range(len(structure)) if keep[i]]
    if not idx:
        raise StructureError(source or "structure", "majority ordering left no sites")
    ordered = Structure(lattice, [symbols[i] for i in idx], frac[idx])
    n_dropped = len(structure) - len(idx)
    note = f"majority:{n_partial} partial sites"
    if n_dropped:
        note += f", {n_dropped} dropped"
    before = structure.composition.reduced_formula
    after = ordered.composition.reduced_formula
    if after != before:
        note += f", formula {before}->{after}"
    return ordered, note
