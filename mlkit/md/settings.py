""":class:`MDSettings`: everything that defines an MD run (recorded as provenance)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from mlkit.errors import MlkitError

__all__ = ["ENSEMBLES", "MDSettings"]

ENSEMBLES = ("nvt-nose-hoover", "nvt-langevin")


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
    ensemble : {"nvt-nose-hoover", "nvt-langevin"}
        ASE ``NoseHooverChainNVT`` (chain of ``tchain``, damping ``tdamp_fs``) or
        ASE ``Langevin`` (``friction_per_fs``; centre of mass fixed with ``FixCom``).
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

    @property
    def equilibration_steps(self) -> int:
        n = self.equilibration_ps * 1000.0 / self.timestep_fs
        return int(math.ceil(round(n, 6) / self.save_every)) * self.save_every

    @property
    def production_steps(self) -> int:
        n = self.time_ps * 1000.0 / self.timestep_fs
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

