"""OBELiX (Li conductors): nested-CV MAE of log10 sigma by feature set x model, random and
grouped (by ``Family``) folds, composition baseline in the same folds, and a learning curve.

Run (from the repository root; resumable, one process; ~1 h on 2 shared cores)::

    nohup nice -n 5 env PYTHONPATH=$PWD OMP_NUM_THREADS=1 /work/main/.venv/bin/python \\
        experiments/obelix_evaluation.py --wait-for-bvse \\
        > experiments/results/obelix/evaluation.log 2>&1 &

What it does:

1. Feature tables, one per feature group (``default``, ``magpie``, ``bvse``), made with
   :func:`mlkit.features.featurize_paths` (mobile ion Li, disorder "average") and kept in
   ``OUT/.cache/tables/<group>.parquet`` (git-ignored; rows also in the per-row cache
   ``OUT/.cache/features``). The slow ``bvse`` table is best made beforehand in the
   background with the CLI (same cache and output path)::

       nice -n 5 mlkit featurize CIFS --featurizers bvse --mobile-ion Li \\
           --cache-dir OUT/.cache/features -o OUT/.cache/tables/bvse.parquet

   With ``--wait-for-bvse`` the script runs every cell it can without bvse first and then
   waits for that table; without it, the bvse cells are featurized in-process.
2. Labels: every OBELiX training row with a CIF; target ``log10`` of ``Ionic conductivity
   (S cm-1)``; censored (``<1E-10``) rows dropped (reported); rows where some feature group
   failed are kept (NaN imputed inside each fold, ``feature_errors="keep-partial"``). One
   common row set for every feature set (rows usable in all of them), so the folds are
   shared.
3. Feature sets: ``default``, ``default+bvse``, ``default+magpie``,
   ``default+bvse+magpie``; models ``logreg`` (ridge for regression, as the zoo defines
   it), ``rf``, ``xgboost``, ``lightgbm``; baseline: ``rf`` on magpie composition features
   only. Per feature set the label-free column filters of ``Trainer`` (one-hot
   connectivity, constant columns, |r| > 0.9) run once on all rows.
4. Splits: random 10-fold (``KFold``, seed) and grouped 10-fold by ``Family`` (whole
   families per test fold, inner train/validation split by family too; an empty Family is
   its own group; three spelling variants are merged, ``FAMILY_ALIASES``). The same outer
   folds for every feature set and model within a split type.
5. Learning curve (random folds): per outer fold the training part (train + validation)
   is subsampled to 0.2 .. 1.0 (seeded, nested) and the full test fold scored; for the
   chosen default (feature set + model) and the baseline.

Every finished cell is appended to ``OUT/evaluation_cells.csv`` (per fold:
``evaluation_folds.csv``; curve: ``evaluation_learning_curve.csv``) before the next one
starts; a rerun skips finished cells. ``--report`` (also run at the end) writes
``evaluation.md`` and ``evaluation_learning_curve.png`` from those CSVs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

OBELIX = Path(os.environ.get("MLKIT_OBELIX", Path(__file__).resolve().parents[2] / "shared"
                             / "datasets" / "obelix"))
TARGET_RAW = "Ionic conductivity (S cm-1)"
TARGET = "ionic_conductivity_S_cm"
GROUPS = ("default", "magpie", "bvse")
FEATURE_SETS = {
    "default": ("default",),
    "default+bvse": ("default", "bvse"),
    "default+magpie": ("default", "magpie"),
    "default+bvse+magpie": ("default", "bvse", "magpie"),
    "baseline (magpie only)": ("magpie",),
}
BASELINE = "baseline (magpie only)"
#: the no-skill reference row: the training-fold mean as prediction
NO_FEATURES = "training mean (no features)"
MODELS = ("logreg", "rf", "xgboost", "lightgbm")
#: the order the cells run in (cheapest first, so a cut run has the most cells)
MODELS_BY_COST = ("logreg", "lightgbm", "xgboost", "rf")
SPLITS = ("random", "grouped")
FRACTIONS = (0.2, 0.4, 0.6, 0.8, 1.0)
#: spelling variants of OBELiX's Family column merged into one group
FAMILY_ALIASES = {"argyrodite": "argyrodites", "cholorides": "chlorides",
                  "nitride": "nitrides"}
#: grid of the bvse group (``--bvse-resolution-A``; 0.2 A is the group's default)
BVSE_RESOLUTION_A = 0.2
#: columns of a featurize table that are not features (kept from the default table only)
META = ("source", "error", "disorder", "connectivity", "rotation_screen",
        "rotation_screen_reason")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="experiments/results/obelix")
    ap.add_argument("--cache-dir", default=None, help="default OUT/.cache")
    ap.add_argument("--n-trials", type=int, default=10)
    ap.add_argument("--outer-folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wait-for-bvse", action="store_true",
                    help="run the cells without bvse first, then wait for its table")
    ap.add_argument("--curve", default=None,
                    help="learning curve for FEATURE_SET:MODEL (default: the choice rule)")
    ap.add_argument("--bvse-resolution-A", type=float, default=0.2,
                    help="grid of the bvse group (0.2 = its default, table bvse.parquet; "
                    "otherwise table bvse_<res>A.parquet)")
    ap.add_argument("--bvse-grid-check", action="store_true",
                    help="compare the bvse features at the coarse grid with the 0.2 A grid on "
                    "the structures of OUT/evaluation_bvse_grid_ids.txt and exit")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="run only the cells of these models (time box; default all)")
    ap.add_argument("--no-bvse", action="store_true",
                    help="skip the bvse cells (time box); then the learning curve")
    ap.add_argument("--bvse-subset", action="store_true",
                    help="time box: bvse from the cache only (2 s per uncached structure, "
                    "then an error row), default against default+bvse on the rows that have "
                    "bvse, own folds; OUT/evaluation_bvse_subset.csv")
    ap.add_argument("--report", action="store_true", help="only write evaluation.md")
    args = ap.parse_args()
    global BVSE_RESOLUTION_A
    BVSE_RESOLUTION_A = args.bvse_resolution_A

    out = Path(args.out)
    cache = Path(args.cache_dir) if args.cache_dir else out / ".cache"
    if args.report:
        write_report(out, args)
        return 0
    if args.bvse_grid_check:
        bvse_grid_check(out, cache)
        return 0
    if args.bvse_subset:
        bvse_subset(out, cache, args)
        return 0
    t0 = time.perf_counter()
    cifs = OBELIX / "cifs_train"
    table = pd.read_csv(OBELIX / "train.csv", dtype=str, keep_default_na=False)
    table = table[table["ID"].isin({p.stem for p in cifs.glob("*.cif")})].reset_index(drop=True)
    family = table["Family"].str.strip().replace(FAMILY_ALIASES)
    labels = pd.DataFrame({"id": table["ID"], TARGET: table[TARGET_RAW], "family": family})
    paths = [str(cifs / f"{i}.cif") for i in labels["id"]]

    tables = {g: _table(g, paths, cache, wait=False) for g in ("default", "magpie")}
    bvse_path = cache / "tables" / ("bvse.parquet" if BVSE_RESOLUTION_A == 0.2
                                    else f"bvse_{BVSE_RESOLUTION_A:g}A.parquet")
    if not args.no_bvse and (bvse_path.is_file() or not args.wait_for_bvse):
        tables["bvse"] = _table("bvse", paths, cache, wait=False)
    data = Data(labels, tables, args)
    print(f"{len(labels)} rows with CIF; {len(data.y)} usable for regression (common to all "
          f"feature sets so far); {data.n_groups} Family groups", flush=True)

    for split in SPLITS:
        run_mean_cell(out, data, split)
    # priority: random table, grouped table, learning curve; cells needing bvse wait for its
    # table (meanwhile the baseline's curve points run)
    pending = [(s, fs, m) for s in SPLITS for fs in FEATURE_SETS
               for m in (("rf",) if fs == BASELINE else MODELS_BY_COST)
               if not (args.no_bvse and "bvse" in fs)
               and (fs == BASELINE or m in args.models.split(","))]
    base_curve = [(BASELINE, "rf", f) for f in FRACTIONS]
    while pending:
        if not args.no_bvse and "bvse" not in tables and bvse_path.is_file():
            tables["bvse"] = _table("bvse", paths, cache, wait=False)
            data = Data(labels, tables, args)
        ready = [c for c in pending if "bvse" in tables or "bvse" not in c[1]]
        if ready:
            run_cell(out, data, *ready[0])
            pending.remove(ready[0])
        elif base_curve:
            run_curve_point(out, data, *base_curve.pop(0))
        else:
            print("waiting for the bvse table ...", flush=True)
            time.sleep(60)
    fs, model = _curve_choice(out, args)
    for name, m in ((fs, model), (BASELINE, "rf")):
        for frac in FRACTIONS:
            run_curve_point(out, data, name, m, frac)
    print(f"total wall time {time.perf_counter() - t0:.0f} s", flush=True)
    write_report(out, args)
    return 0


def _table(group: str, paths: list[str], cache: Path, *, wait: bool) -> pd.DataFrame:
    """The feature table of one group: from ``cache/tables`` or featurized (and stored)."""
    from mlkit.features import FeaturizationSettings, featurize_paths, write_table

    coarse = group == "bvse" and BVSE_RESOLUTION_A != 0.2
    path = cache / "tables" / (f"bvse_{BVSE_RESOLUTION_A:g}A.parquet" if coarse
                               else f"{group}.parquet")
    while wait and not path.is_file():
        time.sleep(60)
    if not path.is_file():
        t = time.perf_counter()
        params = {"bvse": {"resolution_A": BVSE_RESOLUTION_A}} if coarse else {}
        settings = FeaturizationSettings(featurizers=(group,), mobile_ion="Li",
                                         featurizer_params=params)
        df = featurize_paths(paths, settings, n_jobs=1, cache_dir=cache / "features",
                             progress=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_table(df, path)
        print(f"featurized {group}: {time.perf_counter() - t:.0f} s", flush=True)
    df = pd.read_parquet(path)
    df["id"] = df["id"].astype(str)
    return df


class Data:
    """Rows, target, groups and the common outer folds of both split types."""

    def __init__(self, labels: pd.DataFrame, tables: dict[str, pd.DataFrame], args) -> None:
        from mlkit.models.dataset import LabelPolicy, build_training_table, load_groups
        from mlkit.models.nested_cv import outer_splits

        self.args = args
        self.tables = tables
        policy = LabelPolicy(TARGET, target_transform="log10", feature_errors="keep-partial")
        rows = None
        self.reports = {}
        for fs, groups in FEATURE_SETS.items():
            if not all(g in tables for g in groups):
                continue
            X, y, report = build_training_table(self.joined(groups), labels, policy)
            self.reports[fs] = report
            rows = list(y.index) if rows is None else [i for i in rows if i in set(y.index)]
        self.y = y.loc[rows]
        self.report = self.reports["default"]
        # the folds of earlier cells must stay valid: the row set is fixed by the first run
        fixed = Path(args.out) / "evaluation_rows.txt"
        if fixed.is_file():
            if fixed.read_text().split() != rows:
                raise SystemExit(f"{fixed}: the common rows changed; remove the result CSVs")
        else:
            fixed.parent.mkdir(parents=True, exist_ok=True)
            fixed.write_text("\n".join(rows) + "\n")
        self.groups = load_groups(labels, "family", rows)
        self.n_groups = int(self.groups.nunique())
        self.folds = {
            "random": outer_splits(self.y, "regression", args.outer_folds, args.seed),
            "grouped": outer_splits(self.y, "regression", args.outer_folds, args.seed,
                                    groups=self.groups.to_numpy()),
        }
        self.labels, self.policy = labels, policy

    def joined(self, groups: tuple[str, ...]) -> pd.DataFrame:
        """One table of the given groups, joined on id (errors joined with '; ')."""
        base = self.tables[groups[0]].set_index("id")
        parts, errors = [base], [base["error"].fillna("")]
        for g in groups[1:]:
            t = self.tables[g].set_index("id").loc[base.index]
            errors.append(t["error"].fillna(""))
            parts.append(t.drop(columns=[c for c in META if c in t.columns]))
        df = pd.concat(parts, axis=1)
        df["error"] = ["; ".join(e for e in errs if e) for errs in zip(*errors, strict=True)]
        return df.reset_index()

    def joined_subset(self, groups: tuple[str, ...]) -> pd.DataFrame:
        """Like :meth:`joined`, on the ids present in every table of ``groups``."""
        ids = set.intersection(*(set(self.tables[g]["id"]) for g in groups))
        keep = {g: t[t["id"].isin(ids)] for g, t in self.tables.items()}
        saved, self.tables = self.tables, keep
        try:
            return self.joined(groups)
        finally:
            self.tables = saved

    def matrix(self, fs: str) -> pd.DataFrame:
        """Model inputs of a feature set on the common rows, label-free filters applied."""
        from mlkit.models.dataset import build_training_table
        from mlkit.models.trainer import Trainer

        groups = FEATURE_SETS[fs]
        X, _, _ = build_training_table(self.joined(groups), self.labels, self.policy)
        X = X.loc[self.y.index]
        if fs == BASELINE:  # composition only: no structure-derived metadata column
            X = X[[c for c in X.columns if c.startswith("magpie_")]]
        t = Trainer()
        t.notes_ = []
        return t.prepare(X, fit=True)


def run_cell(out: Path, data: Data, split: str, fs: str, model: str) -> None:
    """Nested CV of one (split, feature set, model) cell; appended to the CSVs when done."""
    from mlkit.models.nested_cv import nested_cv

    cells_csv, folds_csv = out / "evaluation_cells.csv", out / "evaluation_folds.csv"
    if _done(cells_csv, split=split, feature_set=fs, model=model):
        return
    X = data.matrix(fs)
    t = time.perf_counter()
    res = nested_cv(X, data.y, model, "regression", folds=data.folds[split],
                    groups=data.groups.to_numpy() if split == "grouped" else None,
                    n_trials=data.args.n_trials, seed=data.args.seed, progress=False)
    wall = time.perf_counter() - t
    s = res.summary()
    row = {"split": split, "feature_set": fs, "model": model, "n_rows": len(X),
           "n_features": X.shape[1], "n_trials": data.args.n_trials,
           **{k: s[k] for k in ("mae_mean", "mae_std", "rmse_mean", "rmse_std", "r2_mean",
                                "r2_std", "spearman_mean", "spearman_std")},
           "wall_s": round(wall, 1)}
    folds = res.fold_metrics.reset_index().assign(
        split=split, feature_set=fs, model=model,
        n_test=[len(test) for _, test in data.folds[split]])
    _append(folds_csv, folds)
    _append(cells_csv, pd.DataFrame([row]))
    print(f"{split:8s} {fs:24s} {model:9s} MAE {s['mae_mean']:.3f} +- {s['mae_std']:.3f} "
          f"({X.shape[1]} features, {wall:.0f} s)", flush=True)


def run_mean_cell(out: Path, data: Data, split: str) -> None:
    """The no-skill reference: predict the mean of the training part of each outer fold."""
    cells_csv = out / "evaluation_cells.csv"
    if _done(cells_csv, split=split, feature_set=NO_FEATURES, model="mean"):
        return
    y = data.y.to_numpy()
    mae = np.array([np.abs(y[test] - y[trval].mean()).mean()
                    for trval, test in data.folds[split]])
    row = {"split": split, "feature_set": NO_FEATURES, "model": "mean", "n_rows": len(y),
           "n_features": 0, "n_trials": data.args.n_trials, "mae_mean": mae.mean(),
           "mae_std": mae.std(), "wall_s": 0.0}
    _append(cells_csv, pd.DataFrame([row]))


def run_curve_point(out: Path, data: Data, fs: str, model: str, frac: float) -> None:
    """One learning-curve point: every random outer fold, its training part subsampled."""
    from mlkit.models.nested_cv import nested_cv

    csv = out / "evaluation_learning_curve.csv"
    if _done(csv, feature_set=fs, model=model, fraction=frac):
        return
    rng = np.random.default_rng(data.args.seed)
    folds = []
    for trval, test in data.folds["random"]:
        order = rng.permutation(trval)  # nested subsets: the first n of one permutation
        folds.append((np.sort(order[: int(round(frac * len(trval)))]), test))
    X = data.matrix(fs)
    t = time.perf_counter()
    res = nested_cv(X, data.y, model, "regression", folds=folds,
                    n_trials=data.args.n_trials, seed=data.args.seed, progress=False)
    s = res.summary()
    row = {"feature_set": fs, "model": model, "fraction": frac,
           "n_train_val": int(np.mean([len(f[0]) for f in folds])),
           "mae_mean": s["mae_mean"], "mae_std": s["mae_std"],
           "wall_s": round(time.perf_counter() - t, 1)}
    _append(csv, pd.DataFrame([row]))
    print(f"curve {fs:24s} {model:9s} fraction {frac:.1f}: MAE {s['mae_mean']:.3f} "
          f"+- {s['mae_std']:.3f}", flush=True)


def bvse_subset(out: Path, cache: Path, args) -> None:
    """default against default+bvse on the rows whose bvse row is in the cache (time box).

    Own random and grouped folds on that subset (same folds for both sets); models
    logreg, lightgbm, xgboost (rf left out for time). Rows: ``evaluation_bvse_subset.csv``.
    """
    from mlkit.features import FeaturizationSettings, featurize_paths
    from mlkit.models.dataset import build_training_table, load_groups
    from mlkit.models.nested_cv import nested_cv, outer_splits
    from mlkit.models.trainer import Trainer

    cifs = OBELIX / "cifs_train"
    table = pd.read_csv(OBELIX / "train.csv", dtype=str, keep_default_na=False)
    table = table[table["ID"].isin({p.stem for p in cifs.glob("*.cif")})]
    labels = pd.DataFrame({"id": table["ID"], TARGET: table[TARGET_RAW],
                           "family": table["Family"].str.strip().replace(FAMILY_ALIASES)})
    paths = [str(cifs / f"{i}.cif") for i in labels["id"]]
    t = time.perf_counter()
    bvse = featurize_paths(paths, FeaturizationSettings(
        featurizers=("bvse",), mobile_ion="Li",
        featurizer_params={"bvse": {"resolution_A": BVSE_RESOLUTION_A}}),
        cache_dir=cache / "features", progress=False, time_limit_s=2.0)
    cut = bvse["error"].str.contains("time limit")
    print(f"bvse rows from the cache: {int((~cut).sum())} of {len(bvse)} "
          f"({time.perf_counter() - t:.0f} s)", flush=True)
    tables = {"default": _table("default", paths, cache, wait=False), "bvse": bvse[~cut]}
    data = Data.__new__(Data)
    data.tables = tables
    policy_rows = None
    mats = {}
    for fs in ("default", "default+bvse"):
        X, y, _ = build_training_table(data.joined_subset(FEATURE_SETS[fs]), labels,
                                       _policy())
        mats[fs] = (X, y)
        policy_rows = list(y.index) if policy_rows is None else [
            i for i in policy_rows if i in set(y.index)]
    y = mats["default"][1].loc[policy_rows]
    groups = load_groups(labels, "family", policy_rows).to_numpy()
    folds = {"random": outer_splits(y, "regression", args.outer_folds, args.seed),
             "grouped": outer_splits(y, "regression", args.outer_folds, args.seed,
                                     groups=groups)}
    csv = out / "evaluation_bvse_subset.csv"
    for split in SPLITS:
        for model in ("logreg", "lightgbm", "xgboost"):
            for fs in ("default", "default+bvse"):
                if _done(csv, split=split, feature_set=fs, model=model):
                    continue
                tr = Trainer()
                tr.notes_ = []
                X = tr.prepare(mats[fs][0].loc[policy_rows], fit=True)
                t = time.perf_counter()
                res = nested_cv(X, y, model, "regression", folds=folds[split],
                                groups=groups if split == "grouped" else None,
                                n_trials=args.n_trials, seed=args.seed, progress=False)
                _append(out / "evaluation_bvse_subset_folds.csv",
                        res.fold_metrics.reset_index().assign(split=split, feature_set=fs,
                                                              model=model))
                _append(csv, pd.DataFrame([{
                    "split": split, "feature_set": fs, "model": model, "n_rows": len(y),
                    "n_features": X.shape[1], "mae_mean": res.mean["mae"],
                    "mae_std": res.std["mae"], "wall_s": round(time.perf_counter() - t, 1)}]))
                print(f"subset {split:8s} {fs:14s} {model:9s} MAE {res.mean['mae']:.3f} "
                      f"({len(y)} rows)", flush=True)


def _policy():
    from mlkit.models.dataset import LabelPolicy

    return LabelPolicy(TARGET, target_transform="log10", feature_errors="keep-partial")


def bvse_grid_check(out: Path, cache: Path) -> pd.DataFrame:
    """bvse features at ``BVSE_RESOLUTION_A`` against the default 0.2 A grid.

    The structures are those of ``OUT/evaluation_bvse_grid_ids.txt`` (the ones finished at
    0.2 A before the run was time-boxed; their 0.2 A rows come from the feature cache).
    Writes ``OUT/evaluation_bvse_grid_check.csv`` (one row per feature).
    """
    from scipy.stats import spearmanr

    from mlkit.features import FeaturizationSettings, featurize_paths

    ids = (out / "evaluation_bvse_grid_ids.txt").read_text().split()
    paths = [str(OBELIX / "cifs_train" / f"{i}.cif") for i in ids]
    fine = featurize_paths(paths, FeaturizationSettings(featurizers=("bvse",),
                                                        mobile_ion="Li"),
                           cache_dir=cache / "features", progress=False).set_index("id")
    coarse = _table("bvse", paths, cache, wait=False).set_index("id").loc[fine.index]
    rows = []
    for col in [c for c in fine.columns if c.startswith("bvse_")]:
        a, b = fine[col].astype(float), coarse[col].astype(float)
        ok = a.notna() & b.notna()
        rows.append({"feature": col, "n": int(ok.sum()),
                     "median_fine": float(a[ok].median()),
                     "median_coarse": float(b[ok].median()),
                     "mean_abs_diff": float((a[ok] - b[ok]).abs().mean()),
                     "median_diff_coarse_minus_fine": float((b[ok] - a[ok]).median()),
                     "spearman": float(spearmanr(a[ok], b[ok]).statistic) if ok.sum() > 2
                     else float("nan"),
                     "n_equal": int((a[ok] == b[ok]).sum())})
    df = pd.DataFrame(rows)
    df.to_csv(out / "evaluation_bvse_grid_check.csv", index=False)
    print(f"bvse {BVSE_RESOLUTION_A:g} A against 0.2 A on {len(ids)} structures "
          f"({int(fine['error'].ne('').sum())} error rows at 0.2 A):")
    print(df.to_string(index=False), flush=True)
    return df


def _done(csv: Path, **key) -> bool:
    if not csv.is_file():
        return False
    df = pd.read_csv(csv)
    mask = np.ones(len(df), dtype=bool)
    for k, v in key.items():
        mask &= (np.isclose(df[k], v) if isinstance(v, float) else df[k].astype(str) == str(v))
    return bool(mask.any())


def _append(csv: Path, df: pd.DataFrame) -> None:
    """Append rows, in the column order of the file's header (missing columns empty)."""
    if csv.is_file():
        df = df.reindex(columns=pd.read_csv(csv, nrows=0).columns)
    df.to_csv(csv, mode="a", header=not csv.is_file(), index=False)


