"""Subset search agrees with converged scikit-learn (coefficients, predictions, F1)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlkit.models.subsets import (
    exhaustive_subset_search,
    subset_fold_fits,
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


@pytest.mark.parametrize("C", [1.0, 100.0])
def test_coefficients_predictions_f1_match_converged_sklearn(C):
    X, y = make_problem(p=8)
    Xa = X.to_numpy()
    rng = np.random.default_rng(0)
    masks = rng.choice(np.arange(1, 2**8), size=15, replace=False)
    fits = subset_fold_fits(X, y, masks, cv=5, C=C, seed=3, chunk_size=16)
    splits = list(StratifiedKFold(5, shuffle=True, random_state=3).split(Xa, y))
    assert (fits["n_iter"] >= 0).all()
    for i, mask in enumerate(masks):
        cols = [j for j in range(8) if (mask >> j) & 1]
        for f, (train, test) in enumerate(splits):
            np.testing.assert_array_equal(fits["folds"].test_index[f], test)
            lr, pred, dec = sklearn_fold_fit(Xa, y, cols, train, test, C=C)
            coef = fits["coef"][i, f]
            ref = np.r_[lr.coef_[0], lr.intercept_]
            ours = np.r_[coef[cols], coef[-1]]
            scale = max(np.abs(ref).max(), 1.0)
            assert np.abs(ours - ref).max() <= 1e-6 * scale
            # excluded features are exactly zero
            assert np.all(coef[[j for j in range(8) if j not in cols]] == 0.0)
            ours_dec = fits["decision"][i, f, : len(test)]
            np.testing.assert_allclose(ours_dec, dec, rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal((ours_dec > 0).astype(int), pred)
            assert fits["f1"][i, f] == f1_score(y[test], pred)
            assert fits["accuracy"][i, f] == accuracy_score(y[test], pred)
            assert fits["roc_auc"][i, f] == pytest.approx(roc_auc_score(y[test], dec), abs=1e-12)


def test_full_table_matches_sklearn_cross_validation():
    X, y = make_problem(p=5, n=50)
    res = exhaustive_subset_search(X, y, cv=5, seed=0, progress=False, n_jobs=2, chunk_size=8)
    t = res.table
    assert len(t) == 31 and t["bitmask"].is_unique and t["converged"].all()
    assert t["bitmask"].dtype == np.uint32 and res.n_not_converged == 0
    splits = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    for row in t.itertuples():
        cols = [j for j in range(5) if (int(row.bitmask) >> j) & 1]
        assert row.n_features == len(cols)
        f1s = []
        for train, test in splits:
            _, pred, _ = sklearn_fold_fit(X.to_numpy(), y, cols, train, test)
            f1s.append(f1_score(y[test], pred))
        assert row.f1_mean == pytest.approx(np.mean(f1s), abs=1e-15)
        assert row.f1_std == pytest.approx(np.std(f1s), abs=1e-15)
    # best_by_size and best are consistent with the table
    for _, b in res.best_by_size.iterrows():
        sub = t[t["n_features"] == b["n_features"]]
        assert b["f1_mean"] == sub["f1_mean"].max()
    assert res.best["f1_mean"] == t["f1_mean"].max()
    assert res.size_summary["n_subsets"].tolist() == [math.comb(5, k) for k in range(1, 6)]
