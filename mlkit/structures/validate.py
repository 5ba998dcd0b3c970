"""Validation of structures before featurization.

Rules (each failure is a one-line :class:`~mlkit.errors.StructureError` naming the source):

* empty structure (no sites), non-finite coordinates, a fractional coordinate beyond
  +-``MAX_ABS_FRACTIONAL`` (1000 cells: a mistyped 1e300 would make every distance-based
  feature infinite);
* a species that is not an element (pymatgen reads unknown symbols such as ``Xx`` or ``Q``
  as dummy species, which no featurizer can use);
* more sites than ``max_sites`` (default 2000);
* degenerate cell: volume <= 0, a lattice angle below 5 deg or above 175 deg, or
  ``V / (a b c) < 0.01`` (the three lattice vectors almost coplanar);
* absurd density: volume per site below 1 A^3 or above 200 A^3;
* overlapping atoms: two sites closer than ``min_distance_A`` (periodic images included; a
  lattice vector shorter than ``min_distance_A`` counts as a site overlapping its own image).
  Exception for disordered structures: split positions - two partially occupied sites whose
  total occupancies add up to at most 1 + ``SPLIT_OCCUPANCY_TOL`` (0.1, refined occupancies
  carry errors: OBELiX has Li 0.54 + 0.54 at 0.42 A) - may be close, since they are never
  occupied at the same time.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from mlkit.errors import StructureError

__all__ = [
    "validate_structure",
    "require_species",
    "MIN_VOLUME_PER_ATOM_A3",
    "MAX_VOLUME_PER_ATOM_A3",
    "MIN_ANGLE_DEG",
    "MAX_ABS_FRACTIONAL",
    "SPLIT_OCCUPANCY_TOL",
]

MIN_VOLUME_PER_ATOM_A3 = 1.0
MAX_VOLUME_PER_ATOM_A3 = 200.0
MIN_ANGLE_DEG = 5.0
MIN_NORMALISED_VOLUME = 0.01
MAX_ABS_FRACTIONAL = 1000.0
_OCCUPANCY_TOL = 1e-3
SPLIT_OCCUPANCY_TOL = 0.1


def _site_label(structure: Structure, i: int) -> str:
    comp = structure[i].species
    el = max(comp.items(), key=lambda kv: kv[1])[0]
    return f"{el.symbol}{i}"


def validate_structure(
    structure: Structure,
    source: str,
    *,
    max_sites: int = 2000,
    min_distance_A: float = 0.5,
) -> None:
    """Check that a structure is sane enough to featurize.

    Parameters
    ----------
    structure : Structure
        Ordered or disordered periodic structure.
    source : str
        File path or id used in the error message.
    max_sites : int, default 2000
        Largest accepted number of sites.
    min_distance_A : float, default 0.5
        Closest accepted distance between two sites (A).

    Raises
    ------
    StructureError
        One line, ``"<source>: <reason>"``, for the first rule that fails.
    """
    n = len(structure)
    if n == 0:
        raise StructureError(source, "empty structure (no sites)")
    if n > max_sites:
        raise StructureError(source, f"too many sites ({n} > max_sites={max_sites})")
    frac = structure.frac_coords
    if not np.all(np.isfinite(frac)):
        raise StructureError(source, "non-finite atomic coordinates")
    far = np.abs(frac).max(axis=1)
    if np.any(far > MAX_ABS_FRACTIONAL):
        i = int(np.argmax(far))
        raise StructureError(
            source, f"absurd fractional coordinate {frac[i][np.argmax(np.abs(frac[i]))]:.3g} "
            f"(site {_site_label(structure, i)}; limit +-{MAX_ABS_FRACTIONAL:g})")
    _check_elements(structure, source)
    with np.errstate(all="ignore"):  # a 1e300 cell overflows; the checks below refuse it
        _check_cell(structure, source, n)
    if min_distance_A > 0:
        _check_overlaps(structure, source, min_distance_A)


def _check_elements(structure: Structure, source: str) -> None:
    """Refuse species that are not elements (pymatgen's dummy species for unknown symbols)."""
    from pymatgen.core import Element

    for i, site in enumerate(structure):
        for sp in site.species:
            if not isinstance(getattr(sp, "element", sp), Element):
                symbol = getattr(sp, "symbol", str(sp))
                raise StructureError(
                    source, f"unknown element {symbol!r} at site {i} (not in the periodic table)")


def _check_cell(structure: Structure, source: str, n: int) -> None:
    """Degenerate cells and absurd densities (see the module docstring)."""
    lat = structure.lattice
    abc = np.asarray(lat.abc, dtype=float)
    angles = np.asarray(lat.angles, dtype=float)
    volume = float(lat.volume)
    if not np.all(np.isfinite(lat.matrix)) or not np.isfinite(volume) or volume <= 0:
        raise StructureError(source, f"degenerate cell (volume {volume:.3g} A^3)")
    if np.any(abc <= 0):
        raise StructureError(source, f"degenerate cell (lattice lengths {abc.round(3).tolist()} A)")
    if np.any(angles < MIN_ANGLE_DEG) or np.any(angles > 180.0 - MIN_ANGLE_DEG):
        raise StructureError(
            source, f"degenerate cell (lattice angles {angles.round(2).tolist()} deg)"
        )
    normalised = volume / float(np.prod(abc))
    if normalised < MIN_NORMALISED_VOLUME:
        raise StructureError(
            source, f"degenerate cell (V/(abc) = {normalised:.2g}, vectors almost coplanar)"
        )
    vpa = volume / n
    if vpa < MIN_VOLUME_PER_ATOM_A3 or vpa > MAX_VOLUME_PER_ATOM_A3:
        raise StructureError(
            source,
            f"absurd cell: volume per site {vpa:.3g} A^3 outside "
            f"[{MIN_VOLUME_PER_ATOM_A3:g}, {MAX_VOLUME_PER_ATOM_A3:g}]",
        )


def _check_overlaps(structure: Structure, source: str, min_distance_A: float) -> None:
    centers, points, _images, dists = structure.get_neighbor_list(min_distance_A)
    if len(centers) == 0:
        return
    occ = np.array([float(site.species.num_atoms) for site in structure])
    for i, j, d in sorted(zip(centers, points, dists, strict=True), key=lambda t: t[2]):
        i, j = sorted((int(i), int(j)))
        if i != j and occ[i] < 1 - _OCCUPANCY_TOL and occ[j] < 1 - _OCCUPANCY_TOL:
            if occ[i] + occ[j] <= 1 + SPLIT_OCCUPANCY_TOL:
                continue  # split position of a disordered structure
        if i == j:
            raise StructureError(
                source,
                f"overlapping atoms ({_site_label(structure, i)} and its periodic image at "
                f"{d:.2f} A < {min_distance_A:g} A)",
            )
        raise StructureError(
            source,
            f"overlapping atoms ({_site_label(structure, i)}-{_site_label(structure, j)} at "
            f"{d:.2f} A < {min_distance_A:g} A)",
        )


def require_species(structure: Structure, element: str, source: str, purpose: str = "") -> None:
    """Raise unless ``element`` occupies at least one site (any occupancy).

    Parameters
    ----------
    structure : Structure
        Ordered or disordered structure.
    element : str
        Element symbol, e.g. the mobile ion ``"Na"``.
    source : str
        File path or id used in the message.
    purpose : str, optional
        What needs the element (e.g. a feature name), added to the message.

    Raises
    ------
    StructureError
        ``"<source>: no Na in structure (needed by <purpose>)"``.
    """
    for site in structure:
        for sp in site.species:
            if sp.symbol == element:
                return
    needed = f" (needed by {purpose})" if purpose else ""
    raise StructureError(source, f"no {element} in structure{needed}")
