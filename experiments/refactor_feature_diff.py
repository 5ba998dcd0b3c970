"""Feature values before/after a refactor: featurize with one source tree, then compare two.

Usage::

    # once per tree, the tree first on the path (no feature cache: every value recomputed)
    PYTHONPATH=/work/wt-base python experiments/refactor_feature_diff.py run before --jobs 2
    PYTHONPATH=$PWD python experiments/refactor_feature_diff.py run after --jobs 2
    python experiments/refactor_feature_diff.py compare before after

``run LABEL`` featurizes (a) every ../shared/datasets/phonondb_na/structures/*.vasp with
mobile ion Na and (b) every ../shared/datasets/obelix/cifs_train CIF with mobile ion Li
(default featurizers, disorder "average") and writes ``LABEL_<dataset>.parquet`` (the
feature table) and ``LABEL_<dataset>_roles.parquet`` (per structure: the feature context's
oxidation states and anion set, and the polyanion detector's element roles) to
experiments/results/refactor/.

``compare A B`` writes ``feature_diff.md`` and ``feature_diff.csv`` there: per dataset and
feature, the number of changed values (``|b - a| > 1e-9 * max(1, |a|)``; NaN -> value and
value -> NaN counted apart), the structures affected, error and connectivity-class
changes, and for every changed structure the role/oxidation-state change that explains it
(``role_changes.csv``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
OUT = ROOT / "experiments" / "results" / "refactor"
DATASETS = {
    "phonondb_na": (SHARED / "phonondb_na" / "structures", "*.vasp", "Na"),
    "obelix": (SHARED / "obelix" / "cifs_train", "*.cif", "Li"),
}
META = ["id", "source", "error", "disorder", "connectivity", "rotation_screen",
        "rotation_screen_reason"]
REL_TOL = 1e-9


def _roles_row(path: Path, mobile_ion: str) -> dict:
    """The chemistry the features saw: context oxidation states and anions, polyanion roles."""
    from mlkit.features.context import StructureContext
    from mlkit.structures import element_roles, read_structure, resolve_disorder

    row = {"id": path.stem, "oxidation_states": "", "anions": "", "roles": "", "why": ""}
    try:
        structure, note = resolve_disorder(read_structure(path), "average", str(path))
        ctx = StructureContext(structure, str(path), disorder=note)
        try:
            row["oxidation_states"] = json.dumps(
                {k: round(v, 4) for k, v in sorted(ctx.oxidation_states().items())}
            )
        except Exception as exc:  # noqa: BLE001 - recorded, the other columns go on
            row["oxidation_states"] = f"error: {type(exc).__name__}"
        row["anions"] = ",".join(sorted(ctx.anion_elements(mobile_ion)))
        takes_ion = "mobile_ion" in inspect.signature(element_roles).parameters
        roles = element_roles(structure, mobile_ion) if takes_ion else element_roles(structure)
        row["roles"] = json.dumps({k: round(v, 4) for k, v in sorted(roles.items())})
    except Exception as exc:  # noqa: BLE001
        row["why"] = f"{type(exc).__name__}: {exc}"
    return row


def run(label: str, jobs: int) -> None:
    import mlkit
    from mlkit.features import featurize_paths

    OUT.mkdir(parents=True, exist_ok=True)
    print(f"mlkit from {Path(mlkit.__file__).parent}")
    for name, (folder, pattern, ion) in DATASETS.items():
        files = sorted(folder.glob(pattern))
        t0 = time.perf_counter()
        df = featurize_paths(
            [str(f) for f in files], mobile_ion=ion, n_jobs=jobs, use_cache=False, progress=False
        )
        seconds = time.perf_counter() - t0
        df.to_parquet(OUT / f"{label}_{name}.parquet", index=False)
        roles = pd.DataFrame([_roles_row(f, ion) for f in files])
        roles.to_parquet(OUT / f"{label}_{name}_roles.parquet", index=False)
        print(f"{label} {name}: {len(df)} structures, {seconds:.0f} s")


def _changed(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks: value changed (both finite), NaN -> value, value -> NaN."""
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    fa, fb = np.isfinite(x), np.isfinite(y)
    both = fa & fb
    diff = np.zeros(len(x), dtype=bool)
    diff[both] = np.abs(y[both] - x[both]) > REL_TOL * np.maximum(1.0, np.abs(x[both]))
    return diff, ~fa & fb, fa & ~fb


