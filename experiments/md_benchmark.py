"""MD runner overhead against a bare ASE loop, and CHGNet ms/step on a ~100-atom cell.

Same calculator object, same cell, same initial velocities, same number of steps:
the bare loop is ``NoseHooverChainNVT(...).run(n)`` with no observers; the runner is
:class:`mlkit.md.MDRun` with everything on (trajectory frames every 5 steps, blow-up
guard, checkpoints, HDF5 segments, status files, tqdm bar). Repetitions are
interleaved (bare, runner, bare, runner, ...) and the ratio is the median of the
per-pair ratios. On a shared machine the wall-clock ratio is dominated by other
people's load, so the CPU-time ratio (``time.process_time``, one torch thread) is
reported too, and the observers' own cost per step is measured separately with the
potential's result frozen (``observer_cost_ms_per_step``).

    /work/venv/bin/python experiments/md_benchmark.py --steps 40 --reps 3 --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "md"


def build_cell():
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    return nacl.make_supercell((3, 2, 2), in_place=False)  # 96 atoms


def bare_loop(structure, calc, steps: int, temperature_K: float,
              seed: int) -> tuple[float, float]:
    from ase import units
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.velocitydistribution import Stationary, thermalize_momenta
    from pymatgen.io.ase import AseAtomsAdaptor

    t0, c0 = time.perf_counter(), time.process_time()
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K, rng=np.random.default_rng(seed))
    Stationary(atoms)
    dyn = NoseHooverChainNVT(atoms, timestep=2.0 * units.fs, temperature_K=temperature_K,
                             tdamp=200.0 * units.fs, tchain=3)
    dyn.run(steps)
    return time.perf_counter() - t0, time.process_time() - c0


def runner(structure, calc, steps: int, temperature_K: float, seed: int,
           workdir: Path) -> tuple[float, float]:
    from mlkit.md import MDRun, MDSettings

    settings = MDSettings(temperature_K=temperature_K, time_ps=steps * 2.0 / 1000.0,
                          timestep_fs=2.0, equilibration_ps=0.0, supercell_min_length_A=0.0,
                          seed=seed, save_every=5, checkpoint_every=4)
    run_dir = workdir / f"run{time.perf_counter_ns()}"
    t0, c0 = time.perf_counter(), time.process_time()
    result = MDRun(structure, run_dir, settings, calculator=calc, progress=True).run()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert result.status == "done" and result.steps_run == steps, result
    shutil.rmtree(run_dir)
    return elapsed, cpu


def observer_cost_ms_per_step(structure, calc, workdir: Path, n_cycles: int = 200,
                              save_every: int = 5, checkpoint_every: int = 4) -> float:
    """Cost of the runner's observers per MD step, measured without the potential.

    The calculator results of one real CHGNet call are frozen in a
    SinglePointCalculator; the guard, frame writer and checkpointer (HDF5 segment +
    pickle, atomic) then run exactly as in a run, ``n_cycles`` times.
    """
    from ase import units
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.velocitydistribution import thermalize_momenta
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlkit.md.observers import BlowUpGuard, Checkpointer, FrameWriter
    from mlkit.md.store import TrajectoryStore

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calc
    thermalize_momenta(atoms, 800.0, rng=np.random.default_rng(0))
    results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    atoms.calc = SinglePointCalculator(atoms, **results)
    dyn = NoseHooverChainNVT(atoms, timestep=2.0 * units.fs, temperature_K=800.0,
                             tdamp=200.0 * units.fs)
    store = TrajectoryStore(workdir / "observers")
    store.write_meta({"species": atoms.get_chemical_symbols()})
    guard = BlowUpGuard(atoms, dyn, 800.0, 0.5, 3.0)
    writer = FrameWriter(atoms, dyn, store, 0, 2.0)
    ckpt = Checkpointer(dyn, writer, store,
                        lambda: {"positions_A": atoms.get_positions(),
                                 "momenta": atoms.get_momenta()})
    t0 = time.perf_counter()
    for i in range(n_cycles):
        dyn.nsteps = i * save_every
        guard()
        writer()
        if i % checkpoint_every == 0:
            ckpt()
    elapsed = time.perf_counter() - t0
    return 1000.0 * elapsed / (n_cycles * save_every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--temperature-K", type=float, default=800.0)
    args = parser.parse_args()

    import torch

    from mlkit.potentials import get_calculator

    structure = build_cell()
    n_atoms = len(structure)
    out: dict = {"n_atoms": n_atoms, "steps": args.steps, "reps": args.reps,
                 "cell": "NaCl 3x2x2 (96 atoms)", "potential": "chgnet", "by_threads": {},
                 "machine": platform.platform(), "date_unix": time.time()}
    with tempfile.TemporaryDirectory() as tmp:
        for threads in args.threads:
            calc = get_calculator("chgnet", device="cpu", threads=threads)
            assert torch.get_num_threads() == threads
            bare_loop(structure, calc, 3, args.temperature_K, 0)  # warm-up
            bare_t, run_t, bare_c, run_c = [], [], [], []
            for rep in range(args.reps):
                w, c = bare_loop(structure, calc, args.steps, args.temperature_K, rep)
                bare_t.append(w)
                bare_c.append(c)
                w, c = runner(structure, calc, args.steps, args.temperature_K, rep, Path(tmp))
                run_t.append(w)
                run_c.append(c)
                print(f"threads={threads} rep={rep}: bare {bare_t[-1]:.2f} s "
                      f"(cpu {bare_c[-1]:.2f}), runner {run_t[-1]:.2f} s (cpu {run_c[-1]:.2f}), "
                      f"wall ratio {run_t[-1] / bare_t[-1]:.3f}, "
                      f"cpu ratio {run_c[-1] / bare_c[-1]:.3f}", flush=True)
            ratios = np.array(run_t) / np.array(bare_t)
            cpu_ratios = np.array(run_c) / np.array(bare_c)
            ms_step = 1000.0 * float(np.min(bare_t)) / args.steps
            out["by_threads"][str(threads)] = {
                "bare_s": bare_t, "runner_s": run_t, "bare_cpu_s": bare_c, "runner_cpu_s": run_c,
                "overhead_ratio_median": float(np.median(ratios)),
                "overhead_ratio_min": float(ratios.min()),
                "overhead_ratio_max": float(ratios.max()),
                "overhead_cpu_ratio_median": float(np.median(cpu_ratios)),
                "overhead_cpu_ratio_min": float(cpu_ratios.min()),
                "overhead_cpu_ratio_max": float(cpu_ratios.max()),
                "bare_ms_per_step_best": ms_step,
                "bare_ms_per_step_median": 1000.0 * float(np.median(bare_t)) / args.steps,
                "atom_steps_per_s_best": n_atoms / (ms_step / 1000.0),
            }
            obs = observer_cost_ms_per_step(structure, calc, Path(tmp))
            out["by_threads"][str(threads)]["observer_ms_per_step"] = obs
            out["by_threads"][str(threads)]["observer_fraction"] = obs / ms_step
            print(json.dumps({threads: out["by_threads"][str(threads)]}, indent=1), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "benchmark_threads" + "-".join(str(t) for t in args.threads) + ".json"
    (RESULTS / name).write_text(json.dumps(out, indent=1))
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
