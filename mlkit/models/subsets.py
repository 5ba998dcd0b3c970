"""Exhaustive feature-subset search (every subset of the features, inside k-fold CV).

The rotation paper fits a logistic regression on each of the 2**19 - 1 = 524,287
subsets of its 19 features inside 10-fold CV.  :func:`exhaustive_subset_search`
does the same in well under a minute on two cores:

* folds: ``StratifiedKFold(cv, shuffle=True, random_state=seed)`` on ``(X, y)``;
  each fold's training rows are standardised with ``StandardScaler`` fitted on
  that training part only (test rows use the training mean/scale);
* objective: exactly scikit-learn's ``LogisticRegression(C=C)`` (L2 penalty on the
  coefficients, unpenalised intercept), solved to ``max|grad| / n <= tol``
  (default ``1e-10``, scikit-learn's ``gtol`` scale) by a fused float64 Newton
  kernel (:mod:`mlkit.models._irls`);
* enumeration: subsets are grouped in *chunks* sharing their high bits; inside a
  chunk the low features are visited depth first and every subset is
  warm-started from its parent (3-4 Newton steps instead of ~7);
* execution: chunks are tasks - on a local thread pool (``n_jobs``; the kernel
  releases the GIL) or on Dask distributed (``dask_client``) - each chunk writes
  one parquet file into ``checkpoint_dir`` so an interrupted search resumes.

Random forest, XGBoost, LightGBM (or any scikit-learn classifier) go through a
generic, much slower path: a joblib-parallel loop of ``fit``/``predict`` over the
same chunks and folds, with the same output table.

Output table (one row per subset): ``bitmask`` (uint32 for <= 32 features, else
uint64; bit ``j`` = feature ``j`` in column order), ``n_features``, and the mean and
standard deviation (``ddof=0``, like ``numpy.std``) over folds of ``f1``,
``accuracy`` and ``roc_auc`` of the test folds, plus ``n_iter_max`` (largest Newton
iteration count over folds, ``-1`` if a fold did not converge; 0 for the generic
path) and ``converged``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError

METRICS = ("f1", "accuracy", "roc_auc")
ESTIMATORS = ("logreg", "logreg_sklearn", "rf", "xgb", "lgbm")
DEFAULT_CHUNK_LOGREG = 8192
DEFAULT_CHUNK_GENERIC = 256
MAX_FEATURES_SUPPORTED = 63
MAX_SUBSETS = 2**34  # 1.7e10 subsets (~200 CPU-hours here); the chunk list stays small
_HIST_BINS = 1000  # per-size histogram of the mean metric (for the curve's quantiles)
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- data
@dataclass
class FoldData:
    """Fold-standardised arrays shared by all chunk tasks (picklable, ~100 kB here).

    Attributes
    ----------
    Xtr : ndarray of shape (n_folds, n_features + 1, n_train_max)
        Standardised training features, one row per feature, row ``n_features`` = 1.
    ytr : ndarray of shape (n_folds, n_train_max)
    ntr : ndarray of int64, shape (n_folds,)
    Xte, yte, nte : same for the test folds (standardised with the training scaler).
    train_index, test_index : list of ndarray
        Row positions of each fold in the input.
    Xs_raw : ndarray of shape (n_samples, n_features)
        The raw features (for the generic path, which scales inside each fold itself).
    y01 : ndarray of shape (n_samples,)
    """

    Xtr: np.ndarray
    ytr: np.ndarray
    ntr: np.ndarray
    Xte: np.ndarray
    yte: np.ndarray
    nte: np.ndarray
    train_index: list[np.ndarray]
    test_index: list[np.ndarray]
    X_raw: np.ndarray
    y01: np.ndarray

    @property
    def n_folds(self) -> int:
        return int(self.Xtr.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.Xtr.shape[1] - 1)


def _validate_xy(
    X, y, *, cv: int, source: str = "input"
) -> tuple[np.ndarray, np.ndarray, list[str], list]:
    """Check and convert ``X``/``y``; return float X, 0/1 y, feature names and the two classes."""
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        bad = [
            c
            for c in X.columns
            if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
        ]
        if bad:
            raise MlkitError(
                f"{source}: non-numeric feature column(s) {', '.join(map(str, bad[:5]))}; "
                "encode or drop them first"
            )
        Xa = X.to_numpy(dtype=float)
    else:
        Xa = np.asarray(X, dtype=float)
        if Xa.ndim != 2:
            raise MlkitError(
                f"{source}: X must be 2-D (n_samples, n_features), got shape {Xa.shape}"
            )
        names = [f"x{j}" for j in range(Xa.shape[1])]
    n, p = Xa.shape
    if p == 0:
        raise MlkitError(f"{source}: no feature columns")
    if p > MAX_FEATURES_SUPPORTED:
        raise MlkitError(
            f"{source}: {p} features; the exhaustive search supports "
            f"at most {MAX_FEATURES_SUPPORTED}"
        )
    bad_cols = [names[j] for j in np.flatnonzero(~np.isfinite(Xa).all(axis=0))]
    if bad_cols:
        n_bad = int((~np.isfinite(Xa)).sum())
        raise MlkitError(
            f"{source}: {n_bad} NaN/inf feature value(s) in column(s) {', '.join(bad_cols[:5])}"
            + (" ..." if len(bad_cols) > 5 else "")
            + "; impute or drop them before the subset search"
        )
    ys = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y.to_numpy())
    if len(ys) != n:
        raise MlkitError(f"{source}: X has {n} rows but y has {len(ys)}")
    if ys.isna().any():
        raise MlkitError(f"{source}: {int(ys.isna().sum())} missing target value(s)")
    classes = sorted(ys.unique().tolist())
    if len(classes) != 2:
        shown = ", ".join(map(str, classes[:6])) + (" ..." if len(classes) > 6 else "")
        raise MlkitError(
            f"{source}: the subset search needs a binary target (two classes), "
            f"got {len(classes)}: {shown}"
        )
    y01 = (ys.to_numpy() == classes[1]).astype(float)
    counts = {classes[0]: int((y01 == 0).sum()), classes[1]: int((y01 == 1).sum())}
    small = {c: k for c, k in counts.items() if k < cv}
    if small:
        shown = ", ".join(f"{c!r} ({k} member{'s' if k != 1 else ''})" for c, k in small.items())
        raise MlkitError(
            f"{source}: class(es) {shown} too small for stratified {cv}-fold CV "
            f"(need >= {cv} per class)"
        )
    if cv < 2:
        raise MlkitError(f"cv must be >= 2, got {cv}")
    return Xa, y01, names, classes


def make_folds(X, y, *, cv: int = 10, seed: int = 0) -> FoldData:
    """Stratified shuffled folds and per-fold standardised arrays.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), binary
    cv : int
        Number of folds of ``StratifiedKFold(cv, shuffle=True, random_state=seed)``.
    seed : int

    Returns
    -------
    FoldData
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    Xa, y01, _, _ = _validate_xy(X, y, cv=cv)
    n, p = Xa.shape
    splits = list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(Xa, y01))
    # pad the sample axis to a multiple of 32 with zero columns (intercept row included):
    # padded samples contribute exactly 0 and the kernel's vector loops need no scalar tail
    ntr_max = -(-max(len(a) for a, _ in splits) // 32) * 32
    nte_max = max(len(b) for _, b in splits)
    F = len(splits)
    Xtr = np.zeros((F, p + 1, ntr_max))
    Xte = np.zeros((F, p + 1, nte_max))
    ytr = np.zeros((F, ntr_max))
    yte = np.zeros((F, nte_max))
    for f, (a, b) in enumerate(splits):
        scaler = StandardScaler().fit(Xa[a])
        Xtr[f, :p, : len(a)] = scaler.transform(Xa[a]).T
        Xtr[f, p, : len(a)] = 1.0
        Xte[f, :p, : len(b)] = scaler.transform(Xa[b]).T
        Xte[f, p, : len(b)] = 1.0
        ytr[f, : len(a)] = y01[a]
        yte[f, : len(b)] = y01[b]
    return FoldData(
        Xtr=Xtr,
        ytr=ytr,
        ntr=np.array([len(a) for a, _ in splits], np.int64),
        Xte=Xte,
        yte=yte,
        nte=np.array([len(b) for _, b in splits], np.int64),
        train_index=[a for a, _ in splits],
        test_index=[b for _, b in splits],
        X_raw=Xa,
        y01=y01,
    )


# --------------------------------------------------------------------------- chunks
def _n_low(p: int, chunk_size: int) -> int:
    if chunk_size < 1 or chunk_size & (chunk_size - 1):
        raise MlkitError(f"chunk_size must be a power of two, got {chunk_size}")
    return min(p, int(math.log2(chunk_size)))


def _chunk_ids(p: int, n_low: int, max_k: int) -> list[int]:
    """Chunk ids (high-bit patterns) with at most ``max_k`` bits, ascending."""
    from itertools import combinations

    h = p - n_low
    ids = [
        sum(1 << j for j in combo)
        for k in range(min(max_k, h) + 1)
        for combo in combinations(range(h), k)
    ]
    return sorted(ids)


def _popcount(masks: np.ndarray) -> np.ndarray:
    m = masks.astype(np.uint64)
    counts = np.zeros(m.shape, np.uint8)
    for j in range(64):
        counts += ((m >> np.uint64(j)) & np.uint64(1)).astype(np.uint8)
    return counts


def _mask_dtype(p: int):
    return np.uint32 if p <= 32 else np.uint64


def _chunk_masks(chunk_id: int, p: int, n_low: int, max_k: int) -> np.ndarray:
    """All fitted bitmasks of a chunk, ascending (global masks, int64)."""
    local = np.arange(1 << n_low, dtype=np.int64)
    masks = (np.int64(chunk_id) << np.int64(n_low)) | local
    masks = masks[masks > 0]
    return masks[_popcount(masks) <= max_k]


def _aggregate(chunk_id: int, p: int, n_low: int, max_k: int, f1, acc, auc, iters) -> pd.DataFrame:
    """Per-fold arrays of shape (n_folds, 2**n_low) -> chunk table rows."""
    masks = _chunk_masks(chunk_id, p, n_low, max_k)
    local = (masks & ((1 << n_low) - 1)).astype(np.int64)
    it = iters[:, local]
    frame = {
        "bitmask": masks.astype(_mask_dtype(p)),
        "n_features": _popcount(masks),
    }
    for name, arr in (("f1", f1), ("accuracy", acc), ("roc_auc", auc)):
        vals = arr[:, local]
        frame[f"{name}_mean"] = vals.mean(axis=0)
        frame[f"{name}_std"] = vals.std(axis=0)
    frame["n_iter_max"] = np.where((it < 0).any(axis=0), -1, it.max(axis=0)).astype(np.int16)
    frame["converged"] = (it >= 0).all(axis=0)
    return pd.DataFrame(frame)


def _logreg_chunk_arrays(
    data: FoldData,
    chunk_id: int,
    n_low: int,
    max_k: int,
    C: float,
    tol: float,
    max_iter: int,
    record_local: np.ndarray | None = None,
):
    """Run the Newton kernel for one chunk on every fold.

    Returns per-fold arrays f1, acc, auc, iters of shape (n_folds, 2**n_low) and, when
    ``record_local`` (local masks) is given, coefficients (n_rec, n_folds, p + 1) and
    test decision values (n_rec, n_folds, n_te_max).
    """
    from mlkit.models._irls import fold_chunk_search

    p = data.n_features
    F = data.n_folds
    M = 1 << n_low
    base = np.array([j for j in range(n_low, p) if (chunk_id >> (j - n_low)) & 1], np.int64)
    f1 = np.full((F, M), np.nan)
    acc = np.full((F, M), np.nan)
    auc = np.full((F, M), np.nan)
    iters = np.full((F, M), -2, np.int16)
    if record_local is not None:
        slot = np.full(M, -1, np.int64)
        slot[record_local] = np.arange(len(record_local))
        coef = np.zeros((F, len(record_local), p + 1))
        dec = np.zeros((F, len(record_local), data.Xte.shape[2]))
    else:
        slot = np.zeros(1, np.int64)
        coef = np.zeros((F, 1, 1))
        dec = np.zeros((F, 1, 1))
    for f in range(F):
        fold_chunk_search(
            data.Xtr[f],
            data.ytr[f],
            int(data.ntr[f]),
            data.Xte[f],
            data.yte[f],
            int(data.nte[f]),
            base,
            n_low,
            max_k,
            1.0 / C,
            tol,
            max_iter,
            f1[f],
            acc[f],
            auc[f],
            iters[f],
            slot,
            coef[f],
            dec[f],
        )
    if record_local is not None:
        return f1, acc, auc, iters, coef.transpose(1, 0, 2), dec.transpose(1, 0, 2)
    return f1, acc, auc, iters


def _run_logreg_chunk(
    data: FoldData, chunk_id: int, n_low: int, max_k: int, C: float, tol: float, max_iter: int
) -> pd.DataFrame:
    f1, acc, auc, iters = _logreg_chunk_arrays(data, chunk_id, n_low, max_k, C, tol, max_iter)
    return _aggregate(chunk_id, data.n_features, n_low, max_k, f1, acc, auc, iters)


def _make_generic(estimator: Any, C: float, seed: int):
    from sklearn.base import clone

    if not isinstance(estimator, str):
        return clone(estimator)
    if estimator == "logreg_sklearn":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=C, tol=1e-10, max_iter=10000)
    if estimator == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    if estimator == "xgb":
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=100, random_state=seed, n_jobs=1, verbosity=0)
    if estimator == "lgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=100, random_state=seed, n_jobs=1, verbose=-1)
    raise MlkitError(
        f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)} "
        "or pass a classifier"
    )


