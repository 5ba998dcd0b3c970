"""Nested cross-validation with Optuna, as in the rotation-screening paper.

Each of ``outer_folds`` folds holds out ``1/outer_folds`` of the rows as *test*
(10 % for 10 folds). The remaining rows are split ``1 - val_fraction`` /
``val_fraction`` (80/20) into *train* and *validation* -> 72/18/10 overall.
Optuna (``TPESampler(seed)``) tunes the hyperparameters: every trial fits the
pipeline (imputer + scaler + model) on *train* and scores the primary metric on
*validation*. The best parameters are then refitted on train + validation (90 %)
and the *test* fold is only scored -- it is never seen by tuning or fitting.
Splits are stratified for classification and seeded.

Grouped CV (``groups``: one label per row, e.g. a structure family or a composition
prototype): rows of one group never sit on both sides of a split. The outer folds hold
whole groups, with balanced row counts (``GroupKFold``'s largest-group-to-smallest-fold
rule, ties in seeded order; ``StratifiedGroupKFold``, shuffled, for classification); the
inner train/validation split is a
seeded ``GroupShuffleSplit`` with ``val_fraction`` of the *groups* (not of the rows) in
validation. Fold sizes then vary with the group sizes. A score that drops from random to
grouped folds is the part of it that came from near-duplicates of the test rows in
training (memorised chemistry), not from transferable structure-property relations.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlkit.models.metrics import PRIMARY, score
from mlkit.models.preprocessing import make_pipeline
from mlkit.models.zoo import get_model


@dataclass
class CVResult:
    """Outcome of :func:`nested_cv` for one model family.

    Attributes
    ----------
    model : str
    fold_metrics : DataFrame of shape (outer_folds, n_metrics), index = fold
    best_params : list of dict, one per fold
    oof : DataFrame
        Out-of-fold predictions: ``id, fold, y_true, y_pred`` (+ ``proba`` for binary
        classification), one row per sample.
    val_scores : list of float
        Best validation primary-metric value per fold.
    grouped : bool
        True when the folds were split by groups (see module docstring).
    splits : list of dict
        Per fold the ids of the ``train``, ``val`` and ``test`` rows.
    pipelines : list
        The fitted per-fold pipelines (only with ``keep_pipelines=True``).
    """

    model: str
    task: str
    fold_metrics: pd.DataFrame
    best_params: list[dict[str, Any]]
    oof: pd.DataFrame
    val_scores: list[float] = field(default_factory=list)
    splits: list[dict[str, list[str]]] = field(default_factory=list)
    pipelines: list[Any] = field(default_factory=list)
    grouped: bool = False

    @property
    def mean(self) -> pd.Series:
        return self.fold_metrics.mean(skipna=True)

    @property
    def std(self) -> pd.Series:
        return self.fold_metrics.std(skipna=True, ddof=0)

    def summary(self) -> dict[str, float]:
        """``{"<metric>_mean": .., "<metric>_std": ..}`` over the outer folds."""
        out = {}
        for k in self.fold_metrics.columns:
            out[f"{k}_mean"] = float(self.mean[k])
            out[f"{k}_std"] = float(self.std[k])
        return out


def _predict(pipe, X: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    pred = pipe.predict(X)
    proba = None
    if task == "classification" and hasattr(pipe, "predict_proba"):
        p = pipe.predict_proba(X)
        proba = p[:, 1] if p.shape[1] == 2 else p
    return np.asarray(pred), proba


def split_train_val(
    y: pd.Series,
    task: str,
    val_fraction: float,
    seed: int,
    groups: np.ndarray | pd.Series | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the train and validation rows of ``y``.

    Without ``groups``: a seeded split of the rows, stratified for classification when
    possible. With ``groups`` (one label per row): a seeded ``GroupShuffleSplit`` with
    ``val_fraction`` of the groups in validation, so no group is on both sides.
    """
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    pos = np.arange(len(y))
    if groups is not None:
        g = _group_array(groups, len(y))
        if len(np.unique(g)) < 2:
            raise ValueError("a grouped train/validation split needs at least 2 groups")
        splitter = GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
        tr, va = next(splitter.split(pos, groups=g))
        return np.sort(tr), np.sort(va)
    strat = y.to_numpy() if task == "classification" else None
    try:
        tr, va = train_test_split(pos, test_size=val_fraction, random_state=seed, stratify=strat)
    except ValueError:  # a class too small to stratify inside this fold
        tr, va = train_test_split(pos, test_size=val_fraction, random_state=seed)
    return np.sort(tr), np.sort(va)


