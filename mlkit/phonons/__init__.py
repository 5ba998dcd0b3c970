"""Harmonic phonons from ML potentials or DFT force sets, and descriptors from them.

Flow: :mod:`~mlkit.phonons.force_constants` (phonopy + a calculator or FORCE_SETS) ->
:mod:`~mlkit.phonons.properties` (meshes, band path) -> :mod:`~mlkit.phonons.descriptors`
(pure numpy kernels). phonopy is imported inside functions, so importing this package is
cheap.
"""

from mlkit.phonons.descriptors import (
    acoustic_cutoff_THz,
    coupling_factors,
    distribution_moments,
    participation_ratios,
    select_modes,
    thermal_displacement_tensors_A2,
)
from mlkit.phonons.force_constants import (
    PhononModel,
    force_constants_from_force_sets,
    force_constants_from_potential,
    read_phonondb_archive,
    relax_positions,
)
from mlkit.phonons.properties import PhononDescriptors, phonon_descriptors
from mlkit.phonons.settings import PhononSettings
from mlkit.phonons.supercell import choose_supercell_matrix

__all__ = [
    "PhononDescriptors",
    "PhononModel",
    "PhononSettings",
    "acoustic_cutoff_THz",
    "choose_supercell_matrix",
    "coupling_factors",
    "distribution_moments",
    "force_constants_from_force_sets",
    "force_constants_from_potential",
    "participation_ratios",
    "phonon_descriptors",
    "read_phonondb_archive",
    "relax_positions",
    "select_modes",
    "thermal_displacement_tensors_A2",
]
