"""The NPT equilibration stage that runs before the NVT equilibration (optional).

Flow of a run with ``MDSettings.npt_equilibration_ps > 0`` (:meth:`mlkit.md.MDRun.run`):

1. Maxwell-Boltzmann momenta at the target temperature (projected onto the constraints);
2. NPT for ``npt_steps`` with :func:`mlkit.md.dynamics.make_npt_dynamics` (default
   ``NPTBerendsen``, isotropic), at ``pressure_GPa``; the cell, volume, pressure and
   temperature are sampled every ``save_every`` steps;
3. the cell is set to the mean cell of the samples in the second half of the stage
   (steps > npt_steps / 2), positions scaled with it (``set_cell(scale_atoms=True)``);
   for RC/RTC each group is then turned back to its reference orientation once (the
   pin; needed only when the scaling was anisotropic);
4. the state (positions, momenta, mean cell, RNG) becomes the NVT checkpoint at step 0
   and ``npt.json`` records the outcome; the NVT equilibration and production follow at
   that fixed cell, with the usual step numbering (step 0 = start of NVT).

Checkpoints inside the stage go to ``npt_checkpoint.pkl`` every
``save_every * checkpoint_every`` steps (positions, momenta, cell, RNG, LangevinBAOAB
barostat momentum, the samples so far); a killed stage resumes from there and, for the
deterministic Berendsen integrators, reproduces the uninterrupted stage exactly.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from mlkit.md.dynamics import make_npt_dynamics, restore_thermostat, thermalize, thermostat_state
from mlkit.md.observers import BlowUpGuard, ProgressBar, pressure_GPa, take_pin_angle_deg
from mlkit.md.settings import MDSettings
from mlkit.md.store import TrajectoryStore

__all__ = ["NPTSampler", "project_initial_momenta", "run_npt_stage"]

#: ASE class behind each ``npt_integrator`` (recorded in meta.json)
NPT_CLASSES = {
    "berendsen": "ase.md.nptberendsen.NPTBerendsen",
    "berendsen-inhomogeneous": "ase.md.nptberendsen.Inhomogeneous_NPTBerendsen",
    "langevin-baoab": "ase.md.langevinbaoab.LangevinBAOAB (hydrostatic)",
    "langevin-baoab-full": "ase.md.langevinbaoab.LangevinBAOAB (full cell)",
}


def project_initial_momenta(atoms, temperature_K: float) -> None:
    """Project momenta onto the constraints of ``atoms`` and rescale the remaining
    degrees of freedom to ``temperature_K``.
    """
    atoms.set_momenta(atoms.get_momenta())
    t_now = atoms.get_temperature()
    if t_now > 0:
        atoms.set_momenta(atoms.get_momenta() * math.sqrt(temperature_K / t_now))


class NPTSampler:
    """Observer recording step, cell, pressure, temperature and pin turn of the NPT stage."""

    def __init__(self, atoms, dyn, samples: dict[str, list] | None = None) -> None:
        self.atoms = atoms
        self.dyn = dyn
        self.samples = samples or {"step": [], "cell_A": [], "pressure_GPa": [],
                                   "temperature_K": [], "pin_angle_deg": []}

    def __call__(self) -> None:
        atoms = self.atoms
        pin = take_pin_angle_deg(atoms)
        self.samples["step"].append(int(self.dyn.nsteps))
        self.samples["cell_A"].append(atoms.cell.array.tolist())
        self.samples["pressure_GPa"].append(pressure_GPa(atoms))
        self.samples["temperature_K"].append(float(atoms.get_temperature()))
        self.samples["pin_angle_deg"].append(float("nan") if pin is None else pin)


def _summary(samples: dict[str, list], n_steps: int, cell0: np.ndarray,
             settings: MDSettings) -> dict[str, Any]:
    """Mean cell of the second half, volume change, pressure and temperature statistics."""
    steps = np.asarray(samples["step"])
    cells = np.asarray(samples["cell_A"], dtype=float)
    second = steps > n_steps / 2
    if not second.any():
        second = steps == steps.max()
    mean_cell = cells[second].mean(axis=0)
    pressure = np.asarray(samples["pressure_GPa"], dtype=float)[second]
    temperature = np.asarray(samples["temperature_K"], dtype=float)[second]
    volumes = np.abs(np.linalg.det(cells))
    v0, v_mean = abs(float(np.linalg.det(cell0))), abs(float(np.linalg.det(mean_cell)))
    pins = np.asarray(samples["pin_angle_deg"], dtype=float)
    finite = pressure[np.isfinite(pressure)]
    return {
        "npt_integrator": settings.npt_integrator,
        "npt_class": NPT_CLASSES[settings.npt_integrator],
        "npt_steps": n_steps,
        "pressure_target_GPa": settings.pressure_GPa,
        "taut_fs": settings.npt_taut_fs,
        "taup_fs": settings.npt_taup_fs,
        "bulk_modulus_assumed_GPa": settings.npt_bulk_modulus_GPa
        if settings.npt_integrator.startswith("berendsen") else None,
        "averaged_from_step": int(steps[second].min()),
        "n_samples_averaged": int(second.sum()),
        "initial_cell_A": np.asarray(cell0).tolist(),
        "mean_cell_A": mean_cell.tolist(),
        "initial_volume_A3": v0,
        "mean_volume_A3": v_mean,
        "volume_change_percent": 100.0 * (v_mean - v0) / v0,
        "volume_std_A3": float(volumes[second].std()),
        "pressure_mean_GPa": float(finite.mean()) if len(finite) else float("nan"),
        "pressure_std_GPa": float(finite.std()) if len(finite) else float("nan"),
        "temperature_mean_K": float(temperature.mean()),
        "max_pin_angle_deg": float(np.nanmax(pins)) if np.isfinite(pins).any() else None,
        "log": {"step": steps.tolist(), "volume_A3": volumes.tolist(),
                "pressure_GPa": samples["pressure_GPa"],
                "temperature_K": samples["temperature_K"]},
    }


def run_npt_stage(atoms, settings: MDSettings, temperature_K: float, rng: np.random.Generator,
                  constraints: list, store: TrajectoryStore, *, progress: bool = False,
                  desc: str = "NPT") -> dict[str, Any]:
    """Run (or resume) the NPT stage on ``atoms`` (module docstring).

    On return ``atoms`` is at the mean cell with the end-of-stage positions (scaled) and
    momenta and no constraints attached; ``npt.json`` is written (its content is
    returned). The caller saves the NVT checkpoint, then removes the NPT one. Blow-ups raise
    :class:`~mlkit.md.observers.MDBlowUpError`, calculator errors propagate.
    """
    from tqdm.auto import tqdm

    n_steps = settings.npt_steps
    cell0 = atoms.cell.array.copy()
    state = store.load_npt_checkpoint()
    if state is None:
        thermalize(atoms, temperature_K, rng)
        start, samples = 0, None
    else:
        atoms.set_constraint()
        atoms.set_cell(state["cell_A"], scale_atoms=False)
        atoms.set_positions(state["positions_A"])
        atoms.set_momenta(state["momenta"])
        rng.bit_generator.state = state["rng_state"]
        start, samples = int(state["step"]), state["samples"]
    dyn = make_npt_dynamics(atoms, settings, temperature_K, rng, constraints)
    if state is None:
        if constraints:
            project_initial_momenta(atoms, temperature_K)
    else:
        restore_thermostat(dyn, state.get("thermostat", {}))
        dyn.nsteps = start

    sampler = NPTSampler(atoms, dyn, samples)

    def checkpoint() -> None:
        store.save_npt_checkpoint({
            "step": int(dyn.nsteps), "positions_A": atoms.get_positions(),
            "momenta": atoms.get_momenta(), "cell_A": atoms.cell.array.copy(),
            "thermostat": thermostat_state(dyn), "rng_state": rng.bit_generator.state,
            "samples": sampler.samples, "time_unix": time.time()})

    guard = BlowUpGuard(atoms, dyn, temperature_K, settings.min_distance_A,
                        settings.max_temperature_factor)
    dyn.attach(guard, interval=settings.check_every or settings.save_every)
    dyn.attach(sampler, interval=settings.save_every)
    dyn.attach(checkpoint, interval=settings.save_every * settings.checkpoint_every)
    bar = tqdm(total=n_steps, initial=start, unit="step", disable=not progress,
               desc=desc, leave=False)
    dyn.attach(ProgressBar(dyn, bar), interval=settings.save_every)
    try:
        if start < n_steps:
            dyn.run(n_steps - start)
    finally:
        bar.close()

    result = _summary(sampler.samples, n_steps, cell0, settings)
    atoms.set_cell(np.asarray(result["mean_cell_A"]), scale_atoms=True)
    atoms.set_positions(atoms.get_positions())  # RC/RTC: turn the groups back once
    result["rescale_pin_angle_deg"] = take_pin_angle_deg(atoms)
    atoms.set_momenta(atoms.get_momenta())
    atoms.set_constraint()
    store.write_npt_result(result)
    return result