def _run_generic_chunk(
    data: FoldData, chunk_id: int, n_low: int, max_k: int, estimator: Any, C: float, seed: int
) -> pd.DataFrame:
    """Generic path: clone/fit/predict per subset and fold (same standardised inputs)."""
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    p = data.n_features
    F = data.n_folds
    M = 1 << n_low
    proto = _make_generic(estimator, C, seed)
    f1 = np.full((F, M), np.nan)
    acc = np.full((F, M), np.nan)
    auc = np.full((F, M), np.nan)
    iters = np.full((F, M), -2, np.int16)
    for mask in _chunk_masks(chunk_id, p, n_low, max_k):
        cols = [j for j in range(p) if (int(mask) >> j) & 1]
        loc = int(mask) & (M - 1)
        for f in range(F):
            ntr, nte = int(data.ntr[f]), int(data.nte[f])
            Xtr = data.Xtr[f][cols, :ntr].T
            Xte = data.Xte[f][cols, :nte].T
            ytr = data.ytr[f, :ntr].astype(int)
            yte = data.yte[f, :nte].astype(int)
            model = clone(proto).fit(Xtr, ytr)
            pred = np.asarray(model.predict(Xte)).astype(int)
            proba = model.predict_proba(Xte)[:, 1]
            f1[f, loc] = f1_score(yte, pred, zero_division=0.0)
            acc[f, loc] = accuracy_score(yte, pred)
            auc[f, loc] = roc_auc_score(yte, proba) if 0 < yte.sum() < nte else np.nan
            iters[f, loc] = 0
    return _aggregate(chunk_id, p, n_low, max_k, f1, acc, auc, iters)


