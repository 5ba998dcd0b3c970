"""Kill -9 at seeded random moments, rerun until done, compare with an uninterrupted run.

For each verb (``featurize``, ``train``, ``subsets``, ``label md``, ``label phonons``) on
tiny inputs: one uninterrupted reference run (its wall time ``T``), then in a second
directory up to ``--kills`` attempts, each killed (``SIGKILL`` to the process group, i.e.
the command and any worker processes it started, like a job killed by the scheduler) at a
moment in its work phase: ``t0 + U(0, 0.6) * (T - t0)`` drawn by
``numpy.random.default_rng(seed)``, where ``t0`` is when the reference run wrote its first
file (the end of imports and start-up, which is long on a loaded machine); then the same
command is rerun until it exits 0. After every kill the on-disk state is checked (every
cache entry / chunk checkpoint / MD checkpoint and trajectory / phonon part readable; a
final table that is visible must equal the reference: no torn or stale file), and at the
end the final tables are compared with the reference ones (paths normalised, timing
columns dropped) and checked for duplicated rows.

Then two ``mlkit featurize`` processes are started at the same moment on one cache
directory (fresh): both tables must equal the reference, every cache entry must parse.

Usage (the numbers in docs/reliability.md)::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 10 python experiments/kill_schedule.py \\
        --kills 3 --seed 0 --work /work/loadtest/kill_schedule

Writes ``experiments/results/reliability/kill_schedule.json``.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "datasets" / "demo"
PHONONDB = REPO.parent / "shared" / "datasets" / "phonondb_na"
if not PHONONDB.is_dir():
    PHONONDB = Path("/work/shared/datasets/phonondb_na")
RESULTS = REPO / "experiments" / "results" / "reliability" / "kill_schedule.json"

#: columns that are not compared: wall times (every ``*_s`` column) and cache hits
TIMING_COLUMNS = ("fc_cached", "ms_per_step")
#: ``label phonons --force-sets`` on the smallest phonondb archives (DFT forces)
N_PHONON_ENTRIES = 30
#: two small cells for ``label md`` (8 atoms each with --supercell-min-length-A 4)
MD_STRUCTURES = ("mp-22862_POSCAR-unitcell.vasp", "mp-682_POSCAR-unitcell.vasp")
#: feature columns for the subset search (14 -> 16,383 subsets)
SUBSET_FEATURES = ("vpa,density_g_cm3,packing_fraction,free_volume_per_atom_A3,"
                   "lattice_anisotropy,mobile_ion_density_per_nm3,aal,mobile_cn,"
                   "mobile_anion_distance_A,ewald_energy_per_atom_eV,en_mean,"
                   "ionic_radius_mean_A,en_std,ionic_radius_std_A")
#: ``featurize`` gets the demo CIFs plus this many of the smallest phonondb POSCARs
N_EXTRA_FEATURIZE = 150


@dataclass
class Verb:
    """How to run one verb in a directory, read its final tables and check its state."""

    name: str
    argv: Callable[[Path], list[str]]
    tables: Callable[[Path], dict[str, pd.DataFrame]]
    check: Callable[[Path], list[str]]
    key: dict[str, list[str]] = field(default_factory=dict)  # table -> id columns


def _mlkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlkit", *args]


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, keep_default_na=False)


def _json_files_ok(root: Path, pattern: str) -> list[str]:
    bad = []
    for p in root.rglob(pattern):
        try:
            json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            bad.append(f"{p}: {exc}")
    return bad


def _cache_check(cache: Path) -> list[str]:
    bad = _json_files_ok(cache, "*.json")
    for p in cache.rglob("*.json"):
        row = json.loads(p.read_text()) if not bad else {}
        if not bad and not {"id", "error", "disorder"} <= set(row):
            bad.append(f"{p}: not a feature row")
    return bad


# ----------------------------------------------------------------------------- verbs
def make_verbs(inputs: Path) -> dict[str, Verb]:
    structures = inputs / "structures"
    labels = DEMO / "labels.csv"
    features = inputs / "features.parquet"

    def featurize_argv(d: Path) -> list[str]:
        return _mlkit("featurize", str(structures), str(inputs / "more"), "-o",
                      str(d / "features.parquet"), "--cache-dir", str(d / "cache"),
                      "--jobs", "2", "--no-progress")

    def train_argv(d: Path) -> list[str]:
        return _mlkit("train", "--structures", str(structures), "--labels", str(labels),
                      "--target", "open_path", "--models", "logreg,rf", "--n-trials", "3",
                      "--outer-folds", "3", "--seed", "0", "--no-explain", "--no-track",
                      "--output-dir", str(d / "out"), "--cache-dir", str(d / "cache"),
                      "--jobs", "1", "--no-progress")

    def subsets_argv(d: Path) -> list[str]:
        return _mlkit("subsets", "--features", str(features), "--labels", str(labels),
                      "--target", "open_path", "--feature-set", SUBSET_FEATURES, "--cv", "5",
                      "--seed", "0", "--chunk-size", "256", "-o", str(d / "out"), "--resume",
                      "--jobs", "1", "--no-progress")

    def md_argv(d: Path) -> list[str]:
        return _mlkit("label", "md", str(inputs / "md"), "-o", str(d / "md_labels.csv"),
                      "--md-dir", str(d / "md"), "--temperature-K", "800", "--time-ps", "0.6",
                      "--equilibration-ps", "0.02", "--timestep-fs", "2",
                      "--supercell-min-length-A", "4", "--device", "cpu", "--threads", "1",
                      "--seed", "0", "--save-every", "5", "--checkpoint-every", "10",
                      "--jobs", "1", "--no-progress")

    def phonons_argv(d: Path) -> list[str]:
        tars = sorted(str(p) for p in inputs.glob("phonons/*.tar.lzma"))
        return _mlkit("label", "phonons", "--force-sets", *tars, "-o",
                      str(d / "phonons.csv"), "--jobs", "1", "--no-progress")

    def train_tables(d: Path) -> dict[str, pd.DataFrame]:
        out = d / "out"
        tabs = {p.name: _read(p) for p in sorted(out.glob("*.csv"))}
        for name in ("feature_columns.json", "dataset_report.json"):
            tabs[name] = pd.DataFrame({"json": [json.dumps(json.loads((out / name).read_text()),
                                                           sort_keys=True)]})
        from mlkit.workflows import predict_features

        # the saved model predicts the reference feature table the same way
        tabs["final_model_predictions"] = predict_features(
            out / "final_model", inputs / "features.parquet").reset_index(drop=True)
        return tabs

    def subsets_tables(d: Path) -> dict[str, pd.DataFrame]:
        out = d / "out"
        tabs = {p.name: _read(p) for p in sorted(out.glob("*.csv"))}
        tabs["subsets.parquet"] = _read(out / "subsets.parquet")
        tabs["best.json"] = pd.DataFrame({"json": [json.dumps(json.loads(
            (out / "best.json").read_text()), sort_keys=True)]})
        return tabs

    def subsets_check(d: Path) -> list[str]:
        import pyarrow.parquet as pq

        bad = []
        for p in (d / "out" / "chunks").glob("*.parquet"):
            try:
                pq.read_table(p)
            except Exception as exc:  # noqa: BLE001 - any read failure is the finding
                bad.append(f"{p}: {exc}")
        return bad

    def md_check(d: Path) -> list[str]:
        from mlkit.md import TrajectoryStore

        bad = _json_files_ok(d / "md", "*.json")
        for run in sorted((d / "md").glob("*/T*K")):
            store = TrajectoryStore(run)
            try:
                store.load_checkpoint()
                if store.trajectory_path.exists() or any(store.segment_dir.glob("*")):
                    traj = store.read()
                    steps = np.asarray(traj["step"])  # read() refuses repeated steps
                    if steps.size and not np.all(np.diff(steps) > 0):
                        bad.append(f"{run}: trajectory steps not strictly increasing")
            except Exception as exc:  # noqa: BLE001 - an unreadable store is the finding
                bad.append(f"{run}: {type(exc).__name__}: {exc}")
        return bad

    return {
        "featurize": Verb("featurize", featurize_argv,
                          lambda d: {"features.parquet": _read(d / "features.parquet")},
                          lambda d: _cache_check(d / "cache"),
                          {"features.parquet": ["id"]}),
        "train": Verb("train", train_argv, train_tables,
                      lambda d: _cache_check(d / "cache"),
                      {"oof_predictions.csv": ["id", "model"], "cv_folds.csv": ["fold", "model"]}),
        "subsets": Verb("subsets", subsets_argv, subsets_tables, subsets_check,
                        {"subsets.parquet": ["bitmask"]}),
        "label_md": Verb("label_md", md_argv,
                         lambda d: {"md_labels.csv": _read(d / "md_labels.csv")}, md_check,
                         {"md_labels.csv": ["id", "temperature_K"]}),
        "label_phonons": Verb("label_phonons", phonons_argv,
                              lambda d: {"phonons.csv": _read(d / "phonons.csv")},
                              lambda d: _json_files_ok(d, "phonons_parts/*.json"),
                              {"phonons.csv": ["id"]}),
    }


# ----------------------------------------------------------------------------- running
def _n_files(d: Path) -> int:
    return sum(1 for p in d.rglob("*") if p.is_file() and p.name != "log.txt")


def first_file_s(argv: list[str], cwd: Path) -> tuple[int | None, float, float]:
    """Run to the end, polling ``cwd`` every 0.1 s: (exit code, wall s, s to the first file)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "MLKIT_CACHE_DIR": str(cwd / "mlkit_cache")}
    cwd.mkdir(parents=True, exist_ok=True)
    with open(cwd / "log.txt", "a") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(["nice", "-n", "10", *argv], cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        first = None
        while proc.poll() is None:
            if first is None and _n_files(cwd):
                first = time.perf_counter() - t0
            time.sleep(0.1)
        wall = time.perf_counter() - t0
    return proc.returncode, wall, first if first is not None else wall


def run(argv: list[str], cwd: Path, kill_after_s: float | None = None,
        timeout_s: float = 900.0) -> tuple[int | None, bool, float]:
    """Run ``nice -n 10 argv``; SIGKILL its process group after ``kill_after_s``.

    Returns (exit code or None when killed, killed, wall seconds).
    """
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "MLKIT_CACHE_DIR": str(cwd / "mlkit_cache")}
    cwd.mkdir(parents=True, exist_ok=True)
    log = open(cwd / "log.txt", "a")  # noqa: SIM115 - closed below
    log.write(f"\n$ {' '.join(argv)}  (kill after {kill_after_s})\n")
    log.flush()
    t0 = time.perf_counter()
    proc = subprocess.Popen(["nice", "-n", "10", *argv], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rc = proc.wait(timeout=kill_after_s if kill_after_s is not None else timeout_s)
        return rc, False, time.perf_counter() - t0
    except subprocess.TimeoutExpired:
        if kill_after_s is None:
            raise
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None, True, time.perf_counter() - t0
    finally:
        log.close()


def _normalise(df: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    df = df.drop(columns=[c for c in df.columns
                          if c in TIMING_COLUMNS or str(c).endswith("_s")]).copy()
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = df[col].map(lambda v: v.replace(str(run_dir), "<run>")
                                  if isinstance(v, str) else v)
    return df.reset_index(drop=True)


def compare(ref: dict[str, pd.DataFrame], got: dict[str, pd.DataFrame], ref_dir: Path,
            got_dir: Path, rtol: float) -> dict[str, str]:
    """``{table: "identical" | "within rtol" | "<difference>"}``."""
    out = {}
    for name, a in ref.items():
        if name not in got:
            out[name] = "missing"
            continue
        a, b = _normalise(a, ref_dir), _normalise(got[name], got_dir)
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
            out[name] = "identical"
        except AssertionError as exact:
            try:
                pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=rtol, atol=0.0)
                out[name] = f"within rtol {rtol:g}"
            except AssertionError:
                out[name] = " ".join(str(exact).split())[:400]
    return out


def duplicates(tables: dict[str, pd.DataFrame], keys: dict[str, list[str]]) -> dict[str, int]:
    dup = {}
    for name, cols in keys.items():
        df = tables.get(name)
        if df is not None and set(cols) <= set(df.columns):
            dup[name] = int(df.duplicated(subset=cols).sum())
    return dup


def leftovers(d: Path) -> list[str]:
    """Temp files a killed writer left behind (not entries: readers never see them)."""
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")
                  if p.is_file() and (p.name.endswith((".tmp", ".partial"))))


