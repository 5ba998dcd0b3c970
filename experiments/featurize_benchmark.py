"""Featurization benchmark: mlkit on all phonondb_na structures vs matminer on a sample.

1. ``featurize_paths`` on every structure of ../shared/datasets/phonondb_na/structures with
   n_jobs=2 and an empty cache: throughput (structures/s), error-reason counts.
2. The same call again (cache hit): seconds.
3. On a random sample (seed 0, default 100 structures), single process, in this run:
   mlkit's default featurizers (one StructureContext per structure), timed per group, vs
   matminer's nearest equivalents: DensityFeatures, GlobalSymmetryFeatures,
   EwaldEnergy (needs oxidation states: per-site ``add_oxidation_state_by_guess``, timed
   separately), SiteStatsFingerprint(CoordinationNumber with CrystalNN), and
   ElementProperty.from_preset("magpie"). Ratio = mlkit structures/s / matminer structures/s.

Writes experiments/results/featurize/{benchmark.json, error_reasons.csv,
connectivity_distribution.csv, group_timing.csv, phonondb_na_features.parquet,
benchmark.png}.

Usage: python experiments/featurize_benchmark.py [--sample 100] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "phonondb_na" / "structures"
OUT = ROOT / "experiments" / "results" / "featurize"


def reason_kind(reason: str) -> str:
    """Collapse a reason to its kind (drop formulas, element pairs and numbers)."""
    reason = re.sub(r" for \S+.*$", "", reason)
    reason = re.sub(r"\(.*\)", "", reason)
    reason = re.sub(r"reduced formula \S+ has \d+ atoms", "reduced formula too large", reason)
    return reason.strip()


def error_counts(df: pd.DataFrame) -> Counter:
    counts: Counter = Counter()
    for err in df["error"]:
        if not err:
            continue
        for piece in err.split("; "):
            counts[reason_kind(piece)] += 1
    return counts


def run_mlkit_full(files: list[Path], jobs: int) -> dict:
    from mlkit.features import featurize_paths

    cache = Path(tempfile.mkdtemp(prefix="mlkit_feat_bench_"))
    try:
        t0 = time.perf_counter()
        df = featurize_paths(files, n_jobs=jobs, cache_dir=cache, progress=True)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        df2 = featurize_paths(files, n_jobs=jobs, cache_dir=cache, progress=False)
        t_warm = time.perf_counter() - t0
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    pd.testing.assert_frame_equal(df, df2)
    return {"df": df, "t_cold": t_cold, "t_warm": t_warm}


def time_mlkit_sample(files: list[Path]) -> tuple[float, dict[str, float], int]:
    """Single process: read + validate + context + every default featurizer."""
    from mlkit.features import FeaturizationSettings, StructureContext
    from mlkit.structures import read_structure, resolve_disorder, validate_structure

    fz = FeaturizationSettings(mobile_ion="Na").build_featurizers()
    per_group = dict.fromkeys([f.name for f in fz], 0.0)
    per_group["read+validate"] = 0.0
    n_fail = 0
    t_all = time.perf_counter()
    for p in files:
        t0 = time.perf_counter()
        s = read_structure(p)
        validate_structure(s, str(p))
        s, note = resolve_disorder(s, "average", str(p))
        ctx = StructureContext(s, str(p), disorder=note)
        per_group["read+validate"] += time.perf_counter() - t0
        for f in fz:
            t0 = time.perf_counter()
            try:
                f.featurize(ctx)
            except Exception:  # noqa: BLE001
                n_fail += 1
            per_group[f.name] += time.perf_counter() - t0
    total = time.perf_counter() - t_all
    return total, per_group, n_fail


class Budget(Exception):
    """A matminer call exceeded its time budget."""


def call_with_budget(fn, budget_s: float):  # noqa: ANN001, ANN201
    """Run ``fn()``; raise Budget after ``budget_s`` seconds (SIGALRM, main thread, Unix)."""

    def on_alarm(signum, frame):  # noqa: ANN001, ARG001
        raise Budget

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def time_matminer_sample(files: list[Path], budget_s: float) -> dict:
    """Time matminer per structure; a call over ``budget_s`` is stopped and charged
    ``budget_s`` (so matminer's total is a LOWER bound when timeouts occur)."""
    from matminer.featurizers.composition import ElementProperty
    from matminer.featurizers.site import CoordinationNumber
    from matminer.featurizers.structure import (
        DensityFeatures,
        EwaldEnergy,
        GlobalSymmetryFeatures,
        SiteStatsFingerprint,
    )
    from pymatgen.analysis.local_env import CrystalNN
    from pymatgen.core import Structure
    from tqdm.auto import tqdm

    structures = [Structure.from_file(p) for p in files]
    featurizers = {
        "DensityFeatures": DensityFeatures(),
        "GlobalSymmetryFeatures": GlobalSymmetryFeatures(),
        "SiteStatsFingerprint(CN CrystalNN)": SiteStatsFingerprint(
            CoordinationNumber(CrystalNN(), use_weights="none"), stats=("mean", "std_dev")
        ),
        "ElementProperty magpie": ElementProperty.from_preset("magpie"),
    }
    names = [*featurizers, "oxidation guess (per site)", "EwaldEnergy"]
    times = dict.fromkeys(names, 0.0)
    fails: Counter = Counter()
    timeouts: Counter = Counter()

    def timed(name, fn) -> bool:  # noqa: ANN001
        t0 = time.perf_counter()
        try:
            call_with_budget(fn, budget_s)
            return True
        except Budget:
            timeouts[name] += 1
            fails[name] += 1
            return False
        except Exception:  # noqa: BLE001
            fails[name] += 1
            return False
        finally:
            times[name] += min(time.perf_counter() - t0, budget_s)

    for s in tqdm(structures, desc="matminer", unit="structure"):
        for name, f in featurizers.items():
            arg = s.composition if name.startswith("ElementProperty") else s
            timed(name, lambda f=f, arg=arg: f.featurize(arg))
        so = s.copy()
        if timed("oxidation guess (per site)", lambda so=so: so.add_oxidation_state_by_guess()):
            timed("EwaldEnergy", lambda so=so: EwaldEnergy().featurize(so))
        else:
            fails["EwaldEnergy"] += 1
    return {"times": times, "fails": dict(fails), "timeouts": dict(timeouts)}


def time_magpie_wrapper(files: list[Path]) -> float:
    from mlkit.features import MagpieFeaturizer, StructureContext
    from mlkit.structures import read_structure

    f = MagpieFeaturizer()
    f.feature_labels()  # load tables outside the timing
    ctxs = [StructureContext(read_structure(p)) for p in files]
    t0 = time.perf_counter()
    for c in ctxs:
        f.featurize(c)
    return time.perf_counter() - t0


def plot(results: dict, conn: pd.Series, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    labels = ["mlkit (1 proc, sample)", "matminer (1 proc, sample)", "mlkit (2 jobs, all)"]
    values = [
        results["sample"]["mlkit_structures_per_s"],
        results["sample"]["matminer_structures_per_s"],
        results["full"]["structures_per_s"],
    ]
    axes[0].bar(labels, values, color=["tab:blue", "tab:orange", "tab:green"])
    axes[0].set_ylabel("structures / s")
    axes[0].set_title("featurization throughput")
    axes[0].tick_params(axis="x", labelrotation=15)
    axes[1].bar(conn.index, conn.values * 100)
    axes[1].set_ylabel("% of structures")
    axes[1].set_title(f"connectivity classes (n={int(results['full']['n_rows'])})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--budget", type=float, default=60.0, help="matminer s per call (cap)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N files (smoke run)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    if not DATA.exists():
        print(f"missing data: {DATA}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    files = sorted(DATA.glob("*.vasp"))[: args.limit]
    n = len(files)
    print(f"[1/3] mlkit featurize_paths on {n} structures, n_jobs={args.jobs}, empty cache")
    full = run_mlkit_full(files, args.jobs)
    df = full["df"]
    assert len(df) == n, "every input must have a row"
    n_err_rows = int((df["error"] != "").sum())
    n_fatal = int((df["disorder"] == "").sum())
    counts = error_counts(df)
    print(
        f"  {n} rows in {full['t_cold']:.1f} s = {n / full['t_cold']:.2f} structures/s; "
        f"cached rerun {full['t_warm']:.2f} s ({full['t_cold'] / full['t_warm']:.0f}x faster)"
    )
    print(f"  rows with a reason: {n_err_rows} (unreadable/invalid: {n_fatal})")
    for reason, c in counts.most_common():
        print(f"    {c:5d}  {reason}")
    conn = df.loc[df["connectivity"] != "", "connectivity"].value_counts(normalize=True)
    print("  connectivity:", ", ".join(f"{k} {v * 100:.1f} %" for k, v in conn.items()))

    rng = random.Random(0)
    sample = sorted(rng.sample(files, min(args.sample, n)))
    print(f"[2/3] mlkit default featurizers, 1 process, {len(sample)} sampled structures")
    t_ml, per_group, ml_fail = time_mlkit_sample(sample)
    print(f"  {t_ml:.1f} s = {len(sample) / t_ml:.2f} structures/s")
    print(f"[3/3] matminer nearest equivalents, 1 process, same {len(sample)} structures")
    mm = time_matminer_sample(sample, args.budget)
    t_mm = sum(mm["times"].values())
    t_magpie_wrap = time_magpie_wrapper(sample)
    for k, v in mm["times"].items():
        print(f"  {k:40s} {v:7.1f} s  ({v / len(sample) * 1000:.0f} ms/structure)")
    if mm["timeouts"]:
        print(
            f"  calls stopped at the {args.budget:.0f} s budget: {mm['timeouts']} "
            "(charged the budget: matminer time is a LOWER bound)"
        )
    print(f"  matminer total {t_mm:.1f} s = {len(sample) / t_mm:.2f} structures/s")
    ratio = (len(sample) / t_ml) / (len(sample) / t_mm)
    t_mm_no_oxi = t_mm - mm["times"]["oxidation guess (per site)"]
    ratio_no_oxi = t_mm_no_oxi / t_ml
    print(
        f"  RATIO mlkit/matminer (structures/s): {ratio:.2f}x "
        f"({ratio_no_oxi:.2f}x if matminer's per-site oxidation guess is not counted)"
    )

    results = {
        "machine_note": "2 shared cores; other jobs running",
        "full": {
            "n_inputs": n,
            "n_rows": len(df),
            "n_jobs": args.jobs,
            "seconds": full["t_cold"],
            "structures_per_s": n / full["t_cold"],
            "cached_rerun_seconds": full["t_warm"],
            "rows_with_reason": n_err_rows,
            "rows_unreadable_or_invalid": n_fatal,
            "n_features": df.shape[1] - 5,
            "error_reason_counts": dict(counts.most_common()),
            "connectivity_fraction": conn.to_dict(),
        },
        "sample": {
            "n": len(sample),
            "seed": 0,
            "mlkit_seconds": t_ml,
            "mlkit_structures_per_s": len(sample) / t_ml,
            "mlkit_group_seconds": per_group,
            "mlkit_featurizer_exceptions": ml_fail,
            "matminer_seconds": mm["times"],
            "matminer_failures": mm["fails"],
            "matminer_timeouts": mm["timeouts"],
            "matminer_budget_s_per_call": args.budget,
            "matminer_structures_per_s": len(sample) / t_mm,
            "ratio_mlkit_over_matminer": ratio,
            "ratio_without_matminer_oxidation_guess": ratio_no_oxi,
            "mlkit_magpie_wrapper_seconds": t_magpie_wrap,
        },
    }
    (OUT / "benchmark.json").write_text(json.dumps(results, indent=2, default=float))
    pd.DataFrame(counts.most_common(), columns=["reason", "count"]).to_csv(
        OUT / "error_reasons.csv", index=False
    )
    conn.rename("fraction").to_csv(OUT / "connectivity_distribution.csv")
    pd.Series(per_group, name="seconds").to_csv(OUT / "group_timing.csv")
    df.to_parquet(OUT / "phonondb_na_features.parquet", index=False)
    plot(results, conn, OUT / "benchmark.png")
    print(f"wrote {OUT}")
    return 0 if np.isfinite(ratio) else 1


if __name__ == "__main__":
    sys.exit(main())
