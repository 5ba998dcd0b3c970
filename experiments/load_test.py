"""Featurization load test: N seeded variants, local vs Dask, peak memory, kill and resume.

1. Writes ``N`` POSCARs to ``<work>/structures_N<N>/`` (outside the repository): each is a
   phonondb_na structure (drawn with ``numpy.random.default_rng(seed)`` from those with at
   most ``--max-base-sites`` sites) with a random symmetric lattice strain (each component
   ``U(-strain, strain)``, default 1 %), every site displaced by ``N(0, 0.02 A)`` per axis,
   and with probability 1/2 per element its chemical-group partner swapped in (Cl<->Br,
   S<->Se, all sites of that element; Na, O and the rest kept).
2. ``mlkit featurize DIR -o local.parquet --jobs 2`` (fresh cache), then the same against a
   ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)`` (``--dask-address``,
   fresh cache): wall time, throughput (structures/s) and peak memory (RSS sampled every
   0.2 s with psutil: the CLI process alone, and the sum over it, its workers and, for
   Dask, the cluster's worker processes).
3. The two tables, sorted by id, must be equal (exact; NaN equals NaN).
4. Kill and resume: the local command on a third fresh cache, ``SIGKILL`` to its process
   group at half the local wall time, then rerun: the table must equal the local one.
   ``--kill-dask``: instead, the Dask client is killed at half the local wall time (the
   cluster stays up) and rerun; its throughput counts both parts, the resumed table
   must equal the local one. Saves a third pass over ``N``.
5. ``--ab-repeats R`` (instead of 2-4): R pairs of local and Dask runs on fresh caches in
   alternating order (local-Dask, Dask-local, ...), so a load that drifts during the
   experiment hits both alike; reports each pair's Dask/local wall-time ratio and their
   median (the sequential runs of 2 are one pair only).

Usage (docs/reliability.md has the 20,000 command)::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 10 python experiments/load_test.py --n 2000

Writes ``experiments/results/reliability/load_test_N<N>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PHONONDB = Path("/work/shared/datasets/phonondb_na")
RESULTS = REPO / "experiments" / "results" / "reliability"
#: element -> its same-group partner swapped in with probability 1/2
SWAPS = {"Cl": "Br", "Br": "Cl", "S": "Se", "Se": "S"}


def make_variants(n: int, out: Path, seed: int, max_base_sites: int, strain: float,
                  sigma_A: float) -> dict:
    """Write ``n`` seeded variants as POSCARs into ``out``; returns a summary."""
    from pymatgen.core import Lattice, Structure

    rng = np.random.default_rng(seed)
    bases = []
    for path in sorted((PHONONDB / "structures").glob("*.vasp")):
        s = Structure.from_file(path)
        if len(s) <= max_base_sites:
            bases.append((path.name.split("_")[0], s))
    out.mkdir(parents=True, exist_ok=True)
    n_swapped = 0
    for k in range(n):
        name, base = bases[int(rng.integers(len(bases)))]
        eps = rng.uniform(-strain, strain, size=(3, 3))
        eps = (eps + eps.T) / 2
        lattice = Lattice(base.lattice.matrix @ (np.eye(3) + eps))
        s = Structure(lattice, base.species, base.frac_coords)
        cart = s.cart_coords + rng.normal(0.0, sigma_A, size=(len(s), 3))
        species = [str(sp) for sp in s.species]
        swap = {el: SWAPS[el] for el in sorted(set(species))
                if el in SWAPS and rng.random() < 0.5}
        if swap:
            n_swapped += 1
        species = [swap.get(el, el) for el in species]
        variant = Structure(lattice, species, cart, coords_are_cartesian=True)
        variant.to(filename=str(out / f"v{k:05d}_{name}.vasp"), fmt="poscar")
    return {"n": n, "n_bases": len(bases), "n_with_swaps": n_swapped, "seed": seed,
            "max_base_sites": max_base_sites, "strain": strain, "sigma_A": sigma_A}


def _inherit_autogroup_nice(pid: int) -> None:
    """Give a new session (own autogroup under Linux sched_autogroup) this process's nice.

    With autogroup scheduling, a process started with ``start_new_session`` gets a fresh
    group at nice 0 whatever this process's group has, so a run measured against a
    background job would get a different share than the experiment itself.
    """
    try:
        nice = Path("/proc/self/autogroup").read_text().split("nice")[1].strip()
        Path(f"/proc/{pid}/autogroup").write_text(nice)
    except (OSError, IndexError):
        pass


def run_measured(argv: list[str], kill_after_s: float | None = None,
                 extra_pids: list[int] = (), new_session: bool = True) -> dict:
    """Run ``argv``; sample RSS every 0.2 s; optionally SIGKILL it.

    ``new_session``: its own process group (needed to kill the whole tree); under Linux
    autogroup scheduling that is also its own scheduling group, which a comparison whose
    other arm runs partly in this process's group (Dask workers) must not have.
    """
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, start_new_session=new_session, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if new_session:
        _inherit_autogroup_nice(proc.pid)
    ps = psutil.Process(proc.pid)
    extra = [psutil.Process(p) for p in extra_pids]
    peak_main = peak_tree = 0
    killed = False
    while proc.poll() is None:
        try:
            main = ps.memory_info().rss
            tree = main + sum(c.memory_info().rss for c in ps.children(recursive=True))
            tree += sum(p.memory_info().rss for p in extra)
        except psutil.Error:
            main = tree = 0
        peak_main, peak_tree = max(peak_main, main), max(peak_tree, tree)
        if kill_after_s is not None and time.perf_counter() - t0 >= kill_after_s:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.2)
    out, _ = proc.communicate()
    return {"rc": proc.returncode, "killed": killed, "wall_s": round(time.perf_counter() - t0, 2),
            "peak_rss_cli_MiB": round(peak_main / 2**20, 1),
            "peak_rss_total_MiB": round(peak_tree / 2**20, 1),
            "last_line": (out or "").strip().splitlines()[-1:] }


def featurize_argv(structures: Path, output: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mlkit", "featurize", str(structures), "-o", str(output),
            "--cache-dir", str(cache), "--no-progress", *extra]


def same_table(a: Path, b: Path) -> str:
    x = pd.read_parquet(a).sort_values("id").reset_index(drop=True)
    y = pd.read_parquet(b).sort_values("id").reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    except AssertionError as exc:
        return " ".join(str(exc).split())[:400]
    return "identical" if x.attrs == y.attrs else "values identical, provenance differs"


def ab_compare(structures: Path, work: Path, n: int, repeats: int, jobs: int) -> dict:
    """Alternating local / Dask runs (fresh caches); Dask/local wall ratio per pair."""
    from distributed import LocalCluster

    pairs = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        for r in range(repeats):
            order = ("local", "dask") if r % 2 == 0 else ("dask", "local")
            walls = {}
            for kind in order:
                cache = work / f"cache_{kind}_{r}"
                extra = (["--jobs", str(jobs)] if kind == "local"
                         else ["--dask-address", cluster.scheduler_address])
                # one scheduling group for the CLI, its loky workers and the Dask workers
                res = run_measured(featurize_argv(structures, work / f"{kind}_{r}.parquet",
                                                  cache, *extra), new_session=False)
                walls[kind] = res["wall_s"]
                shutil.rmtree(cache, ignore_errors=True)
            same = same_table(work / f"local_{r}.parquet", work / f"dask_{r}.parquet")
            pairs.append({"order": "-".join(order), **{f"{k}_wall_s": v for k, v in walls.items()},
                          "dask_over_local": round(walls["dask"] / walls["local"], 3),
                          "tables": same})
            print(pairs[-1], flush=True)
    ratios = [p["dask_over_local"] for p in pairs]
    return {"pairs": pairs, "median_dask_over_local": float(np.median(ratios)),
            "local_structures_per_s": round(n / float(np.median(
                [p["local_wall_s"] for p in pairs])), 2),
            "dask_structures_per_s": round(n / float(np.median(
                [p["dask_wall_s"] for p in pairs])), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="/work/loadtest")
    ap.add_argument("--max-base-sites", type=int, default=40)
    ap.add_argument("--strain", type=float, default=0.01)
    ap.add_argument("--sigma-A", type=float, default=0.02)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma list of: dask,kill")
    ap.add_argument("--kill-dask", action="store_true",
                    help="kill and resume the Dask run (its wall time = both parts) instead "
                         "of a third, local run")
    ap.add_argument("--ab-repeats", type=int, default=0,
                    help="only the alternating local/Dask comparison, this many pairs")
    args = ap.parse_args()
    os.environ.setdefault("PYTHONPATH", str(REPO))
    os.environ["OMP_NUM_THREADS"] = "1"
    work = Path(args.work) / f"N{args.n}"
    structures = Path(args.work) / f"structures_N{args.n}_seed{args.seed}"
    report: dict = {"n": args.n}
    t = time.perf_counter()
    if not structures.is_dir() or len(list(structures.glob("*.vasp"))) != args.n:
        shutil.rmtree(structures, ignore_errors=True)
        report["variants"] = make_variants(args.n, structures, args.seed, args.max_base_sites,
                                           args.strain, args.sigma_A)
    report["generate_s"] = round(time.perf_counter() - t, 1)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    skip = set(filter(None, args.skip.split(",")))
    if args.ab_repeats:
        report["ab"] = ab_compare(structures, work, args.n, args.ab_repeats, args.jobs)
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"load_test_ab_N{args.n}.json"
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {out}")
        return 0

    local = run_measured(featurize_argv(structures, work / "local.parquet", work / "cache_local",
                                        "--jobs", str(args.jobs)))
    local["structures_per_s"] = round(args.n / local["wall_s"], 2)
    report["local"] = local
    print("local", local, flush=True)

    if "dask" not in skip:
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            import psutil

            pids = [p.pid for p in psutil.Process().children(recursive=True)]
            argv = featurize_argv(structures, work / "dask.parquet", work / "cache_dask",
                                  "--dask-address", cluster.scheduler_address)
            if args.kill_dask:  # the client killed mid-run, the cluster kept; then rerun
                killed = run_measured(argv, kill_after_s=local["wall_s"] / 2, extra_pids=pids)
                n_cached = len(list((work / "cache_dask").rglob("*.json")))
                dask = run_measured(argv, extra_pids=pids)
                dask["killed_run"] = {**killed, "rows_cached_at_kill": n_cached}
                dask["wall_s"] = round(killed["wall_s"] + dask["wall_s"], 2)
                for key in ("peak_rss_cli_MiB", "peak_rss_total_MiB"):
                    dask[key] = max(dask[key], killed[key])
            else:
                dask = run_measured(argv, extra_pids=pids)
        dask["structures_per_s"] = round(args.n / dask["wall_s"], 2)
        dask["table_vs_local"] = same_table(work / "local.parquet", work / "dask.parquet")
        report["dask"] = dask
        print("dask", dask, flush=True)

    if "kill" not in skip and not args.kill_dask:
        argv = featurize_argv(structures, work / "resumed.parquet", work / "cache_kill",
                              "--jobs", str(args.jobs))
        kill = run_measured(argv, kill_after_s=local["wall_s"] / 2)
        n_cached = len(list((work / "cache_kill").rglob("*.json")))
        visible = (work / "resumed.parquet").exists()
        resume = run_measured(argv)
        report["kill_resume"] = {
            "killed_at_s": kill["wall_s"], "killed": kill["killed"],
            "rows_cached_at_kill": n_cached, "output_visible_after_kill": visible,
            "resume": resume, "table_vs_local": same_table(work / "local.parquet",
                                                           work / "resumed.parquet"),
            "temp_files_left": sorted(p.name for p in work.glob("*.partial")),
        }
        print("kill_resume", report["kill_resume"], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load_test_N{args.n}{'_kill_dask' if args.kill_dask else ''}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
