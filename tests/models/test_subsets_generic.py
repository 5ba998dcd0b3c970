"""Generic (joblib) path of the subset search: sklearn logreg oracle and tree models."""

from __future__ import annotations

import numpy as np
import pytest
from subset_problems import METRIC_COLS, make_problem

from mlkit.models.subsets import (
    exhaustive_subset_search,
)


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