def _run_chunk(data: FoldData, chunk_id: int, spec: dict) -> pd.DataFrame:
    """One chunk task (local thread, joblib worker or Dask worker)."""
    if spec["estimator"] == "logreg":
        return _run_logreg_chunk(
            data, chunk_id, spec["n_low"], spec["max_k"], spec["C"], spec["tol"], spec["max_iter"]
        )
    return _run_generic_chunk(
        data, chunk_id, spec["n_low"], spec["max_k"], spec["estimator_obj"], spec["C"], spec["seed"]
    )


# --------------------------------------------------------------------------- streaming summary
class _Summary:
    """Streaming per-size statistics and best rows (deterministic whatever the chunk order)."""

    def __init__(self, p: int, metric: str) -> None:
        self.metric = metric
        self.count = np.zeros(p + 1, np.int64)
        self.sum = np.zeros(p + 1)
        self.sumsq = np.zeros(p + 1)
        self.hist = np.zeros((p + 1, _HIST_BINS), np.int64)
        self.best_rows: dict[int, pd.Series] = {}
        self.n_not_converged = 0
        self.n_rows = 0

    @staticmethod
    def _key(row: pd.Series, metric: str) -> tuple:
        m = row[f"{metric}_mean"]
        m = -np.inf if np.isnan(m) else m
        return (-m, row[f"{metric}_std"], int(row["bitmask"]))

    def add(self, table: pd.DataFrame) -> None:
        col = f"{self.metric}_mean"
        k = table["n_features"].to_numpy().astype(np.int64)
        v = table[col].to_numpy()
        ok = ~np.isnan(v)
        np.add.at(self.count, k[ok], 1)
        np.add.at(self.sum, k[ok], v[ok])
        np.add.at(self.sumsq, k[ok], v[ok] ** 2)
        b = np.clip((v[ok] * _HIST_BINS).astype(np.int64), 0, _HIST_BINS - 1)
        np.add.at(self.hist, (k[ok], b), 1)
        self.n_not_converged += int((~table["converged"]).sum())
        self.n_rows += len(table)
        if not len(table):
            return
        srt = table.assign(_m=table[col].fillna(-np.inf)).sort_values(
            ["n_features", "_m", f"{self.metric}_std", "bitmask"],
            ascending=[True, False, True, True],
        )
        for _, row in srt.drop_duplicates("n_features").drop(columns="_m").iterrows():
            kk = int(row["n_features"])
            old = self.best_rows.get(kk)
            if old is None or self._key(row, self.metric) < self._key(old, self.metric):
                self.best_rows[kk] = row

    def quantiles(self, k: int, qs: Sequence[float]) -> list[float]:
        cdf = np.cumsum(self.hist[k]) / max(self.count[k], 1)
        return [float((np.searchsorted(cdf, q) + 0.5) / _HIST_BINS) for q in qs]


