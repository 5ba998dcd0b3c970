"""OBELiX training CIFs: which feature groups fail, why, and which rows get no prediction.

Issue 14 (part A): heavily substituted, disordered Li conductors lost feature groups
(no charge-balanced oxidation states, no polyhedra) and, with them, their prediction.
This script turns a feature table from ``mlkit featurize`` (and, optionally, prediction
tables from ``mlkit predict``) into one small table, so the same command measures the
code before and after a change.

Run (from the repository root; the featurization is ~30 s on 2 cores)::

    python experiments/obelix_feature_failures.py labels --out /tmp/obelix_labels.csv
    mlkit featurize --mobile-ion Li /work/shared/datasets/obelix/cifs_train \\
        -o /tmp/obelix_features.csv --cache-dir /tmp/obelix_cache
    mlkit predict --model MODEL_DIR /work/shared/datasets/obelix/cifs_train \\
        -o /tmp/pred.csv --cache-dir /tmp/obelix_cache
    python experiments/obelix_feature_failures.py table /tmp/obelix_features.csv \\
        --predictions drop-model=/tmp/pred.csv \\
        --out experiments/results/obelix/feature_failures_after.csv

Output table (one row per kind/group/reason): ``kind`` (``structures``, ``rows with any
error``, ``unreadable``, ``group failed``, ``rows without prediction``, ``rows predicted
with a warning (partial features)``), ``group`` (feature group, or the prediction table's name),
``reason`` (the error text with formulas and numbers removed), ``n_rows`` and ``ids``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import pandas as pd

OBELIX = Path(os.environ.get("MLKIT_OBELIX", Path(__file__).resolve().parents[2] / "shared"
                             / "datasets" / "obelix"))
TARGET_RAW = "Ionic conductivity (S cm-1)"
TARGET = "ionic_conductivity_S_cm"

#: error texts -> a reason without the structure-specific parts
_NORMALISE = (
    (re.compile(r"no charge-balanced oxidation states for \S+.*"),
     "no charge-balanced oxidation states"),
)


def write_labels(out: Path) -> int:
    """Labels CSV (``id``, ``ionic_conductivity_S_cm``) of the training rows with a CIF."""
    table = pd.read_csv(OBELIX / "train.csv", dtype=str, keep_default_na=False)
    have_cif = {p.stem for p in (OBELIX / "cifs_train").glob("*.cif")}
    table = table[table["ID"].isin(have_cif)]
    labels = pd.DataFrame({"id": table["ID"], TARGET: table[TARGET_RAW]})
    out.parent.mkdir(parents=True, exist_ok=True)
    labels.to_csv(out, index=False)
    print(f"{len(labels)} labelled OBELiX training rows with a CIF -> {out}")
    return 0


def normalise(reason: str) -> str:
    """The error reason without formulas (one category per cause)."""
    reason = reason.strip()
    for pattern, repl in _NORMALISE:
        reason = pattern.sub(repl, reason)
    return reason


def split_errors(error: str) -> list[tuple[str, str]]:
    """``"geometry: a; electrostatic: b"`` -> ``[("geometry", "a"), ("electrostatic", "b")]``."""
    out = []
    for part in str(error).split("; "):
        group, sep, reason = part.partition(": ")
        if part.strip():
            out.append((group.strip(), normalise(reason)) if sep else ("", normalise(part)))
    return out


def _row(kind: str, group: str, reason: str, ids: list[str]) -> dict:
    return {"kind": kind, "group": group, "reason": reason, "n_rows": len(ids),
            "ids": " ".join(sorted(ids))}


def failure_table(features: pd.DataFrame, predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The table of the module docstring."""
    feats = features.fillna({"error": "", "disorder": ""})
    ids = feats["id"].astype(str)
    err = feats["error"].astype(str).str.strip()
    # an input that could not be read or validated has no disorder note
    unreadable = feats["disorder"].astype(str).str.strip() == ""
    rows = [
        _row("structures", "", "", list(ids)),
        _row("rows with any error", "", "", list(ids[err != ""])),
        _row("unreadable", "", "", list(ids[unreadable])),
    ]
    by_cause: dict[tuple[str, str], set[str]] = {}
    for i, e, bad in zip(ids, err, unreadable, strict=True):
        if e and not bad:
            for cause in split_errors(e):
                by_cause.setdefault(cause, set()).add(i)
    groups: dict[str, set[str]] = {}
    for (group, _), members in by_cause.items():
        groups.setdefault(group, set()).update(members)
    for group in sorted(groups):
        rows.append(_row("group failed", group, "(any reason)", list(groups[group])))
        for (g, reason), members in sorted(by_cause.items()):
            if g == group:
                rows.append(_row("group failed", group, reason, list(members)))
    for name, pred in predictions.items():
        none = pred["prediction"].isna()
        rows.append(_row("rows without prediction", name, "", list(pred.loc[none, "id"]
                                                                   .astype(str))))
        # before issue 14 the warning of a partial row was its error text; after, it
        # starts with "imputed as in training"
        warned = pred["warning"].fillna("").astype(str).str.strip() != ""
        rows.append(_row("rows predicted with a warning (partial features)", name, "",
                         list(pred.loc[warned & ~none, "id"].astype(str))))
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("labels", help="write the OBELiX labels CSV for mlkit train")
    lab.add_argument("--out", type=Path, required=True)
    tab = sub.add_parser("table", help="feature table (+ predictions) -> failure table")
    tab.add_argument("features", type=Path, help="mlkit featurize output (.csv/.parquet)")
    tab.add_argument("--predictions", nargs="*", default=[],
                     help="NAME=PRED.csv tables from mlkit predict")
    tab.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.command == "labels":
        return write_labels(args.out)
    if args.features.suffix == ".parquet":
        features = pd.read_parquet(args.features)
    else:
        features = pd.read_csv(args.features, keep_default_na=False, na_values=[""],
                               dtype={"id": str, "error": str, "disorder": str})
    predictions = {}
    for item in args.predictions:
        name, _, path = item.partition("=")
        predictions[name] = pd.read_csv(path, dtype={"id": str, "warning": str, "error": str},
                                        keep_default_na=False, na_values=[""])
    table = failure_table(features, predictions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table.drop(columns="ids").to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