def compare(before: str, after: str) -> None:
    lines = [f"# Feature values: `{before}` vs `{after}`", ""]
    rows, role_rows = [], []
    for name in DATASETS:
        a = pd.read_parquet(OUT / f"{before}_{name}.parquet").set_index("id").sort_index()
        b = pd.read_parquet(OUT / f"{after}_{name}.parquet").set_index("id").sort_index()
        ra = pd.read_parquet(OUT / f"{before}_{name}_roles.parquet").set_index("id")
        rb = pd.read_parquet(OUT / f"{after}_{name}_roles.parquet").set_index("id")
        if list(a.index) != list(b.index):
            raise SystemExit(f"{name}: the two tables hold different ids")
        features = [c for c in a.columns if c not in META]
        if features != [c for c in b.columns if c not in META]:
            raise SystemExit(f"{name}: the two tables have different feature columns")
        affected = np.zeros(len(a), dtype=bool)
        for col in features:
            diff, gained, lost = _changed(a[col], b[col])
            any_change = diff | gained | lost
            affected |= any_change
            if any_change.any():
                rows.append(
                    {
                        "dataset": name,
                        "feature": col,
                        "n_changed": int(diff.sum()),
                        "n_nan_to_value": int(gained.sum()),
                        "n_value_to_nan": int(lost.sum()),
                        "n_structures": int(any_change.sum()),
                        "max_abs_diff": float(
                            np.nanmax(np.abs(b[col].to_numpy(float) - a[col].to_numpy(float)))
                        )
                        if diff.any()
                        else 0.0,
                        "examples": ",".join(a.index[any_change][:4]),
                    }
                )
        err_changed = (a["error"].fillna("") != b["error"].fillna("")).to_numpy()
        conn_changed = (a["connectivity"].fillna("") != b["connectivity"].fillna("")).to_numpy()
        for sid in a.index[affected | err_changed | conn_changed]:
            role_rows.append(
                {
                    "dataset": name,
                    "id": sid,
                    "features_changed": bool(affected[a.index.get_loc(sid)]),
                    "connectivity": f"{a.at[sid, 'connectivity']} -> {b.at[sid, 'connectivity']}"
                    if a.at[sid, "connectivity"] != b.at[sid, "connectivity"]
                    else "",
                    "oxidation_states": _arrow(ra, rb, sid, "oxidation_states"),
                    "anions": _arrow(ra, rb, sid, "anions"),
                    "roles": _arrow(ra, rb, sid, "roles"),
                    "error": _arrow(a, b, sid, "error"),
                }
            )
        lines += [
            f"## {name}: {len(a)} structures, {len(features)} features",
            "",
            f"- structures with any changed feature value: {int(affected.sum())}",
            f"- error column changed: {int(err_changed.sum())}",
            f"- connectivity class changed: {int(conn_changed.sum())}",
            f"- error rows (no features at all): {_error_rows(a)} -> {_error_rows(b)}",
            "",
        ]
    table = pd.DataFrame(rows)
    roles = pd.DataFrame(role_rows)
    table.to_csv(OUT / "feature_diff.csv", index=False)
    roles.to_csv(OUT / "role_changes.csv", index=False)
    if len(table):
        lines += ["## Changed features", "", table.to_markdown(index=False), ""]
    if len(roles):
        lines += [
            "## Why: the chemistry of every structure whose values, error or class changed",
            "",
            "(`a -> b` where the two trees differ; empty where they agree; full table:",
            "role_changes.csv)",
            "",
            roles.to_markdown(index=False),
            "",
        ]
    (OUT / "feature_diff.md").write_text("\n".join(lines))
    print("\n".join(lines[:40]))


def _error_rows(df: pd.DataFrame) -> int:
    features = [c for c in df.columns if c not in META]
    return int(df[features].isna().all(axis=1).sum())


def _arrow(a: pd.DataFrame, b: pd.DataFrame, sid: str, col: str) -> str:
    x = str(a.at[sid, col]) if sid in a.index else ""
    y = str(b.at[sid, col]) if sid in b.index else ""
    return "" if x == y else f"{x} -> {y}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="featurize both datasets with the tree on the path")
    p_run.add_argument("label")
    p_run.add_argument("--jobs", type=int, default=2)
    p_cmp = sub.add_parser("compare", help="compare two labelled runs")
    p_cmp.add_argument("before")
    p_cmp.add_argument("after")
    args = parser.parse_args()
    if args.command == "run":
        run(args.label, args.jobs)
    else:
        compare(args.before, args.after)


if __name__ == "__main__":
    main()