# --------------------------------------------------------------------------- result
@dataclass
class SubsetSearchResult:
    """Outcome of :func:`exhaustive_subset_search`.

    Attributes
    ----------
    feature_names : list of str
        Bit ``j`` of a bitmask is ``feature_names[j]``.
    metric : str
        Metric used for ``best`` / ``best_by_size`` (``f1``, ``accuracy`` or ``roc_auc``).
    best_by_size : DataFrame
        Best subset of every size (highest mean metric; ties: lower std, then lower
        bitmask), with a ``features`` column listing the names.
    size_summary : DataFrame
        Per size: number of subsets, mean/std/max of the mean metric and quantiles
        (from a 1000-bin histogram).
    n_not_converged : int
        Subsets with at least one fold whose Newton iteration did not converge.
    complete : bool
        False when the run stopped early (``max_chunks``); the table then holds the
        finished chunks only.
    params : dict
        The search settings (cv, C, seed, tol, estimator, ...).
    classes : list
        The two target values; the positive class is ``classes[1]``.
    """

    feature_names: list[str]
    metric: str
    best_by_size: pd.DataFrame
    size_summary: pd.DataFrame
    n_not_converged: int
    complete: bool
    params: dict
    classes: list
    checkpoint_dir: Path | None = None
    _table: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """Every subset's row, sorted by bitmask (read from the checkpoint files when used)."""
        if self._table is None:
            if self.checkpoint_dir is None:
                raise MlkitError("no table: the search kept no rows")
            files = sorted(Path(self.checkpoint_dir).glob("chunk_*.parquet"))
            frames = [pd.read_parquet(f) for f in files]
            self._table = _concat(frames, len(self.feature_names))
        return self._table

    @property
    def best(self) -> pd.Series:
        """Overall best subset: highest mean metric.

        Ties: fewer features, then lower std, then lower bitmask.
        """
        b = self.best_by_size.copy()
        col = f"{self.metric}_mean"
        b["_m"] = b[col].fillna(-np.inf)
        b = b.sort_values(
            ["_m", "n_features", f"{self.metric}_std", "bitmask"],
            ascending=[False, True, True, True],
        )
        return b.drop(columns="_m").iloc[0]

    def features_of(self, bitmask: int) -> list[str]:
        """Feature names of a bitmask."""
        return [n for j, n in enumerate(self.feature_names) if (int(bitmask) >> j) & 1]

    def top(self, n: int = 100) -> pd.DataFrame:
        """The ``n`` best subsets of the whole table, with their feature names."""
        col = f"{self.metric}_mean"
        t = self.table.nlargest(n, col, keep="first").copy()
        t["features"] = [",".join(self.features_of(b)) for b in t["bitmask"]]
        return t

    def summary_metrics(self) -> dict[str, float]:
        """Flat numbers for experiment tracking."""
        best = self.best
        out = {
            f"best_{self.metric}_mean": float(best[f"{self.metric}_mean"]),
            f"best_{self.metric}_std": float(best[f"{self.metric}_std"]),
            "best_n_features": int(best["n_features"]),
            "n_subsets": int(self.size_summary["n_subsets"].sum()),
            "n_not_converged": int(self.n_not_converged),
        }
        for _, row in self.best_by_size.iterrows():
            out[f"best_{self.metric}_k{int(row['n_features'])}"] = float(row[f"{self.metric}_mean"])
        return out

    def to_parquet(self, path: str | Path) -> Path:
        """Write the full table (bitmask + metrics) to one parquet file.

        The feature names, metric and settings go in the file's metadata (``mlkit_subsets``).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tab = pa.Table.from_pandas(self.table, preserve_index=False)
        meta = dict(tab.schema.metadata or {})
        meta[b"mlkit_subsets"] = json.dumps(
            {
                "feature_names": self.feature_names,
                "metric": self.metric,
                "params": _jsonable(self.params),
                "classes": [str(c) for c in self.classes],
            }
        ).encode()
        pq.write_table(tab.replace_schema_metadata(meta), path)
        return path

    def plot_curve(self, path: str | Path, *, title: str | None = None) -> Path:
        """Metric versus number of features (paper Figure S2): best, mean and spread per size."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        s = self.size_summary
        k = s["n_features"].to_numpy()
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.fill_between(k, s["q05"], s["q95"], color="0.85", label="5-95 % of subsets")
        ax.fill_between(k, s["q25"], s["q75"], color="0.65", label="25-75 % of subsets")
        ax.plot(k, s["mean"], "o-", color="0.3", ms=3, label="mean over subsets")
        ax.plot(k, s["max"], "o-", color="C3", ms=4, label="best subset")
        best = self.best
        ax.annotate(
            f"{best[f'{self.metric}_mean']:.3f} (k={int(best['n_features'])})",
            (best["n_features"], best[f"{self.metric}_mean"]),
            textcoords="offset points",
            xytext=(4, 6),
            color="C3",
            fontsize=8,
        )
        ax.set_xlabel("number of features")
        ax.set_ylabel(f"mean {self.metric} over {self.params.get('cv')} CV folds")
        ax.set_xticks(k)
        ax.set_ylim(min(0.0, float(s["q05"].min())), 1.05)
        ax.set_title(
            title
            or f"Exhaustive subset search ({self.params.get('estimator')}, "
            f"{int(s['n_subsets'].sum()):,} subsets)"
        )
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
        plt.close(fig)
        return path


