""":class:`MDSettings`: everything that defines an MD run (recorded as provenance)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from mlkit.errors import MlkitError

__all__ = ["ENSEMBLES", "NPT_INTEGRATORS", "PRESETS", "MDSettings"]

ENSEMBLES = ("nvt-nose-hoover", "nvt-langevin", "nve")
#: ASE integrators of the NPT equilibration stage (:func:`mlkit.md.dynamics.make_npt_dynamics`)
NPT_INTEGRATORS = ("berendsen", "berendsen-inhomogeneous", "langevin-baoab",
                   "langevin-baoab-full")

#: the MD protocols of the papers (SCIENCE.md); :meth:`MDSettings.preset` applies them
PRESETS: dict[str, dict[str, Any]] = {
    # phonon_msd_2025: NVT Langevin 800 K, 1.5 fs, 10,000 equilibration + 40,000
    # production steps (15 ps + 60 ps)
    "phonon-paper": {"ensemble": "nvt-langevin", "temperature_K": 800.0, "timestep_fs": 1.5,
                     "equilibration_ps": 15.0, "time_ps": 60.0},
    # yang2024 rotation diagnosis: NVT Nose-Hoover, 2 fs, 60 ps, 800 K (monovalent anion
    # framework) / 1300 K (divalent), supercell >= 8 A along every direction
    "rotation-paper": {"ensemble": "nvt-nose-hoover", "temperature_K": "auto",
                       "timestep_fs": 2.0, "time_ps": 60.0, "supercell_min_length_A": 8.0},
}


@dataclass
class MDSettings:
    """Everything that defines an MD run (all of it is recorded as provenance).

    Parameters
    ----------
    temperature_K : float or "auto"
        Target temperature; ``"auto"`` applies :func:`mlkit.md.temperature.auto_temperature_K`.
    time_ps : float
        Production length.
    timestep_fs : float
        Integration time step.
    equilibration_ps : float
        Equilibration before production (not stored; rounded up to ``save_every`` steps).
    ensemble : {"nvt-nose-hoover", "nvt-langevin", "nve"}
        ASE ``NoseHooverChainNVT`` (chain of ``tchain``, damping ``tdamp_fs``),
        ASE ``Langevin`` (``friction_per_fs``; centre of mass fixed with ``FixCom``) or
        ASE ``VelocityVerlet`` (NVE, ``FixCom``; starts from Maxwell-Boltzmann momenta at
        ``temperature_K``, which equipartition roughly halves in a solid).
    supercell_min_length_A : float
        Diagonal supercell so that every perpendicular cell width is at least this.
    potential, device, threads, dtype, model_path
        Passed to :func:`mlkit.potentials.get_calculator`.
    mobile_ion : str
        Recorded for the analysis.
    seed : int
        Seeds the Maxwell-Boltzmann velocities and the Langevin noise.
    save_every : int
        Store one frame every ``save_every`` steps.
    checkpoint_every : int
        Checkpoint (and flush frames) every ``checkpoint_every`` stored frames.
    tdamp_fs : float, optional
        Nose-Hoover damping time; default ``100 * timestep_fs``.
    tchain : int
        Nose-Hoover chain length.
    friction_per_fs : float
        Langevin friction.
    min_distance_A : float
        Blow-up when any interatomic distance drops below this.
    max_temperature_factor : float
        Blow-up when the instantaneous temperature exceeds this times the target.
    check_every : int, optional
        Blow-up check interval in steps (default ``save_every``).
    constraint : {"none", "rc", "rtc", "rtvc"}
        Constrained-anion MD (:mod:`mlkit.md.constraints`): no constraint, polyanion
        rotation frozen, rotation + translation frozen, all polyanion atoms frozen.
    rotor_species : list of str, optional
        Rotor species the constraint acts on, by label or centre element (``["PS4"]``);
        default every rotor of :func:`mlkit.structures.find_rotors`.
    npt_equilibration_ps : float
        NPT stage before the NVT equilibration (0: none). Its cell, averaged over the
        second half of the stage, becomes the cell of the rest of the run (positions
        scaled); see :mod:`mlkit.md.run`.
    pressure_GPa : float
        Target pressure of the NPT stage.
    npt_integrator : str
        One of :data:`NPT_INTEGRATORS`: ``"berendsen"`` (default; ASE ``NPTBerendsen``,
        isotropic: the cell shape is kept), ``"berendsen-inhomogeneous"`` (ASE
        ``Inhomogeneous_NPTBerendsen``: the three lattice vectors scale independently,
        angles kept), ``"langevin-baoab"`` / ``"langevin-baoab-full"`` (ASE
        ``LangevinBAOAB``, hydrostatic / fully flexible cell; unconstrained runs only).
    npt_taut_fs, npt_taup_fs : float
        Thermostat and barostat time constants of the NPT stage (Berendsen ``taut`` /
        ``taup``; LangevinBAOAB ``T_tau`` / ``P_tau``).
    npt_bulk_modulus_GPa : float
        Bulk modulus assumed by the Berendsen barostat (its compressibility is the
        inverse); it only sets the relaxation rate, not the final volume.
    """

    temperature_K: float | str = "auto"
    time_ps: float = 60.0
    timestep_fs: float = 2.0
    equilibration_ps: float = 2.0
    ensemble: str = "nvt-nose-hoover"
    supercell_min_length_A: float = 8.0
    potential: str = "chgnet"
    device: str = "auto"
    threads: int | None = None
    dtype: str = "float32"
    model_path: str | None = None
    mobile_ion: str = "Na"
    seed: int = 0
    save_every: int = 5
    checkpoint_every: int = 50
    tdamp_fs: float | None = None
    tchain: int = 3
    friction_per_fs: float = 0.01
    min_distance_A: float = 0.5
    max_temperature_factor: float = 3.0
    check_every: int | None = None
    constraint: str = "none"
    rotor_species: list[str] | None = None
    npt_equilibration_ps: float = 0.0
    pressure_GPa: float = 0.0
    npt_integrator: str = "berendsen"
    npt_taut_fs: float = 100.0
    npt_taup_fs: float = 500.0
    npt_bulk_modulus_GPa: float = 30.0

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> MDSettings:
        """Settings of a paper's MD protocol (:data:`PRESETS`), with ``overrides`` on top.

        ``"phonon-paper"``: NVT Langevin, 800 K, 1.5 fs, 15 ps (10,000 steps)
        equilibration + 60 ps (40,000 steps) production. ``"rotation-paper"``: NVT
        Nose-Hoover, 2 fs, 60 ps, temperature ``"auto"`` (800 / 1300 K rule), supercell
        >= 8 A. Everything else keeps the :class:`MDSettings` defaults.

        Raises
        ------
        MlkitError
            Unknown preset name.
        """
        if name not in PRESETS:
            raise MlkitError(f"unknown MD preset {name!r}; choose {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def __post_init__(self) -> None:
        # one JSON-stable form (meta.json round trips compare equal on resume)
        if isinstance(self.rotor_species, str):
            self.rotor_species = [self.rotor_species]
        elif self.rotor_species is not None:
            self.rotor_species = [str(x) for x in self.rotor_species]

    def validate(self) -> None:
        """Raise ``ValueError`` (one line) for inconsistent settings."""
        if self.ensemble not in ENSEMBLES:
            raise MlkitError(f"unknown ensemble {self.ensemble!r}; choose {', '.join(ENSEMBLES)}")
        from mlkit.md.constraints import CONSTRAINTS

        if self.constraint not in CONSTRAINTS:
            raise MlkitError(f"unknown constraint {self.constraint!r}; "
                             f"choose {', '.join(CONSTRAINTS)}")
        if self.temperature_K != "auto":
            t = float(self.temperature_K)
            if not (t > 0 and math.isfinite(t)):
                raise MlkitError(f"temperature_K must be > 0 or 'auto', got {self.temperature_K}")
        for name in ("time_ps", "timestep_fs"):
            if not getattr(self, name) > 0:
                raise MlkitError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.equilibration_ps < 0:
            raise MlkitError(f"equilibration_ps must be >= 0, got {self.equilibration_ps}")
        for name in ("save_every", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise MlkitError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.npt_equilibration_ps >= 0:
            raise MlkitError(f"npt_equilibration_ps must be >= 0, got {self.npt_equilibration_ps}")
        if self.npt_steps:
            if self.npt_integrator not in NPT_INTEGRATORS:
                raise MlkitError(f"unknown npt_integrator {self.npt_integrator!r}; "
                                 f"choose {', '.join(NPT_INTEGRATORS)}")
            for name in ("npt_taut_fs", "npt_taup_fs", "npt_bulk_modulus_GPa"):
                if not getattr(self, name) > 0:
                    raise MlkitError(f"{name} must be > 0, got {getattr(self, name)}")
            if not math.isfinite(self.pressure_GPa):
                raise MlkitError(f"pressure_GPa must be finite, got {self.pressure_GPa}")
            if self.npt_integrator.startswith("langevin-baoab") and self.constraint != "none":
                raise MlkitError(f"npt_integrator {self.npt_integrator!r} moves positions "
                                 "without applying constraints; constrained runs need "
                                 "'berendsen' or 'berendsen-inhomogeneous'")

    @property
    def equilibration_steps(self) -> int:
        n = self.equilibration_ps * 1000.0 / self.timestep_fs
        return int(math.ceil(round(n, 6) / self.save_every)) * self.save_every

    @property
    def production_steps(self) -> int:
        n = self.time_ps * 1000.0 / self.timestep_fs
        return int(math.ceil(round(n, 6) / self.save_every)) * self.save_every

    @property
    def npt_steps(self) -> int:
        """Steps of the NPT stage (a multiple of ``save_every``; 0 when off)."""
        n = self.npt_equilibration_ps * 1000.0 / self.timestep_fs
        return int(math.ceil(round(n, 6) / self.save_every)) * self.save_every

    @property
    def expected_frames(self) -> int:
        """Frames stored by a complete run (production start included)."""
        return self.production_steps // self.save_every + 1

    @property
    def nose_hoover_tdamp_fs(self) -> float:
        """Nose-Hoover damping time actually used (``tdamp_fs`` or 100 time steps)."""
        return self.tdamp_fs or 100.0 * self.timestep_fs

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

