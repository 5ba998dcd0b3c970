""":class:`Trainer`: a scikit-learn estimator that selects and fits a model on a feature table.

``Trainer.fit(X, y)``
    1. one-hot ``connectivity``, drop constant columns, redundancy filter (label-free,
       once, before the CV; reported);
    2. nested CV of every requested model family (:mod:`mlkit.models.nested_cv`);
    3. the model family with the best mean primary metric (F1 / MAE) is chosen;
    4. its final hyperparameters are tuned with the same Optuna search on one
       seeded 80/20 (stratified) split of *all* rows, then the pipeline is refitted
       on all rows -> ``pipeline_`` (the artefact).

``Trainer.fit(X, y, groups=groups)`` (scikit-learn's convention: groups are data passed to
``fit``, not a parameter) splits by group everywhere: the outer folds, the inner
train/validation splits and the final tuning split keep each group on one side
(:mod:`mlkit.models.nested_cv`).

The whole job (featurize, join the labels, fit, explain, track) is
:func:`mlkit.workflows.train`, a layer above this one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from mlkit.errors import MlkitError
from mlkit.models.metrics import PRIMARY, is_better
from mlkit.models.nested_cv import CVResult, fit_pipeline, nested_cv, split_train_val, tune
from mlkit.models.preprocessing import (
    CATEGORICAL_COLUMNS,
    drop_constant,
    encode_categoricals,
    feature_ranges,
    redundancy_filter,
)
from mlkit.models.zoo import MODELS, parse_models

DEFAULT_MODELS = tuple(MODELS)


class Trainer(BaseEstimator):
    """Nested-CV model selection and final refit on a feature table.

    A scikit-learn estimator: ``__init__`` only stores its arguments, ``fit`` validates
    them and returns ``self``, learned state ends in ``_``, so ``clone``, ``get_params``
    and ``set_params`` work (the training workflow clones it with the task it found).

    Parameters
    ----------
    task : {"classification", "regression"}
    models : sequence of str or "a,b"
        Model families from :data:`mlkit.models.zoo.MODELS`.
    outer_folds : int
        Outer CV folds (10 -> 10 % test each).
    val_fraction : float
        Validation share of the non-test rows (0.2 -> 72/18/10).
    n_trials : int
        Optuna trials per fold (and for the final tuning).
    seed : int
    corr_threshold : float
        Redundancy filter: drop the later feature of every pair with |r| above it.
    feature_subset : sequence of str, optional
        Only these (encoded) columns enter the filters and the models, in this order
        (e.g. :func:`mlkit.features.sets.feature_set_columns` of a named set); ``None``:
        every column.
    n_jobs : int
        Outer CV folds in parallel (joblib; Dask via ``joblib.parallel_config``).
    progress : bool
        tqdm progress bars.

    Attributes
    ----------
    feature_columns_ : list of str
        Model input columns after encoding and filtering (order matters).
    input_columns_ : list of str
        Columns of the table given to ``fit`` (before encoding).
    constant_dropped_ : list of str
    redundant_pairs_ : list of RedundantPair
    cv_results_ : dict of str to CVResult
    best_model_ : str
    best_params_ : dict
    pipeline_ : sklearn Pipeline fitted on all rows
    train_min_, train_max_ : dict of str to float
        Range of every model input over the training rows.
    n_groups_ : int or None
        Distinct groups given to ``fit`` (None: random folds).
    notes_ : list of str
    """

    def __init__(
        self,
        *,
        task: str = "regression",
        models: Sequence[str] | str = DEFAULT_MODELS,
        outer_folds: int = 10,
        val_fraction: float = 0.2,
        n_trials: int = 20,
        seed: int = 0,
        corr_threshold: float = 0.9,
        feature_subset: Sequence[str] | None = None,
        n_jobs: int = 1,
        progress: bool = True,
    ) -> None:
        self.task = task
        self.models = models
        self.outer_folds = outer_folds
        self.val_fraction = val_fraction
        self.n_trials = n_trials
        self.seed = seed
        self.corr_threshold = corr_threshold
        self.feature_subset = feature_subset
        self.n_jobs = n_jobs
        self.progress = progress

    def _validate(self) -> list[str]:
        if self.task not in PRIMARY:
            raise MlkitError(f"task must be classification or regression, got {self.task!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise MlkitError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.n_trials < 1:
            raise MlkitError(f"n_trials must be >= 1, got {self.n_trials}")
        if self.outer_folds < 2:
            raise MlkitError(f"outer_folds must be >= 2, got {self.outer_folds}")
        return parse_models(self.models)

    def prepare(self, X: pd.DataFrame, *, fit: bool = False) -> pd.DataFrame:
        """Encode/select the model input columns of a raw feature table.

        With ``fit=True`` (inside :meth:`fit`) the constant and redundancy filters are
        learned; otherwise the learned ``feature_columns_`` are selected.
        """
        notes = self.notes_ if fit else []
        encoded = encode_categoricals(X, CATEGORICAL_COLUMNS, notes=notes)
        if not fit:
            missing = [c for c in self.feature_columns_ if c not in encoded.columns]
            if missing:
                raise MlkitError(
                    f"feature table lacks {len(missing)} training feature(s): "
                    + ", ".join(missing[:8])
                )
            return encoded[self.feature_columns_]
        if self.feature_subset is not None:
            wanted = list(self.feature_subset)
            missing = [c for c in wanted if c not in encoded.columns]
            if missing:
                raise MlkitError(
                    f"feature table lacks {len(missing)} column(s) of the feature subset: "
                    + ", ".join(missing[:8])
                )
            notes.append(f"feature subset: {len(wanted)} of {encoded.shape[1]} columns")
            encoded = encoded[wanted]
        encoded, self.constant_dropped_ = drop_constant(encoded, notes=notes)
        kept, self.redundant_pairs_ = redundancy_filter(
            encoded, self.corr_threshold, notes=notes
        )
        self.feature_columns_ = kept
        return encoded[kept]

    def fit(self, X: pd.DataFrame, y: pd.Series, groups=None) -> Trainer:
        """Run the nested CV of every model, choose the best, refit it on all rows.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_columns)
            Raw feature columns (numeric + ``connectivity``), index = id.
        y : Series of shape (n_samples,)
            Class codes (classification) or values (regression), same index.
        groups : array-like of shape (n_samples,), optional
            Group label of every row (e.g. structure family), in the order of ``X``; a
            Series with the index of ``X`` is aligned to it. Every split keeps a group on
            one side; at least ``outer_folds`` distinct groups are needed. ``None``:
            random (stratified) splits.
        """
        models = self._validate()
        X = _as_frame(X)
        if y is None:
            raise MlkitError("Trainer requires y to be passed, but the target y is None")
        y = _as_series(y, X)
        if len(X) != len(y):
            raise MlkitError(f"X has {len(X)} rows but y has {len(y)}")
        if X.shape[1] == 0:
            raise MlkitError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
        if len(X) < self.outer_folds:
            raise MlkitError(f"n_samples={len(X)} is fewer than outer_folds={self.outer_folds}")
        groups = _as_groups(groups, X, self.outer_folds)
        if self.task == "classification":
            counts = y.value_counts()
            if len(counts) < 2 or counts.min() < 2:
                raise MlkitError(
                    f"classification needs >= 2 classes with >= 2 members each, got "
                    f"{counts.to_dict()}"
                )
            if counts.min() < self.outer_folds:
                self.notes_ = [
                    f"smallest class has {counts.min()} members < {self.outer_folds} outer "
                    "folds: some test folds lack it (ROC-AUC NaN there)"
                ]
            else:
                self.notes_ = []
        else:
            self.notes_ = []
        self.n_groups_ = None if groups is None else len(np.unique(groups))
        if groups is not None:
            self.notes_.append(
                f"grouped CV: {self.n_groups_} groups; outer, inner and final splits keep "
                "each group on one side"
            )
        self.input_columns_ = list(X.columns)
        self.n_features_in_ = X.shape[1]
        self.X_raw_ = X
        Xf = self.prepare(X, fit=True)
        self.X_ = Xf
        self.y_ = y
        self.cv_results_: dict[str, CVResult] = {}
        metric = PRIMARY[self.task][0]
        best, best_value = None, float("nan")
        for name in models:
            t0 = time.perf_counter()
            res = nested_cv(
                Xf, y, name, self.task, outer_folds=self.outer_folds,
                val_fraction=self.val_fraction, n_trials=self.n_trials, seed=self.seed,
                progress=self.progress, n_jobs=self.n_jobs, groups=groups,
            )
            res.wall_time_s = time.perf_counter() - t0
            self.cv_results_[name] = res
            value = float(res.mean[metric])
            if best is None or is_better(self.task, value, best_value):
                best, best_value = name, value
        self.best_model_ = best
        tr, va = split_train_val(y, self.task, self.val_fraction, self.seed, groups=groups)
        self.best_params_, self.final_val_score_ = tune(
            best, self.task, Xf.iloc[tr], y.iloc[tr], Xf.iloc[va], y.iloc[va],
            n_trials=self.n_trials, seed=self.seed,
        )
        self.pipeline_ = fit_pipeline(best, self.task, self.best_params_, Xf, y, self.seed)
        self.train_min_, self.train_max_ = feature_ranges(Xf)
        return self

    def summary(self) -> pd.DataFrame:
        """Mean and std of every metric over the outer folds, one row per model."""
        rows = []
        for name, res in self.cv_results_.items():
            row = {"model": name, **res.summary()}
            row["wall_time_s"] = getattr(res, "wall_time_s", float("nan"))
            rows.append(row)
        return pd.DataFrame(rows).set_index("model")

    def oof_predictions(self) -> pd.DataFrame:
        """Out-of-fold predictions of all models (long format, column ``model``)."""
        return pd.concat(
            [r.oof.assign(model=n) for n, r in self.cv_results_.items()], ignore_index=True
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted values / class codes for a raw feature table."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(self.prepare(self._input(X)))

    @available_if(lambda self: self.task == "classification")
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities (classification), shape (n_samples, n_classes)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(self.prepare(self._input(X)))

    def score(self, X: pd.DataFrame, y) -> float:
        """Accuracy (classification) or R^2 (regression), as scikit-learn's mixins define."""
        from sklearn.metrics import accuracy_score, r2_score

        metric = accuracy_score if self.task == "classification" else r2_score
        return float(metric(np.asarray(y), self.predict(X)))

    def _input(self, X) -> pd.DataFrame:
        """A table as is; an array must have the fitted number of columns."""
        frame = _as_frame(X)
        if not isinstance(X, pd.DataFrame) and frame.shape[1] != self.n_features_in_:
            raise MlkitError(
                f"X has {frame.shape[1]} features, but Trainer is expecting "
                f"{self.n_features_in_} features as input."
            )
        return frame

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        if self.task == "classification":
            tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags()
        else:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True  # the categorical ``connectivity`` column
        tags.target_tags.required = True
        tags.non_deterministic = False
        return tags