def _jsonable(d: dict) -> dict:
    return {
        k: (v if isinstance(v, (int, float, str, bool, type(None), list)) else str(v))
        for k, v in d.items()
    }


def _concat(frames: list[pd.DataFrame], p: int) -> pd.DataFrame:
    if not frames:
        return _aggregate(0, p, 0, 0, *(np.zeros((1, 1)),) * 3, np.zeros((1, 1), np.int16)).iloc[:0]
    t = pd.concat(frames, ignore_index=True)
    return t.sort_values("bitmask", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- checkpointing
def _fingerprint(data: FoldData, spec: dict, names: list[str]) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(data.X_raw).tobytes())
    h.update(np.ascontiguousarray(data.y01).tobytes())
    h.update(json.dumps(names).encode())
    keys = {
        k: spec[k] for k in ("cv", "seed", "C", "tol", "max_iter", "n_low", "max_k", "estimator")
    }
    h.update(json.dumps(keys, sort_keys=True, default=str).encode())
    h.update(str(_FORMAT_VERSION).encode())
    return h.hexdigest()


def _chunk_path(directory: Path, chunk_id: int) -> Path:
    return directory / f"chunk_{chunk_id:08d}.parquet"


def _write_chunk(directory: Path, chunk_id: int, table: pd.DataFrame) -> None:
    path = _chunk_path(directory, chunk_id)
    tmp = path.with_name(path.name + ".tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _prepare_checkpoint(directory: Path, fingerprint: str, spec: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / "search.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") != fingerprint:
            raise MlkitError(
                f"{directory}: checkpoint belongs to a different search "
                "(data or settings changed); "
                "use another checkpoint_dir or delete it"
            )
    else:
        meta = {
            "fingerprint": fingerprint,
            "format": _FORMAT_VERSION,
            "spec": _jsonable({k: v for k, v in spec.items() if k != "estimator_obj"}),
        }
        meta_path.write_text(json.dumps(meta, indent=1))


# --------------------------------------------------------------------------- executors
def _iter_local(
    data: FoldData, todo: list[int], spec: dict, n_jobs: int
) -> Iterator[tuple[int, pd.DataFrame]]:
    if spec["estimator"] == "logreg":
        # the numba kernel releases the GIL: a thread pool runs chunks in parallel
        if n_jobs <= 1:
            for c in todo:
                yield c, _run_chunk(data, c, spec)
            return
        window = 2 * n_jobs
        with ThreadPoolExecutor(n_jobs) as pool:
            pending: dict[int, Any] = {}
            it = iter(todo)
            for c in it:
                pending[c] = pool.submit(_run_chunk, data, c, spec)
                if len(pending) >= window:
                    break
            while pending:
                c0 = next(iter(pending))
                fut = pending.pop(c0)
                res = fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    pending[nxt] = pool.submit(_run_chunk, data, nxt, spec)
                yield c0, res
        return
    from joblib import Parallel, delayed

    par = Parallel(n_jobs=n_jobs, return_as="generator")
    yield from zip(todo, par(delayed(_run_chunk)(data, c, spec) for c in todo), strict=True)


def _iter_dask(
    client: Any, data: FoldData, todo: list[int], spec: dict
) -> Iterator[tuple[int, pd.DataFrame]]:
    from distributed import as_completed

    data_f = client.scatter(data, broadcast=True)
    n_threads = max(sum(client.nthreads().values()), 1)
    window = 4 * n_threads
    it = iter(todo)
    futures = {}
    for c in it:
        futures[
            client.submit(
                _run_chunk, data_f, c, spec, pure=False, key=f"mlkit-subsets-{spec['fp'][:12]}-{c}"
            )
        ] = c
        if len(futures) >= window:
            break
    ac = as_completed(list(futures))
    for fut in ac:
        c = futures.pop(fut)
        res = fut.result()
        fut.release()
        nxt = next(it, None)
        if nxt is not None:
            nf = client.submit(
                _run_chunk,
                data_f,
                nxt,
                spec,
                pure=False,
                key=f"mlkit-subsets-{spec['fp'][:12]}-{nxt}",
            )
            futures[nf] = nxt
            ac.add(nf)
        yield c, res


# --------------------------------------------------------------------------- main entry point
def exhaustive_subset_search(
    X,
    y,
    *,
    cv: int = 10,
    max_features: int | None = None,
    C: float = 1.0,
    metric: str = "f1",
    seed: int = 0,
    chunk_size: int | None = None,
    n_jobs: int | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    dask_client: Any = None,
    estimator: Any = "logreg",
    tol: float = 1e-10,
    max_iter: int = 100,
    max_chunks: int | None = None,
) -> SubsetSearchResult:
    """Cross-validate a classifier on every non-empty subset of the features.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)
        Numeric, finite features (at most 63 columns; bit ``j`` of a bitmask is column ``j``).
    y : array-like of shape (n_samples,)
        Binary target; the positive class is the larger of the two values (as
        scikit-learn's ``classes_[1]``). Each class needs at least ``cv`` members.
    cv : int
        Folds of ``StratifiedKFold(cv, shuffle=True, random_state=seed)``.
    max_features : int, optional
        Largest subset size (default: all features).
    C : float
        Inverse L2 strength, as in ``LogisticRegression(C=C)``.
    metric : {"f1", "accuracy", "roc_auc"}
        Metric ranking the subsets (all three are always in the table).
    seed : int
        Seed of the folds (and of the generic estimators).
    chunk_size : int, optional
        Subsets per chunk (power of two; default 8192 for ``logreg``, 256 otherwise).
        A chunk is the unit of parallel work and of checkpointing.
    n_jobs : int, optional
        Local workers (threads for ``logreg``, joblib processes otherwise); default
        ``os.cpu_count()``. Ignored with ``dask_client``.
    checkpoint_dir : path, optional
        One parquet file per finished chunk; a rerun with the same data and settings
        skips them (a different search in the same directory is refused).
    progress : bool
        tqdm progress bar (subsets done, ETA).
    dask_client : distributed.Client or str, optional
        Run the chunks as Dask tasks (a scheduler address string opens a client).
    estimator : {"logreg", "logreg_sklearn", "rf", "xgb", "lgbm"} or classifier
        ``logreg`` is the fast batched Newton path; the others (or any scikit-learn
        classifier with ``predict_proba``) use the generic, slower path.
    tol, max_iter : float, int
        Newton convergence (``max|grad|/n <= tol``) and iteration cap (``logreg``).
    max_chunks : int, optional
        Stop after this many *new* chunks (the result then has ``complete=False``);
        for tests and time-boxed runs.

    Returns
    -------
    SubsetSearchResult
    """
    if metric not in METRICS:
        raise MlkitError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if not C > 0:
        raise MlkitError(f"C must be > 0, got {C}")
    Xa, y01, names, classes = _validate_xy(X, y, cv=cv)
    p = Xa.shape[1]
    max_k = p if max_features is None else int(max_features)
    if not 1 <= max_k:
        raise MlkitError(f"max_features must be >= 1, got {max_features}")
    max_k = min(max_k, p)
    est_name = estimator if isinstance(estimator, str) else type(estimator).__name__
    if isinstance(estimator, str) and estimator not in ESTIMATORS:
        raise MlkitError(
            f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)} "
            "or pass a classifier"
        )
    if chunk_size is None:
        chunk_size = DEFAULT_CHUNK_LOGREG if estimator == "logreg" else DEFAULT_CHUNK_GENERIC
    total = sum(math.comb(p, k) for k in range(1, max_k + 1))
    if total > MAX_SUBSETS:
        raise MlkitError(
            f"{total:,} subsets of {p} features is beyond this search (limit {MAX_SUBSETS:,}); "
            "set max_features or drop redundant features first"
        )
    n_low = _n_low(p, int(chunk_size))
    data = make_folds(Xa, y01, cv=cv, seed=seed)
    spec = {
        "cv": cv,
        "seed": seed,
        "C": float(C),
        "tol": float(tol),
        "max_iter": int(max_iter),
        "n_low": n_low,
        "max_k": max_k,
        "estimator": est_name,
        "metric": metric,
        "estimator_obj": estimator if not isinstance(estimator, str) else est_name,
    }
    spec["fp"] = _fingerprint(data, spec, names)
    chunks = _chunk_ids(p, n_low, max_k)
    summary = _Summary(p, metric)
    frames: list[pd.DataFrame] = []
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    done: set[int] = set()
    if ckpt is not None:
        _prepare_checkpoint(ckpt, spec["fp"], spec)
        for c in chunks:
            path = _chunk_path(ckpt, c)
            if path.exists():
                summary.add(pd.read_parquet(path))
                done.add(c)
    todo = [c for c in chunks if c not in done]
    if max_chunks is not None:
        todo = todo[: max(int(max_chunks), 0)]
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        initial=summary.n_rows,
        unit="subset",
        disable=not progress,
        desc=f"subset search ({est_name})",
        smoothing=0.1,
    )
    own_client = None
    try:
        if dask_client is not None:
            client = dask_client
            if isinstance(dask_client, str):
                from distributed import Client

                client = own_client = Client(dask_client)
            stream = _iter_dask(client, data, todo, spec)
        else:
            stream = _iter_local(data, todo, spec, int(n_jobs or os.cpu_count() or 1))
        for c, table in stream:
            if ckpt is not None:
                _write_chunk(ckpt, c, table)
            else:
                frames.append(table)
            summary.add(table)
            done.add(c)
            bar.update(len(table))
    finally:
        bar.close()
        if own_client is not None:
            own_client.close()
    complete = len(done) == len(chunks)
    best_rows = [summary.best_rows[k] for k in sorted(summary.best_rows)]
    best_by_size = pd.DataFrame(best_rows).reset_index(drop=True) if best_rows else _concat([], p)
    if len(best_by_size):
        best_by_size["bitmask"] = best_by_size["bitmask"].astype(_mask_dtype(p))
        best_by_size["n_features"] = best_by_size["n_features"].astype(np.uint8)
        best_by_size["features"] = [
            ",".join(n for j, n in enumerate(names) if (int(b) >> j) & 1)
            for b in best_by_size["bitmask"]
        ]
    ks = [k for k in range(1, p + 1) if summary.count[k] > 0]
    rows = []
    for k in ks:
        cnt = summary.count[k]
        mean = summary.sum[k] / cnt
        var = max(summary.sumsq[k] / cnt - mean**2, 0.0)
        q05, q25, q50, q75, q95 = summary.quantiles(k, (0.05, 0.25, 0.5, 0.75, 0.95))
        best = summary.best_rows[k][f"{metric}_mean"]
        rows.append(
            {
                "n_features": k,
                "n_subsets": int(cnt),
                "mean": mean,
                "std": math.sqrt(var),
                "max": float(best),
                "q05": q05,
                "q25": q25,
                "median": q50,
                "q75": q75,
                "q95": q95,
            }
        )
    size_summary = pd.DataFrame(
        rows,
        columns=[
            "n_features",
            "n_subsets",
            "mean",
            "std",
            "max",
            "q05",
            "q25",
            "median",
            "q75",
            "q95",
        ],
    )
    params = {k: v for k, v in spec.items() if k not in ("estimator_obj", "fp")}
    params.update({"chunk_size": 1 << n_low, "n_features_total": p, "n_samples": int(len(y01))})
    return SubsetSearchResult(
        feature_names=names,
        metric=metric,
        best_by_size=best_by_size,
        size_summary=size_summary,
        n_not_converged=summary.n_not_converged,
        complete=complete,
        params=params,
        classes=classes,
        checkpoint_dir=ckpt,
        _table=None if ckpt is not None else _concat(frames, p),
    )


