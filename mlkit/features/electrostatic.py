"""Electrostatic features: Ewald energy, Madelung potential and bond-valence sums."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from mlkit.features.base import BaseFeaturizer, FeatureUnavailable, register_featurizer
from mlkit.structures.chemistry import symbol

if TYPE_CHECKING:
    from mlkit.features.context import StructureContext

__all__ = ["BV_B_A", "ElectrostaticFeaturizer", "bond_valence_R0_A", "bond_valence_sums"]

#: bond-softness parameter b (A) used by pymatgen's bond-valence sums
BV_B_A = 0.31

#: neighbour cutoff for bond-valence sums (A), as pymatgen's BVAnalyzer (max_radius=4)
BV_CUTOFF_A = 4.0


@lru_cache(maxsize=4096)
def bond_valence_R0_A(el1: str, el2: str) -> float:
    """O'Keeffe-Brese (1991) R0 of the el1-el2 bond from pymatgen's per-element r, c.

    R0 = r1 + r2 - r1 r2 (sqrt(c1) - sqrt(c2))^2 / (c1 r1 + c2 r2); raises KeyError when an
    element has no parameters.
    """
    from pymatgen.core import Element
    from pymatgen.core.bond_valence import BV_PARAMS

    p1, p2 = BV_PARAMS[Element(el1)], BV_PARAMS[Element(el2)]
    r1, r2, c1, c2 = p1["r"], p2["r"], p1["c"], p2["c"]
    return r1 + r2 - r1 * r2 * (math.sqrt(c1) - math.sqrt(c2)) ** 2 / (c1 * r1 + c2 * r2)


@lru_cache(maxsize=4096)
def _bv_pair(el1: str, el2: str) -> tuple[float, float]:
    """(sign, R0) of the el1-el2 bond; sign 0 when pymatgen counts no bond valence."""
    from pymatgen.core import Element
    from pymatgen.core.bond_valence import ELECTRONEG

    electroneg = {e.symbol for e in ELECTRONEG}
    if el1 == el2 or (el1 not in electroneg and el2 not in electroneg):
        return 0.0, 0.0
    try:
        r0 = bond_valence_R0_A(el1, el2)
    except KeyError as exc:
        raise FeatureUnavailable(f"no bond-valence parameters for {el1}-{el2}") from exc
    return (1.0 if Element(el1).X < Element(el2).X else -1.0), r0


def bond_valence_sums(ctx: StructureContext, sites: np.ndarray) -> list[dict[str, float]]:
    """Bond-valence sum of every element on each of ``sites`` (pymatgen's convention).

    V_el(i) = sum_j sum_k x_jk s * exp((R0(el, k) - d_ij) / b), over neighbours within
    4 A, with b = 0.31 A, s = +1 when el is less electronegative than k, -1 otherwise, and
    only pairs where one element is in pymatgen's ELECTRONEG list (as
    ``pymatgen.analysis.bond_valence.calculate_bv_sum_unordered``).

    Returns
    -------
    list (one per site) of ``{element: bvs}`` (valence units).
    """
    occ = ctx.site_occupancies
    out = []
    for i in sites:
        nn, d = ctx.neighbors_of(int(i))
        keep = (d <= BV_CUTOFF_A) & (d > 1e-8)
        nn, d = nn[keep], d[keep]
        res: dict[str, float] = {}
        for el1 in occ[int(i)]:
            total = 0.0
            for j, dij in zip(nn.tolist(), d.tolist(), strict=True):
                for el2, x2 in occ[j].items():
                    sign, r0 = _bv_pair(el1, el2)
                    if sign:
                        total += x2 * sign * math.exp((r0 - dij) / BV_B_A)
            res[el1] = total
        out.append(res)
    return out


@register_featurizer("electrostatic")
class ElectrostaticFeaturizer(BaseFeaturizer):
    """Ewald energy, Madelung potential and bond-valence sum of the mobile ion, GII.

    Oxidation states come once per structure from
    :func:`mlkit.structures.chemistry.oxidation_states` (given on the structure, else
    guessed on its composition, occupancies included: disordered, non-stoichiometric
    cells get the bounded fractional search with its 2 % net-charge tolerance); where
    none can be assigned the oxidation-dependent features are NaN and the reason (with
    the closest assignment and its net charge) is reported.

    Parameters
    ----------
    mobile_ion : str
        Element of the mobile ion.
    ewald_accuracy : float
        Significant figures of the Ewald sums (pymatgen ``acc_factor``; 8 is within
        1e-7 eV/atom of pymatgen's default 12 and ~2x faster).
    """

    uses_mobile_ion = True

    def __init__(self, mobile_ion: str = "Na", ewald_accuracy: float = 8.0) -> None:
        self.mobile_ion = mobile_ion
        self.ewald_accuracy = ewald_accuracy

    def feature_labels(self) -> list[str]:
        return [
            "ewald_energy_per_atom_eV",
            "madelung_potential_mobile_V",
            "bvs_mobile",
            "global_instability_index",
            "polyanion_charge",
            "center_oxidation_state",
        ]

    def featurize(self, ctx: StructureContext) -> list[float]:
        out = [math.nan] * 6
        idx, wm = ctx.mobile_sites(self.mobile_ion)
        if len(idx) == 0:
            ctx.add_error(self.name, f"no {self.mobile_ion} in structure")
        oxi: dict[str, float] | None
        try:
            oxi = ctx.oxidation_states()
        except FeatureUnavailable as exc:
            ctx.add_error(self.name, str(exc))
            oxi = None
        if oxi is not None:
            ew = ctx.ewald(self.ewald_accuracy)
            out[0] = float(ew.total_energy) / ctx.n_atoms
            if len(idx):
                out[1] = self._madelung(ctx, ew, oxi, idx, wm)
        try:
            if len(idx):
                bvs = bond_valence_sums(ctx, idx)
                out[2] = float(np.average([b[self.mobile_ion] for b in bvs], weights=wm))
            if oxi is not None:
                out[3] = self._gii(ctx, oxi)
        except FeatureUnavailable as exc:
            ctx.add_error(self.name, str(exc))
        if oxi is not None:
            out[4], out[5] = self._polyanion_charge(ctx, oxi)
        return out

    @staticmethod
    def _madelung(ctx, ew, oxi, idx, wm) -> float:  # noqa: ANN001
        """V_i = 2 E_i / q_i with E_i the Ewald site energy (eV) and q_i the site charge (e)."""
        matrix = ew.total_energy_matrix
        occ = ctx.site_occupancies
        potentials = []
        for i in idx:
            q = sum(x * oxi[el] for el, x in occ[int(i)].items())
            if abs(q) < 1e-8:
                return math.nan
            potentials.append(2.0 * float(matrix[:, int(i)].sum()) / q)
        return float(np.average(potentials, weights=wm))

    @staticmethod
    def _gii(ctx: StructureContext, oxi: dict[str, float]) -> float:
        """Global instability index sqrt(sum x (V - oxi)^2 / sum x) over all sites."""
        sites = np.arange(len(ctx.structure))
        bvs = bond_valence_sums(ctx, sites)
        sq, wt = 0.0, 0.0
        for occ, b in zip(ctx.site_occupancies, bvs, strict=True):
            for el, x in occ.items():
                sq += x * (b[el] - oxi[el]) ** 2
                wt += x
        return math.sqrt(sq / wt)

    def _polyanion_charge(
        self, ctx: StructureContext, oxi: dict[str, float]
    ) -> tuple[float, float]:
        try:
            polys = ctx.polyanions(self.mobile_ion)
        except FeatureUnavailable:
            return math.nan, math.nan
        if not polys:
            return math.nan, math.nan
        charges = [
            oxi.get(symbol(p.center_species), math.nan)
            + sum(oxi.get(symbol(s), math.nan) for s in p.ligand_species)
            for p in polys
        ]
        centres = [oxi.get(symbol(p.center_species), math.nan) for p in polys]
        return float(np.mean(charges)), float(np.mean(centres))

    def citations(self) -> list[str]:
        return [
            "Ewald, P. P. Ann. Phys. 369, 253-287 (1921); pymatgen EwaldSummation "
            "(Toukmaji & Board, Comput. Phys. Commun. 95, 73 (1996))",
            "O'Keeffe, M.; Brese, N. E. J. Am. Chem. Soc. 113, 3226-3229 (1991). "
            "doi:10.1021/ja00009a002",
            "Salinas-Sanchez, A. et al. J. Solid State Chem. 100, 201-211 (1992) "
            "(global instability index)",
            "Ong, S. P. et al. Comput. Mater. Sci. 68, 314-319 (2013) (pymatgen)",
        ]
