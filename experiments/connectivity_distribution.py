"""Connectivity-class distribution over the phonondb Na structures, and an OBELiX read check.

Usage::

    python experiments/connectivity_distribution.py [--jobs 2] [--method radius]
        [--structures ../shared/datasets/phonondb_na/structures]
        [--obelix ../shared/datasets/obelix/cifs_train] [--out experiments/results/connectivity]

Writes ``connectivity_<method>.csv`` (one row per input: id, class, counts, n_polyanions,
shapes, centres, error, seconds), ``connectivity_<method>.png`` (bar chart against the
paper), ``obelix_disorder.csv`` (one row per CIF and disorder strategy) and prints the
percentages next to Yang et al. 2024 (4,872 MP Na ternaries/quaternaries; their "mixed"
bar is "others", i.e. it includes face-sharing).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from mlkit.errors import StructureError
from mlkit.structures import (
    CONNECTIVITY_CLASSES,
    DISORDER_STRATEGIES,
    classify_connectivity,
    collect_paths,
    find_polyanions,
    read_structure,
    resolve_disorder,
    structure_id,
    validate_structure,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
PAPER_PERCENT = {"isolated": 16.3, "corner": 35.4, "edge": 11.2, "mixed": 36.2}


def _counts(items) -> str:
    return ";".join(f"{k}:{v}" for k, v in sorted(Counter(items).items()))


def classify_file(
    path: str | Path, mobile_ion: str = "Na", disorder: str = "average", method: str = "radius"
) -> dict:
    """One row: connectivity class of one structure file (errors become a reason)."""
    t0 = time.perf_counter()
    row = {
        "id": structure_id(path),
        "source": str(path),
        "disorder": "",
        "n_elements": None,
        "class": "",
        "n_corner": None,
        "n_edge": None,
        "n_face": None,
        "n_polyanions": None,
        "shapes": "",
        "centres": "",
        "error": "",
    }
    try:
        structure = read_structure(path)
        validate_structure(structure, str(path))
        structure, note = resolve_disorder(structure, disorder, str(path))
        row["disorder"] = note
        row["n_elements"] = len(structure.composition.elements)
        polys = find_polyanions(structure, mobile_ion=mobile_ion, method=method)
        conn = classify_connectivity(structure, polys)
        row.update(
            {
                "class": conn.framework_class,
                "n_corner": conn.n_corner,
                "n_edge": conn.n_edge,
                "n_face": conn.n_face,
                "n_polyanions": len(polys),
                "shapes": ";".join(
                    f"{k}:{v}" for k, v in sorted(Counter(p.shape for p in polys).items())
                ),
                "centres": ";".join(
                    f"{k}:{v}" for k, v in sorted(Counter(p.center_species for p in polys).items())
                ),
            }
        )
    except StructureError as exc:
        row["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - every input gets a row with its reason
        row["error"] = (
            f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
    row["seconds"] = round(time.perf_counter() - t0, 4)
    return row


def run_batch(paths: list[Path], jobs: int, desc: str, **kwargs) -> pd.DataFrame:
    """Classify many files in parallel (joblib processes) with a tqdm bar."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    rows = Parallel(n_jobs=jobs, batch_size=8, return_as="generator")(
        delayed(classify_file)(p, **kwargs) for p in paths
    )
    return pd.DataFrame(list(tqdm(rows, total=len(paths), desc=desc)))


def distribution_table(df: pd.DataFrame) -> pd.DataFrame:
    """Counts and percentages per class (over classified rows) next to the paper."""
    ok = df[df["error"] == ""]
    counts = ok["class"].value_counts()
    n = len(ok)
    table = pd.DataFrame(
        {
            "class": list(CONNECTIVITY_CLASSES),
            "count": [int(counts.get(c, 0)) for c in CONNECTIVITY_CLASSES],
        }
    )
    table["percent"] = (100.0 * table["count"] / max(n, 1)).round(1)
    table["paper_percent"] = [PAPER_PERCENT.get(c) for c in CONNECTIVITY_CLASSES]
    return table