def subset_fold_fits(
    X,
    y,
    masks: Sequence[int],
    *,
    cv: int = 10,
    C: float = 1.0,
    seed: int = 0,
    tol: float = 1e-10,
    max_iter: int = 100,
    chunk_size: int = DEFAULT_CHUNK_LOGREG,
    n_jobs: int = 1,
) -> dict:
    """Coefficients and test-fold decisions of the fast path for chosen subsets (for checks).

    Runs exactly the chunks of the search that contain ``masks`` (same warm starts),
    on ``n_jobs`` threads.

    Returns
    -------
    dict with
        ``coef`` : ndarray (n_masks, n_folds, n_features + 1), standardised scale, intercept last;
        ``decision`` : ndarray (n_masks, n_folds, n_te_max) (padding beyond ``nte`` is 0);
        ``f1``, ``accuracy``, ``roc_auc`` : ndarray (n_masks, n_folds); ``n_iter`` likewise;
        ``folds`` : the :class:`FoldData`.
    """
    data = make_folds(X, y, cv=cv, seed=seed)
    p = data.n_features
    n_low = _n_low(p, chunk_size)
    masks = np.asarray(masks, dtype=np.int64)
    if (masks <= 0).any() or (masks >= (1 << p)).any():
        raise MlkitError(f"masks must be in 1 .. 2**{p} - 1")
    F = data.n_folds
    out = {
        "coef": np.zeros((len(masks), F, p + 1)),
        "decision": np.zeros((len(masks), F, data.Xte.shape[2])),
        "f1": np.zeros((len(masks), F)),
        "accuracy": np.zeros((len(masks), F)),
        "roc_auc": np.zeros((len(masks), F)),
        "n_iter": np.zeros((len(masks), F), np.int16),
        "folds": data,
    }
    chunk_of = masks >> n_low

    def one(c: int):
        sel = np.flatnonzero(chunk_of == c)
        local = masks[sel] & ((1 << n_low) - 1)
        uniq, inv = np.unique(local, return_inverse=True)
        arrays = _logreg_chunk_arrays(data, int(c), n_low, p, C, tol, max_iter, uniq)
        return sel, local, inv, arrays

    with ThreadPoolExecutor(max(int(n_jobs), 1)) as pool:
        for sel, local, inv, (f1, acc, auc, iters, coef, dec) in pool.map(
            one, np.unique(chunk_of).tolist()
        ):
            out["coef"][sel] = coef[inv]
            out["decision"][sel] = dec[inv]
            out["f1"][sel] = f1[:, local].T
            out["accuracy"][sel] = acc[:, local].T
            out["roc_auc"][sel] = auc[:, local].T
            out["n_iter"][sel] = iters[:, local].T
    return out


