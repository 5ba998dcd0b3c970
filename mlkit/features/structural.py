"""Structural features: volume per atom, density, packing, lattice shape."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from mlkit.features.base import BaseFeaturizer, register_featurizer

if TYPE_CHECKING:
    from mlkit.features.context import StructureContext

__all__ = ["StructuralFeaturizer", "lattice_anisotropy"]


def lattice_anisotropy(lattice) -> float:  # noqa: ANN001 - pymatgen Lattice
    """max(a, b, c) / min(a, b, c) of the Niggli-reduced cell (LLL-reduced if Niggli fails)."""
    try:
        reduced = lattice.get_niggli_reduced_lattice()
    except Exception:  # noqa: BLE001 - numerically awkward cells
        reduced = lattice.get_lll_reduced_lattice()
    abc = np.asarray(reduced.abc, dtype=float)
    return float(abc.max() / abc.min())


@register_featurizer("structural")
class StructuralFeaturizer(BaseFeaturizer):
    """Cell-level features that need no bonding analysis.

    Parameters
    ----------
    mobile_ion : str
        Element of the mobile ion (for its fraction and number density).
    symprec : float
        spglib tolerance (A) for the space-group number.
    """

    uses_mobile_ion = True

    def __init__(self, mobile_ion: str = "Na", symprec: float = 0.1) -> None:
        self.mobile_ion = mobile_ion
        self.symprec = symprec

    def feature_labels(self) -> list[str]:
        return [
            "vpa",
            "density_g_cm3",
            "packing_fraction",
            "free_volume_per_atom_A3",
            "lattice_anisotropy",
            "atoms_per_cell",
            "mobile_ion_fraction",
            "mobile_ion_density_per_nm3",
            "spacegroup_number",
        ]

    def featurize(self, ctx: StructureContext) -> list[float]:
        s = ctx.structure
        volume = float(s.volume)
        n_atoms = ctx.n_atoms
        radii = ctx.site_radii_A()
        ion_volume = 0.0
        for occ, rad in zip(ctx.site_occupancies, radii, strict=True):
            for el, x in occ.items():
                ion_volume += x * 4.0 / 3.0 * math.pi * rad[el] ** 3
        n_mobile = ctx.element_amounts.get(self.mobile_ion, 0.0)
        return [
            volume / n_atoms,
            float(s.density),
            ion_volume / volume,
            (volume - ion_volume) / n_atoms,
            lattice_anisotropy(s.lattice),
            n_atoms,
            n_mobile / n_atoms,
            n_mobile / volume * 1000.0,
            float(self._spacegroup(ctx)),
        ]

    def _spacegroup(self, ctx: StructureContext) -> int | float:
        def compute() -> int | float:
            from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

            try:
                return SpacegroupAnalyzer(
                    ctx.structure, symprec=self.symprec
                ).get_space_group_number()
            except Exception:  # noqa: BLE001
                return math.nan

        number = ctx.cached(("spacegroup", self.symprec), compute)
        if isinstance(number, float) and math.isnan(number):
            ctx.add_error(self.name, "space group not found by spglib")
        return number

    def citations(self) -> list[str]:
        return [
            "Shannon, R. D. Acta Cryst. A 32, 751-767 (1976). doi:10.1107/S0567739476001551",
            "Togo, A.; Tanaka, I. spglib, arXiv:1808.01590 (2018)",
            "Yang, Y.; Guan, C.; Ouyang, R.; Zhu, H. Chem. Mater. 36, 3776-3785 (2024) "
            "(VPA, packing)",
        ]
