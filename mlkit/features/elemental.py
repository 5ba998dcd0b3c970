"""Elemental features: electronegativity and radius statistics, polyanion masses and inertia."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from mlkit.features.base import BaseFeaturizer, FeatureUnavailable, register_featurizer
from mlkit.features.geometry import polyanion_weights
from mlkit.structures.chemistry import pauling, symbol

if TYPE_CHECKING:
    from mlkit.features.context import StructureContext

__all__ = ["ElementalFeaturizer", "moment_of_inertia_amu_A2", "weighted_stats"]


@lru_cache(maxsize=256)
def _mass_amu(el: str) -> float:
    from pymatgen.core import Element

    return float(Element(el).atomic_mass)


def weighted_stats(values: np.ndarray, weights: np.ndarray) -> list[float]:
    """Weighted mean, population std, min and max (NaN values dropped).

    Parameters
    ----------
    values, weights : arrays of shape (n,)
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    ok = np.isfinite(v) & (w > 0)
    if not ok.any():
        return [math.nan] * 4
    v, w = v[ok], w[ok]
    mean = float(np.average(v, weights=w))
    std = float(math.sqrt(np.average((v - mean) ** 2, weights=w)))
    return [mean, std, float(v.min()), float(v.max())]


def moment_of_inertia_amu_A2(masses_amu: np.ndarray, positions_A: np.ndarray) -> float:
    """Mean principal moment of inertia (1/3) tr(I) about the centre of mass (amu A^2).

    tr(I) = 2 sum_i m_i |r_i - r_com|^2 for point masses.

    Parameters
    ----------
    masses_amu : array of shape (n_atoms,)
    positions_A : array of shape (n_atoms, 3)
    """
    m = np.asarray(masses_amu, dtype=float)
    r = np.asarray(positions_A, dtype=float)
    com = (m[:, None] * r).sum(axis=0) / m.sum()
    return float(2.0 / 3.0 * (m * ((r - com) ** 2).sum(axis=1)).sum())


@register_featurizer("elemental")
class ElementalFeaturizer(BaseFeaturizer):
    """Occupancy-weighted element statistics and polyanion mass properties.

    Electronegativity (Pauling) and ionic-radius statistics weight every element on
    every site by its occupancy (disordered structures: site-averaged properties).
    Polyanion properties are NaN (reason reported) when there are no polyanions.

    Parameters
    ----------
    mobile_ion : str
        Element of the mobile ion (excluded from the polyanion centres).
    """

    uses_mobile_ion = True

    def __init__(self, mobile_ion: str = "Na") -> None:
        self.mobile_ion = mobile_ion

    def feature_labels(self) -> list[str]:
        return [
            "en_mean",
            "en_std",
            "en_min",
            "en_max",
            "ionic_radius_mean_A",
            "ionic_radius_std_A",
            "ionic_radius_min_A",
            "ionic_radius_max_A",
            "center_mass_amu",
            "ligand_mass_amu",
            "center_electronegativity",
            "ligand_electronegativity",
            "polyanion_inertia_amu_A2",
        ]

    def featurize(self, ctx: StructureContext) -> list[float]:
        els, occs, radii = [], [], []
        for occ, rad in zip(ctx.site_occupancies, ctx.site_radii_A(), strict=True):
            for el, x in occ.items():
                els.append(el)
                occs.append(x)
                radii.append(rad[el])
        en = np.array([pauling(el) for el in els])
        out = weighted_stats(en, np.array(occs)) + weighted_stats(np.array(radii), np.array(occs))
        try:
            polys = ctx.polyanions(self.mobile_ion)
        except FeatureUnavailable as exc:
            ctx.add_error(self.name, str(exc))
            return out + [math.nan] * 5
        if not polys:
            ctx.add_error(self.name, f"no non-{self.mobile_ion} cation polyhedra")
            return out + [math.nan] * 5
        w = polyanion_weights(ctx, polys)
        site_occ = ctx.site_occupancies
        c_mass, l_mass, c_en, l_en, inertia = [], [], [], [], []
        for p in polys:
            centre_el = symbol(p.center_species)
            lig_masses = np.array(
                [sum(x * _mass_amu(el) for el, x in site_occ[j].items()) for j in p.ligand_indices]
            )
            lig_en = [pauling(symbol(s)) for s in p.ligand_species]
            c_mass.append(_mass_amu(centre_el))
            l_mass.append(float(lig_masses.mean()))
            c_en.append(pauling(centre_el))
            l_en.append(float(np.mean(lig_en)))
            centre, ligands = ctx.polyanion_cartesian(p)
            masses = np.concatenate([[_mass_amu(centre_el)], lig_masses])
            inertia.append(moment_of_inertia_amu_A2(masses, np.vstack([centre, ligands])))
        return out + [
            float(np.average(v, weights=w)) for v in (c_mass, l_mass, c_en, l_en, inertia)
        ]

    def citations(self) -> list[str]:
        return [
            "Pauling, L. J. Am. Chem. Soc. 54, 3570-3582 (1932) (electronegativity)",
            "Shannon, R. D. Acta Cryst. A 32, 751-767 (1976). doi:10.1107/S0567739476001551",
            "Yang, Y.; Guan, C.; Ouyang, R.; Zhu, H. Chem. Mater. 36, 3776-3785 (2024) "
            "(mass and inertia features)",
        ]