def paired(out: Path, split: str, fs: str, model: str, ref: str = "default"):
    """Mean and standard error of the per-fold MAE difference ``fs - ref`` (same folds)."""
    folds = pd.read_csv(out / "evaluation_folds.csv")
    sel = folds[(folds["split"] == split) & (folds["model"] == model)]
    a = sel[sel["feature_set"] == fs].set_index("fold")["mae"]
    b = sel[sel["feature_set"] == ref].set_index("fold")["mae"]
    if a.empty or b.empty:
        return float("nan"), float("nan")
    d = (a - b).dropna()
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def _curve_choice(out: Path, args) -> tuple[str, str]:
    """The chosen default: ``--curve``, else the rule of :func:`choose_default`."""
    if args.curve:
        fs, model = args.curve.split(":")
        return fs, model
    return choose_default(out)[:2]


def choose_default(out: Path) -> tuple[str, str, str]:
    """(feature set, model, why): the cheapest feature set not worse than the best.

    Rule: the best model of the plain ``default`` set on random folds; a larger feature
    set replaces it only when its best model beats that by more than two standard errors
    of the paired per-fold difference on random *and* is not worse on grouped folds.
    """
    cells = pd.read_csv(out / "evaluation_cells.csv")
    rnd = cells[cells["split"] == "random"]
    base = rnd[rnd["feature_set"] == "default"].sort_values("mae_mean").iloc[0]
    choice, why = ("default", base["model"]), "no larger feature set is better beyond noise"
    best_gain = 0.0
    for fs in ("default+magpie", "default+bvse", "default+bvse+magpie"):
        sub = rnd[rnd["feature_set"] == fs]
        if sub.empty:
            continue
        row = sub.sort_values("mae_mean").iloc[0]
        d, se = paired(out, "random", fs, base["model"])
        dg, _ = paired(out, "grouped", fs, base["model"])
        gain = base["mae_mean"] - row["mae_mean"]
        if d < -2 * se and not dg > 0 and gain > best_gain:
            choice, best_gain = (fs, row["model"]), gain
            why = (f"{fs} lowers the random-fold MAE by {gain:.3f} (paired difference "
                   f"{d:+.3f} +- {se:.3f} with {base['model']})")
    return choice[0], choice[1], why


