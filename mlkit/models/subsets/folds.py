"""Input checks and the cross-validation folds every subset is scored on.

:func:`make_folds` splits once (``StratifiedKFold(cv, shuffle=True, random_state=seed)``)
and standardises each fold with a ``StandardScaler`` fitted on that fold's training rows
only; all chunk tasks then share the resulting :class:`FoldData`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError

__all__ = ["MAX_FEATURES_SUPPORTED", "FoldData", "make_folds", "validate_xy"]

MAX_FEATURES_SUPPORTED = 63


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
    X_raw : ndarray of shape (n_samples, n_features)
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


def validate_xy(
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

    Xa, y01, _, _ = validate_xy(X, y, cv=cv)
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


