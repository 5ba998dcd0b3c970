"""Explaining a trained model: SHAP values and the figures of the rotation paper.

* :func:`shap_values` -- ``LinearExplainer`` for linear models (logistic / ridge),
  ``TreeExplainer`` (exact TreeSHAP) for random forest, XGBoost and LightGBM.
  Values are for the model's output on the imputed + scaled inputs (log-odds for
  logistic regression / boosted classifiers, probability of class 1 for random
  forest classifiers, target units for regressors).
* :func:`plot_beeswarm` (Figure 2b-like), :func:`mean_abs_shap` (table),
  :func:`plot_top2` (Figure 2c-like scatter/hexbin of the two most important
  features coloured by label), :func:`plot_parity` (regression),
  :func:`plot_confusion` and :func:`plot_roc` (classification).

Figures are built with the object API (``matplotlib.figure.Figure``): no pyplot state and
no backend switch, so importing or calling this module never changes the caller's
matplotlib backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _figure(figsize: tuple[float, float]):
    """A figure and its axes from the object API: no pyplot state, no backend switch."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return Path(path)


def _split_pipeline(pipeline) -> tuple[Any, Any]:
    """(preprocessing part, final estimator) of a fitted sklearn Pipeline."""
    return pipeline[:-1], pipeline[-1]


