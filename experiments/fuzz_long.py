"""Long seeded fuzz run (issue 12): the CI mutators of ``tests/fuzz``, many more cases.

Structure cases (default 5,000): mutations of the demo CIFs, POSCARs written from them and,
when present, every phonondb_na POSCAR and OBELiX CIF of ../shared; each goes through
``read_structure`` + ``validate_structure`` and ``featurize_paths`` (default featurizers,
the seed's mobile ion, 20 s per case). Label cases (default 2,000): mutations of the demo
``labels.csv`` and OBELiX's ``train.csv``, each loaded with one of several label policies.
Then one ``mlkit featurize`` CLI batch (in-process) of good files and 300 fuzzed ones: one
row per input, no traceback.

Prints and writes counts per input kind (mutation; ``combo`` for stacked ones) and per
outcome, and every finding (crash: another exception type, a message that is not one line
or does not name the file, an infinite feature, a foreign exception in an error row; hang:
over the time limit). Run seed 1 (the CI subset uses seed 0).

Writes experiments/results/fuzz/{summary.json, structure_cases.csv, label_cases.csv}
(``--out`` for another directory).

Usage: OMP_NUM_THREADS=1 python experiments/fuzz_long.py [--structures 5000] [--labels 2000]
       [--seed 1] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fuzz import mutators as fz  # noqa: E402

#: third-party seed files (used when present; tests reach them through shared_path)
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
PHONONDB = SHARED_DATASETS / "phonondb_na" / "structures"
OBELIX = SHARED_DATASETS / "obelix" / "cifs_train"
OBELIX_LABELS = SHARED_DATASETS / "obelix" / "train.csv"


def shared_status() -> dict[str, str]:
    """Which shared seed sources are present (``"present"``) or why they are skipped."""
    out = {}
    for name, src in (("phonondb_na", PHONONDB), ("obelix", OBELIX),
                      ("obelix_labels", OBELIX_LABELS)):
        out[name] = "present" if src.exists() else f"absent: {src} not found"
    return out

OUT = ROOT / "experiments" / "results" / "fuzz"


def _table(counts: dict[str, Counter], outcomes: list[str]) -> str:
    kinds = sorted(counts)
    width = max(len(k) for k in kinds) + 2
    lines = ["kind".ljust(width) + "".join(o.rjust(12) for o in outcomes) + "total".rjust(8)]
    for k in kinds:
        row = counts[k]
        lines.append(k.ljust(width) + "".join(str(row.get(o, 0)).rjust(12) for o in outcomes)
                     + str(sum(row.values())).rjust(8))
    total = Counter()
    for row in counts.values():
        total.update(row)
    lines.append("total".ljust(width) + "".join(str(total.get(o, 0)).rjust(12) for o in outcomes)
                 + str(sum(total.values())).rjust(8))
    return "\n".join(lines)


def run_structures(n: int, seed: int, directory: Path) -> tuple[pd.DataFrame, list[fz.Case]]:
    status = shared_status()
    seeds = fz.structure_seeds(
        phonondb=PHONONDB if status["phonondb_na"] == "present" else None,
        obelix=OBELIX if status["obelix"] == "present" else None,
    )
    print(f"structure seeds: {dict(Counter(s.origin for s in seeds))}; shared: {status}")
    rows, cases = [], []
    t0 = time.perf_counter()
    for i in range(n):
        case = fz.structure_case(seeds, seed, i)
        t = time.perf_counter()
        out = fz.check_structure_case(case, directory)
        rows.append({"case_id": case.case_id, "seed": case.seed.name, "origin": case.seed.origin,
                     "format": case.seed.fmt, "kind": case.kind,
                     "mutations": "+".join(case.mutations), "stage": out.stage,
                     "outcome": out.outcome, "seconds": round(time.perf_counter() - t, 3),
                     "detail": out.detail[:300]})
        if out.is_finding:
            print(f"FINDING {case.case_id} {case.seed.name} {case.mutations}: {out.stage} "
                  f"{out.outcome}: {out.detail[:200]}", flush=True)
        cases.append(case)
        (directory / case.file_name).unlink(missing_ok=True)
        if (i + 1) % 500 == 0:
            print(f"  {i + 1}/{n} structure cases, {time.perf_counter() - t0:.0f} s", flush=True)
    return pd.DataFrame(rows), cases


def run_labels(n: int, seed: int, directory: Path) -> pd.DataFrame:
    status = shared_status()
    seeds = fz.label_seeds(OBELIX_LABELS if status["obelix_labels"] == "present" else None)
    rows = []
    for i in range(n):
        case = fz.label_case(seeds, seed, i)
        t = time.perf_counter()
        out = fz.check_label_case(case, directory)
        rows.append({"case_id": case.case_id, "seed": case.seed.name, "kind": case.kind,
                     "mutations": "+".join(case.mutations), "policy": json.dumps(case.policy),
                     "outcome": out.outcome, "seconds": round(time.perf_counter() - t, 3),
                     "detail": out.detail[:300]})
        if out.is_finding:
            print(f"FINDING {case.case_id} {case.mutations} {case.policy}: {out.detail[:200]}",
                  flush=True)
        (directory / case.file_name).unlink(missing_ok=True)
    return pd.DataFrame(rows)


def run_cli_batch(cases: list[fz.Case], directory: Path) -> dict:
    """``mlkit featurize GOOD... FUZZED... -o out.csv`` in-process: rows, status, traceback."""
    from mlkit.cli import main

    good = sorted((fz.DEMO / "structures").glob("*.cif"))[:10]
    batch = directory / "cli"
    batch.mkdir(exist_ok=True)
    fuzzed = [c.write(batch) for c in cases]
    out = directory / "cli_features.csv"
    stdout, stderr = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(["featurize", *map(str, good + fuzzed), "-o", str(out), "--no-progress",
                   "--no-cache", "--time-limit-s", "20"])
    table = pd.read_csv(out, keep_default_na=False)
    ids_ok = list(table["id"]) == [p.stem for p in good + fuzzed]
    return {"inputs": len(good) + len(fuzzed), "good": len(good), "fuzzed": len(fuzzed),
            "rows": len(table), "ids_in_order": ids_ok, "exit_status": rc,
            "error_rows": int((table["error"] != "").sum()),
            "good_rows_without_error": int((table["error"].iloc[: len(good)] == "").sum()),
            "traceback": "Traceback" in stdout.getvalue() + stderr.getvalue(),
            "seconds": round(time.perf_counter() - t0, 1),
            "summary_line": stdout.getvalue().strip().splitlines()[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--structures", type=int, default=5000)
    ap.add_argument("--labels", type=int, default=2000)
    ap.add_argument("--cli-batch", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT, help="results directory")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlkit-fuzz-") as tmp:
        tmp = Path(tmp)
        s_df, cases = run_structures(args.structures, args.seed, tmp)
        t_struct = time.perf_counter() - t0
        l_df = run_labels(args.labels, args.seed, tmp)
        t_labels = time.perf_counter() - t0 - t_struct
        cli = run_cli_batch(cases[: args.cli_batch], tmp) if args.cli_batch else {}
    s_df.to_csv(out_dir / "structure_cases.csv", index=False)
    l_df.to_csv(out_dir / "label_cases.csv", index=False)

    s_outcomes = ["ok", "error_row", "refused", "crash", "hang"]
    s_counts: dict[str, Counter] = defaultdict(Counter)
    for kind, outcome in zip(s_df["kind"], s_df["outcome"], strict=True):
        s_counts[kind][outcome] += 1
    s_stage = Counter(f"{st}:{o}" for st, o in zip(s_df["stage"], s_df["outcome"], strict=True))
    by_format: dict[str, Counter] = defaultdict(Counter)
    for key, outcome in zip(s_df["origin"] + "/" + s_df["format"], s_df["outcome"], strict=True):
        by_format[key][outcome] += 1
    l_outcomes = ["loaded", "refused", "crash", "hang"]
    l_counts: dict[str, Counter] = defaultdict(Counter)
    for kind, outcome in zip(l_df["kind"], l_df["outcome"], strict=True):
        l_counts[kind][outcome] += 1

    print("\nstructure cases per kind and outcome")
    print(_table(s_counts, s_outcomes))
    print("\nstructure cases per seed source / format")
    print(_table(by_format, s_outcomes))
    print("\nstructure cases per stage:", dict(s_stage))
    print("\nlabel cases per kind and outcome")
    print(_table(l_counts, l_outcomes))
    print("\nCLI batch:", cli)
    findings_s = s_df[s_df["outcome"].isin(["crash", "hang"])]
    findings_l = l_df[l_df["outcome"].isin(["crash", "hang"])]
    summary = {
        "seed": args.seed,
        "structure_cases": len(s_df), "label_cases": len(l_df),
        "structure_outcomes": dict(Counter(s_df["outcome"])),
        "structure_stage_outcomes": dict(s_stage),
        "structure_per_kind": {k: dict(v) for k, v in sorted(s_counts.items())},
        "structure_per_source": {k: dict(v) for k, v in sorted(by_format.items())},
        "label_outcomes": dict(Counter(l_df["outcome"])),
        "label_per_kind": {k: dict(v) for k, v in sorted(l_counts.items())},
        "findings": {"structures": findings_s[["case_id", "mutations", "stage", "outcome",
                                               "detail"]].to_dict("records"),
                     "labels": findings_l[["case_id", "mutations", "outcome",
                                           "detail"]].to_dict("records")},
        "cli_batch": cli,
        "slowest_structure_case_s": float(s_df["seconds"].max()) if len(s_df) else None,
        "slowest_label_case_s": float(l_df["seconds"].max()) if len(l_df) else None,
        "seconds": {"structures": round(t_struct, 1), "labels": round(t_labels, 1),
                    "total": round(time.perf_counter() - t0, 1)},
        "shared": shared_status(),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
                   "2 cores shared with MD runs (nice 10, OMP_NUM_THREADS=1)",
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\n{len(findings_s)} structure and {len(findings_l)} label findings; "
          f"{summary['seconds']} s; wrote {out_dir}")


if __name__ == "__main__":
    main()
