from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlkit.models.metrics import classification_metrics, regression_metrics
from mlkit.models.nested_cv import nested_cv, outer_splits, split_train_val


def _data(n=60, seed=0, signal=True):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"],
                     index=[f"s{i}" for i in range(n)])
    X.iloc[::7, 1] = np.nan  # imputation has work to do
    logit = 3 * X["a"] if signal else rng.normal(size=n)
    y = pd.Series((logit + 0.3 * rng.normal(size=n) > 0).astype(int), index=X.index)
    return X, y


def test_split_sizes_are_72_18_10():
    y = pd.Series(np.arange(100) % 2)
    folds = outer_splits(y, "classification", 10, seed=0)
    assert len(folds) == 10
    trval, test = folds[0]
    assert len(test) == 10 and len(trval) == 90
    tr, va = split_train_val(y.iloc[trval], "classification", 0.2, seed=0)
    assert (len(tr), len(va)) == (72, 18)
    # stratified: each outer test fold has 5 of each class
    assert all(np.bincount(y.iloc[t].to_numpy()).tolist() == [5, 5] for _, t in folds)
    # all test folds together cover every row once
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(100))


def test_no_leakage_scaler_and_imputer_fitted_inside_each_fold():
    X, y = _data()
    res = nested_cv(X, y, "logreg", "classification", outer_folds=3, n_trials=2, seed=0,
                    progress=False, keep_pipelines=True)
    assert len(res.pipelines) == 3
    for split, pipe in zip(res.splits, res.pipelines, strict=True):
        fit_ids = split["train"] + split["val"]
        assert not set(fit_ids) & set(split["test"])
        assert not set(split["train"]) & set(split["val"])
        scaler = pipe.named_steps["scale"]
        imputer = pipe.named_steps["impute"]
        assert scaler.n_samples_seen_ == len(fit_ids) < len(X)
        rows = X.loc[fit_ids]
        assert imputer.statistics_ == pytest.approx(rows.median().to_numpy())
        imputed = rows.fillna(rows.median())
        assert scaler.mean_ == pytest.approx(imputed.mean().to_numpy())
        # statistics over all rows differ: the test rows were not used
        assert not np.allclose(scaler.mean_, X.fillna(X.median()).mean().to_numpy())
    # out-of-fold table: each row predicted once, by the fold that held it out
    assert sorted(res.oof["id"]) == sorted(X.index)
    for k, split in enumerate(res.splits):
        assert set(res.oof.loc[res.oof["fold"] == k, "id"]) == set(split["test"])


@pytest.mark.parametrize("model", ["logreg", "rf", "xgboost", "lightgbm"])
def test_learnable_signal_beats_noise(model):
    X, y = _data(seed=1)
    res = nested_cv(X, y, model, "classification", outer_folds=3, n_trials=2, seed=0,
                    progress=False)
    assert res.fold_metrics.shape == (3, 5)
    assert res.mean["f1"] > 0.75 and res.mean["roc_auc"] > 0.8
    assert set(res.summary()) >= {"f1_mean", "f1_std", "mcc_mean", "roc_auc_std"}


def test_random_labels_give_chance_level_and_seeds_reproduce():
    X, y = _data(n=80, seed=2, signal=False)
    a = nested_cv(X, y, "logreg", "classification", outer_folds=3, n_trials=2, seed=3,
                  progress=False)
    b = nested_cv(X, y, "logreg", "classification", outer_folds=3, n_trials=2, seed=3,
                  progress=False)
    assert a.mean["roc_auc"] < 0.75
    pd.testing.assert_frame_equal(a.fold_metrics, b.fold_metrics)
    assert a.best_params == b.best_params


def test_regression_nested_cv_recovers_linear_target():
    X, _ = _data(n=60, seed=4)
    y = 2.0 * X["a"] - X["c"] + 0.05 * np.random.default_rng(0).normal(size=60)
    res = nested_cv(X, y, "logreg", "regression", outer_folds=3, n_trials=3, seed=0,
                    progress=False)
    assert res.mean["mae"] < 0.3 and res.mean["r2"] > 0.9 and res.mean["spearman"] > 0.9
    assert list(res.fold_metrics.columns) == ["mae", "rmse", "r2", "spearman"]


def test_metric_values_against_hand_computed_cases():
    m = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], [0.1, 0.9, 0.4, 0.2])
    assert m["accuracy"] == 0.75 and m["f1"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == 1.0 and m["balanced_accuracy"] == 0.75
    assert np.isnan(classification_metrics([1, 1], [1, 1], [0.9, 0.8])["roc_auc"])
    r = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert r["mae"] == pytest.approx(2 / 3) and r["rmse"] == pytest.approx(np.sqrt(4 / 3))
    assert r["spearman"] == pytest.approx(1.0)


def test_parallel_folds_give_identical_results():
    X, y = _data(n=48, seed=5)
    a = nested_cv(X, y, "lightgbm", "classification", outer_folds=3, n_trials=2, seed=1,
                  progress=False, n_jobs=1)
    b = nested_cv(X, y, "lightgbm", "classification", outer_folds=3, n_trials=2, seed=1,
                  progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(a.fold_metrics, b.fold_metrics)
    pd.testing.assert_frame_equal(a.oof, b.oof)
    assert a.best_params == b.best_params and a.splits == b.splits


def test_dask_backend_runs_the_folds():
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    X, y = _data(n=40, seed=6)
    ref = nested_cv(X, y, "logreg", "classification", outer_folds=3, n_trials=2, seed=0,
                    progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), parallel_config(backend="dask"):
        res = nested_cv(X, y, "logreg", "classification", outer_folds=3, n_trials=2, seed=0,
                        progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(ref.fold_metrics, res.fold_metrics)