# --------------------------------------------------------------------------- estimator wrapper
class ExhaustiveSubsetSearch:
    """scikit-learn-style selector around :func:`exhaustive_subset_search`.

    Parameters are those of :func:`exhaustive_subset_search` (stored unchanged).

    Attributes
    ----------
    results_ : SubsetSearchResult
    best_subset_ : list of str
        Feature names of the best subset.
    best_score_ : float
        Its mean CV metric.
    support_ : ndarray of bool, shape (n_features_in_,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only when ``X`` was a DataFrame)
    """

    def __init__(
        self,
        *,
        cv: int = 10,
        max_features: int | None = None,
        C: float = 1.0,
        metric: str = "f1",
        seed: int = 0,
        chunk_size: int | None = None,
        n_jobs: int | None = None,
        checkpoint_dir: str | Path | None = None,
        progress: bool = False,
        dask_client: Any = None,
        estimator: Any = "logreg",
        tol: float = 1e-10,
    ) -> None:
        self.cv = cv
        self.max_features = max_features
        self.C = C
        self.metric = metric
        self.seed = seed
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.dask_client = dask_client
        self.estimator = estimator
        self.tol = tol

    def get_params(self, deep: bool = True) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "cv",
                "max_features",
                "C",
                "metric",
                "seed",
                "chunk_size",
                "n_jobs",
                "checkpoint_dir",
                "progress",
                "dask_client",
                "estimator",
                "tol",
            )
        }

    def set_params(self, **params) -> ExhaustiveSubsetSearch:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"invalid parameter {k!r}")
            setattr(self, k, v)
        return self

    def fit(self, X, y) -> ExhaustiveSubsetSearch:
        """Run the search on ``X`` (n_samples, n_features) and ``y`` (n_samples,)."""
        res = exhaustive_subset_search(X, y, **self.get_params())
        self.results_ = res
        best = res.best
        self.best_subset_ = res.features_of(int(best["bitmask"]))
        self.best_bitmask_ = int(best["bitmask"])
        self.best_score_ = float(best[f"{res.metric}_mean"])
        self.n_features_in_ = len(res.feature_names)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(res.feature_names, dtype=object)
        self.support_ = np.array(
            [(self.best_bitmask_ >> j) & 1 == 1 for j in range(self.n_features_in_)]
        )
        return self

    def get_support(self, indices: bool = False) -> np.ndarray:
        """Boolean mask (or indices) of the best subset's features."""
        if not hasattr(self, "support_"):
            raise MlkitError("ExhaustiveSubsetSearch is not fitted yet; call fit(X, y) first")
        return np.flatnonzero(self.support_) if indices else self.support_.copy()

    def transform(self, X):
        """Keep the best subset's columns of ``X``."""
        support = self.get_support()
        if isinstance(X, pd.DataFrame):
            return X.loc[:, X.columns[support]]
        return np.asarray(X)[:, support]


