"""Subset search agrees with converged scikit-learn (coefficients, predictions, F1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from subset_problems import make_problem, sklearn_fold_fit

from mlkit.models.subsets import (
    exhaustive_subset_search,
    subset_fold_fits,
)


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