def _as_frame(X) -> pd.DataFrame:
    """A DataFrame as is; an array as columns ``x0, x1, ...`` (as scikit-learn passes it)."""
    if isinstance(X, pd.DataFrame):
        return X
    if hasattr(X, "toarray"):
        raise TypeError("sparse input is not supported; give a dense table")
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {arr.ndim}D array instead. Reshape your data, e.g. "
            "array.reshape(-1, 1) for a single feature"
        )
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _as_groups(groups, X: pd.DataFrame, outer_folds: int) -> np.ndarray | None:
    """Group labels as a string array in the row order of ``X`` (checked), or None."""
    if groups is None:
        return None
    if isinstance(groups, pd.Series) and not groups.index.equals(X.index):
        missing = [i for i in X.index if i not in groups.index]
        if missing:
            raise MlkitError(
                f"groups has no entry for {len(missing)} row(s) of X: "
                + ", ".join(map(str, missing[:8]))
            )
        groups = groups.loc[X.index]
    g = pd.Series(np.asarray(groups, dtype=object))
    if g.ndim != 1 or len(g) != len(X):
        raise MlkitError(f"groups has {len(g)} entries but X has {len(X)} rows")
    if g.isna().any():
        raise MlkitError(
            f"groups has {int(g.isna().sum())} missing label(s); give every row a group"
        )
    g = g.astype(str).to_numpy()
    n_groups = len(np.unique(g))
    if n_groups < outer_folds:
        raise MlkitError(
            f"{n_groups} distinct group(s) are fewer than outer_folds={outer_folds}"
        )
    return g


def _as_series(y, X: pd.DataFrame) -> pd.Series:
    if isinstance(y, pd.Series):
        return y
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        import warnings

        from sklearn.exceptions import DataConversionWarning

        warnings.warn("A column-vector y was passed when a 1d array was expected",
                      DataConversionWarning, stacklevel=3)
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"y must be 1D, got shape {arr.shape}")
    return pd.Series(arr, index=X.index if len(arr) == len(X) else None)
