"""Bond-valence site energy (BVSE) percolation barriers of the mobile ion (opt-in group ``bvse``).

The BVSE landscape of one mobile ion in the (mobile-ion-free) framework is computed on a
real-space grid by bvlain (Dembitskiy et al.; softBV force field of Chen & Adams: Morse
terms to the anions, screened Coulomb repulsion from the cations), and bvlain finds the
lowest energy above the landscape minimum at which the region below it percolates in 1, 2
and 3 dimensions. Seconds per structure (a 12.8 A garnet cell: ~30 s and ~2.4 GB at the
default 0.2 A grid), so it is opt-in: ``mlkit featurize --featurizers default,bvse``; rows
are kept in the featurization cache.

Choices (docs/features.md, section bvse):

- the mobile ion is the featurization setting (never fixed here); its charge and every
  framework charge come from :mod:`mlkit.structures.chemistry` (a charge-balanced
  assignment is required; non-integer states, i.e. mixed valence, are refused because the
  BVSE parameters are tabulated per integer state);
- every site holding the mobile ion is removed (so mobile-ion disorder does not matter);
  a framework site with partial or mixed occupancy is played by its majority element;
- a barrier above the energy window (``energy_window_eV``, bvlain's ``encut``) is reported
  as the window itself (a capped value) and ``bvse_percolation_dim`` says which
  dimensionalities percolate within the window (0 = none): non-percolation is information,
  not an error.
"""

from __future__ import annotations

import contextlib
import io
import math
import pickle
import warnings
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from mlkit.errors import MlkitError
from mlkit.features.base import BaseFeaturizer, FeatureUnavailable, register_featurizer

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlkit.features.context import StructureContext

__all__ = ["BVSEFeaturizer", "bvse_landscape"]

#: neighbours per grid point in bvlain's KD-tree query (bvlain's default; its results do
#: not depend on it once all neighbours within ``r_cut`` fit)
_K_NEIGHBORS = 100

#: interaction cutoff between the mobile ion and the framework (bvlain's default), A
_R_CUT_A = 10.0