# ------------------------------------------------------------ files -> search -> outputs
def prepare_table(
    labels: str | Path | pd.DataFrame,
    target: str,
    *,
    features: str | Path | pd.DataFrame | None = None,
    structures: Sequence[str | Path] | None = None,
    threshold: float | None = None,
    id_column: str = "id",
    corr_threshold: float | None = None,
    mobile_ion: str = "Na",
    n_jobs: int = 1,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Labels + (feature table | structures) -> numeric ``X``, binary ``y`` and notes.

    Uses :func:`mlkit.models.dataset.build_training_table` (label parsing, joins,
    dropped rows), one-hot encodes ``connectivity``, drops constant columns and, with
    ``corr_threshold``, the redundant column of every pair with |Pearson r| above it.

    Returns
    -------
    X : DataFrame of shape (n_samples, n_features)
    y : Series of shape (n_samples,)
    notes : list of str
    """
    from mlkit.models.dataset import build_training_table, load_features
    from mlkit.models.preprocessing import drop_constant, encode_categoricals, redundancy_filter

    if (features is None) == (structures is None):
        raise MlkitError("give exactly one of features (a table) or structures (files)")
    if structures is not None:
        from mlkit.features import featurize_paths

        table = featurize_paths(structures, mobile_ion=mobile_ion, n_jobs=n_jobs, progress=progress)
    elif isinstance(features, pd.DataFrame):
        table = features
    else:
        table = load_features(features)
    X, y, report = build_training_table(
        table, labels, target, id_column=id_column, task="classification", threshold=threshold
    )
    notes = list(report.notes)
    X = encode_categoricals(X, notes=notes)
    X, _ = drop_constant(X, notes=notes)
    if corr_threshold is not None:
        kept, _pairs = redundancy_filter(X, corr_threshold, notes=notes)
        X = X.loc[:, kept]
    nan_rows = X.index[X.isna().any(axis=1)]
    if len(nan_rows):
        raise MlkitError(
            f"{len(nan_rows)} row(s) have missing feature values "
            f"(e.g. {', '.join(map(str, nan_rows[:3]))}); "
            "the subset search needs complete rows"
        )
    return X, y, notes


def write_outputs(result: SubsetSearchResult, out_dir: str | Path) -> dict[str, Path]:
    """Write the result files into ``out_dir``.

    Files: ``subsets.parquet``, ``best_by_size.csv``, ``size_summary.csv``, ``top100.csv``,
    ``best.json`` and the curve ``<metric>_vs_n_features.png``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "table": result.to_parquet(out / "subsets.parquet"),
        "best_by_size": out / "best_by_size.csv",
        "size_summary": out / "size_summary.csv",
        "top100": out / "top100.csv",
        "best": out / "best.json",
    }
    result.best_by_size.to_csv(paths["best_by_size"], index=False)
    result.size_summary.to_csv(paths["size_summary"], index=False)
    result.top(100).to_csv(paths["top100"], index=False)
    best = result.best
    paths["best"].write_text(
        json.dumps(
            {
                "bitmask": int(best["bitmask"]),
                "features": result.features_of(int(best["bitmask"])),
                **{k: float(best[k]) for k in best.index if k.endswith(("_mean", "_std"))},
                "n_not_converged": int(result.n_not_converged),
                "complete": bool(result.complete),
                "params": _jsonable(result.params),
            },
            indent=1,
        )
    )
    paths["curve"] = result.plot_curve(out / f"{result.metric}_vs_n_features.png")
    return paths
