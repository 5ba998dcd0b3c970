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
from mlkit.structures.chemistry import (
    OxidationStateError,
    anion_elements,
    ionic_radius_A,
    oxidation_states,
)
from mlkit.utils import one_line

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["StructureContext"]

#: two partial sites closer than this whose occupancies sum to <= 1 + SPLIT_OCCUPANCY_TOL are
#: alternative (split) positions: skipped by the shortest-distance features (A)
SPLIT_MAX_A = 2.0
SPLIT_OCCUPANCY_TOL = 0.1

#: neighbour-list cutoff shared by all local features (A)
NEIGHBOR_CUTOFF_A = 5.0


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

    # -- chemistry (mlkit.structures.chemistry) -------------------------------------------
    def oxidation_states(self) -> dict[str, float]:
        """Per-element oxidation states (:func:`mlkit.structures.chemistry.oxidation_states`)."""

        def compute() -> dict[str, float]:
            try:
                return oxidation_states(self.structure)
            except OxidationStateError as exc:
                raise FeatureUnavailable(str(exc)) from exc

        return self.cached("oxidation_states", compute)

    def anion_elements(self, mobile_ion: str = "Na") -> frozenset[str]:
        """Anion elements (:func:`mlkit.structures.chemistry.anion_elements`; never the
        mobile ion).
        """
        return self.cached(
            ("anions", mobile_ion), lambda: anion_elements(self.structure, mobile_ion)
        )

    def site_radii_A(self) -> list[dict[str, float]]:
        """Per site ``{element: ionic radius (A)}``
        (:func:`mlkit.structures.chemistry.ionic_radius_A` of the oxidation states).
        """

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
                raise FeatureUnavailable(f"polyanion search failed: {one_line(exc)}") from exc

        return self.cached(("polyanions", mobile_ion), compute)

    def connectivity(self, mobile_ion: str = "Na") -> Any:
        """``mlkit.structures.classify_connectivity`` result (cached per mobile ion)."""

        def compute() -> Any:
            from mlkit.structures import classify_connectivity

            polys = self.polyanions(mobile_ion)
            try:
                return classify_connectivity(self.structure, polys)
            except Exception as exc:  # noqa: BLE001
                raise FeatureUnavailable(f"connectivity failed: {one_line(exc)}") from exc

        return self.cached(("connectivity", mobile_ion), compute)

    def rotation_screen(self, mobile_ion: str = "Na") -> Any:
        """``mlkit.structures.rotation_screen`` result on the cached polyanions (cached per
        mobile ion).
        """

        def compute() -> Any:
            from mlkit.structures import rotation_screen

            polys = self.polyanions(mobile_ion)
            try:
                return rotation_screen(self.structure, mobile_ion, polyanions=polys)
            except Exception as exc:  # noqa: BLE001
                raise FeatureUnavailable(f"rotation screen failed: {one_line(exc)}") from exc

        return self.cached(("rotation_screen", mobile_ion), compute)

    def polyanion_cartesian(self, poly: Any) -> tuple[np.ndarray, np.ndarray]:
        """Cartesian coordinates (A) of a polyanion's centre, shape (3,), and ligands, (n, 3)."""
        lat = self.structure.lattice
        fc = self.structure.frac_coords
        centre = lat.get_cartesian_coords(fc[poly.center_index])
        lig_frac = fc[list(poly.ligand_indices)] + np.asarray(poly.ligand_images, dtype=float)
        return centre, lat.get_cartesian_coords(lig_frac)