@lru_cache(maxsize=1)
def _bvlain_tables() -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The BVSE parameter table of bvlain for cationic mobile ions, and its quantum numbers."""
    from bvlain import Lain

    calc = Lain(verbose=False)
    with open(calc.cation_file, "rb") as fh:
        cation = pickle.load(fh)
    with open(calc.quantum_file, "rb") as fh:
        quantum = pickle.load(fh)
    return cation, quantum


def _integer_state(element: str, state: float) -> int:
    q = int(round(state))
    if abs(state - q) > 1e-6:
        raise FeatureUnavailable(
            f"non-integer oxidation state {element}{state:+.3g} (mixed valence): BVSE "
            "parameters are tabulated per integer state")
    return q


def _framework(structure: Structure, mobile_ion: str, states: dict[str, float]) -> Structure:
    """Ordered, oxidation-decorated framework: mobile-ion species removed, every other site
    played by its majority element (ties: alphabetical).
    """
    from pymatgen.core import Species, Structure

    species, coords = [], []
    for site in structure:
        occ: dict[str, float] = {}
        for sp, x in site.species.items():
            if sp.symbol != mobile_ion:
                occ[sp.symbol] = occ.get(sp.symbol, 0.0) + float(x)
        if not occ:
            continue
        element = min(occ, key=lambda el: (-occ[el], el))
        species.append(Species(element, _integer_state(element, states[element])))
        coords.append(site.frac_coords)
    if not species:
        raise FeatureUnavailable(f"no framework atoms besides {mobile_ion}")
    return Structure(structure.lattice, species, coords)


def _check_parameters(framework: Structure, mobile_ion: str, charge: int) -> None:
    """Refuse (one line) combinations bvlain has no parameters for, before it fails."""
    from pymatgen.core import Element

    cation, quantum = _bvlain_tables()
    z = Element(mobile_ion).Z
    table = cation.get(z, {}).get(charge)
    if table is None:
        raise FeatureUnavailable(f"no BVSE parameters for the mobile ion {mobile_ion}{charge:+d}")
    missing = set()
    for sp in framework.composition.elements:
        q = int(sp.oxi_state)
        if sp.Z not in quantum:
            missing.add(f"{sp.symbol} (no principal quantum number)")
        elif q < 0 and q not in table.get(sp.Z, {}):
            missing.add(f"{sp.symbol}{q:+d}")
    if missing:
        raise FeatureUnavailable(
            f"no BVSE parameters for {mobile_ion}{charge:+d} with {', '.join(sorted(missing))}")


def bvse_landscape(structure: Structure, mobile_ion: str, states: dict[str, float], *,
                   resolution_A: float = 0.2, energy_window_eV: float = 5.0,
                   max_grid_points: int = 500_000) -> dict[str, Any]:
    """BVSE grid of ``mobile_ion`` in the framework of ``structure`` and its percolation
    barriers (bvlain).

    Parameters
    ----------
    structure : Structure
        Ordered or disordered (see the module doc for what is done with partial sites).
    mobile_ion : str
        Element symbol; must be a cation in ``states``.
    states : dict
        Oxidation state per element (:func:`mlkit.structures.chemistry.element_roles`).
    resolution_A : float
        Grid spacing (A).
    energy_window_eV : float
        Highest barrier searched; above it a dimension does not percolate (``inf``).
    max_grid_points : int
        Larger grids are refused (memory: ~9 kB per grid point in bvlain).

    Returns
    -------
    dict
        ``grid_eV`` (ndarray, one period: bvlain's duplicate end planes dropped),
        ``barriers_eV`` (1-D, 2-D, 3-D; ``inf`` when not percolating within the window).

    Raises
    ------
    FeatureUnavailable
        No parameters for a species pair, non-integer states, a grid over the limit.
    """
    try:
        from bvlain import Lain
    except ImportError as exc:
        raise MlkitError("the bvse featurizer group needs bvlain: "
                         "pip install 'mlkit[bvse]'") from exc

    charge = _integer_state(mobile_ion, states[mobile_ion])
    if charge <= 0:
        raise FeatureUnavailable(f"mobile ion {mobile_ion} is not a cation ({charge:+d})")
    framework = _framework(structure, mobile_ion, states)
    _check_parameters(framework, mobile_ion, charge)
    a, b, c = framework.lattice.abc
    n_points = int(a // resolution_A) * int(b // resolution_A) * int(c // resolution_A)
    if n_points > max_grid_points:
        raise FeatureUnavailable(
            f"BVSE grid of {n_points} points > max_grid_points={max_grid_points} "
            f"(cell {a:.1f} x {b:.1f} x {c:.1f} A at {resolution_A} A)")
    calc = Lain(verbose=False)
    # bvlain prints on missing parameters and uses scipy.ndimage's deprecated namespace
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc.read_structure(framework, oxi_check=False)
        grid = calc.bvse_distribution(mobile_ion=f"{mobile_ion}{charge}+", r_cut=_R_CUT_A,
                                      resolution=resolution_A, k=_K_NEIGHBORS)
        barriers = calc.percolation_barriers(encut=energy_window_eV)
    return {
        "grid_eV": np.asarray(grid)[:-1, :-1, :-1],
        "barriers_eV": tuple(float(barriers[f"E_{d}D"]) for d in (1, 2, 3)),
    }


@register_featurizer("bvse")
class BVSEFeaturizer(BaseFeaturizer):
    """Bond-valence site energy percolation barriers of the mobile ion (bvlain).

    Parameters
    ----------
    mobile_ion : str
    resolution_A : float, default 0.2
        Grid spacing (bvlain's default; cost grows as 1/resolution^3).
    energy_window_eV : float, default 5.0
        Highest barrier searched; a dimension that does not percolate below it gets the
        window as its barrier and is left out of ``bvse_percolation_dim``.
    low_energy_eV : float, default 0.5
        Threshold of ``bvse_low_energy_fraction``.
    max_grid_points : int, default 500000
        Structures whose grid is larger become group errors (a 17 A cube at 0.2 A).

    Notes
    -----
    Features: ``bvse_barrier_{1,2,3}d_eV`` (capped at ``energy_window_eV``),
    ``bvse_percolation_dim`` (highest dimensionality percolating within the window, 0-3),
    ``bvse_site_energy_min_eV`` (the landscape minimum, bvlain's absolute scale) and
    ``bvse_low_energy_fraction`` (fraction of the cell within ``low_energy_eV`` of the
    minimum). Needs a charge-balanced oxidation-state assignment and the mobile ion in the
    structure.
    """

    uses_mobile_ion = True

    def __init__(self, mobile_ion: str = "Na", resolution_A: float = 0.2,
                 energy_window_eV: float = 5.0, low_energy_eV: float = 0.5,
                 max_grid_points: int = 500_000) -> None:
        self.mobile_ion = mobile_ion
        self.resolution_A = resolution_A
        self.energy_window_eV = energy_window_eV
        self.low_energy_eV = low_energy_eV
        self.max_grid_points = max_grid_points

    def feature_labels(self) -> list[str]:
        return ["bvse_barrier_1d_eV", "bvse_barrier_2d_eV", "bvse_barrier_3d_eV",
                "bvse_percolation_dim", "bvse_site_energy_min_eV", "bvse_low_energy_fraction"]

    def featurize(self, ctx: StructureContext) -> list[float]:
        from mlkit.structures.chemistry import element_roles

        ion = self.mobile_ion
        ctx.require_mobile_ion(ion)
        ctx.oxidation_states()  # FeatureUnavailable without a charge-balanced assignment
        states = ctx.cached(("element_roles", ion), lambda: element_roles(ctx.structure, ion))
        key = ("bvse", ion, float(self.resolution_A), float(self.energy_window_eV),
               int(self.max_grid_points))
        result = ctx.cached(key, lambda: bvse_landscape(
            ctx.structure, ion, states, resolution_A=self.resolution_A,
            energy_window_eV=self.energy_window_eV, max_grid_points=self.max_grid_points))
        barriers = result["barriers_eV"]
        window = float(self.energy_window_eV)
        dim = sum(1 for e in barriers if math.isfinite(e))
        grid = result["grid_eV"]
        low = float(np.mean(grid - grid.min() <= self.low_energy_eV))
        return [*(min(e, window) for e in barriers), float(dim), float(grid.min()), low]

    def citations(self) -> list[str]:
        return [
            "Dembitskiy, A. D. BVlain: bond valence site energy calculator, "
            "https://github.com/dembart/BVlain (MIT licence)",
            "Chen, H., Wong, L. L. & Adams, S. SoftBV - a software tool for screening the "
            "materials genome of inorganic fast ion conductors. Acta Cryst. B 75, 18-33 "
            "(2019), https://journals.iucr.org/b/issues/2019/01/00/bm5104/",
            "Chen, H. & Adams, S. Bond softness sensitive bond-valence parameters for crystal "
            "structure plausibility tests. IUCrJ 4, 614-625 (2017), "
            "doi:10.1107/S2052252517010211",
        ]

    def implementors(self) -> list[str]:
        return ["bvlain developers (BVSE grid and percolation); mlkit wrapper"]