def schedule_verb(verb: Verb, root: Path, rng: np.random.Generator, n_kills: int,
                  rtol: float) -> dict:
    ref_dir, kill_dir = root / verb.name / "ref", root / verb.name / "kill"
    for d in (ref_dir, kill_dir):
        shutil.rmtree(d, ignore_errors=True)
    rc, t_ref, t_first = first_file_s(verb.argv(ref_dir), ref_dir)
    if rc != 0:
        return {"error": f"reference run failed (rc {rc}); see {ref_dir}/log.txt"}
    ref = verb.tables(ref_dir)
    attempts = []
    done = False
    for _ in range(n_kills):
        at = float(t_first + rng.uniform(0.0, 0.6) * (t_ref - t_first))
        rc, killed, wall = run(verb.argv(kill_dir), kill_dir, kill_after_s=at)
        state = verb.check(kill_dir)
        visible = {}
        try:
            now = verb.tables(kill_dir)
            visible = compare(ref, now, ref_dir, kill_dir, 0.0)
        except Exception as exc:  # noqa: BLE001 - tables not (all) there yet: expected
            visible = {"(not all final tables present)": type(exc).__name__}
        torn = {n: v for n, v in visible.items() if v not in ("identical", "missing")
                and not n.startswith("(")}
        n_files = _n_files(kill_dir)
        attempts.append({"kill_at_s": round(at, 2), "killed": killed, "rc": rc,
                         "wall_s": round(wall, 2), "files_on_disk": n_files,
                         "corrupt": state, "stale_or_torn": torn})
        if not killed:
            done = rc == 0
            break
    reruns = 0
    while not done:
        rc, _, _ = run(verb.argv(kill_dir), kill_dir)
        reruns += 1
        done = rc == 0
        if rc != 0 and reruns >= 2:
            return {"t_ref_s": round(t_ref, 2), "attempts": attempts,
                    "error": f"rerun failed (rc {rc}); see {kill_dir}/log.txt"}
    final = verb.tables(kill_dir)
    return {
        "t_ref_s": round(t_ref, 2),
        "t_first_file_s": round(t_first, 2),
        "n_kills": sum(a["killed"] for a in attempts),
        "attempts": attempts,
        "reruns_to_finish": reruns,
        "final_vs_uninterrupted": compare(ref, final, ref_dir, kill_dir, rtol),
        "duplicated_rows": duplicates(final, verb.key),
        "corrupt_after_finish": verb.check(kill_dir),
        "temp_files_left": leftovers(kill_dir),
    }


