"""Metrics with the same names for every model, so runs compare side by side.

Classification: ``f1`` (primary; binary F1 of class 1, macro for >2 classes), ``roc_auc``,
``accuracy``, ``balanced_accuracy``, ``mcc``. Regression: ``mae`` (primary), ``rmse``,
``r2``, ``spearman``. Undefined values (ROC-AUC on a single-class fold, Spearman of
a constant) are NaN and ignored by the nan-aware mean/std.
"""

from __future__ import annotations

import warnings

import numpy as np

CLASSIFICATION_METRICS = ("f1", "roc_auc", "accuracy", "balanced_accuracy", "mcc")
REGRESSION_METRICS = ("mae", "rmse", "r2", "spearman")
#: task -> (primary metric, greater is better)
PRIMARY = {"classification": ("f1", True), "regression": ("mae", False)}


def classification_metrics(y_true, y_pred, proba=None) -> dict[str, float]:
    """Metrics for class codes.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,), int class codes
    proba : array-like of shape (n_samples,) (binary, class-1 probability) or
        (n_samples, n_classes), optional
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    n_classes = max(int(np.max(y_true)), int(np.max(y_pred))) + 1
    binary = n_classes <= 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # single-class folds: sklearn warns, values stay defined
        out = {
            "f1": float(skm.f1_score(y_true, y_pred, average="binary" if binary else "macro",
                                     zero_division=0)),
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "mcc": float(skm.matthews_corrcoef(y_true, y_pred)),
            "roc_auc": float("nan"),
            "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        }
    if proba is not None and len(np.unique(y_true)) > 1:
        proba = np.asarray(proba)
        try:
            if proba.ndim == 1:
                out["roc_auc"] = float(skm.roc_auc_score(y_true, proba))
            else:
                out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr"))
        except ValueError:
            pass
    return {k: out[k] for k in CLASSIFICATION_METRICS}


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """MAE, RMSE, R2 and Spearman rho, in target units (after any transform)."""
    from scipy.stats import spearmanr
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    out = {
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "r2": float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
        "spearman": float("nan"),
    }
    if len(y_true) > 2 and np.ptp(y_true) > 0 and np.ptp(y_pred) > 0:
        out["spearman"] = float(spearmanr(y_true, y_pred).statistic)
    return out


def score(task: str, y_true, y_pred, proba=None) -> dict[str, float]:
    """Dispatch to :func:`classification_metrics` or :func:`regression_metrics`."""
    if task == "classification":
        return classification_metrics(y_true, y_pred, proba)
    return regression_metrics(y_true, y_pred)


def is_better(task: str, a: float, b: float) -> bool:
    """Whether primary-metric value ``a`` beats ``b`` (NaN never wins)."""
    if not np.isfinite(a):
        return False
    if not np.isfinite(b):
        return True
    return a > b if PRIMARY[task][1] else a < b
