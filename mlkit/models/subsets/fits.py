"""One chunk task: every subset of one chunk fitted and scored on every fold.

Two paths produce the same table rows (:func:`mlkit.models.subsets.chunks.aggregate`):

* ``logreg``: the fused float64 Newton kernel (:mod:`mlkit.models.subsets.kernel`),
  exactly scikit-learn's ``LogisticRegression(C=C)`` objective, warm-started depth first;
* anything else (``logreg_sklearn``, ``rf``, ``xgb``, ``lgbm`` or a scikit-learn
  classifier): ``clone``/``fit``/``predict`` per subset and fold on the same
  standardised inputs (much slower).

:func:`run_chunk` is the task that local threads, joblib workers and Dask workers run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.models.subsets.chunks import aggregate, chunk_masks
from mlkit.models.subsets.folds import FoldData

__all__ = [
    "ESTIMATORS",
    "logreg_chunk_arrays",
    "make_generic",
    "run_chunk",
    "run_generic_chunk",
    "run_logreg_chunk",
]

ESTIMATORS = ("logreg", "logreg_sklearn", "rf", "xgb", "lgbm")

def logreg_chunk_arrays(
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
    from mlkit.models.subsets.kernel import fold_chunk_search  # numba: loaded on first use

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


def run_logreg_chunk(
    data: FoldData, chunk_id: int, n_low: int, max_k: int, C: float, tol: float, max_iter: int
) -> pd.DataFrame:
    f1, acc, auc, iters = logreg_chunk_arrays(data, chunk_id, n_low, max_k, C, tol, max_iter)
    return aggregate(chunk_id, data.n_features, n_low, max_k, f1, acc, auc, iters)


def make_generic(estimator: Any, C: float, seed: int):
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


def run_generic_chunk(
    data: FoldData, chunk_id: int, n_low: int, max_k: int, estimator: Any, C: float, seed: int
) -> pd.DataFrame:
    """Generic path: clone/fit/predict per subset and fold (same standardised inputs)."""
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    p = data.n_features
    F = data.n_folds
    M = 1 << n_low
    proto = make_generic(estimator, C, seed)
    f1 = np.full((F, M), np.nan)
    acc = np.full((F, M), np.nan)
    auc = np.full((F, M), np.nan)
    iters = np.full((F, M), -2, np.int16)
    for mask in chunk_masks(chunk_id, p, n_low, max_k):
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
    return aggregate(chunk_id, p, n_low, max_k, f1, acc, auc, iters)


def run_chunk(data: FoldData, chunk_id: int, spec: dict) -> pd.DataFrame:
    """One chunk task (local thread, joblib worker or Dask worker)."""
    if spec["estimator"] == "logreg":
        return run_logreg_chunk(
            data, chunk_id, spec["n_low"], spec["max_k"], spec["C"], spec["tol"], spec["max_iter"]
        )
    return run_generic_chunk(
        data, chunk_id, spec["n_low"], spec["max_k"], spec["estimator_obj"], spec["C"], spec["seed"]
    )


