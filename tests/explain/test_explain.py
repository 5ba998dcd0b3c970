"""SHAP values checked against the models' own outputs (additivity), figures written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlkit.explain import (
    mean_abs_shap,
    plot_beeswarm,
    plot_confusion,
    plot_parity,
    plot_roc,
    plot_top2,
    shap_values,
)
from mlkit.models.nested_cv import fit_pipeline


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 4)), columns=["vpa", "aal", "noise1", "noise2"])
    X.iloc[::9, 2] = np.nan
    y_cls = pd.Series((2 * X["vpa"] - X["aal"] > 0).astype(int))
    y_reg = pd.Series(3 * X["vpa"] - X["aal"] + 0.05 * rng.normal(size=80))
    return X, y_cls, y_reg


PARAMS = {
    "logreg": {"C": 1.0},
    "rf": {"n_estimators": 50, "max_depth": 4},
    "xgboost": {"n_estimators": 50, "max_depth": 3},
    "lightgbm": {"n_estimators": 50, "num_leaves": 8, "min_child_samples": 5},
}


def _margin(pipe, X):
    """Model output that SHAP values add up to (log-odds / probability / value)."""
    pre, model = pipe[:-1], pipe[-1]
    Xt = pre.transform(X)
    name = type(model).__name__
    if name == "LogisticRegression":
        return model.decision_function(Xt)
    if name == "RandomForestClassifier":
        return model.predict_proba(Xt)[:, 1]
    if name.startswith("XGB"):
        return model.predict(Xt, output_margin=True)
    if name == "LGBMClassifier":
        return model.predict(Xt, raw_score=True)
    return model.predict(Xt)


@pytest.mark.parametrize("model", ["logreg", "rf", "xgboost", "lightgbm"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_shap_values_add_up_and_rank_the_signal_first(data, model, task):
    X, y_cls, y_reg = data
    y = y_cls if task == "classification" else y_reg
    params = dict(PARAMS[model])
    if model == "logreg" and task == "regression":
        params = {"alpha": 1.0}
    pipe = fit_pipeline(model, task, params, X, y, seed=0)
    values, X_display = shap_values(pipe, X)
    assert values.shape == X.shape
    assert not X_display.isna().any().any()  # imputed values for colouring
    margin = _margin(pipe, X)
    # local accuracy: sum of SHAP values + a constant base value = model output
    base = margin - values.sum(axis=1)
    assert np.ptp(base) < 1e-3 * max(1.0, np.ptp(margin))
    importance = mean_abs_shap(values, X.columns)
    assert importance["feature"].iloc[0] == "vpa"
    assert list(importance["rank"]) == [1, 2, 3, 4]


def test_figures_are_written(tmp_path, data):
    X, y_cls, y_reg = data
    pipe = fit_pipeline("logreg", "classification", {"C": 1.0}, X, y_cls)
    values, X_display = shap_values(pipe, X)
    paths = [
        plot_beeswarm(values, X_display, tmp_path / "bee.png"),
        plot_top2(X_display, y_cls, ("vpa", "aal"), tmp_path / "top2.png", task="classification"),
        plot_top2(pd.concat([X_display] * 6, ignore_index=True), pd.concat([y_reg] * 6),
                  ("vpa", "aal"), tmp_path / "hex.png", task="regression"),
        plot_parity(y_reg, y_reg + 0.1, tmp_path / "parity.png"),
        plot_confusion(y_cls, y_cls, tmp_path / "cm.png"),
        plot_roc(y_cls, pipe.predict_proba(X)[:, 1], tmp_path / "roc.png"),
    ]
    for p in paths:
        assert p.exists() and p.stat().st_size > 5000
