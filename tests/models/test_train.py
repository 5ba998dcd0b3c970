from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlkit.errors import MlkitError
from mlkit.models.train import Trainer, train


def _table(n=48, seed=0):
    rng = np.random.default_rng(seed)
    vpa = rng.normal(20, 3, n)
    aal = rng.normal(1.8, 0.1, n)
    feats = pd.DataFrame({
        "id": [f"s{i:02d}" for i in range(n)], "source": "mem", "error": "",
        "vpa": vpa, "aal": aal, "vpa_twin": 2 * vpa + 0.01 * rng.normal(size=n),
        "constant": 1.0, "noise": rng.normal(size=n),
        "connectivity": rng.choice(["isolated", "corner"], n),
    })
    score = (vpa - 20) / 3 - (aal - 1.8) / 0.1
    labels = pd.DataFrame({"id": feats["id"], "rot": (score > 0).astype(int),
                           "sigma": 10 ** (-5 + score + 0.1 * rng.normal(size=n))})
    return feats, labels


def test_trainer_filters_selects_and_refits():
    feats, labels = _table()
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


def test_trainer_rejects_bad_settings():
    feats, labels = _table(n=12)
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


def test_train_api_regression_without_tracking(tmp_path):
    feats, labels = _table()
    res = train(labels, "sigma", features=feats, target_transform="log10", models="logreg",
                outer_folds=3, n_trials=3, track=False, output_dir=tmp_path, progress=False)
    assert res.trainer.task == "regression" and res.run_id is None
    assert res.trainer.summary().loc["logreg", "mae_mean"] < 0.5
    for name in ("cv_summary", "cv_folds", "oof_predictions", "dropped_features",
                 "shap_importance", "settings"):
        assert res.tables[name].exists()
    for name in ("shap_beeswarm", "top2", "parity"):
        assert res.figures[name].stat().st_size > 5000
    dropped = pd.read_csv(res.tables["dropped_features"])
    assert set(dropped["feature"]) >= {"constant", "vpa_twin"}
    assert res.settings["target_transform"] == "log10"
    assert "logreg" in res.summary_text()


def test_train_needs_exactly_one_source(tmp_path):
    feats, labels = _table(n=10)
    with pytest.raises(MlkitError, match="exactly one of structures"):
        train(labels, "rot", track=False)
    with pytest.raises(MlkitError, match="exactly one of structures"):
        train(labels, "rot", features=feats, structures=str(tmp_path), track=False)


def test_train_with_subset_search(tmp_path):
    feats, labels = _table(n=40)
    feats.loc[3, "noise"] = np.nan
    res = train(labels, "rot", features=feats, models="logreg", outer_folds=3, n_trials=2,
                subset_search=True, track=False, explain=False, output_dir=tmp_path,
                progress=False)
    assert res.subset_result is not None
    best = res.subset_result.best
    assert "vpa" in best["features"] and "aal" in best["features"]
    assert res.subset_metrics["subset_best_f1_mean"] > 0.8
    assert res.tables["subset_search"].exists() and res.figures["subset_curve"].exists()
    assert any("replaced by the column median" in n for n in res.report.notes)