def concurrent_featurize(verb: Verb, root: Path) -> dict:
    """Two ``mlkit featurize`` on one fresh cache directory, started together."""
    ref_dir = root / "featurize" / "ref"
    ref = _read(ref_dir / "features.parquet")
    d = root / "concurrent"
    shutil.rmtree(d, ignore_errors=True)
    cache = d / "cache"
    procs = []
    for k in (1, 2):
        argv = verb.argv(d / f"p{k}")
        argv[argv.index("--cache-dir") + 1] = str(cache)
        (d / f"p{k}").mkdir(parents=True)
        procs.append(subprocess.Popen(["nice", "-n", "10", *argv], cwd=d / f"p{k}",
                                      env={**os.environ, "PYTHONPATH": str(REPO),
                                           "OMP_NUM_THREADS": "1"},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    rcs = [p.wait() for p in procs]
    out = {"exit_codes": rcs, "corrupt_cache_entries": _cache_check(cache),
           "n_cache_entries": len(list(cache.rglob("*.json"))),
           "temp_files_left": leftovers(d)}
    for k in (1, 2):
        got = _read(d / f"p{k}" / "features.parquet")
        out[f"p{k}_vs_uninterrupted"] = compare({"t": ref}, {"t": got}, ref_dir, d / f"p{k}",
                                                0.0)["t"]
    return out


def prepare_inputs(root: Path) -> Path:
    inputs = root / "inputs"
    shutil.rmtree(inputs, ignore_errors=True)
    shutil.copytree(DEMO / "structures", inputs / "structures")
    (inputs / "more").mkdir(parents=True)
    small = sorted((PHONONDB / "structures").glob("*.vasp"),
                   key=lambda p: (p.stat().st_size, p.name))
    for path in small[:N_EXTRA_FEATURIZE]:
        shutil.copy(path, inputs / "more" / path.name)
    (inputs / "md").mkdir()
    for name in MD_STRUCTURES:
        shutil.copy(PHONONDB / "structures" / name, inputs / "md" / name)
    (inputs / "phonons").mkdir()
    tars = sorted((PHONONDB / "raw").glob("*.tar.lzma"), key=lambda p: (p.stat().st_size, p.name))
    for tar in tars[:N_PHONON_ENTRIES]:
        shutil.copy(tar, inputs / "phonons" / tar.name)
    rc, _, _ = run(_mlkit("featurize", str(inputs / "structures"), "-o",
                          str(inputs / "features.parquet"), "--no-progress"), inputs / "feat")
    if rc != 0:
        raise SystemExit(f"featurizing the inputs failed; see {inputs}/feat/log.txt")
    return inputs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=3, help="kill attempts per verb")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="/work/loadtest/kill_schedule")
    ap.add_argument("--verbs", default="featurize,train,subsets,label_md,label_phonons")
    ap.add_argument("--rtol", type=float, default=1e-6,
                    help="tolerance reported when a table is not bitwise identical")
    ap.add_argument("--output", default=str(RESULTS))
    args = ap.parse_args()
    root = Path(args.work)
    t0 = time.perf_counter()
    inputs = prepare_inputs(root)
    verbs = make_verbs(inputs)
    rng = np.random.default_rng(args.seed)
    report: dict = {"seed": args.seed, "kills_per_verb": args.kills,
                    "kill_window": "t0 + U(0, 0.6) x (T - t0); T: uninterrupted wall time, "
                                   "t0: when it wrote its first file",
                    "signal": "SIGKILL to the process group", "verbs": {}}
    for name in args.verbs.split(","):
        t = time.perf_counter()
        report["verbs"][name] = schedule_verb(verbs[name], root, rng, args.kills, args.rtol)
        report["verbs"][name]["experiment_wall_s"] = round(time.perf_counter() - t, 1)
        print(name, json.dumps(report["verbs"][name], indent=1), flush=True)
    if "featurize" in report["verbs"]:
        report["concurrent_featurize"] = concurrent_featurize(verbs["featurize"], root)
        print("concurrent", json.dumps(report["concurrent_featurize"], indent=1))
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
