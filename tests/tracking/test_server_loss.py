"""The tracking server going away (issue 12): ``mlkit train`` keeps the trained model.

An unused port (nothing listens) and a real ``mlflow server`` killed in the middle of the
logging: training finishes, the model directory is written and loads, the failure is one
line (``TrainResult.tracking_error``; the CLI prints it and exits with status 3), and no
MLflow run is left active in the process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
from train_problems import synthetic_table

import mlkit.tracking
from mlkit.cli import main
from mlkit.models.dataset import LabelPolicy
from mlkit.models.trainer import Trainer
from mlkit.tracking import TrackingSettings
from mlkit.workflows import load_trained_model, train


@pytest.fixture(autouse=True)
def _short_mlflow_retries(monkeypatch):
    """mlflow retries a refused connection 7 times with backoff (minutes): none here."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(tmp_path: Path, uri: str, name: str = "out"):
    feats, labels = synthetic_table()
    return train(labels, LabelPolicy("rot"), features=feats,
                 trainer=Trainer(models="logreg", outer_folds=3, n_trials=2, progress=False),
                 tracking=TrackingSettings(tracking_uri=uri, register_name="loss"),
                 output_dir=tmp_path / name, explain=False, progress=False)


def _model_is_kept(res) -> None:
    model = load_trained_model(res.output_dir / "final_model")
    X = synthetic_table()[0].set_index("id")
    np.testing.assert_array_equal(model.predict_frame(X)["prediction"],
                                  res.model.predict_frame(X)["prediction"])
    assert (res.output_dir / "cv_summary.csv").is_file()
    assert res.run_id is None and res.registered is None
    assert mlflow.active_run() is None


def test_unreachable_server_keeps_the_model(tmp_path):
    uri = f"http://127.0.0.1:{_free_port()}"
    t0 = time.perf_counter()
    res = _train(tmp_path, uri)
    assert time.perf_counter() - t0 < 60
    assert res.tracking_error.startswith(f"tracking server {uri}: unreachable (")
    assert "\n" not in res.tracking_error
    _model_is_kept(res)
    assert f"MLflow tracking failed: tracking server {uri}" in res.summary_text()


def test_cli_train_reports_the_failure_in_one_line(tmp_path, capsys):
    feats, labels = synthetic_table()
    feats.to_csv(tmp_path / "f.csv", index=False)
    labels.to_csv(tmp_path / "l.csv", index=False)
    uri = f"http://127.0.0.1:{_free_port()}"
    rc = main(["train", "--features", str(tmp_path / "f.csv"), "--labels", str(tmp_path / "l.csv"),
               "--target", "rot", "--models", "logreg", "--outer-folds", "3", "--n-trials", "2",
               "--no-explain", "--no-progress", "--tracking-uri", uri,
               "--output-dir", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert rc == 3
    assert "Traceback" not in captured.out + captured.err
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"mlkit train: tracking failed ({uri}): tracking "
                                               f"server {uri}: unreachable (")
    assert err[0].endswith(f"the model is in {tmp_path / 'out' / 'final_model'}")
    assert load_trained_model(tmp_path / "out" / "final_model").task == "classification"


@pytest.mark.slow
def test_server_killed_mid_run_keeps_the_model(tmp_path, monkeypatch):
    """A real ``mlflow server``: the run is created, then the server is killed (SIGKILL)."""
    exe = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    if not Path(exe).exists():
        pytest.skip("needs the mlflow executable")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [exe, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--default-artifact-root", str(tmp_path / "server_artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("mlflow server did not start within 120 s")
                time.sleep(0.5)
        killed = []
        original = mlkit.tracking._flat_params

        def kill_then_flatten(settings):  # first call: inside the parent run, before params
            if not killed:
                assert mlflow.active_run() is not None
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
                killed.append(mlflow.active_run().info.run_id)
            return original(settings)

        monkeypatch.setattr(mlkit.tracking, "_flat_params", kill_then_flatten)
        t0 = time.perf_counter()
        res = _train(tmp_path, uri)
        assert time.perf_counter() - t0 < 120
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    assert killed, "the server was not killed during the run"
    assert res.tracking_error and "\n" not in res.tracking_error
    _model_is_kept(res)
    # nothing is left half-open in this process: a store that works logs the next run
    monkeypatch.setattr(mlkit.tracking, "_flat_params", original)
    again = _train(tmp_path, f"sqlite:///{tmp_path / 'ok.db'}", name="again")
    assert again.tracking_error is None and again.run_id


def test_kept_model_is_logged_afterwards(tmp_path, capsys):
    """The store down during train; ``mlkit track DIR`` logs and registers it afterwards."""
    res = _train(tmp_path, f"http://127.0.0.1:{_free_port()}")
    assert res.tracking_error
    uri = f"sqlite:///{tmp_path / 'later.db'}"
    assert main(["track", str(res.output_dir), "--tracking-uri", uri,
                 "--register-name", "later"]) == 0
    out = capsys.readouterr().out
    assert "registered models:/later@champion (version 1)" in out
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["mlkit"], output_format="list")
    parent = next(r for r in runs if r.data.tags["mlkit.role"] == "train")
    children = [r for r in runs if r.data.tags["mlkit.role"] == "cv"]
    assert [r.data.tags["mlkit.model"] for r in children] == ["logreg"]
    assert parent.data.tags["mlkit.logged_from"] == str(res.output_dir.resolve())
    summary = res.trainer.summary()
    for key in ("f1_mean", "roc_auc_mean"):
        assert parent.data.metrics[key] == pytest.approx(summary.loc["logreg", key])
    history = mlflow.MlflowClient().get_metric_history(children[0].info.run_id, "f1")
    assert [m.step for m in history] == [0, 1, 2]
    assert parent.data.params["target"] == "rot"
    # the registered model is the kept one
    X = synthetic_table()[0].set_index("id")
    local = mlflow.artifacts.download_artifacts("models:/later@champion", dst_path=str(
        tmp_path / "dl"))
    model = load_trained_model(Path(local) / "artifacts")
    np.testing.assert_array_equal(model.predict_frame(X)["prediction"],
                                  res.model.predict_frame(X)["prediction"])
    pyfunc = mlflow.pyfunc.load_model("models:/later@champion")
    assert len(pyfunc.predict(X.reset_index(drop=True)[list(res.model.fitted.input_columns)])) \
        == len(X)
    assert mlflow.active_run() is None


def test_track_refuses_a_directory_that_is_not_a_training(tmp_path, capsys):
    assert main(["track", str(tmp_path), "--tracking-uri",
                 f"sqlite:///{tmp_path / 'x.db'}"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(tmp_path) in err and "final_model" in err
