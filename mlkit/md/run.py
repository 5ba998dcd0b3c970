"""One MD run: [NPT equilibration ->] equilibration then production, with observers for
the trajectory, checkpoints, blow-up detection and progress (ASE ``dyn.attach`` style).

A run lives in one directory (:class:`mlkit.md.store.TrajectoryStore`). Rerunning
:meth:`MDRun.run` on the same directory continues from the last checkpoint; a run
whose status is ``done`` (or ``error``) is not run again, unless a longer
``time_ps`` is asked for a ``done`` run: it is then extended from its final checkpoint.

With ``npt_equilibration_ps > 0`` an NPT stage (:mod:`mlkit.md.npt`) runs first; the
rest of the run uses its mean cell. The stage has its own checkpoints; once it is done
its end state is the NVT checkpoint at step 0, so a kill at any point resumes.

The parts: :mod:`mlkit.md.settings` (what defines a run), :mod:`mlkit.md.observers`
(what happens every few steps), :mod:`mlkit.md.dynamics` (the ASE integrator and its
private state), :mod:`mlkit.md.npt` (the NPT stage); this module glues them to the store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlkit.errors import MlkitError
from mlkit.md.dynamics import (
    make_dynamics,
    restore_thermostat,
    sync_integrator_momenta,
    thermalize,
    thermostat_state,
)
from mlkit.md.npt import NPT_CLASSES, project_initial_momenta, run_npt_stage
from mlkit.md.observers import (
    BlowUpGuard,
    Checkpointer,
    FrameWriter,
    MDBlowUpError,
    ProgressBar,
    closest_pair,
)
from mlkit.md.settings import ENSEMBLES, MDSettings
from mlkit.md.store import TrajectoryStore
from mlkit.utils import one_line

__all__ = [
    "ENSEMBLES",
    "BlowUpGuard",
    "Checkpointer",
    "FrameWriter",
    "MDBlowUpError",
    "MDResult",
    "MDRun",
    "MDSettings",
    "ProgressBar",
    "closest_pair",
    "resolve_temperature_K",
    "run_dir_for",
]

#: settings that must match when a run directory is resumed
_RESUME_KEYS = (
    "temperature_K", "timestep_fs", "ensemble", "seed", "save_every", "potential",
    "equilibration_steps", "repeats", "n_atoms", "tdamp_fs", "tchain", "friction_per_fs",
    "constraint", "npt_steps", "rotor_species",
)
#: NPT-stage settings, compared too when the run has an NPT stage
_NPT_KEYS = ("pressure_GPa", "npt_integrator", "npt_taut_fs", "npt_taup_fs",
             "npt_bulk_modulus_GPa")
#: value assumed for a key missing from an older meta.json
_RESUME_DEFAULTS = {"constraint": "none", "npt_steps": 0, "rotor_species": None}
#: errors of the dynamics that end a run with status "error" (anything else propagates)
_RUN_ERRORS = (RuntimeError, ValueError, FloatingPointError)


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

        return auto_temperature_K(structure, source=source, mobile_ion=settings.mobile_ion)
    return float(settings.temperature_K)


def run_dir_for(out_dir: str | Path, structure_id: str, temperature_K: float,
                constraint: str = "none") -> Path:
    """``out_dir/<structure_id>/T<temperature>K`` (``..._<constraint>`` when constrained)."""
    suffix = "" if constraint == "none" else f"_{constraint}"
    return Path(out_dir) / structure_id / f"T{temperature_K:g}K{suffix}"


def _calculator_and_provenance(settings: MDSettings, calc) -> tuple[Any, dict[str, Any]]:
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
    return calc, prov


def _run_meta(settings: MDSettings, temperature_K: float, source: str, supercell,
              repeats, prov: dict[str, Any]) -> dict[str, Any]:
    """meta.json of a run: settings, resolved temperature, supercell, versions."""
    from mlkit import __version__

    nose_hoover = settings.ensemble == "nvt-nose-hoover"
    n_eq = settings.equilibration_steps
    thermostats = {"nvt-nose-hoover": "ase.md.nose_hoover_chain.NoseHooverChainNVT",
                   "nvt-langevin": "ase.md.langevin.Langevin",
                   "nve": "ase.md.verlet.VelocityVerlet"}
    npt_fields = ("npt_equilibration_ps", *_NPT_KEYS)
    settings_dict = {k: v for k, v in settings.to_dict().items()
                     if k != "temperature_K" and (settings.npt_steps or k not in npt_fields)}
    meta = {
        **settings_dict,
        "temperature_K": temperature_K,
        "temperature_rule": "auto" if settings.temperature_K == "auto" else "given",
        "tdamp_fs": settings.nose_hoover_tdamp_fs if nose_hoover else None,
        "friction_per_fs": settings.friction_per_fs
        if settings.ensemble == "nvt-langevin" else None,
        "thermostat": thermostats[settings.ensemble],
        "npt_steps": settings.npt_steps,
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
        "total_steps": n_eq + settings.production_steps,
        "frame_interval_fs": settings.save_every * settings.timestep_fs,
        "mlkit_version": __version__,
        **prov,
    }
    if settings.npt_steps:
        meta["npt_class"] = NPT_CLASSES[settings.npt_integrator]
    meta["potential"] = prov.get("potential", settings.potential)
    return meta


def _npt_meta(npt: dict[str, Any]) -> dict[str, Any]:
    """The NPT stage outcome for meta.json (npt.json without the per-sample log)."""
    return {k: v for k, v in npt.items() if k != "log"}


def _constraints(settings: MDSettings, supercell, source: str, meta: dict[str, Any]) -> list:
    """The ASE constraints of ``settings.constraint`` (records what they hold in ``meta``)."""
    if settings.constraint == "none":
        return []
    from mlkit.md.constraints import make_constraint, polyanion_groups

    try:
        groups = polyanion_groups(supercell, settings.mobile_ion, settings.rotor_species)
        constraints = make_constraint(settings.constraint, supercell, settings.mobile_ion,
                                      species=settings.rotor_species)
    except MlkitError as exc:
        raise MlkitError(f"{source}: {exc}") from None
    meta["constrained_groups"] = len(groups)
    meta["constrained_atoms"] = int(sum(len(g) for g in groups))
    meta["constraint_class"] = ", ".join(
        f"{type(c).__module__}.{type(c).__name__}" for c in constraints)
    if settings.constraint in ("rc", "rtc"):
        meta["constraint_projection"] = constraints[0].projection
    return constraints


def _projection_history(store: TrajectoryStore, meta: dict[str, Any]) -> None:
    """Record when a run started by the pre-Eckart code continues with the Eckart projection.

    Such a run (its meta.json has no ``constraint_projection``) is resumed, not refused:
    its checkpointed positions satisfy the pinned orientation, and the first projection
    puts its momenta on the Eckart tangent space. meta.json then says
    ``"instantaneous to step N, eckart after"``.
    """
    if "constraint_projection" not in meta or not store.exists():
        return
    old = store.read_meta().get("constraint_projection", "instantaneous")
    if old == meta["constraint_projection"]:
        return
    if old == "instantaneous":
        checkpoint = store.load_checkpoint()
        step = int(checkpoint["step"]) if checkpoint is not None else 0
        if step > 0:
            meta["constraint_projection"] = (
                f"instantaneous to step {step}, {meta['constraint_projection']} after")
    else:  # already recorded by an earlier resume
        meta["constraint_projection"] = old


def _check_same_run(store: TrajectoryStore, meta: dict[str, Any]) -> None:
    if not store.exists():
        return
    old = store.read_meta()
    keys = _RESUME_KEYS + (_NPT_KEYS if meta.get("npt_steps") else ())
    diff = [k for k in keys if old.get(k, _RESUME_DEFAULTS.get(k)) != meta.get(k)]
    if diff:
        raise MlkitError(
            f"{store.run_dir}: holds a different run ({', '.join(diff)} differ); "
            "use another output directory"
        )


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

    # -------------------------------------------------------------------- steps
    def _build(self, settings: MDSettings):
        from mlkit.md.supercell import make_supercell

        structure = _to_structure(self.structure)
        source = self.source or structure.composition.reduced_formula
        if not structure.is_ordered:
            raise MlkitError(f"{source}: disordered structure; MD needs an ordered cell")
        temperature_K = resolve_temperature_K(structure, settings, source)
        supercell, repeats = make_supercell(structure, settings.supercell_min_length_A)
        return supercell, repeats, temperature_K, source

    @staticmethod
    def _finished(store: TrajectoryStore, settings: MDSettings) -> MDResult | None:
        """The result of a run that is over (done or failed), unless a done run is extended."""
        if store.status not in ("done", "error"):
            return None
        checkpoint = store.load_checkpoint()
        wanted = settings.equilibration_steps + settings.production_steps
        extend = (store.status == "done" and checkpoint is not None
                  and int(checkpoint["step"]) < wanted)
        if extend:  # a longer --time-ps than the finished run: continue from its checkpoint
            return None
        return MDResult(str(store.run_dir), store.status, store.status_message,
                        n_frames=store.n_frames(), skipped=True, meta=store.read_meta())

    @staticmethod
    def _start_state(atoms, store: TrajectoryStore, temperature_K: float,
                     rng: np.random.Generator) -> tuple[dict[str, Any] | None, int]:
        """Checkpointed state (positions, momenta, RNG) or fresh thermal momenta."""
        checkpoint = store.load_checkpoint()
        if checkpoint is None:
            thermalize(atoms, temperature_K, rng)
            return None, 0
        atoms.set_constraint()
        if "cell_A" in checkpoint:  # the NPT stage's mean cell, if there was one
            atoms.set_cell(checkpoint["cell_A"], scale_atoms=False)
        atoms.set_positions(checkpoint["positions_A"])
        atoms.set_momenta(checkpoint["momenta"])
        rng.bit_generator.state = checkpoint["rng_state"]
        return checkpoint, int(checkpoint["step"])

    # -------------------------------------------------------------------- run
    def run(self) -> MDResult:
        """Run (or resume) the MD; returns a :class:`MDResult` (blow-ups give ``"error"``).

        Raises
        ------
        MlkitError
            Bad input (disordered structure, no auto temperature, unknown potential,
            a run directory holding a different run).
        """
        from pymatgen.io.ase import AseAtomsAdaptor

        settings = self.settings or MDSettings()
        settings.validate()
        store = TrajectoryStore(self.run_dir)
        finished = self._finished(store, settings)
        if finished is not None:
            return finished

        supercell, repeats, temperature_K, source = self._build(settings)
        calc, prov = _calculator_and_provenance(settings, self.calculator)
        meta = _run_meta(settings, temperature_K, source, supercell, repeats, prov)
        constraints = _constraints(settings, supercell, source, meta)
        _check_same_run(store, meta)
        _projection_history(store, meta)
        store.cleanup_tmp()
        npt = store.read_npt_result() if settings.npt_steps else None
        if npt is not None:
            meta["npt_result"] = _npt_meta(npt)
        store.write_meta(meta)
        if not store.initial_path.exists():
            store.write_initial(supercell)

        atoms = AseAtomsAdaptor.get_atoms(supercell)
        atoms.pbc = True
        atoms.calc = calc
        rng = np.random.default_rng(settings.seed)
        if settings.npt_steps and store.load_checkpoint() is None:
            failed = self._npt_stage(atoms, settings, temperature_K, rng, constraints, store,
                                     meta, source)
            if failed is not None:
                return failed
        checkpoint, start = self._start_state(atoms, store, temperature_K, rng)
        store.truncate(start if checkpoint is not None else -1)
        dyn = make_dynamics(atoms, settings, temperature_K, rng, constraints)
        if constraints and checkpoint is None:
            # project the Maxwell-Boltzmann momenta onto the constraint, then rescale the
            # remaining degrees of freedom to the target temperature
            project_initial_momenta(atoms, temperature_K)
            sync_integrator_momenta(dyn, atoms)
        if checkpoint is not None:
            restore_thermostat(dyn, checkpoint.get("thermostat", {}))
            dyn.nsteps = start
        store.set_status("running")
        return self._integrate(dyn, atoms, rng, store, settings, meta, temperature_K, source,
                               start, fresh=checkpoint is None)

    def _npt_stage(self, atoms, settings: MDSettings, temperature_K: float, rng,
                   constraints: list, store: TrajectoryStore, meta: dict[str, Any],
                   source: str) -> MDResult | None:
        """Run the NPT stage; its end state becomes the NVT checkpoint at step 0.

        Returns an ``error`` :class:`MDResult` when the stage fails, else None.
        """
        store.set_status("running")
        t0 = time.perf_counter()
        try:
            npt = run_npt_stage(atoms, settings, temperature_K, rng, constraints, store,
                                progress=self.progress,
                                desc=f"{Path(str(source)).stem} {temperature_K:g} K NPT")
        except MDBlowUpError as exc:
            return self._fail_early(store, f"NPT stage: {exc}", t0, meta)
        except _RUN_ERRORS as exc:
            msg = f"NPT stage: {type(exc).__name__}: {one_line(exc, max_chars=200)}"
            return self._fail_early(store, msg, t0, meta)
        meta["npt_result"] = _npt_meta(npt)
        store.write_meta(meta)
        store.save_checkpoint({
            "step": 0, "positions_A": atoms.get_positions(), "momenta": atoms.get_momenta(),
            "cell_A": atoms.cell.array.copy(), "thermostat": {},
            "rng_state": rng.bit_generator.state, "time_unix": time.time()})
        store.npt_checkpoint_path.unlink(missing_ok=True)
        return None

    def _fail_early(self, store: TrajectoryStore, message: str, t0: float,
                    meta: dict[str, Any]) -> MDResult:
        store.set_status("error", message)
        return self._result(store, "error", message, 0, t0, meta)

    def _integrate(self, dyn, atoms, rng, store: TrajectoryStore, settings: MDSettings,
                   meta: dict[str, Any], temperature_K: float, source: str, start: int,
                   fresh: bool) -> MDResult:
        """Attach the observers, run to the last step, record the outcome in the store."""
        from tqdm.auto import tqdm

        n_eq = settings.equilibration_steps
        n_total = n_eq + settings.production_steps

        def state() -> dict[str, Any]:
            return {
                "step": int(dyn.nsteps),
                "positions_A": atoms.get_positions(),
                "momenta": atoms.get_momenta(),
                "cell_A": atoms.cell.array.copy(),
                "thermostat": thermostat_state(dyn),
                "rng_state": rng.bit_generator.state,
                "time_unix": time.time(),
            }

        guard = BlowUpGuard(atoms, dyn, temperature_K, settings.min_distance_A,
                            settings.max_temperature_factor)
        writer = FrameWriter(atoms, dyn, store, n_eq, settings.timestep_fs)
        checkpointer = Checkpointer(dyn, writer, store, state)
        dyn.attach(guard, interval=settings.check_every or settings.save_every)
        dyn.attach(writer, interval=settings.save_every)
        dyn.attach(checkpointer, interval=settings.save_every * settings.checkpoint_every)
        bar = tqdm(total=n_total, initial=start, unit="step", disable=not self.progress,
                   desc=f"{Path(str(source)).stem} {temperature_K:g} K", leave=False)
        dyn.attach(ProgressBar(dyn, bar), interval=settings.save_every)

        t0 = time.perf_counter()
        try:
            if start < n_total or fresh:
                dyn.run(n_total - start)
        except MDBlowUpError as exc:
            writer.discard_from(dyn.nsteps)
            return self._fail(store, writer, str(exc), dyn.nsteps - start, t0, meta)
        except _RUN_ERRORS as exc:
            msg = f"step {dyn.nsteps}: {type(exc).__name__}: {one_line(exc, max_chars=200)}"
            return self._fail(store, writer, msg, dyn.nsteps - start, t0, meta)
        finally:
            bar.close()
        if checkpointer.last_step != dyn.nsteps:
            checkpointer()
        store.finalize()
        try:
            summary = store.summary()
        except Exception as exc:  # noqa: BLE001 - a diagnostic must not leave a run "running"
            summary = {"error": one_line(exc)}
        store.set_status("done", summary=summary)
        return self._result(store, "done", "", dyn.nsteps - start, t0, meta)

    def _fail(self, store: TrajectoryStore, writer: FrameWriter, message: str, steps_run: int,
              t0: float, meta: dict[str, Any]) -> MDResult:
        """Keep the frames produced so far and mark the run ``error``."""
        writer.flush()
        store.set_status("error", message)
        return self._result(store, "error", message, steps_run, t0, meta)

    @staticmethod
    def _result(store, status, message, steps_run, t0, meta) -> MDResult:
        return MDResult(str(store.run_dir), status, message, n_frames=store.n_frames(),
                        steps_run=int(steps_run), elapsed_s=time.perf_counter() - t0, meta=meta)