def write_report(out: Path, args) -> None:
    """``evaluation.md`` and the learning-curve figure from the result CSVs."""
    cells_csv = out / "evaluation_cells.csv"
    if not cells_csv.is_file():
        print("no cells yet", flush=True)
        return
    cells = pd.read_csv(cells_csv)
    lines = ["# OBELiX: honest evaluation (grouped CV, feature sets, learning curve)", "",
             "Command: `nice -n 5 python experiments/obelix_evaluation.py --wait-for-bvse"
             + ("" if BVSE_RESOLUTION_A == 0.2 else f" --bvse-resolution-A {BVSE_RESOLUTION_A:g}")
             + "` "
             f"({int(cells['n_trials'].iloc[0])} Optuna trials per fold, "
             f"{args.outer_folds} outer folds, seed {args.seed}, one process; "
             "`--report` rewrites this page from the CSVs).  ",
             f"Rows: {int(cells['n_rows'].iloc[0])} OBELiX training structures with a CIF "
             "and an uncensored conductivity (28 censored `<1E-10`/`<1E-8` dropped), the same "
             "rows and the same outer folds for every feature set and model within a split "
             "type. Target log10 sigma (S/cm); MAE in log10 units, mean +- std over the outer "
             "folds. Grouped folds: whole `Family` groups per test fold (40 groups: 12 rows "
             "without a family are one group each; `argyrodite`, `cholorides`, `nitride` "
             "merged into `argyrodites`, `chlorides`, `nitrides`), test folds of 16-42 rows; "
             "the inner train/validation split is by family too.",
             "", "Feature sets: `default` = the five core groups; `+bvse` = bvlain BVSE "
             f"percolation barriers (grid {BVSE_RESOLUTION_A:g} A"
             + ("" if BVSE_RESOLUTION_A == 0.2 else "; the group's default is 0.2 A, see "
                "the bvse section below") + "); `+magpie` = Magpie composition statistics; "
             "baseline = "
             "random forest on Magpie composition features only. `n features` = columns left "
             "after the label-free filters (constant, |r| > 0.9).", ""]
    for split in SPLITS:
        sub = cells[cells["split"] == split]
        if sub.empty:
            continue
        lines += [f"## MAE, {split} folds", "",
                  "| feature set | n features | " + " | ".join(MODELS) + " |",
                  "|---|---|" + "---|" * len(MODELS)]
        for fs in FEATURE_SETS:
            r = sub[sub["feature_set"] == fs].set_index("model")
            if r.empty:
                continue
            vals = [f"{r.loc[m, 'mae_mean']:.3f} +- {r.loc[m, 'mae_std']:.3f}" if m in r.index
                    else "" for m in MODELS]
            lines.append(f"| {fs} | {int(r['n_features'].iloc[0])} | " + " | ".join(vals) + " |")
        ref = sub[sub["feature_set"] == NO_FEATURES]
        if not ref.empty:
            lines += ["", f"No-skill reference (each outer fold's training mean as the "
                      f"prediction): MAE {ref['mae_mean'].iloc[0]:.3f} +- "
                      f"{ref['mae_std'].iloc[0]:.3f}."]
        w = sub.loc[sub["model"] != "mean", "wall_s"]
        lines += ["", f"Wall time of the {split} cells: {w.sum():.0f} s "
                  f"(per cell {w.min():.0f}-{w.max():.0f} s; one process at nice 5 on 2 "
                  "cores shared with an MD campaign at higher priority).", ""]
    lines += _paired_section(out, cells)
    lines += _curve_section(out)
    lines += _choice_section(out, cells)
    lines += _subset_section(out)
    lines += _grid_section(out)
    lines += _featurize_times(out, args)
    (out / "evaluation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def _paired_section(out: Path, cells: pd.DataFrame) -> list[str]:
    """Per-fold MAE differences of each larger set against ``default`` (same folds)."""
    lines = ["## Feature sets against `default`: paired per-fold MAE difference", "",
             "Mean over the outer folds of MAE(set) - MAE(default), same model and folds, "
             "+- its standard error (negative = the set helps). Beyond noise means |mean| > "
             "2 SE.", "", "| split | feature set | " + " | ".join(MODELS) + " |",
             "|---|---|" + "---|" * len(MODELS)]
    for split in SPLITS:
        for fs in ("default+bvse", "default+magpie", "default+bvse+magpie", BASELINE):
            vals = []
            for m in MODELS:
                d, se = paired(out, split, fs, m)
                vals.append("" if np.isnan(d) else f"{d:+.3f} +- {se:.3f}")
            if any(vals):
                lines.append(f"| {split} | {fs} | " + " | ".join(vals) + " |")
    lines += ["", "Baseline rows compare the composition-only forest (rf) with each model on "
              "`default` only where the model is rf.", ""]
    gap = []
    for fs in FEATURE_SETS:
        for m in MODELS:
            r = cells[(cells["feature_set"] == fs) & (cells["model"] == m)].set_index("split")
            if {"random", "grouped"} <= set(r.index):
                gap.append(f"| {fs} | {m} | {r.loc['random', 'mae_mean']:.3f} | "
                           f"{r.loc['grouped', 'mae_mean']:.3f} | "
                           f"{r.loc['grouped', 'mae_mean'] - r.loc['random', 'mae_mean']:+.3f} |")
    if gap:
        lines += ["## Random against grouped folds (memorised chemistry)", "",
                  "| feature set | model | MAE random | MAE grouped | grouped - random |",
                  "|---|---|---|---|---|", *gap, ""]
    return lines


def _curve_section(out: Path) -> list[str]:
    csv = out / "evaluation_learning_curve.csv"
    if not csv.is_file():
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = pd.read_csv(csv)
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    lines = ["## Learning curve (random folds)", "",
             "Per outer fold the training part (train + validation, ~203 rows) is subsampled "
             "(seeded, nested subsets) and the full test fold is scored.", "",
             "| feature set | model | fraction | training rows | MAE | wall s |",
             "|---|---|---|---|---|---|"]
    for (fs, m), sub in curve.groupby(["feature_set", "model"], sort=False):
        sub = sub.sort_values("fraction")
        ax.errorbar(sub["n_train_val"], sub["mae_mean"], yerr=sub["mae_std"], marker="o",
                    capsize=3, label=f"{fs}, {m}")
        for _, r in sub.iterrows():
            lines.append(f"| {fs} | {m} | {r['fraction']:.1f} | {int(r['n_train_val'])} | "
                         f"{r['mae_mean']:.3f} +- {r['mae_std']:.3f} | {r['wall_s']:.0f} |")
    ax.set_xlabel("training rows (train + validation) per outer fold")
    ax.set_ylabel("MAE of log10 sigma (S/cm)")
    ax.set_title("OBELiX, nested 10-fold CV (random folds)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "evaluation_learning_curve.png", dpi=130)
    plt.close(fig)
    return [*lines, "", "![learning curve](evaluation_learning_curve.png)", ""]


def _choice_section(out: Path, cells: pd.DataFrame) -> list[str]:
    if not {"random", "grouped"} <= set(cells["split"]):
        return []
    fs, model, why = choose_default(out)
    return ["## Chosen default", "",
            "Rule (`choose_default`): the best model of `default` on random folds; a larger "
            "feature set replaces it only when it beats it by more than 2 SE of the paired "
            "per-fold difference on random folds and is not worse on grouped folds.  ",
            f"Result: **{fs}, {model}** -- {why}.", ""]


def _subset_section(out: Path) -> list[str]:
    csv = out / "evaluation_bvse_subset.csv"
    if not csv.is_file():
        return []
    cells = pd.read_csv(csv)
    folds = pd.read_csv(out / "evaluation_bvse_subset_folds.csv")
    lines = [f"## default against default+bvse (bvse grid {BVSE_RESOLUTION_A:g} A)", "",
             f"`--bvse-subset`: the {int(cells['n_rows'].iloc[0])} rows whose bvse row was "
             "finished when the time box closed, their own random and grouped folds (the "
             "same for both sets), models without rf (time). Paired difference = mean over "
             "folds of MAE(default+bvse) - MAE(default) +- its standard error.", "",
             "| split | model | MAE default | MAE default+bvse | paired difference |",
             "|---|---|---|---|---|"]
    for (split, model), sub in cells.groupby(["split", "model"], sort=False):
        r = sub.set_index("feature_set")
        if not {"default", "default+bvse"} <= set(r.index):
            continue
        f = folds[(folds["split"] == split) & (folds["model"] == model)]
        a = f[f["feature_set"] == "default+bvse"].set_index("fold")["mae"]
        b = f[f["feature_set"] == "default"].set_index("fold")["mae"]
        d = a - b
        lines.append(f"| {split} | {model} | {r.loc['default', 'mae_mean']:.3f} +- "
                     f"{r.loc['default', 'mae_std']:.3f} | "
                     f"{r.loc['default+bvse', 'mae_mean']:.3f} +- "
                     f"{r.loc['default+bvse', 'mae_std']:.3f} | {d.mean():+.3f} +- "
                     f"{d.std(ddof=1) / np.sqrt(len(d)):.3f} |")
    lines += ["", f"Wall time of these cells: {cells['wall_s'].sum():.0f} s.", ""]
    return lines


def _grid_section(out: Path) -> list[str]:
    csv = out / "evaluation_bvse_grid_check.csv"
    if BVSE_RESOLUTION_A == 0.2 or not csv.is_file():
        return []
    df = pd.read_csv(csv)
    lines = [f"## bvse at {BVSE_RESOLUTION_A:g} A against the default 0.2 A grid", "",
             "The default grid (0.2 A) ran at ~1.5-2 structures per minute on the shared "
             "machine (65 structures in 37 min, the large garnet cells still to come): the "
             f"254 CIFs would not have finished in the time box, so the group ran at "
             f"{BVSE_RESOLUTION_A:g} A (`featurizer_params={{'bvse': {{'resolution_A': "
             f"{BVSE_RESOLUTION_A:g}}}}}`). Agreement on the 65 structures done at both "
             "(`--bvse-grid-check`, `evaluation_bvse_grid_check.csv`):", "",
             "| feature | n | median 0.2 A | median coarse | mean abs diff | median diff "
             "(coarse - 0.2) | Spearman |", "|---|---|---|---|---|---|---|"]
    for _, r in df.iterrows():
        lines.append(f"| {r['feature']} | {int(r['n'])} | {r['median_fine']:.3f} | "
                     f"{r['median_coarse']:.3f} | {r['mean_abs_diff']:.3f} | "
                     f"{r['median_diff_coarse_minus_fine']:+.3f} | {r['spearman']:.3f} |")
    return [*lines, ""]


def _featurize_times(out: Path, args) -> list[str]:
    cache = Path(args.cache_dir) if getattr(args, "cache_dir", None) else out / ".cache"
    lines = []
    for g in (*GROUPS, "bvse_0.4A"):
        log = cache / f"{g}_featurize.log"
        if log.is_file():
            last = [x for x in log.read_text().splitlines() if x.startswith("featurized")]
            if last:
                lines.append(f"- `{g}`: {last[-1].split(' -> ', 1)[-1]}")
    if not lines:
        return []
    return ["## Featurization wall time (254 CIFs, one process, nice 5, shared cores)", "",
            "`mlkit featurize cifs_train --featurizers GROUP --mobile-ion Li --cache-dir ...`:",
            "", *lines, ""]


if __name__ == "__main__":
    sys.exit(main())
