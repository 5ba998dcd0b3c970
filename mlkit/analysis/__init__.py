"""Trajectory analysis: pure numpy kernels with units in their names.

MSD by FFT, diffusivity with uncertainty, Nernst-Einstein conductivity,
Arrhenius fits, polyanion reorientation, hop events, cation-anion coupling,
spectra, the robust framework-melting test, and :func:`analyze_trajectory`,
which turns one trajectory into one label row. See docs/analysis.md.
"""

from __future__ import annotations

from mlkit.analysis.arrhenius import ArrheniusFit, arrhenius_summary, fit_arrhenius
from mlkit.analysis.constraints import constraint_contributions, contribution_intervals
from mlkit.analysis.coupling import CouplingResult, cation_anion_coupling
from mlkit.analysis.diffusion import (
    DEFAULT_CHARGES_E,
    DiffusivityFit,
    default_charge,
    diffusivity_block_average,
    diffusivity_from_msd,
    diffusivity_gls,
    nernst_einstein_conductivity,
)
from mlkit.analysis.framework import (
    FrameworkTest,
    category,
    framework_cation_mask,
    framework_melting_test,
    polyanion_integrity,
)
from mlkit.analysis.hops import HopEvents, hop_events
from mlkit.analysis.msd import MSDResult, drift_correct, msd_by_species, msd_fft, msd_single_origin
from mlkit.analysis.reorientation import (
    ReorientationJumps,
    center_ligand_vectors,
    orientation_density,
    reorientation_acf,
    reorientation_jumps,
    unit_vectors,
)
from mlkit.analysis.spectra import (
    angular_velocities,
    finite_difference_velocities,
    power_spectrum,
    spectral_center,
    vacf,
)
from mlkit.analysis.summary import AnalysisSettings, analyze_trajectory

__all__ = [
    "DEFAULT_CHARGES_E",
    "AnalysisSettings",
    "ArrheniusFit",
    "CouplingResult",
    "DiffusivityFit",
    "FrameworkTest",
    "HopEvents",
    "MSDResult",
    "ReorientationJumps",
    "analyze_trajectory",
    "arrhenius_summary",
    "angular_velocities",
    "cation_anion_coupling",
    "category",
    "constraint_contributions",
    "contribution_intervals",
    "center_ligand_vectors",
    "default_charge",
    "diffusivity_block_average",
    "diffusivity_from_msd",
    "diffusivity_gls",
    "drift_correct",
    "finite_difference_velocities",
    "fit_arrhenius",
    "framework_cation_mask",
    "framework_melting_test",
    "hop_events",
    "msd_by_species",
    "msd_fft",
    "msd_single_origin",
    "nernst_einstein_conductivity",
    "orientation_density",
    "polyanion_integrity",
    "power_spectrum",
    "reorientation_acf",
    "reorientation_jumps",
    "spectral_center",
    "unit_vectors",
    "vacf",
]
