"""The training workflow: settings values in, tables, figures and a saved model out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from train_problems import synthetic_table

from mlkit.errors import MlkitError
from mlkit.features import FeaturizationSettings
from mlkit.models.dataset import LabelPolicy
from mlkit.models.trainer import Trainer
from mlkit.workflows import TrainedModel, load_trained_model, train


def _trainer(models="logreg", **kw):
    return Trainer(models=models, outer_folds=3, n_trials=kw.pop("n_trials", 3),
                   progress=False, **kw)


def test_train_api_regression_without_tracking(tmp_path):
    feats, labels = synthetic_table()
    res = train(labels, LabelPolicy("sigma", target_transform="log10"), features=feats,
                trainer=_trainer(), output_dir=tmp_path, progress=False)
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


def test_the_model_directory_round_trips_the_settings_objects(tmp_path):
    feats, labels = synthetic_table()
    featurization = FeaturizationSettings(("structural", "magpie"), mobile_ion="Li",
                                          disorder="majority", max_sites=500)
    policy = LabelPolicy("sigma", target_transform="log10", feature_errors="keep-partial")
    res = train(labels, policy, features=feats, featurization=featurization,
                trainer=_trainer(), explain=False, output_dir=tmp_path, progress=False)
    model = load_trained_model(tmp_path / "final_model")
    assert isinstance(model, TrainedModel)
    assert model.featurization == featurization and model.labels == policy
    assert model.fitted.feature_columns == tuple(res.trainer.feature_columns_)
    X = feats.set_index("id")
    np.testing.assert_allclose(model.predict_frame(X)["prediction"], res.trainer.predict(X))
    saved = json.loads((tmp_path / "final_model" / "settings.json").read_text())
    assert saved["format_version"] == 2 and saved["featurization"]["version"] == 2
    assert saved["featurization"]["featurizers"] == ["structural", "magpie"]


def test_a_model_saved_before_format_2_still_loads(tmp_path):
    """Flat settings.json of the first format: featurizers None meant the default set."""
    feats, labels = synthetic_table()
    res = train(labels, LabelPolicy("rot"), features=feats, trainer=_trainer(),
                explain=False, output_dir=tmp_path, progress=False)
    flat = {k: v for k, v in res.settings.items()
            if k not in ("format_version", "featurization", "labels", "training")}
    flat["featurizers"] = None
    model = TrainedModel.from_settings(res.model.fitted.pipeline, flat)
    assert model.featurization == FeaturizationSettings()
    assert model.labels.target == "rot" and model.task == "classification"


def test_the_trainer_given_is_cloned_with_the_task_of_the_labels(tmp_path):
    feats, labels = synthetic_table(n=30)
    given = _trainer(task="regression")
    res = train(labels, LabelPolicy("rot"), features=feats, trainer=given, explain=False,
                output_dir=tmp_path, progress=False)
    assert res.trainer is not given and res.trainer.task == "classification"
    assert not hasattr(given, "pipeline_")


def test_train_needs_exactly_one_source(tmp_path):
    feats, labels = synthetic_table(n=10)
    with pytest.raises(MlkitError, match="exactly one of structures"):
        train(labels, LabelPolicy("rot"))
    with pytest.raises(MlkitError, match="exactly one of structures"):
        train(labels, LabelPolicy("rot"), features=feats, structures=str(tmp_path))


def test_train_with_subset_search(tmp_path):
    feats, labels = synthetic_table(n=40)
    feats.loc[3, "noise"] = np.nan
    res = train(labels, LabelPolicy("rot"), features=feats, trainer=_trainer(n_trials=2),
                subset_search=True, explain=False, output_dir=tmp_path, progress=False)
    assert res.subset_result is not None
    best = res.subset_result.best
    assert "vpa" in best["features"] and "aal" in best["features"]
    assert res.subset_metrics["subset_best_f1_mean"] > 0.8
    assert res.tables["subset_search"].exists() and res.figures["subset_curve"].exists()
    assert any("replaced by the column median" in n for n in res.report.notes)
