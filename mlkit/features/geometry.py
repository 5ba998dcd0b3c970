"""Local geometrical features: polyanion size and shape, mobile-ion environment."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from mlkit.features.base import BaseFeaturizer, FeatureUnavailable, register_featurizer
from mlkit.structures.chemistry import symbol

if TYPE_CHECKING:
    from mlkit.features.context import StructureContext

__all__ = [
    "GeometryFeaturizer",
    "baur_distortion_index",
    "effective_coordination",
    "polyanion_weights",
]


def baur_distortion_index(distances_A: np.ndarray) -> float:
    """Baur (1974) distortion index D = (1/n) sum_i |l_i - l_av| / l_av (dimensionless).

    Parameters
    ----------
    distances_A : array of shape (n_ligands,)
        Centre-ligand distances.
    """
    d = np.asarray(distances_A, dtype=float)
    mean = d.mean()
    return float(np.abs(d - mean).mean() / mean)


def effective_coordination(
    distances_A: np.ndarray, weights: np.ndarray | None = None, n_iter: int = 50
) -> tuple[float, float]:
    """Hoppe's effective coordination number and weighted mean bond length.

    w_i = exp(1 - (l_i / l_av)^6), l_av iterated from l_min to self-consistency
    l_av = sum_i x_i l_i w_i / sum_i x_i w_i, ECoN = sum_i x_i w_i, with x_i the
    neighbour's occupancy (1 for ordered structures).

    Parameters
    ----------
    distances_A : array of shape (n_neighbors,)
    weights : array of shape (n_neighbors,), optional
        Occupancies x_i of the neighbours.

    Returns
    -------
    econ : float
    mean_bond_length_A : float
    """
    d = np.asarray(distances_A, dtype=float)
    x = np.ones_like(d) if weights is None else np.asarray(weights, dtype=float)
    l_av = float(d.min())
    for _ in range(n_iter):
        w = np.exp(1.0 - (d / l_av) ** 6)
        new = float((x * w * d).sum() / (x * w).sum())
        if abs(new - l_av) < 1e-10:
            l_av = new
            break
        l_av = new
    w = np.exp(1.0 - (d / l_av) ** 6)
    return float((x * w).sum()), l_av


def polyanion_weights(ctx: StructureContext, polys: list[Any]) -> np.ndarray:
    """Occupancy of each polyanion's central species on its site, shape (n_polyanions,)."""
    occ = ctx.site_occupancies
    return np.array([occ[p.center_index].get(symbol(p.center_species), 1.0) for p in polys])


@register_featurizer("geometry")
class GeometryFeaturizer(BaseFeaturizer):
    """Polyanion geometry (aal, distortion, counts) and the mobile ion's environment.

    Mobile-ion features are NaN (reason in ``error``) when the structure has no mobile
    ion; polyanion features are NaN when it has no polyanions (count stays 0).

    Parameters
    ----------
    mobile_ion : str
        Element of the mobile ion.
    """

    uses_mobile_ion = True

    def __init__(self, mobile_ion: str = "Na") -> None:
        self.mobile_ion = mobile_ion

    def feature_labels(self) -> list[str]:
        return [
            "aal",
            "polyanion_distortion",
            "polyanion_count",
            "polyanions_per_formula_unit",
            "polyanion_cn_mean",
            "polyanion_tetrahedral_fraction",
            "polyanion_octahedral_fraction",
            "mobile_cn",
            "mobile_anion_distance_A",
            "mobile_anion_min_distance_A",
            "mobile_mobile_min_distance_A",
            "mobile_center_min_distance_A",
        ]

    def featurize(self, ctx: StructureContext) -> list[float]:
        poly = self._polyanion_features(ctx)
        mobile = self._mobile_features(ctx)
        return poly + mobile

    # -- polyanions -----------------------------------------------------------------
    def _polyanion_features(self, ctx: StructureContext) -> list[float]:
        nan7 = [math.nan] * 7
        try:
            polys = ctx.polyanions(self.mobile_ion)
        except FeatureUnavailable as exc:
            ctx.add_error(self.name, exc.args[0] if exc.args else str(exc))
            return nan7
        if not polys:
            ctx.add_error(self.name, f"no non-{self.mobile_ion} cation polyhedra (aal undefined)")
            return [math.nan, math.nan, 0.0, 0.0, math.nan, math.nan, math.nan]
        w = polyanion_weights(ctx, polys)
        aal = np.array([float(np.mean(p.distances_A)) for p in polys])
        baur = np.array([baur_distortion_index(np.asarray(p.distances_A)) for p in polys])
        cn = np.array([len(p.ligand_indices) for p in polys], dtype=float)
        tet = np.array([p.shape == "tetrahedron" for p in polys], dtype=float)
        octa = np.array([p.shape == "octahedron" for p in polys], dtype=float)
        count = float(w.sum())
        _, z = ctx.structure.composition.get_reduced_composition_and_factor()
        return [
            float(np.average(aal, weights=w)),
            float(np.average(baur, weights=w)),
            count,
            count / float(z),
            float(np.average(cn, weights=w)),
            float(np.average(tet, weights=w)),
            float(np.average(octa, weights=w)),
        ]

    # -- mobile ion -------------------------------------------------------------------
    def _mobile_features(self, ctx: StructureContext) -> list[float]:
        nan5 = [math.nan] * 5
        idx, wm = ctx.mobile_sites(self.mobile_ion)
        if len(idx) == 0:
            ctx.add_error(self.name, f"no {self.mobile_ion} in structure")
            return nan5
        anions = ctx.anion_elements(self.mobile_ion) - {self.mobile_ion}
        anion_occ = np.array([sum(o.get(a, 0.0) for a in anions) for o in ctx.site_occupancies])
        cns, lengths, mins, weights = [], [], [], []
        for i, w in zip(idx, wm, strict=True):
            nn, d = ctx.neighbors_of(int(i))
            x = anion_occ[nn]
            m = (x > 0) & (d > 1e-8)
            if not m.any():
                continue
            econ, l_av = effective_coordination(d[m], x[m])
            cns.append(econ)
            lengths.append(l_av)
            mins.append(float(d[m].min()))
            weights.append(w)
        out = nan5.copy()
        if weights:
            out[0] = float(np.average(cns, weights=weights))
            out[1] = float(np.average(lengths, weights=weights))
            out[2] = float(np.average(mins, weights=weights))
        else:
            ctx.add_error(
                self.name,
                f"no anion within {ctx.neighbor_cutoff_A} A of {self.mobile_ion}",
            )
        out[3] = ctx.min_distance_A(idx, idx)
        try:
            polys = ctx.polyanions(self.mobile_ion)
        except FeatureUnavailable:
            polys = []
        if polys:
            centres = np.array(sorted({p.center_index for p in polys}))
            out[4] = ctx.min_distance_A(idx, centres)
        return out

    def citations(self) -> list[str]:
        return [
            "Baur, W. H. Acta Cryst. B 30, 1195-1215 (1974). doi:10.1107/S0567740874004560",
            "Hoppe, R. Z. Kristallogr. 150, 23-52 (1979). doi:10.1524/zkri.1979.150.14.23",
            "Yang, Y.; Guan, C.; Ouyang, R.; Zhu, H. Chem. Mater. 36, 3776-3785 (2024) "
            "(AAL feature)",
        ]
