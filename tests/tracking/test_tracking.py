"""A real MLflow SQLite store in tmp_path, and a real ``mlflow server`` end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlkit.models.dataset import LabelPolicy
from mlkit.models.trainer import Trainer
from mlkit.tracking import TrackingSettings
from mlkit.utils import file_sha256
from mlkit.workflows import load_trained_model, train


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    feats = pd.DataFrame({
        "id": [f"s{i:02d}" for i in range(n)], "source": "mem", "error": "",
        "vpa": rng.normal(20, 3, n), "aal": rng.normal(1.8, 0.1, n), "noise": rng.normal(size=n),
        "connectivity": rng.choice(["isolated", "edge"], n),
    })
    score = (feats["vpa"] - 20) / 3 - (feats["aal"] - 1.8) / 0.1
    labels = pd.DataFrame({"id": feats["id"], "rot": (score > 0).astype(int)})
    return feats, labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    feats, labels = _data()
    labels_csv = tmp / "labels.csv"
    labels.to_csv(labels_csv, index=False)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    res = train(labels_csv, LabelPolicy("rot"), features=feats,
                trainer=Trainer(models="logreg,rf", outer_folds=3, n_trials=2, progress=False),
                tracking=TrackingSettings(tracking_uri=uri, experiment="test-exp",
                                          register_name="rotor", alias="champion"),
                output_dir=tmp / "out", progress=False)
    return res, uri, labels_csv, feats


def test_parent_and_child_runs_with_comparable_metrics(trained):
    import mlflow

    res, uri, labels_csv, _ = trained
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("test-exp")
    runs = client.search_runs([exp.experiment_id])
    parent = [r for r in runs if r.data.tags.get("mlkit.role") == "train"]
    children = [r for r in runs if r.data.tags.get("mlkit.role") == "cv"]
    assert len(parent) == 1 and parent[0].info.run_id == res.run_id
    assert sorted(r.data.tags["mlkit.model"] for r in children) == ["logreg", "rf"]
    assert all(r.data.tags["mlflow.parentRunId"] == res.run_id for r in children)
    keys = [set(k for k in r.data.metrics if k != "wall_time_s") for r in children]
    assert keys[0] == keys[1] and {"f1_mean", "f1_std", "roc_auc_mean", "mcc_mean"} <= keys[0]
    for r in children:
        expected = res.trainer.summary().loc[r.data.tags["mlkit.model"], "f1_mean"]
        assert r.data.metrics["f1_mean"] == pytest.approx(expected)
        # per-fold history (step = fold)
        hist = client.get_metric_history(r.info.run_id, "f1")
        assert sorted(m.step for m in hist) == [0, 1, 2]
    p = parent[0].data
    assert p.params["labels_sha256"] == file_sha256(labels_csv)
    assert len(p.params["features_sha256"]) == 64
    assert p.params["mobile_ion"] == "Na" and p.params["model"] == res.trainer.best_model_
    arts = {a.path for a in client.list_artifacts(res.run_id)}
    assert {"feature_columns.json", "figures", "tables"} <= arts
    figs = {Path(a.path).name for a in client.list_artifacts(res.run_id, "figures")}
    assert {"shap_beeswarm.png", "confusion.png", "roc.png", "top2_features.png"} <= figs
    tables = {Path(a.path).name for a in client.list_artifacts(res.run_id, "tables")}
    assert {"oof_predictions.csv", "cv_summary.csv", "dropped_features.csv"} <= tables


def test_registered_alias_loads_the_model_with_its_settings(trained):
    import mlflow

    res, uri, _, feats = trained
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    mv = client.get_model_version_by_alias("rotor", "champion")
    assert str(mv.version) == res.registered["version"]
    for model_uri in ("models:/rotor@champion", res.model_uri):
        model = load_trained_model(model_uri, tracking_uri=uri)
        assert model.fitted.feature_columns == tuple(res.trainer.feature_columns_)
        assert model.featurization == res.model.featurization
        assert model.labels == LabelPolicy("rot")
        assert set(model.fitted.train_min) == set(model.fitted.feature_columns)
        X = feats.set_index("id")[res.trainer.input_columns_]
        np.testing.assert_array_equal(model.fitted.pipeline.predict(res.trainer.prepare(X)),
                                      res.trainer.predict(X))
    # the pyfunc flavour works on raw feature rows and carries a signature
    model = mlflow.pyfunc.load_model("models:/rotor@champion")
    assert model.metadata.signature is not None
    out = model.predict(feats.drop(columns=["id", "source", "error"]).head(3))
    assert list(out.columns) == ["prediction", "probability", "out_of_range",
                                 "out_of_range_features"]
    assert out["probability"].between(0, 1).all()


def test_runs_carry_dataset_inputs_and_provenance_tags(trained):
    import mlflow

    from mlkit.models.dataset import sha256_frame
    from mlkit.utils import git_commit

    res, uri, labels_csv, feats = trained
    client = mlflow.MlflowClient(tracking_uri=uri)
    run_ids = [res.run_id, *client.search_runs(
        [client.get_run(res.run_id).info.experiment_id],
        filter_string="tags.`mlkit.role` = 'cv'")]
    run_ids = [r if isinstance(r, str) else r.info.run_id for r in run_ids]
    assert len(run_ids) == 3
    commit = git_commit()
    assert commit  # the tests run from a git checkout
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert run.data.tags["mlkit.version"] == version("mlkit")
        assert run.data.tags["mlkit.git_commit"] == commit
        inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
        assert set(inputs) == {"labels", "features"}
        for d in inputs.values():
            assert {t.key: t.value for t in d.tags}["mlflow.data.context"] == "training"
        labels = inputs["labels"].dataset
        assert labels.digest == file_sha256(labels_csv)[:16]
        assert json.loads(labels.source)["uri"] == str(labels_csv.resolve())
        assert json.loads(labels.profile)["num_rows"] == 40
        names = [c["name"] for c in json.loads(labels.schema)["mlflow_colspec"]]
        assert names == ["id", "rot"]
        features = inputs["features"].dataset
        assert features.digest == sha256_frame(feats)[:16]
        assert json.loads(features.profile)["num_rows"] == len(feats)
        names = [c["name"] for c in json.loads(features.schema)["mlflow_colspec"]]
        assert names == list(feats.columns)


def test_tracking_uri_from_environment(tmp_path, monkeypatch):
    from mlkit.tracking import resolve_tracking_uri

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////x/env.db")
    assert resolve_tracking_uri() == "sqlite:////x/env.db"
    assert resolve_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_bad_model_uri_is_one_line_error(trained):
    from mlkit.errors import MlkitError

    _, uri, _, _ = trained
    with pytest.raises(MlkitError, match=r"models:/nope@champion: cannot load model"):
        load_trained_model("models:/nope@champion", tracking_uri=uri)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_mlflow_server_end_to_end(tmp_path):
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'srv.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                pytest.fail("mlflow server did not start")
            time.sleep(1)
        feats, labels = _data(seed=1)
        res = train(labels, LabelPolicy("rot"), features=feats,
                    trainer=Trainer(models="logreg,rf", outer_folds=3, n_trials=2,
                                    progress=False),
                    tracking=TrackingSettings(tracking_uri=base, experiment="server-exp",
                                              register_name="srv_model"),
                    output_dir=tmp_path / "out", progress=False, explain=False)
        with urllib.request.urlopen(
            f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=server-exp",
            timeout=30,
        ) as r:
            exp = json.loads(r.read())["experiment"]
        found = _post(f"{base}/api/2.0/mlflow/runs/search", {
            "experiment_ids": [exp["experiment_id"]],
            "filter": "tags.`mlkit.role` = 'cv'", "max_results": 10,
        })["runs"]
        assert len(found) == 2
        by_model = {}
        for run in found:
            tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
            metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
            assert tags["mlflow.parentRunId"] == res.run_id
            by_model[tags["mlkit.model"]] = metrics
        assert set(by_model) == {"logreg", "rf"}
        assert set(by_model["logreg"]) == set(by_model["rf"])
        for name, metrics in by_model.items():
            assert metrics["f1_mean"] == pytest.approx(
                res.trainer.summary().loc[name, "f1_mean"])
        # the registered model is served back through the same server
        from mlkit.workflows import predict_features

        pred = predict_features("models:/srv_model@champion", feats, tracking_uri=base)
        assert len(pred) == len(feats) and (pred["error"] == "").all()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
