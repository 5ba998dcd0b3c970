""":class:`ExhaustiveSubsetSearch`: the search as a scikit-learn feature selector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import ClassifierTags
from sklearn.utils.validation import check_is_fitted, validate_data

from mlkit.models.subsets.search import exhaustive_subset_search

__all__ = ["ExhaustiveSubsetSearch"]


class ExhaustiveSubsetSearch(SelectorMixin, BaseEstimator):
    """Select the best feature subset found by :func:`exhaustive_subset_search`.

    A scikit-learn estimator: ``get_params``/``set_params``/``clone`` work, ``fit``
    returns ``self``, and as a feature selector ``get_support``, ``transform`` and
    ``get_feature_names_out`` keep the best subset's columns, so it can be a step of a
    :class:`~sklearn.pipeline.Pipeline`. ``transform`` returns arrays; call
    ``set_output(transform="pandas")`` to get DataFrames.

    Parameters
    ----------
    cv, max_features, C, metric, seed, chunk_size, n_jobs, checkpoint_dir, progress,
    dask_client, estimator, tol
        As in :func:`exhaustive_subset_search` (stored unchanged, checked by ``fit``);
        ``progress`` defaults to False here.

    Attributes
    ----------
    results_ : SubsetSearchResult
        The whole search (table, best subset of every size, per-size summary).
    best_subset_ : list of str
        Feature names of the best subset.
    best_bitmask_ : int
        Its bitmask (bit ``j`` = column ``j``).
    best_score_ : float
        Its mean CV metric.
    support_ : ndarray of bool, shape (n_features_in_,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Only when ``X`` was a DataFrame with string column names.
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

    def fit(self, X, y) -> ExhaustiveSubsetSearch:
        """Run the search.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric, finite features (at most 63 columns).
        y : array-like of shape (n_samples,)
            Binary target, at least ``cv`` members per class.

        Returns
        -------
        self
        """
        if isinstance(X, pd.DataFrame):
            # the search checks DataFrames itself (names the bad columns); here only
            # n_features_in_ and feature_names_in_ are recorded
            validate_data(self, X, skip_check_array=True)
        else:
            X, y = validate_data(self, X, y, ensure_min_samples=2)
        res = exhaustive_subset_search(X, y, **self.get_params(deep=False))
        best = res.best
        self.results_ = res
        self.best_bitmask_ = int(best["bitmask"])
        self.best_subset_ = res.features_of(self.best_bitmask_)
        self.best_score_ = float(best[f"{res.metric}_mean"])
        self.support_ = np.array(
            [(self.best_bitmask_ >> j) & 1 == 1 for j in range(self.n_features_in_)]
        )
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # binary targets only: scikit-learn's own tag for that lives on classifier tags
        # (its estimator checks then give this selector two-class targets)
        tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags
