"""Harmonic-phonon descriptors from an ML potential (opt-in group ``phonon``: slow, cached).

Each structure costs one relaxation of atomic positions, a few to a few dozen force calls
on an 80+ atom supercell and a converged q-mesh (seconds to minutes on a CPU); force
constants are cached per (structure, potential, version, settings) in ``cache_dir`` and the
feature rows in the featurization cache. Ask for it by name:
``mlkit featurize --featurizers default,phonon --potential sevennet ...``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlkit.features.base import BaseFeaturizer, FeatureUnavailable, register_featurizer

if TYPE_CHECKING:
    from mlkit.features.context import StructureContext

__all__ = ["PhononFeaturizer"]

#: feature column -> descriptor row key (``{T}`` is the temperature tag)
_COLUMNS = {
    "ph_stable": "ph_stable",
    "ph_min_freq_THz": "ph_min_freq_mesh_THz",
    "ph_imaginary_mode_fraction": "ph_imaginary_mode_fraction",
    "ph_mobile_msd_mean_A2": "ph_mobile_msd_mean_A2_{T}",
    "ph_mobile_msd_max_A2": "ph_mobile_msd_max_A2_{T}",
    "ph_mobile_msd_eigmax_A2": "ph_mobile_msd_eigmax_A2_{T}",
    "ph_host_msd_mean_A2": "ph_host_msd_mean_A2_{T}",
    "ph_acoustic_cutoff_THz": "ph_acoustic_cutoff_THz",
    "ph_mobile_pdos_centre_THz": "ph_mobile_pdos_centre_THz",
    "ph_mobile_pdos_width_THz": "ph_mobile_pdos_width_THz",
    "ph_mobile_pdos_skewness": "ph_mobile_pdos_skewness",
    "ph_mobile_pdos_kurtosis_excess": "ph_mobile_pdos_kurtosis_excess",
    "ph_total_dos_centre_THz": "ph_total_dos_centre_THz",
    "ph_pr_low_mean": "ph_pr_low_mean",
    "ph_coupling_low_mean": "ph_coupling_low_mean",
    "ph_mobile_msd_low_fraction": "ph_mobile_msd_low_fraction",
}


@register_featurizer("phonon")
class PhononFeaturizer(BaseFeaturizer):
    """Phonon descriptors of the mobile ion and the lattice from an ML potential.

    Parameters
    ----------
    mobile_ion : str
    potential : str
        Registered potential (:func:`mlkit.potentials.list_potentials`).
    device : {"cpu", "cuda", "auto"}
    model_path : str, optional
        Local weights for potentials that need them.
    temperature_K : float
        Temperature of the MSD features.
    relax : bool
        Relax atomic positions with the potential first (cell fixed).
    supercell_min_atoms : int
    cache_dir : str, optional
        Force-constant cache (default: none; the featurization cache still keeps rows).

    Notes
    -----
    Disordered structures are refused (phonons need one configuration; featurize with
    ``disorder="majority"``). Structures with imaginary modes keep their features, with
    ``ph_stable = 0`` (see :func:`mlkit.phonons.phonon_descriptors`).
    """

    uses_mobile_ion = True

    def __init__(self, mobile_ion: str = "Na", potential: str = "sevennet", device: str = "cpu",
                 model_path: str | None = None, temperature_K: float = 800.0, relax: bool = True,
                 supercell_min_atoms: int = 80, cache_dir: str | None = None) -> None:
        self.mobile_ion = mobile_ion
        self.potential = potential
        self.device = device
        self.model_path = model_path
        self.temperature_K = temperature_K
        self.relax = relax
        self.supercell_min_atoms = supercell_min_atoms
        self.cache_dir = cache_dir

    def feature_labels(self) -> list[str]:
        return list(_COLUMNS)

    def featurize(self, ctx: StructureContext) -> list[float]:
        from mlkit.errors import MlkitError
        from mlkit.phonons import (
            PhononSettings,
            force_constants_from_potential,
            phonon_descriptors,
        )
        from mlkit.potentials.spec import CalculatorSpec, calculator_from_spec

        structure = ctx.structure
        if not structure.is_ordered:
            raise FeatureUnavailable("phonons need an ordered structure (disorder='majority')")
        if self.mobile_ion not in {el.symbol for el in structure.composition.elements}:
            raise FeatureUnavailable(f"no {self.mobile_ion} in the structure")
        settings = PhononSettings(mobile_ion=self.mobile_ion, relax=self.relax,
                                  temperatures_K=(float(self.temperature_K),),
                                  supercell_min_atoms=self.supercell_min_atoms)
        try:
            spec = CalculatorSpec(self.potential, self.device, self.model_path, None)
            calc = calculator_from_spec(spec)
            model = force_constants_from_potential(structure, calc, settings,
                                                   cache_dir=self.cache_dir)
            row = phonon_descriptors(model, settings, with_band=False).row
        except MlkitError as exc:
            raise FeatureUnavailable(str(exc)) from exc
        tag = f"{float(self.temperature_K):g}K"
        return [float(row[key.format(T=tag)]) for key in _COLUMNS.values()]

    def citations(self) -> list[str]:
        return [
            "Togo, A. First-principles phonon calculations with phonopy and phono3py. "
            "J. Phys. Soc. Jpn. 92, 012001 (2023)",
            "Phonon mean squared displacement of Na as a descriptor of Na-ion diffusion "
            "(phonon MSD, partial-DOS centre, acoustic cutoff, coupling). Mater. Horiz. (2025), "
            "doi:10.1039/d5mh01176k",
        ]
