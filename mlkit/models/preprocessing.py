"""Column preparation, redundancy filter and the per-fold imputation/scaling pipeline.

Order used by :class:`mlkit.models.train.Trainer` (all label-free, so done once
before the CV; imputation and scaling are fitted inside each fold):

1. :func:`encode_categoricals` -- one-hot ``connectivity`` with a *fixed* category
   list (so training and prediction give identical columns) unless the table already
   has the numeric columns ``connectivity_<class>`` (as ``mlkit.features`` writes them);
   other non-numeric columns are dropped and reported.
2. :func:`drop_constant` -- constant or all-NaN columns are dropped and reported.
3. :func:`redundancy_filter` -- of every pair with |Pearson r| > threshold the
   *later* column (in the table's fixed column order) is dropped; pairs reported.
4. :func:`make_pipeline` -- ``SimpleImputer(median) -> StandardScaler -> model``;
   fitted on the training part of each fold only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError

try:  # the fixed category list comes from mlkit.structures when available
    from mlkit.structures import CONNECTIVITY_CLASSES as _CONN
except ImportError:  # pragma: no cover - structures helper not merged yet
    _CONN = ("isolated", "corner", "edge", "face", "mixed", "none")

#: categorical columns and their fixed categories
CATEGORICAL_COLUMNS: dict[str, tuple[str, ...]] = {"connectivity": tuple(_CONN)}


@dataclass(frozen=True)
class RedundantPair:
    """One dropped feature: ``dropped`` correlates with the earlier ``kept`` by ``r``."""

    dropped: str
    kept: str
    r: float


def encode_categoricals(
    X: pd.DataFrame,
    categorical: Mapping[str, Sequence[str]] | None = None,
    *,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """One-hot the categorical columns with fixed categories; drop other non-numeric columns.

    Parameters
    ----------
    X : DataFrame of shape (n_samples, n_columns)
    categorical : mapping column -> categories, default :data:`CATEGORICAL_COLUMNS`
    notes : list of str, optional
        Receives one-line messages about dropped columns / unknown categories.

    Returns
    -------
    DataFrame of shape (n_samples, n_numeric)
        float columns; one-hot columns are named ``"<column>=<category>"`` and take the
        place of the original column. A value outside the categories gives all zeros
        (and a note).
    """
    categorical = CATEGORICAL_COLUMNS if categorical is None else categorical
    notes = notes if notes is not None else []
    parts: list[pd.Series] = []
    for col in X.columns:
        series = X[col]
        if col in categorical:
            cats = list(categorical[col])
            if all(f"{col}_{cat}" in X.columns for cat in cats):
                continue  # the table already carries this one-hot encoding
            values = series.astype(str)
            unknown = sorted(set(values[~values.isin(cats)]) - {"nan", "None", ""})
            if unknown:
                notes.append(f"column {col!r}: unknown categories {unknown} encoded as all zeros")
            for cat in cats:
                parts.append((values == cat).astype(float).rename(f"{col}={cat}"))
            continue
        if pd.api.types.is_bool_dtype(series):
            parts.append(series.astype(float))
            continue
        if pd.api.types.is_numeric_dtype(series):
            parts.append(series.astype(float))
            continue
        converted = pd.to_numeric(series, errors="coerce")
        if converted.notna().sum() == series.notna().sum():
            parts.append(converted.astype(float))
        else:
            notes.append(f"non-numeric column {col!r} dropped (not a feature)")
    if not parts:
        raise MlkitError("no numeric feature columns")
    out = pd.concat(parts, axis=1)
    out.index = X.index
    return out


def drop_constant(
    X: pd.DataFrame, *, notes: list[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Drop columns that are constant or entirely NaN (over the rows given).

    Returns
    -------
    X : DataFrame
        Without the dropped columns.
    dropped : list of str
    """
    notes = notes if notes is not None else []
    dropped = []
    for col in X.columns:
        values = X[col].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size == 0 or np.all(finite == finite[0]):
            dropped.append(col)
    if dropped:
        notes.append(f"dropped {len(dropped)} constant/all-NaN feature(s): {', '.join(dropped)}")
    kept = X.drop(columns=dropped)
    if kept.shape[1] == 0:
        raise MlkitError("every feature is constant or NaN over the training rows")
    return kept, dropped


def redundancy_filter(
    X: pd.DataFrame, threshold: float = 0.9, *, notes: list[str] | None = None
) -> tuple[list[str], list[RedundantPair]]:
    """Greedy, order-deterministic |Pearson r| filter.

    Columns are visited in their order in ``X``; a column is kept unless its |r| with
    an already *kept* column exceeds ``threshold`` (pairwise-complete observations).
    The kept column with the largest |r| is reported as its partner.

    Parameters
    ----------
    X : DataFrame of shape (n_samples, n_features), numeric
    threshold : float in (0, 1]

    Returns
    -------
    kept : list of str
    pairs : list of RedundantPair
    """
    if not 0.0 < threshold <= 1.0:
        raise MlkitError(f"corr threshold must be in (0, 1], got {threshold}")
    notes = notes if notes is not None else []
    corr = X.corr(method="pearson", min_periods=3).abs()
    kept: list[str] = []
    pairs: list[RedundantPair] = []
    for col in X.columns:
        partners = [(corr.at[col, k], k) for k in kept if np.isfinite(corr.at[col, k])]
        partners = [(r, k) for r, k in partners if r > threshold]
        if partners:
            r, k = max(partners, key=lambda p: p[0])
            pairs.append(RedundantPair(dropped=col, kept=k, r=float(X[col].corr(X[k]))))
        else:
            kept.append(col)
    if pairs:
        notes.append(
            f"redundancy filter |r| > {threshold:g}: dropped {len(pairs)} feature(s): "
            + "; ".join(f"{p.dropped} (r={p.r:+.3f} with {p.kept})" for p in pairs)
        )
    return kept, pairs


def make_pipeline(estimator, *, scale: bool = True):
    """``SimpleImputer(median) -> StandardScaler -> estimator`` as one sklearn Pipeline.

    Fitting the pipeline on a fold's training rows fits the imputer and scaler on
    those rows only, so nothing of the validation/test rows leaks into them.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    if scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("model", estimator))
    return Pipeline(steps)


def feature_ranges(X: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """Per-column (nan-)min and max over the training rows, as plain dicts."""
    return (
        {c: float(np.nanmin(X[c].to_numpy(dtype=float))) for c in X.columns},
        {c: float(np.nanmax(X[c].to_numpy(dtype=float))) for c in X.columns},
    )


def out_of_range(
    X: pd.DataFrame,
    train_min: Mapping[str, float],
    train_max: Mapping[str, float],
    *,
    rel_tol: float = 1e-6,
) -> list[list[str]]:
    """Names of the features of each row that fall outside the training range.

    A value counts as outside when it is below ``min - tol`` or above ``max + tol`` with
    ``tol = rel_tol * max(|max - min|, 1e-12)``. NaN values are not flagged.

    Returns
    -------
    list of length n_samples, each a list of feature names
    """
    flags: list[list[str]] = [[] for _ in range(len(X))]
    for col in X.columns:
        if col not in train_min:
            continue
        lo, hi = train_min[col], train_max[col]
        tol = rel_tol * max(abs(hi - lo), 1e-12)
        values = X[col].to_numpy(dtype=float)
        outside = (values < lo - tol) | (values > hi + tol)
        for i in np.flatnonzero(outside):
            flags[i].append(col)
    return flags