def _percentages(df: pd.DataFrame) -> str:
    counts = df["class"].value_counts()
    return ", ".join(
        f"{c} {counts.get(c, 0)} ({100 * counts.get(c, 0) / max(1, len(df)):.1f} %)"
        for c in CONNECTIVITY_CLASSES
        if c != "none"
    )


def plot(table: pd.DataFrame, out_png: Path, title: str) -> None:
    """Bar chart of the class distribution, paper values side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(x - 0.2, table["percent"], width=0.4, label="mlkit, phonondb Na (this run)")
    paper = table["paper_percent"].astype(float).fillna(0.0)
    ax.bar(x + 0.2, paper, width=0.4, label="Yang et al. 2024, 4,872 MP (face in mixed)")
    for xi, (pct, cnt) in enumerate(zip(table["percent"], table["count"], strict=True)):
        ax.text(xi - 0.2, pct + 0.5, str(cnt), ha="center", fontsize=8)
    ax.set_xticks(x, table["class"])
    ax.set_ylabel("structures (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", default=str(SHARED / "phonondb_na" / "structures"))
    parser.add_argument("--obelix", default=str(SHARED / "obelix" / "cifs_train"))
    parser.add_argument("--out", default=str(ROOT / "experiments" / "results" / "connectivity"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--method", default="radius", choices=["radius", "relative"])
    parser.add_argument("--mobile-ion", default="Na")
    parser.add_argument("--skip-obelix", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    paths = collect_paths([args.structures])
    t0 = time.perf_counter()
    df = run_batch(paths, args.jobs, "connectivity", mobile_ion=args.mobile_ion, method=args.method)
    wall = time.perf_counter() - t0
    df.to_csv(out / f"connectivity_{args.method}.csv", index=False)
    table = distribution_table(df)
    table.to_csv(out / f"distribution_{args.method}.csv", index=False)
    n_err = int((df["error"] != "").sum())
    plot(
        table,
        out / f"connectivity_{args.method}.png",
        f"Framework connectivity, {len(df) - n_err} phonondb Na structures ({args.method})",
    )
    print(
        f"\n{len(df)} inputs, {len(df) - n_err} classified, {n_err} errors; "
        f"{wall:.1f} s wall on {args.jobs} jobs ({len(df) / wall:.1f} structures/s)"
    )
    print(table.to_string(index=False))
    ok = table.set_index("class")["percent"]
    print(f"face + mixed (the paper's 'others'): {ok['face'] + ok['mixed']:.1f} % vs 36.2 %")
    some = df[(df["error"] == "") & (df["class"] != "none")]
    print(f"without 'none' (n={len(some)}): {_percentages(some)}")
    tq = some[some["n_elements"].isin([3, 4])]
    print(f"ternary+quaternary without 'none' (n={len(tq)}, like the paper): {_percentages(tq)}")
    if n_err:
        print("errors:")
        print(df.loc[df["error"] != "", "error"].to_string(index=False))

    if not args.skip_obelix and Path(args.obelix).exists():
        cifs = collect_paths([args.obelix])
        frames = []
        for strategy in DISORDER_STRATEGIES:
            t1 = time.perf_counter()
            part = run_batch(
                cifs,
                args.jobs,
                f"obelix/{strategy}",
                mobile_ion="Li",
                disorder=strategy,
                method=args.method,
            )
            part.insert(2, "strategy", strategy)
            frames.append(part)
            n_bad = int((part["error"] != "").sum())
            print(
                f"OBELiX {strategy:8s}: {len(part)} CIFs, {len(part) - n_bad} classified, "
                f"{n_bad} errors, {time.perf_counter() - t1:.1f} s; classes "
                f"{dict(part.loc[part['error'] == '', 'class'].value_counts())}"
            )
        obx = pd.concat(frames, ignore_index=True)
        obx.to_csv(out / "obelix_disorder.csv", index=False)
        reasons = obx.loc[obx["error"] != ""].copy()
        if len(reasons):
            reasons["reason"] = (
                reasons["error"].str.split(": ", n=1).str[1].str.replace(r"[\d.]+", "#", regex=True)
            )
            print(reasons.groupby(["strategy", "reason"]).size().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
