"""MD runner overhead against a bare ASE loop, and CHGNet ms/step on a ~100-atom cell.

Same calculator object, same cell, same initial velocities, same number of steps:
the bare loop is ``NoseHooverChainNVT(...).run(n)`` with no observers; the runner is
:class:`mlkit.md.MDRun` with everything on (trajectory frames every 5 steps, blow-up
guard, checkpoints, HDF5 segments, status files, tqdm bar). Repetitions are
interleaved (bare, runner, bare, runner, ...) and the ratio is the median of the
per-pair ratios, which cancels most of the drift of a shared machine's load.

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


def bare_loop(structure, calc, steps: int, temperature_K: float, seed: int) -> float:
    from ase import units
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.velocitydistribution import Stationary, thermalize_momenta
    from pymatgen.io.ase import AseAtomsAdaptor

    t0 = time.perf_counter()
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K, rng=np.random.default_rng(seed))
    Stationary(atoms)
    dyn = NoseHooverChainNVT(atoms, timestep=2.0 * units.fs, temperature_K=temperature_K,
                             tdamp=200.0 * units.fs, tchain=3)
    dyn.run(steps)
    return time.perf_counter() - t0


def runner(structure, calc, steps: int, temperature_K: float, seed: int, workdir: Path) -> float:
    from mlkit.md import MDRun, MDSettings

    settings = MDSettings(temperature_K=temperature_K, time_ps=steps * 2.0 / 1000.0,
                          timestep_fs=2.0, equilibration_ps=0.0, supercell_min_length_A=0.0,
                          seed=seed, save_every=5, checkpoint_every=4)
    run_dir = workdir / f"run{time.perf_counter_ns()}"
    t0 = time.perf_counter()
    result = MDRun(structure, run_dir, settings, calculator=calc, progress=True).run()
    elapsed = time.perf_counter() - t0
    assert result.status == "done" and result.steps_run == steps, result
    shutil.rmtree(run_dir)
    return elapsed


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
            bare_t, run_t = [], []
            for rep in range(args.reps):
                bare_t.append(bare_loop(structure, calc, args.steps, args.temperature_K, rep))
                run_t.append(runner(structure, calc, args.steps, args.temperature_K, rep,
                                    Path(tmp)))
                print(f"threads={threads} rep={rep}: bare {bare_t[-1]:.2f} s, "
                      f"runner {run_t[-1]:.2f} s, ratio {run_t[-1] / bare_t[-1]:.3f}",
                      flush=True)
            ratios = np.array(run_t) / np.array(bare_t)
            ms_step = 1000.0 * float(np.median(bare_t)) / args.steps
            out["by_threads"][str(threads)] = {
                "bare_s": bare_t, "runner_s": run_t,
                "overhead_ratio_median": float(np.median(ratios)),
                "overhead_ratio_min": float(ratios.min()),
                "overhead_ratio_max": float(ratios.max()),
                "bare_ms_per_step": ms_step,
                "atom_steps_per_s": n_atoms / (ms_step / 1000.0),
            }
            print(json.dumps({threads: out["by_threads"][str(threads)]}, indent=1), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "benchmark_threads" + "-".join(str(t) for t in args.threads) + ".json"
    (RESULTS / name).write_text(json.dumps(out, indent=1))
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
