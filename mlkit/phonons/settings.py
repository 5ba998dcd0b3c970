"""Settings of a phonon calculation, passed whole from the CLI to the kernels."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from mlkit.errors import MlkitError

__all__ = ["PhononSettings"]


@dataclass(frozen=True)
class PhononSettings:
    """How force constants are made and which descriptors are computed from them.

    Attributes
    ----------
    mobile_ion : str
        Element whose phonon MSD, partial DOS and coupling are reported.
    supercell_min_atoms : int
        Smallest supercell for finite displacements (the phonon paper: >= 80 atoms);
        the diagonal multiplier with the most nearly equal lattice widths is chosen.
    supercell_matrix : tuple of int, optional
        Explicit DIM (3 diagonal or 9 integers), overriding ``supercell_min_atoms``.
    displacement_A : float
        Finite displacement (phonopy's default is 0.01 A; the paper uses 0.03 A).
    relax : bool
        Relax atomic positions with the same potential before displacing (cell fixed
        unless ``relax_cell``); symmetry is kept (ASE ``FixSymmetry``).
    relax_cell : bool
        Also relax the cell (off by default: the cell stays the input's).
    relax_fmax_eV_A, relax_steps : float, int
        BFGS stopping force and step limit; both recorded in provenance.
    subtract_residual_forces : bool
        Subtract the forces of the undisplaced supercell from every displaced one
        (phonopy's ``--fz``): removes the first-order error of an imperfect minimum.
    symmetrize_fc : bool
        Impose the acoustic sum rule and index permutation symmetry on the force constants.
    temperatures_K : tuple of float
        Temperatures of the thermal-displacement descriptors; the first one is the
        reference for mesh convergence and the temperature-free column names.
    mesh_lengths_A : tuple of float
        Ladder of phonopy mesh lengths tried in order (Gamma-centred meshes with
        ``n_i = max(1, round(L |b_i|))``, reduced by time reversal).
    mesh_tolerance : float
        Relative convergence tolerance of the mobile-ion MSD at ``temperatures_K[0]``:
        the ladder stops when two successive estimates agree within it.
    extrapolate_mesh : bool
        Estimate the infinite-mesh MSD from the last two meshes, assuming the 1/n error of
        the Gamma cell (n = (number of q-points)^(1/3)): ``U = (n2 U2 - n1 U1) / (n2 - n1)``.
        Off: the raw sum on the last mesh.
    max_mesh_atom_points : int
        Stop climbing the ladder before q-points x primitive atoms exceeds this (the row
        records ``ph_mesh_stop="max_points"``). With imaginary modes the harmonic MSD is not
        defined: the row then holds the raw sum over the real modes on the third mesh of the
        ladder, without extrapolation, and ``ph_mesh_stop="unstable"``.
    freq_min_THz : float
        Modes at or below this frequency do not enter thermal sums (Gamma acoustic modes
        and imaginary modes never do; all are counted in the row).
    imaginary_tolerance_THz : float
        A mode is imaginary when its frequency is below ``-imaginary_tolerance_THz``; a
        structure with any such mode on the mesh or band path is ``unstable``.
    low_frequency_THz : float, optional
        Upper edge of the "low-frequency modes" whose participation ratio and coupling are
        summarised; ``None`` uses the acoustic cutoff of the structure.
    mass_weighted_participation : bool
        Participation ratio from displacement amplitudes ``|e|^2 / m`` (True) or ``|e|^2``.
    band_points : int
        Points per band-path segment (seekpath path) for stability and the band plot.
    symprec : float
        Symmetry tolerance for phonopy (A).
    """

    mobile_ion: str = "Na"
    supercell_min_atoms: int = 80
    supercell_matrix: tuple[int, ...] | None = None
    displacement_A: float = 0.03
    relax: bool = True
    relax_cell: bool = False
    relax_fmax_eV_A: float = 0.005
    relax_steps: int = 300
    subtract_residual_forces: bool = True
    symmetrize_fc: bool = True
    temperatures_K: tuple[float, ...] = (800.0,)
    mesh_lengths_A: tuple[float, ...] = (15.0, 22.0, 33.0, 50.0, 75.0, 110.0)
    mesh_tolerance: float = 0.01
    extrapolate_mesh: bool = True
    max_mesh_atom_points: int = 200_000
    freq_min_THz: float = 0.0
    imaginary_tolerance_THz: float = 0.1
    low_frequency_THz: float | None = None
    mass_weighted_participation: bool = True
    band_points: int = 41
    symprec: float = 1e-5

    def __post_init__(self) -> None:
        if self.supercell_min_atoms < 1:
            raise MlkitError(f"supercell_min_atoms must be >= 1, got {self.supercell_min_atoms}")
        if self.supercell_matrix is not None and len(self.supercell_matrix) not in (3, 9):
            raise MlkitError(f"supercell_matrix needs 3 or 9 integers, got {self.supercell_matrix}")
        if not 0 < self.displacement_A < 0.5:
            raise MlkitError(f"displacement_A must be in (0, 0.5) A, got {self.displacement_A}")
        if not self.temperatures_K or min(self.temperatures_K) < 0:
            raise MlkitError(f"temperatures_K must be non-empty and >= 0: {self.temperatures_K}")
        if not self.mesh_lengths_A or min(self.mesh_lengths_A) <= 0:
            raise MlkitError(f"mesh_lengths_A must be positive: {self.mesh_lengths_A}")
        if self.mesh_tolerance <= 0:
            raise MlkitError(f"mesh_tolerance must be > 0, got {self.mesh_tolerance}")
        if self.freq_min_THz < 0:
            raise MlkitError(f"freq_min_THz must be >= 0, got {self.freq_min_THz}")

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict (used for cache keys and provenance)."""
        return asdict(self)

    def force_constant_fields(self) -> dict[str, Any]:
        """The settings that change force constants (the force-constant cache key)."""
        keys = (
            "supercell_min_atoms", "supercell_matrix", "displacement_A", "relax", "relax_cell",
            "relax_fmax_eV_A", "relax_steps", "subtract_residual_forces", "symprec",
        )
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhononSettings:
        """Inverse of :meth:`as_dict` (lists become tuples; unknown keys are refused)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise MlkitError(f"unknown phonon settings: {sorted(unknown)}")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**clean)