def _group_array(groups: np.ndarray | pd.Series, n: int) -> np.ndarray:
    """``groups`` as a string array of length ``n`` (missing labels are refused)."""
    g = pd.Series(np.asarray(groups, dtype=object))
    if len(g) != n:
        raise ValueError(f"groups has {len(g)} entries but there are {n} rows")
    if g.isna().any():
        raise ValueError(
            f"groups has {int(g.isna().sum())} missing label(s); give every row a group "
            "(e.g. its own id)"
        )
    return g.astype(str).to_numpy()


def tune(
    model: str,
    task: str,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_val: pd.DataFrame,
    y_val: pd.Series,
    *,
    n_trials: int = 20,
    seed: int = 0,
) -> tuple[dict[str, Any], float]:
    """Optuna search of ``model``'s space: fit on train, primary metric on validation.

    Returns
    -------
    best_params : dict
    best_value : float
        Primary metric on the validation rows for ``best_params``.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = get_model(model)
    metric, greater = PRIMARY[task]
    if n_trials <= 0:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")

    def objective(trial) -> float:
        params = spec.suggest(trial, task)
        pipe = make_pipeline(spec.build(task, params, seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.fit(X_train, y_train)
            pred, proba = _predict(pipe, X_val, task)
        value = score(task, y_val, pred, proba)[metric]
        return value if np.isfinite(value) else (-np.inf if greater else np.inf)

    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize" if greater else "minimize", sampler=sampler)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    study.optimize(objective, n_trials=n_trials, show_progress_bar=False)
    return dict(study.best_params), float(study.best_value)


def fit_pipeline(model: str, task: str, params: dict[str, Any], X, y, seed: int = 0):
    """Build and fit ``imputer -> scaler -> model`` with fixed ``params``."""
    pipe = make_pipeline(get_model(model).build(task, params, seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)
    return pipe


def outer_splits(
    y: pd.Series,
    task: str,
    outer_folds: int,
    seed: int,
    groups: np.ndarray | pd.Series | None = None,
):
    """List of (train_val_positions, test_positions) for the outer folds.

    Random folds (``KFold``; ``StratifiedKFold`` for classification), or with ``groups``
    whole groups per test fold (:func:`_balanced_group_folds`; ``StratifiedGroupKFold``
    for classification), all shuffled with ``seed``.
    """
    from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

    if outer_folds < 2:
        raise ValueError(f"outer_folds must be >= 2, got {outer_folds}")
    if outer_folds > len(y):
        raise ValueError(f"outer_folds={outer_folds} exceeds the number of rows ({len(y)})")
    zeros = np.zeros(len(y))
    if groups is not None:
        g = _group_array(groups, len(y))
        n_groups = len(np.unique(g))
        if outer_folds > n_groups:
            raise ValueError(
                f"outer_folds={outer_folds} exceeds the number of groups ({n_groups})"
            )
        if task == "classification":
            splitter = StratifiedGroupKFold(n_splits=outer_folds, shuffle=True,
                                            random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return list(splitter.split(zeros, y.to_numpy(), groups=g))
        return _balanced_group_folds(g, outer_folds, seed)
    if task == "classification":
        splitter = StratifiedKFold(n_splits=outer_folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a class smaller than n_splits: still usable
            return list(splitter.split(zeros, y.to_numpy()))
    splitter = KFold(n_splits=outer_folds, shuffle=True, random_state=seed)
    return list(splitter.split(zeros))


def _balanced_group_folds(
    groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Whole groups per test fold, fold sizes balanced: ``GroupKFold``'s greedy rule, seeded.

    Groups go, largest first, to the fold with the fewest rows so far (scikit-learn's
    ``GroupKFold`` without shuffling); the groups are permuted with ``seed`` first, so
    groups of equal size land in seeded folds. (``GroupKFold(shuffle=True)`` instead puts
    the same *number* of groups in each fold, whatever their sizes: with one family of 40
    rows next to many of 1-2 rows, test folds would differ several-fold in size.)
    """
    rng = np.random.default_rng(seed)
    names, codes = np.unique(groups, return_inverse=True)
    order = rng.permutation(len(names))
    sizes = np.bincount(codes, minlength=len(names))
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of = np.empty(len(names), dtype=int)
    rows = np.zeros(n_splits, dtype=int)
    for k in order:
        fold_of[k] = int(np.argmin(rows))
        rows[fold_of[k]] += sizes[k]
    pos = np.arange(len(groups))
    row_fold = fold_of[codes]
    return [(pos[row_fold != f], pos[row_fold == f]) for f in range(n_splits)]


