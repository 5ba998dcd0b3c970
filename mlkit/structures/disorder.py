"""Policies for partially occupied (disordered) structures.

A site is *partial* when it holds more than one species or a total occupancy below 1.

``"average"`` (default)
    The disordered structure is kept as is. Downstream, the role of a site (mobile ion,
    polyanion centre, ligand) is its **majority species** (:func:`majority_element`, vacancy
    ignored) and species properties (masses, radii, electronegativities...) are averaged
    with the occupancies as weights (:func:`site_average`).
``"majority"``
    An ordered structure: every site takes its majority occupant with occupancy 1; a site
    whose vacancy fraction (1 - total occupancy) is larger than its largest species
    occupancy is dropped; formerly partial sites of the same element closer than
    ``merge_distance_A`` (default 1.0 A, i.e. split positions) are merged into the first
    one. The composition may change (noted in the returned string).
``"refuse"``
    :class:`~mlkit.errors.StructureError` when any site is partial.

The returned note is recorded per row: ``"ordered"``, ``"average:12 partial sites"``,
``"majority:12 partial sites, 4 dropped (vacancy), 2 merged"``.
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
    *,
    merge_distance_A: float = 1.0,
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
    merge_distance_A : float, default 1.0
        ``"majority"`` only: formerly partial sites of the same element closer than this
        are merged.

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
    return _order_by_majority(structure, source, n_partial, merge_distance_A)


def _order_by_majority(
    structure: Structure, source: str, n_partial: int, merge_distance_A: float
) -> tuple[Structure, str]:
    species: list[str] = []
    coords: list[np.ndarray] = []
    partial: list[bool] = []
    n_dropped = 0
    for site in structure:
        el, occ = _majority(site)
        vacancy = 1.0 - float(site.species.num_atoms)
        if vacancy > occ + _TOL:
            n_dropped += 1
            continue
        species.append(el)
        coords.append(site.frac_coords)
        partial.append(is_partial(site))
    if not species:
        raise StructureError(source or "structure", "majority ordering left no sites")
    ordered = Structure(structure.lattice, species, np.array(coords))
    n_merged = 0
    if merge_distance_A > 0 and any(partial):
        centers, points, _img, _d = ordered.get_neighbor_list(merge_distance_A)
        remove: set[int] = set()
        for i, j in zip(centers.tolist(), points.tolist(), strict=True):
            if i == j or not (partial[i] and partial[j]) or species[i] != species[j]:
                continue
            if i in remove or j in remove:
                continue
            remove.add(max(i, j))
        if remove:
            n_merged = len(remove)
            ordered.remove_sites(sorted(remove))
    note = f"majority:{n_partial} partial sites"
    if n_dropped:
        note += f", {n_dropped} dropped (vacancy)"
    if n_merged:
        note += f", {n_merged} merged"
    before = structure.composition.reduced_formula
    after = ordered.composition.reduced_formula
    if after != before:
        note += f", formula {before}->{after}"
    return ordered, note