def shap_values(pipeline, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """SHAP values of a fitted ``imputer -> scaler -> model`` pipeline.

    Parameters
    ----------
    pipeline : fitted sklearn Pipeline (from :func:`mlkit.models.preprocessing.make_pipeline`)
    X : DataFrame of shape (n_samples, n_features)

    Returns
    -------
    values : ndarray of shape (n_samples, n_features)
        For binary classifiers: contributions towards class 1.
    X_display : DataFrame of shape (n_samples, n_features)
        Imputed, unscaled feature values (for colouring the beeswarm).
    """
    import shap

    pre, model = _split_pipeline(pipeline)
    Xt = np.asarray(pre.transform(X), dtype=float)
    X_display = pd.DataFrame(
        pipeline.named_steps["impute"].transform(X), columns=X.columns, index=X.index
    )
    name = type(model).__name__
    if name in ("LogisticRegression", "Ridge", "LinearRegression"):
        explainer = shap.LinearExplainer(model, shap.maskers.Independent(Xt, max_samples=1000))
        values = np.asarray(explainer.shap_values(Xt))
    elif name.startswith("XGB"):
        import xgboost as xgb

        contrib = model.get_booster().predict(xgb.DMatrix(Xt), pred_contribs=True)
        values = np.asarray(contrib)[:, :-1]  # last column is the bias
    elif name.startswith("LGBM"):
        contrib = model.booster_.predict(Xt, pred_contrib=True)
        values = np.asarray(contrib)[:, :-1]
    else:
        explainer = shap.TreeExplainer(model)
        values = np.asarray(explainer.shap_values(Xt, check_additivity=False))
    if values.ndim == 3:  # (n, f, n_classes) -> class 1 for binary
        values = values[:, :, 1] if values.shape[2] == 2 else np.abs(values).sum(axis=2)
    elif values.ndim == 2 and values.shape[1] != X.shape[1] and values.shape[0] == 2:
        values = values[1]
    return values, X_display


def mean_abs_shap(values: np.ndarray, columns) -> pd.DataFrame:
    """Mean |SHAP| per feature, descending (columns ``feature, mean_abs_shap, rank``)."""
    table = pd.DataFrame({"feature": list(columns), "mean_abs_shap": np.abs(values).mean(axis=0)})
    table = table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(
        drop=True
    )
    table["rank"] = np.arange(1, len(table) + 1)
    return table


def plot_beeswarm(
    values: np.ndarray, X_display: pd.DataFrame, path: str | Path, *, max_display: int = 20,
    title: str = "",
) -> Path:
    """SHAP beeswarm (one row per feature, dots coloured by the feature value)."""
    import shap

    fig, ax = _figure((8, 6))
    explanation = shap.Explanation(
        values=np.asarray(values), data=X_display.to_numpy(dtype=float),
        feature_names=list(X_display.columns),
    )
    shap.plots.beeswarm(explanation, max_display=max_display, ax=ax, show=False,
                        plot_size=None)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_top2(
    X: pd.DataFrame, y, features: tuple[str, str], path: str | Path, *, task: str,
    label: str = "label",
) -> Path:
    """Scatter (n <= 400) or hexbin (larger n) of two features coloured by the label."""
    fx, fy = features
    fig, ax = _figure((6, 5))
    yv = np.asarray(y, dtype=float)
    if len(X) > 400:
        hb = ax.hexbin(X[fx], X[fy], C=yv, gridsize=25, reduce_C_function=np.mean, cmap="coolwarm")
        fig.colorbar(hb, ax=ax, label=f"mean {label}")
    elif task == "classification":
        for cls in np.unique(yv):
            m = yv == cls
            ax.scatter(X[fx][m], X[fy][m], s=25, alpha=0.8, label=f"{label} = {cls:g}")
        ax.legend()
    else:
        sc = ax.scatter(X[fx], X[fy], c=yv, s=25, cmap="coolwarm")
        fig.colorbar(sc, ax=ax, label=label)
    ax.set_xlabel(fx)
    ax.set_ylabel(fy)
    ax.set_title("two most important features (mean |SHAP|)")
    return _save(fig, path)


def plot_parity(y_true, y_pred, path: str | Path, *, label: str = "target") -> Path:
    """Predicted vs true (out-of-fold) with the y = x line."""
    yt, yp = np.asarray(y_true, float), np.asarray(y_pred, float)
    fig, ax = _figure((5, 5))
    ax.scatter(yt, yp, s=18, alpha=0.7)
    lo, hi = float(min(yt.min(), yp.min())), float(max(yt.max(), yp.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    mae = float(np.mean(np.abs(yt - yp)))
    ax.set_xlabel(f"true {label}")
    ax.set_ylabel(f"predicted {label} (out-of-fold)")
    ax.set_title(f"parity, MAE = {mae:.3f}")
    return _save(fig, path)


def plot_confusion(y_true, y_pred, path: str | Path, *, classes=None) -> Path:
    """Confusion matrix of out-of-fold predictions."""
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = _figure((5, 4.5))
    ConfusionMatrixDisplay.from_predictions(
        np.asarray(y_true), np.asarray(y_pred), display_labels=classes, ax=ax, colorbar=False
    )
    ax.set_title("confusion matrix (out-of-fold)")
    return _save(fig, path)


def plot_roc(y_true, proba, path: str | Path) -> Path:
    """ROC curve of out-of-fold class-1 probabilities."""
    from sklearn.metrics import RocCurveDisplay

    fig, ax = _figure((5, 4.5))
    RocCurveDisplay.from_predictions(np.asarray(y_true), np.asarray(proba), ax=ax)
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_title("ROC (out-of-fold)")
    return _save(fig, path)


def explain_training(trainer, out: str | Path, *, progress: bool = False) -> tuple[dict, dict]:
    """All figures and tables for a fitted :class:`mlkit.models.trainer.Trainer`.

    Returns
    -------
    figures : dict of str to Path
        ``shap_beeswarm``, ``top2``, and ``parity`` or ``confusion`` + ``roc``.
    tables : dict of str to Path
        ``shap_importance`` (mean |SHAP| per feature).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = trainer.X_, trainer.y_
    values, X_display = shap_values(trainer.pipeline_, X)
    importance = mean_abs_shap(values, X.columns)
    figures: dict[str, Path] = {}
    tables: dict[str, Path] = {"shap_importance": out / "shap_importance.csv"}
    importance.to_csv(tables["shap_importance"], index=False)
    figures["shap_beeswarm"] = plot_beeswarm(
        values, X_display, out / "shap_beeswarm.png",
        title=f"SHAP, final {trainer.best_model_}",
    )
    top = list(importance["feature"][:2])
    if len(top) == 2:
        figures["top2"] = plot_top2(
            X_display, y, (top[0], top[1]), out / "top2_features.png", task=trainer.task,
            label=str(y.name or "label"),
        )
    oof = trainer.cv_results_[trainer.best_model_].oof
    if trainer.task == "regression":
        figures["parity"] = plot_parity(
            oof["y_true"], oof["y_pred"], out / "parity.png", label=str(y.name or "target")
        )
    else:
        figures["confusion"] = plot_confusion(oof["y_true"], oof["y_pred"], out / "confusion.png")
        if "proba" in oof and oof["y_true"].nunique() == 2:
            figures["roc"] = plot_roc(oof["y_true"], oof["proba"], out / "roc.png")
    return figures, tables
