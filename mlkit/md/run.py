"""One MD run: equilibration then production, with observers for the trajectory,
checkpoints, blow-up detection and progress (ASE ``dyn.attach`` style).

A run lives in one directory (:class:`mlkit.md.store.TrajectoryStore`). Rerunning
:meth:`MDRun.run` on the same directory continues from the last checkpoint; a run
whose status is ``done`` (or ``error``) is not run again, unless a longer
``time_ps`` is asked for a ``done`` run: it is then extended from its final checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlkit.errors import MlkitError
from mlkit.md.store import TrajectoryStore

ENSEMBLES = ("nvt-nose-hoover", "nvt-langevin")


class MDBlowUpError(MlkitError):
    """The dynamics became unphysical (NaN, atoms too close, temperature runaway)."""


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
            raise ValueError(f"unknown ensemble {self.ensemble!r}; choose {', '.join(ENSEMBLES)}")
        from mlkit.md.constraints import CONSTRAINTS

        if self.constraint not in CONSTRAINTS:
            raise ValueError(f"unknown constraint {self.constraint!r}; "
                             f"choose {', '.join(CONSTRAINTS)}")
        if self.temperature_K != "auto":
            t = float(self.temperature_K)
            if not (t > 0 and math.isfinite(t)):
                raise ValueError(f"temperature_K must be > 0 or 'auto', got {self.temperature_K}")
        for name in ("time_ps", "timestep_fs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.equilibration_ps < 0:
            raise ValueError(f"equilibration_ps must be >= 0, got {self.equilibration_ps}")
        for name in ("save_every", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class MDResult:
    """Outcome of :meth:`MDRun.run`."""

    run_dir: str
    status: str  # "done" | "error"
    message: str = ""
    n_frames: int = 0
    steps_run: int = 0
    elapsed_s: float = 0.0
    skipped: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.elapsed_s / self.steps_run if self.steps_run else float("nan")


# ----------------------------------------------------------------------------- observers
def closest_pair(positions_A: np.ndarray, cell_A: np.ndarray,
                 chunk_pairs: int = 400_000) -> tuple[int, int, float]:
    """Closest pair of atoms under periodic boundary conditions.

    Nearest images come from rounding fractional differences, which is exact for every
    pair closer than half the smallest perpendicular cell width (each fractional
    component is then below 1/2) - always the case for the 0.5 A blow-up threshold.

    Parameters
    ----------
    positions_A : ndarray of shape (n_atoms, 3)
        Cartesian positions (wrapped or not).
    cell_A : ndarray of shape (3, 3)
        Lattice vectors as rows.
    chunk_pairs : int
        Pairs evaluated per vectorised block (bounds memory to ~24 bytes x this).

    Returns
    -------
    (i, j, distance_A)
        ``(-1, -1, inf)`` for fewer than two atoms.
    """
    n = len(positions_A)
    if n < 2:
        return -1, -1, float("inf")
    frac = np.asarray(positions_A) @ np.linalg.inv(cell_A)
    rows = max(1, chunk_pairs // n)
    best = (-1, -1, float("inf"))
    for start in range(0, n, rows):
        d = frac[start:start + rows, None, :] - frac[None, :, :]
        d -= np.round(d)
        r2 = np.einsum("abk,abk->ab", d @ cell_A, d @ cell_A)
        idx = np.arange(start, min(start + rows, n))
        r2[idx - start, idx] = np.inf
        k = int(np.argmin(r2))
        a, b = divmod(k, n)
        if r2[a, b] < best[2] ** 2:
            best = (start + a, b, float(np.sqrt(r2[a, b])))
    return best


class BlowUpGuard:
    """Observer raising :class:`MDBlowUpError` on NaN energy/forces, close contacts or
    temperature runaway.
    """

    def __init__(self, atoms, dyn, target_K: float, min_distance_A: float, max_factor: float):
        self.atoms = atoms
        self.dyn = dyn
        self.target_K = target_K
        self.min_distance_A = min_distance_A
        self.max_factor = max_factor

    def __call__(self) -> None:
        step = self.dyn.nsteps
        energy = self.atoms.get_potential_energy()
        forces = self.atoms.get_forces()
        if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
            raise MDBlowUpError(f"blow-up at step {step}: non-finite energy or forces")
        if self.min_distance_A > 0:
            i, j, d = closest_pair(self.atoms.positions, self.atoms.cell.array)
            if d < self.min_distance_A:
                i, j = min(i, j), max(i, j)
                sym = self.atoms.get_chemical_symbols()
                raise MDBlowUpError(
                    f"blow-up at step {step}: atoms {sym[i]}{i}-{sym[j]}{j} at "
                    f"{d:.2f} A < {self.min_distance_A} A"
                )
        temp = self.atoms.get_temperature()
        if not np.isfinite(temp) or temp > self.max_factor * self.target_K:
            raise MDBlowUpError(
                f"blow-up at step {step}: temperature {temp:.0f} K > "
                f"{self.max_factor:g} x target {self.target_K:g} K"
            )


class FrameWriter:
    """Observer buffering one frame per call once production has started.

    Frames go to the store in blocks (:meth:`flush`), right before each checkpoint.
    """

    def __init__(self, atoms, dyn, store: TrajectoryStore, production_start: int,
                 timestep_fs: float):
        from ase import units

        self.atoms = atoms
        self.dyn = dyn
        self.store = store
        self.production_start = production_start
        self.timestep_fs = timestep_fs
        self._v_to_A_fs = units.fs  # ASE velocity unit -> angstrom / fs
        self.buffer: list[dict[str, Any]] = []
        self.n_written = 0

    def __call__(self) -> None:
        step = self.dyn.nsteps
        if step < self.production_start:
            return
        atoms = self.atoms
        self.buffer.append(
            {
                "step": step,
                "time_fs": step * self.timestep_fs,
                "positions_A": atoms.get_positions(),
                "velocities_A_fs": atoms.get_velocities() * self._v_to_A_fs,
                "cell_A": atoms.cell.array.copy(),
                "energy_eV": atoms.get_potential_energy(),
                "temperature_K": atoms.get_temperature(),
            }
        )

    def flush(self) -> None:
        if not self.buffer:
            return
        frames = {k: np.array([f[k] for f in self.buffer]) for k in self.buffer[0]}
        self.store.append_segment(frames)
        self.n_written += len(self.buffer)
        self.buffer = []


class Checkpointer:
    """Observer: flush buffered frames, then save the full dynamical state atomically."""

    def __init__(self, dyn, writer: FrameWriter, store: TrajectoryStore, state_fn):
        self.dyn = dyn
        self.writer = writer
        self.store = store
        self.state_fn = state_fn
        self.last_step = -1

    def __call__(self) -> None:
        self.writer.flush()
        self.store.save_checkpoint(self.state_fn())
        self.last_step = self.dyn.nsteps


class ProgressBar:
    """Observer advancing a tqdm bar to ``dyn.nsteps``."""

    def __init__(self, dyn, bar):
        self.dyn = dyn
        self.bar = bar

    def __call__(self) -> None:
        self.bar.update(self.dyn.nsteps - self.bar.n)


# ----------------------------------------------------------------------------- the run
def _to_structure(structure):
    from pymatgen.core import Structure

    if isinstance(structure, Structure):
        return structure
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(structure)


def resolve_temperature_K(structure, settings: MDSettings, source: str = "") -> float:
    """The target temperature (applies the auto rule when ``temperature_K == "auto"``)."""
    if settings.temperature_K == "auto":
        from mlkit.md.temperature import auto_temperature_K

        return auto_temperature_K(structure, source=source)
    return float(settings.temperature_K)


def run_dir_for(out_dir: str | Path, structure_id: str, temperature_K: float,
                constraint: str = "none") -> Path:
    """``out_dir/<structure_id>/T<temperature>K`` (``..._<constraint>`` when constrained)."""
    suffix = "" if constraint == "none" else f"_{constraint}"
    return Path(out_dir) / structure_id / f"T{temperature_K:g}K{suffix}"


#: settings that must match when a run directory is resumed
_RESUME_KEYS = (
    "temperature_K", "timestep_fs", "ensemble", "seed", "save_every", "potential",
    "equilibration_steps", "repeats", "n_atoms", "tdamp_fs", "tchain", "friction_per_fs",
    "constraint",
)
#: value assumed for a key missing from an older meta.json
_RESUME_DEFAULTS = {"constraint": "none"}


class MDRun:
    """Equilibrate then produce an NVT trajectory of one structure into ``run_dir``.

    Parameters
    ----------
    structure : pymatgen.core.Structure or ase.Atoms
        Ordered unit cell; the supercell is built here.
    run_dir : str or Path
        Run directory (see :mod:`mlkit.md.store`).
    settings : MDSettings, optional
    calculator : ase Calculator, optional
        Reused when given (e.g. in benchmarks); otherwise built from the settings.
    source : str
        Name used in messages and provenance (e.g. the input file).
    progress : bool
        Show a tqdm progress bar with ETA.
    """

    def __init__(self, structure, run_dir: str | Path, settings: MDSettings | None = None,
                 calculator=None, source: str = "", progress: bool = True) -> None:
        self.structure = structure
        self.run_dir = run_dir
        self.settings = settings
        self.calculator = calculator
        self.source = source
        self.progress = progress

    # -------------------------------------------------------------------- helpers
    def _build(self, settings: MDSettings):
        from mlkit.md.supercell import make_supercell

        structure = _to_structure(self.structure)
        source = self.source or structure.composition.reduced_formula
        if not structure.is_ordered:
            raise MlkitError(f"{source}: disordered structure; MD needs an ordered cell")
        temperature_K = resolve_temperature_K(structure, settings, source)
        supercell, repeats = make_supercell(structure, settings.supercell_min_length_A)
        return supercell, repeats, temperature_K, source

    def _make_dynamics(self, atoms, settings: MDSettings, temperature_K: float, rng,
                       constraints: list | None = None):
        from ase import units

        dt = settings.timestep_fs * units.fs
        constraints = list(constraints or [])
        if constraints:
            if settings.ensemble == "nvt-langevin" and settings.constraint == "rc":
                # group rotations are removed about each group's own centre of mass, so
                # the total momentum stays zero: keep FixCom (RTC/RTVC: the frozen anion
                # centres of mass are the frame of reference instead)
                from ase.constraints import FixCom

                constraints = [FixCom(), *constraints]
            atoms.set_constraint(constraints)
            if settings.ensemble == "nvt-nose-hoover":
                from mlkit.md.constraints import constrained_nose_hoover

                tdamp_fs = settings.tdamp_fs or 100.0 * settings.timestep_fs
                return constrained_nose_hoover(atoms, dt, temperature_K, tdamp_fs * units.fs,
                                               settings.tchain)
            from ase.md.langevin import Langevin

            return Langevin(atoms, timestep=dt, temperature_K=temperature_K,
                            friction=settings.friction_per_fs / units.fs, fixcm=False, rng=rng)
        if settings.ensemble == "nvt-nose-hoover":
            from ase.md.nose_hoover_chain import NoseHooverChainNVT

            tdamp_fs = settings.tdamp_fs or 100.0 * settings.timestep_fs
            return NoseHooverChainNVT(atoms, timestep=dt, temperature_K=temperature_K,
                                      tdamp=tdamp_fs * units.fs, tchain=settings.tchain)
        from ase.constraints import FixCom
        from ase.md.langevin import Langevin

        atoms.set_constraint(FixCom())
        return Langevin(atoms, timestep=dt, temperature_K=temperature_K,
                        friction=settings.friction_per_fs / units.fs, fixcm=False, rng=rng)

    @staticmethod
    def _thermostat_state(dyn) -> dict[str, Any]:
        thermostat = getattr(dyn, "_thermostat", None)
        if thermostat is None:
            return {}
        return {"eta": thermostat._eta.copy(), "p_eta": thermostat._p_eta.copy()}

    @staticmethod
    def _restore_thermostat(dyn, state: dict[str, Any]) -> None:
        thermostat = getattr(dyn, "_thermostat", None)
        if thermostat is not None and state:
            thermostat._eta[:] = state["eta"]
            thermostat._p_eta[:] = state["p_eta"]

    # -------------------------------------------------------------------- run
    def run(self) -> MDResult:
        """Run (or resume) the MD; returns a :class:`MDResult` (blow-ups give ``"error"``).

        Raises
        ------
        MlkitError
            Bad input (disordered structure, no auto temperature, unknown potential,
            a run directory holding a different run).
        """
        from ase.md import velocitydistribution as vd
        from pymatgen.io.ase import AseAtomsAdaptor

        from mlkit import __version__

        settings = self.settings or MDSettings()
        settings.validate()
        store = TrajectoryStore(self.run_dir)
        if store.status in ("done", "error"):
            checkpoint = store.load_checkpoint()
            wanted = settings.equilibration_steps + settings.production_steps
            extend = (store.status == "done" and checkpoint is not None
                      and int(checkpoint["step"]) < wanted)
            if not extend:  # finished (or failed) with these settings: never rerun
                return MDResult(str(store.run_dir), store.status, store.status_message,
                                n_frames=store.n_frames(), skipped=True, meta=store.read_meta())
            # a longer --time-ps than the finished run: continue from its last checkpoint

        supercell, repeats, temperature_K, source = self._build(settings)
        calc = self.calculator
        if calc is None:
            from mlkit.potentials import get_calculator

            calc = get_calculator(settings.potential, device=settings.device,
                                  threads=settings.threads, dtype=settings.dtype,
                                  model_path=settings.model_path)
        prov = dict(getattr(calc, "mlkit_provenance", {}) or {})
        if not prov:
            from mlkit.potentials import potential_version

            prov = {"potential": settings.potential,
                    "potential_version": potential_version(settings.potential)}
        n_eq = settings.equilibration_steps
        n_total = n_eq + settings.production_steps
        meta = {
            **{k: v for k, v in settings.to_dict().items() if k != "temperature_K"},
            "temperature_K": temperature_K,
            "temperature_rule": "auto" if settings.temperature_K == "auto" else "given",
            "tdamp_fs": (settings.tdamp_fs or 100.0 * settings.timestep_fs)
            if settings.ensemble == "nvt-nose-hoover" else None,
            "friction_per_fs": settings.friction_per_fs
            if settings.ensemble == "nvt-langevin" else None,
            "thermostat": "ase.md.nose_hoover_chain.NoseHooverChainNVT"
            if settings.ensemble == "nvt-nose-hoover" else "ase.md.langevin.Langevin",
            "source": str(source),
            "constraint": settings.constraint,
            "formula": supercell.composition.reduced_formula,
            "repeats": list(repeats),
            "supercell_matrix": np.diag(repeats).tolist(),
            "n_atoms": len(supercell),
            "species": [site.specie.symbol for site in supercell],
            "equilibration_steps": n_eq,
            "production_start_step": n_eq,
            "production_steps": settings.production_steps,
            "total_steps": n_total,
            "frame_interval_fs": settings.save_every * settings.timestep_fs,
            "mlkit_version": __version__,
            **prov,
        }
        meta["potential"] = prov.get("potential", settings.potential)
        constraints: list = []
        if settings.constraint != "none":
            from mlkit.md.constraints import make_constraint, polyanion_groups

            try:
                groups = polyanion_groups(supercell, settings.mobile_ion)
                constraints = make_constraint(settings.constraint, supercell, settings.mobile_ion)
            except MlkitError as exc:
                raise MlkitError(f"{source}: {exc}") from None
            meta["constrained_groups"] = len(groups)
            meta["constrained_atoms"] = int(sum(len(g) for g in groups))
            meta["constraint_class"] = ", ".join(
                f"{type(c).__module__}.{type(c).__name__}" for c in constraints)
        if store.exists():
            old = store.read_meta()
            diff = [k for k in _RESUME_KEYS
                    if old.get(k, _RESUME_DEFAULTS.get(k)) != meta.get(k)]
            if diff:
                raise MlkitError(
                    f"{store.run_dir}: holds a different run ({', '.join(diff)} differ); "
                    "use another output directory"
                )
        store.cleanup_tmp()
        store.write_meta(meta)
        if not store.initial_path.exists():
            store.write_initial(supercell)

        atoms = AseAtomsAdaptor.get_atoms(supercell)
        atoms.pbc = True
        atoms.calc = calc
        rng = np.random.default_rng(settings.seed)
        checkpoint = store.load_checkpoint()
        if checkpoint is not None:
            atoms.set_positions(checkpoint["positions_A"])
            atoms.set_momenta(checkpoint["momenta"])
            rng.bit_generator.state = checkpoint["rng_state"]
            start = int(checkpoint["step"])
        else:
            if hasattr(vd, "thermalize_momenta"):  # ase >= 3.28
                vd.thermalize_momenta(atoms, temperature_K, rng=rng)
            else:  # pragma: no cover - older ase
                vd.MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
            vd.Stationary(atoms)
            start = 0
        store.truncate(start if checkpoint is not None else -1)
        dyn = self._make_dynamics(atoms, settings, temperature_K, rng, constraints)
        if constraints and checkpoint is None:
            # project the Maxwell-Boltzmann momenta onto the constraint, then rescale the
            # remaining degrees of freedom to the target temperature
            atoms.set_momenta(atoms.get_momenta())
            t_now = atoms.get_temperature()
            if t_now > 0:
                atoms.set_momenta(atoms.get_momenta() * math.sqrt(temperature_K / t_now))
            if hasattr(dyn, "_p"):  # Nose-Hoover keeps its own copy
                dyn._p = atoms.get_momenta()
        if checkpoint is not None:
            self._restore_thermostat(dyn, checkpoint.get("thermostat", {}))
            dyn.nsteps = start
        store.set_status("running")

        def state() -> dict[str, Any]:
            return {
                "step": int(dyn.nsteps),
                "positions_A": atoms.get_positions(),
                "momenta": atoms.get_momenta(),
                "cell_A": atoms.cell.array.copy(),
                "thermostat": self._thermostat_state(dyn),
                "rng_state": rng.bit_generator.state,
                "time_unix": time.time(),
            }

        check_every = settings.check_every or settings.save_every
        guard = BlowUpGuard(atoms, dyn, temperature_K, settings.min_distance_A,
                            settings.max_temperature_factor)
        writer = FrameWriter(atoms, dyn, store, n_eq, settings.timestep_fs)
        checkpointer = Checkpointer(dyn, writer, store, state)
        dyn.attach(guard, interval=check_every)
        dyn.attach(writer, interval=settings.save_every)
        dyn.attach(checkpointer, interval=settings.save_every * settings.checkpoint_every)

        from tqdm.auto import tqdm

        bar = tqdm(total=n_total, initial=start, unit="step", disable=not self.progress,
                   desc=f"{Path(str(source)).stem} {temperature_K:g} K", leave=False)
        dyn.attach(ProgressBar(dyn, bar), interval=settings.save_every)
        t0 = time.perf_counter()
        try:
            if start < n_total or checkpoint is None:
                dyn.run(n_total - start)
        except MDBlowUpError as exc:
            writer.buffer = [f for f in writer.buffer if f["step"] < dyn.nsteps]
            writer.flush()
            store.set_status("error", str(exc))
            return self._result(store, "error", str(exc), dyn.nsteps - start, t0, meta)
        except (RuntimeError, ValueError, FloatingPointError) as exc:
            msg = f"step {dyn.nsteps}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            writer.flush()
            store.set_status("error", msg)
            return self._result(store, "error", msg, dyn.nsteps - start, t0, meta)
        finally:
            bar.close()
        if checkpointer.last_step != dyn.nsteps:
            checkpointer()
        store.finalize()
        store.set_status("done")
        return self._result(store, "done", "", dyn.nsteps - start, t0, meta)

    @staticmethod
    def _result(store, status, message, steps_run, t0, meta) -> MDResult:
        return MDResult(str(store.run_dir), status, message, n_frames=store.n_frames(),
                        steps_run=int(steps_run), elapsed_s=time.perf_counter() - t0, meta=meta)