def _run_fold(k, trval, test, X, y, model, task, val_fraction, n_trials, seed, groups=None):
    """One outer fold: tune on train/validation, refit on both, score the test rows."""
    X_trval, y_trval = X.iloc[trval], y.iloc[trval]
    g_trval = None if groups is None else groups[trval]
    tr, va = split_train_val(y_trval, task, val_fraction, seed + k, groups=g_trval)
    params, val = tune(
        model, task, X_trval.iloc[tr], y_trval.iloc[tr], X_trval.iloc[va], y_trval.iloc[va],
        n_trials=n_trials, seed=seed + k,
    )
    pipe = fit_pipeline(model, task, params, X_trval, y_trval, seed)
    ids = X_trval.index.astype(str)
    split = {"train": list(ids[tr]), "val": list(ids[va]),
             "test": list(X.index[test].astype(str))}
    pred, proba = _predict(pipe, X.iloc[test], task)
    part = pd.DataFrame(
        {"id": X.index[test].astype(str), "fold": k, "y_true": y.iloc[test].to_numpy(),
         "y_pred": pred}
    )
    if proba is not None and np.ndim(proba) == 1:
        part["proba"] = proba
    return params, val, split, pipe, score(task, y.iloc[test], pred, proba), part


def nested_cv(
    X: pd.DataFrame,
    y: pd.Series,
    model: str,
    task: str,
    *,
    outer_folds: int = 10,
    val_fraction: float = 0.2,
    n_trials: int = 20,
    seed: int = 0,
    progress: bool = True,
    keep_pipelines: bool = False,
    n_jobs: int = 1,
    groups: np.ndarray | pd.Series | None = None,
    folds: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> CVResult:
    """Nested CV of one model family (see module docstring).

    Parameters
    ----------
    X : DataFrame of shape (n_samples, n_features), numeric (NaN allowed)
    y : Series of shape (n_samples,)
    model : str
        Name in :data:`mlkit.models.zoo.MODELS`.
    task : {"classification", "regression"}
    outer_folds : int
    val_fraction : float
        Fraction of the non-test rows used for validation (0.2 -> 72/18/10).
    n_trials : int
        Optuna trials per fold.
    seed : int
        Seeds the outer split, inner splits (``seed + fold``), the sampler and the models.
    progress : bool
        tqdm bar over the outer folds.
    keep_pipelines : bool
        Keep each fold's fitted pipeline in ``CVResult.pipelines`` (for inspection).
    n_jobs : int
        Outer folds run in parallel with joblib (``-1``: all cores). Results do not
        depend on it. Inside ``joblib.parallel_config(backend="dask")`` (with a
        ``distributed.Client``) the folds run as Dask tasks.
    groups : array-like of shape (n_samples,), optional
        Group label of every row (no missing labels): outer and inner splits keep each
        group on one side (see module docstring). ``None``: random (stratified) splits.
    folds : list of (train_val_positions, test_positions), optional
        Use these outer folds instead of making them (e.g. the same folds for several
        feature sets); ``outer_folds`` is then ignored. Inner splits still follow
        ``groups``.
    """
    from tqdm.auto import tqdm

    g = None if groups is None else _group_array(groups, len(y))
    if folds is None:
        folds = outer_splits(y, task, outer_folds, seed, groups=g)
    rows: list[dict[str, float]] = []
    params_all: list[dict[str, Any]] = []
    val_scores: list[float] = []
    oof_parts: list[pd.DataFrame] = []
    splits: list[dict[str, list[str]]] = []
    pipelines: list[Any] = []
    jobs = [
        (k, np.asarray(trval), np.asarray(test), X, y, model, task, val_fraction, n_trials,
         seed, g)
        for k, (trval, test) in enumerate(folds)
    ]
    if n_jobs == 1:
        outcomes = [
            _run_fold(*job)
            for job in tqdm(jobs, desc=f"nested CV {model}", disable=not progress, leave=False)
        ]
    else:
        # folds are independent and seeded per fold: same result for any n_jobs; with
        # ``joblib.parallel_config(backend="dask")`` they run on a Dask cluster
        from joblib import Parallel, delayed

        outcomes = Parallel(n_jobs=n_jobs)(delayed(_run_fold)(*job) for job in jobs)
    for params, val, split, pipe, metrics_k, part in outcomes:
        splits.append(split)
        if keep_pipelines:
            pipelines.append(pipe)
        rows.append(metrics_k)
        params_all.append(params)
        val_scores.append(val)
        oof_parts.append(part)
    fold_metrics = pd.DataFrame(rows)
    fold_metrics.index.name = "fold"
    oof = pd.concat(oof_parts, ignore_index=True)
    order = {i: n for n, i in enumerate(X.index.astype(str))}
    oof = oof.sort_values("id", key=lambda s: s.map(order)).reset_index(drop=True)
    return CVResult(model, task, fold_metrics, params_all, oof, val_scores, splits, pipelines,
                    grouped=g is not None)
