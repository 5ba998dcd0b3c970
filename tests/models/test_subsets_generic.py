"""Generic (joblib) path of the subset search: sklearn logreg oracle and tree models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlkit.models.subsets import (
    exhaustive_subset_search,
)

METRIC_COLS = ["f1_mean", "f1_std", "accuracy_mean", "accuracy_std", "roc_auc_mean", "roc_auc_std"]


def make_problem(n: int = 60, p: int = 7, seed: int = 1, signal: int = 3):
    """Seeded correlated features, a logistic signal in the first ``signal`` ones."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(p, p)) * 0.5 + np.eye(p)
    X = rng.normal(size=(n, p)) @ mix * rng.uniform(0.1, 10, size=p) + rng.normal(size=p)
    w = np.zeros(p)
    w[:signal] = rng.normal(size=signal)
    z = (X - X.mean(0)) / X.std(0)
    y = (z @ w + rng.normal(size=n) > 0).astype(int)
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(p)]), y


def sklearn_fold_fit(X, y, cols, train, test, C=1.0, tol=1e-10):
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=C, tol=tol, max_iter=10000))
    pipe.fit(X[np.ix_(train, cols)], y[train])
    lr = pipe[-1]
    return lr, pipe.predict(X[np.ix_(test, cols)]), pipe.decision_function(X[np.ix_(test, cols)])


@pytest.fixture(autouse=True)
def _single_thread_blas():
    """sklearn's OpenMP threads crawl on a loaded 2-core machine; one thread is faster."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def test_generic_sklearn_logreg_equals_fast_path():
    X, y = make_problem(p=5, n=50)
    fast = exhaustive_subset_search(X, y, cv=5, progress=False).table
    slow = exhaustive_subset_search(
        X, y, cv=5, progress=False, estimator="logreg_sklearn", n_jobs=1
    )
    t = slow.table
    np.testing.assert_array_equal(t["bitmask"], fast["bitmask"])
    for c in ["f1_mean", "f1_std", "accuracy_mean", "accuracy_std"]:
        np.testing.assert_array_equal(t[c], fast[c])
    np.testing.assert_allclose(t["roc_auc_mean"], fast["roc_auc_mean"], atol=1e-12)


@pytest.mark.parametrize("estimator", ["rf", "xgb", "lgbm"])
def test_generic_tree_models_same_format(estimator):
    X, y = make_problem(p=4, n=40)
    res = exhaustive_subset_search(
        X, y, cv=3, progress=False, estimator=estimator, n_jobs=1, chunk_size=4
    )
    t = res.table
    assert len(t) == 15 and t["bitmask"].is_unique
    assert list(t.columns[:2]) == ["bitmask", "n_features"]
    assert set(METRIC_COLS) <= set(t.columns)
    assert ((t["f1_mean"] >= 0) & (t["f1_mean"] <= 1)).all()
    assert res.best["f1_mean"] == t["f1_mean"].max()
