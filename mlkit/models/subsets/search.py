"""Exhaustive feature-subset search (every subset of the features, inside k-fold CV).

The rotation paper fits a logistic regression on each of the 2**19 - 1 = 524,287
subsets of its 19 features inside 10-fold CV.  :func:`exhaustive_subset_search`
does the same in well under a minute on two cores. The steps, one module each:

* folds (:mod:`~mlkit.models.subsets.folds`): ``StratifiedKFold(cv, shuffle=True,
  random_state=seed)`` on ``(X, y)``; each fold's training rows are standardised with
  ``StandardScaler`` fitted on that training part only;
* enumeration (:mod:`~mlkit.models.subsets.chunks`): subsets are grouped in *chunks*
  sharing their high bits; inside a chunk the low features are visited depth first and
  every subset is warm-started from its parent (3-4 Newton steps instead of ~7);
* fits (:mod:`~mlkit.models.subsets.fits`, :mod:`~mlkit.models.subsets.kernel`):
  exactly scikit-learn's ``LogisticRegression(C=C)`` objective, solved to
  ``max|grad| / n <= tol`` by a fused float64 Newton kernel; other classifiers go
  through a generic, much slower ``fit``/``predict`` loop with the same output table;
* execution (:mod:`~mlkit.models.subsets.execution`): chunks are tasks on a local
  thread pool (``n_jobs``) or on Dask (``dask_client``); each chunk can write one
  parquet file into ``checkpoint_dir`` so an interrupted search resumes;
* result (:mod:`~mlkit.models.subsets.result`): per-size summary and best subsets,
  accumulated chunk by chunk.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.models.subsets.chunks import (
    DEFAULT_CHUNK_GENERIC,
    DEFAULT_CHUNK_LOGREG,
    METRICS,
    chunk_ids,
    concat_tables,
    n_low_bits,
)
from mlkit.models.subsets.execution import (
    chunk_path,
    fingerprint,
    finished_chunks,
    iter_dask,
    iter_local,
    prepare_checkpoint,
    write_chunk,
)
from mlkit.models.subsets.fits import ESTIMATORS, logreg_chunk_arrays
from mlkit.models.subsets.folds import FoldData, make_folds, validate_xy
from mlkit.models.subsets.result import StreamingSummary, SubsetSearchResult

__all__ = ["MAX_SUBSETS", "exhaustive_subset_search", "subset_fold_fits"]

MAX_SUBSETS = 2**34  # 1.7e10 subsets (~200 CPU-hours here); the chunk list stays small


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
    Xa, y01, names, classes = validate_xy(X, y, cv=cv)
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
    n_low = n_low_bits(p, int(chunk_size))
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
    spec["fp"] = fingerprint(data, spec, names)
    chunks = chunk_ids(p, n_low, max_k)
    summary = StreamingSummary(p, metric)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    done: set[int] = set()
    if ckpt is not None:
        prepare_checkpoint(ckpt, spec["fp"], spec)
        for c in finished_chunks(ckpt, chunks):
            summary.add(pd.read_parquet(chunk_path(ckpt, c)))
            done.add(c)
    todo = [c for c in chunks if c not in done]
    if max_chunks is not None:
        todo = todo[: max(int(max_chunks), 0)]
    frames = _execute(data, todo, spec, summary, ckpt, done, n_jobs=n_jobs,
                      dask_client=dask_client, progress=progress, total=total)
    params = {k: v for k, v in spec.items() if k not in ("estimator_obj", "fp")}
    params.update({"chunk_size": 1 << n_low, "n_features_total": p, "n_samples": int(len(y01))})
    return SubsetSearchResult(
        feature_names=names,
        metric=metric,
        best_by_size=summary.best_by_size(names),
        size_summary=summary.size_table(),
        n_not_converged=summary.n_not_converged,
        complete=len(done) == len(chunks),
        params=params,
        classes=classes,
        checkpoint_dir=ckpt,
        _table=None if ckpt is not None else concat_tables(frames, p),
    )


def _execute(data: FoldData, todo: list[int], spec: dict, summary: StreamingSummary,
             ckpt: Path | None, done: set[int], *, n_jobs: int | None, dask_client: Any,
             progress: bool, total: int) -> list[pd.DataFrame]:
    """Run the ``todo`` chunks; each table goes to ``summary`` and to its checkpoint file
    (or, without ``ckpt``, into the returned list). Finished chunk ids are added to ``done``.
    """
    from tqdm.auto import tqdm

    frames: list[pd.DataFrame] = []
    bar = tqdm(
        total=total,
        initial=summary.n_rows,
        unit="subset",
        disable=not progress,
        desc=f"subset search ({spec['estimator']})",
        smoothing=0.1,
    )
    own_client = None
    try:
        if dask_client is not None:
            client = dask_client
            if isinstance(dask_client, str):
                from distributed import Client

                client = own_client = Client(dask_client)
            stream = iter_dask(client, data, todo, spec)
        else:
            stream = iter_local(data, todo, spec, int(n_jobs or os.cpu_count() or 1))
        for c, table in stream:
            if ckpt is not None:
                write_chunk(ckpt, c, table)
            else:
                frames.append(table)
            summary.add(table)
            done.add(c)
            bar.update(len(table))
    finally:
        bar.close()
        if own_client is not None:
            own_client.close()
    return frames


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
    n_low = n_low_bits(p, chunk_size)
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
        arrays = logreg_chunk_arrays(data, int(c), n_low, p, C, tol, max_iter, uniq)
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

