"""The table of the ``mlkit subsets`` job: labels + (feature table | structures) -> X, y.

The search itself is an estimator of the models layer
(:func:`mlkit.models.subsets.exhaustive_subset_search`); what it is fed is decided here,
with the same :class:`~mlkit.features.settings.FeaturizationSettings` and
:class:`~mlkit.models.dataset.LabelPolicy` values as ``mlkit train`` -- so
``mlkit subsets --structures`` honours the featurizers, disorder strategy and site limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from mlkit.errors import MlkitError
from mlkit.features import featurize_paths
from mlkit.features.settings import FeaturizationSettings
from mlkit.models.dataset import LabelPolicy, build_training_table, load_features
from mlkit.models.preprocessing import drop_constant, encode_categoricals, redundancy_filter

__all__ = ["prepare_subset_table"]


def prepare_subset_table(
    labels: str | Path | pd.DataFrame,
    policy: LabelPolicy,
    *,
    features: str | Path | pd.DataFrame | None = None,
    structures: Sequence[str | Path] | None = None,
    featurization: FeaturizationSettings | None = None,
    corr_threshold: float | None = None,
    feature_subset: Sequence[str] | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Labels + (feature table | structures) -> numeric ``X``, class codes ``y`` and notes.

    The labels go through :func:`~mlkit.models.dataset.build_training_table` with the
    policy as a classification task (label parsing, joins, dropped rows reported); then
    ``connectivity`` is one-hot encoded, constant columns dropped and, with
    ``corr_threshold``, the later column of every pair with |Pearson r| above it.

    Parameters
    ----------
    labels : path or DataFrame
    policy : LabelPolicy
        Its ``task`` must be None or ``"classification"``.
    features, structures
        Exactly one: a table from ``mlkit featurize``, or structure files featurized
        with ``featurization`` (default ``FeaturizationSettings()``).
    corr_threshold : float, optional
    feature_subset : sequence of str, optional
        Only these (encoded) columns, selected before the constant and |r| filters.
    jobs, cache_dir, use_cache, progress
        As for :func:`mlkit.features.featurize_paths`.

    Returns
    -------
    X : DataFrame of shape (n_samples, n_features)
    y : Series of shape (n_samples,)
    notes : list of str
    """
    if (features is None) == (structures is None):
        raise MlkitError("give exactly one of features (a table) or structures (files)")
    if policy.task == "regression":
        raise MlkitError("the subset search is a classification (give a threshold or classes)")
    if structures is not None:
        table = featurize_paths(
            list(structures), featurization, n_jobs=jobs, cache_dir=cache_dir,
            use_cache=use_cache, progress=progress,
        )
    elif isinstance(features, pd.DataFrame):
        table = features
    else:
        table = load_features(features)
    X, y, report = build_training_table(table, labels, replace(policy, task="classification"))
    notes = list(report.notes)
    X = encode_categoricals(X, notes=notes)
    if feature_subset is not None:
        missing = [c for c in feature_subset if c not in X.columns]
        if missing:
            raise MlkitError(f"feature table lacks {len(missing)} column(s) of the feature "
                             "subset: " + ", ".join(missing[:8]))
        X = X.loc[:, list(feature_subset)]
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
