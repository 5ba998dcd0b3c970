""":class:`Trainer` on a feature table, and its scikit-learn estimator contract."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator
from train_problems import synthetic_table

from mlkit.errors import MlkitError
from mlkit.models.trainer import Trainer


def test_trainer_filters_selects_and_refits():
    feats, labels = synthetic_table()
    X = feats.set_index("id")[["vpa", "aal", "vpa_twin", "constant", "noise", "connectivity"]]
    y = labels.set_index("id")["rot"]
    t = Trainer(task="classification", models="logreg,rf", outer_folds=3, n_trials=3,
                progress=False).fit(X, y)
    assert "constant" in t.constant_dropped_
    assert [(p.dropped, p.kept) for p in t.redundant_pairs_ if p.dropped == "vpa_twin"] == [
        ("vpa_twin", "vpa")]
    assert t.feature_columns_[:2] == ["vpa", "aal"]
    table = t.summary()
    assert list(table.index) == ["logreg", "rf"]
    assert t.best_model_ == table["f1_mean"].idxmax()
    assert table.loc[t.best_model_, "f1_mean"] > 0.8
    # final pipeline: fitted on all rows, ranges recorded
    assert t.pipeline_.named_steps["impute"].n_features_in_ == len(t.feature_columns_)
    assert t.train_min_["vpa"] == pytest.approx(X["vpa"].min())
    assert t.predict(X).shape == (len(X),)
    oof = t.oof_predictions()
    assert len(oof) == 2 * len(X) and set(oof["model"]) == {"logreg", "rf"}


def test_feature_subset_selects_before_the_filters_and_predict_uses_it():
    feats, labels = synthetic_table()
    X = feats.set_index("id")[["vpa", "aal", "vpa_twin", "constant", "noise", "connectivity"]]
    y = labels.set_index("id")["rot"]
    t = Trainer(task="classification", models="logreg", outer_folds=3, n_trials=2,
                feature_subset=["aal", "vpa"], progress=False).fit(X, y)
    assert t.feature_columns_ == ["aal", "vpa"]
    assert t.redundant_pairs_ == [] and t.constant_dropped_ == []
    assert t.get_params()["feature_subset"] == ["aal", "vpa"]
    # predict takes the full table and selects the learned columns
    assert t.predict(X).shape == (len(X),)
    with pytest.raises(MlkitError, match="lacks 1 column.*of the feature subset: missing"):
        Trainer(task="classification", outer_folds=3, n_trials=2, progress=False,
                feature_subset=["vpa", "missing"]).fit(X, y)


def test_trainer_rejects_bad_settings():
    feats, labels = synthetic_table(n=12)
    X = feats.set_index("id")[["vpa", "aal"]]
    y = labels.set_index("id")["rot"]
    with pytest.raises(MlkitError, match="unknown model 'svm'"):
        Trainer(task="classification", models="svm").fit(X, y)
    with pytest.raises(MlkitError, match="n_trials"):
        Trainer(task="classification", n_trials=0).fit(X, y)
    y1 = y.copy()
    y1[:] = 0
    y1.iloc[0] = 1
    with pytest.raises(MlkitError, match=">= 2 members"):
        Trainer(task="classification", outer_folds=3).fit(X, y1)


def test_trainer_is_a_scikit_learn_estimator():
    t = Trainer(task="classification", models="logreg", outer_folds=3, n_trials=2,
                progress=False)
    params = t.get_params()
    assert params["models"] == "logreg" and params["outer_folds"] == 3
    c = clone(t).set_params(n_trials=1)
    assert c is not t and c.n_trials == 1 and t.n_trials == 2
    with pytest.raises(NotFittedError):
        t.predict(pd.DataFrame({"vpa": [1.0]}))
    # inside a pipeline, on a plain array (columns x0, x1, ...)
    feats, labels = synthetic_table(n=30)
    X = feats[["vpa", "aal"]].to_numpy()
    y = labels["rot"].to_numpy()
    pipe = make_pipeline(FunctionTransformer(), t).fit(X, y)
    assert pipe[-1].feature_columns_ == ["x0", "x1"]
    assert (pipe.predict(X) == y).mean() > 0.8


#: scikit-learn checks that do not apply to the classification task, and why: the trainer
#: takes class codes 0..k-1 as :class:`~mlkit.models.dataset.LabelPolicy` makes them; it
#: does not encode string or continuous labels itself
CLASSIFICATION_SKIPS = {
    "check_dtype_object": "string labels: y must already be class codes",
    "check_classifiers_classes": "string labels: y must already be class codes",
    "check_classifiers_train": "string/shifted labels: y must already be class codes 0..k-1",
    "check_classifiers_regression_target": "a continuous y is cast to codes, not rejected",
}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_scikit_learn_estimator_checks(task):
    """scikit-learn's own estimator checks, with a tiny search (2 folds, 1 trial)."""
    est = Trainer(task=task, models="logreg", outer_folds=2, n_trials=1, progress=False)
    skips = CLASSIFICATION_SKIPS if task == "classification" else {}
    results = check_estimator(est, expected_failed_checks=skips, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert not failed, failed
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert {"check_get_params_invariance", "check_set_params", "check_fit_idempotent",
            "check_n_features_in_after_fitting", "check_estimators_pickle",
            "check_pipeline_consistency"} <= passed
