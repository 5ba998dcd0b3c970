"""A registered model answers structures: in process, and over REST with ``mlflow models
serve`` (a real server subprocess), equal to ``mlkit predict`` on the same file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Structure

from mlkit.features import FeaturizationSettings
from mlkit.models.dataset import LabelPolicy
from mlkit.models.trainer import Trainer
from mlkit.tracking import TrackingSettings
from mlkit.workflows import predict_paths, train

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "datasets" / "demo"
CIF = DEMO / "structures" / "Na3PS4_Na3PS4-type_x1p06.cif"
COLUMNS = ["id", "source", "prediction", "prediction_raw", "probability", "out_of_range",
           "out_of_range_features", "error", "warning"]


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory):
    """Logistic regression on the bundled demo (50 CIFs), registered in a SQLite store."""
    tmp = tmp_path_factory.mktemp("serve")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    res = train(DEMO / "labels.csv", LabelPolicy("open_path"), structures=[DEMO / "structures"],
                featurization=FeaturizationSettings(),
                trainer=Trainer(models="logreg", outer_folds=3, n_trials=2, progress=False),
                tracking=TrackingSettings(tracking_uri=uri, experiment="serve",
                                          register_name="demo_srv"),
                output_dir=tmp / "out", cache_dir=tmp / "cache", progress=False,
                explain=False)
    return res, uri, tmp


def _expected(res, tmp) -> pd.Series:
    return predict_paths(res.model, [CIF], cache_dir=tmp / "cache", progress=False).iloc[0]


def test_pyfunc_takes_cif_poscar_and_json(demo_model, tmp_path):
    import mlflow

    res, uri, tmp = demo_model
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/demo_srv@champion")
    structure = Structure.from_file(CIF)
    frame = pd.DataFrame({
        "id": ["a", "b", "c", "bad", "empty"],
        "cif": [CIF.read_text(), None, None, "data_x\n_cell_length_a nonsense\n", None],
        "poscar": [None, structure.to(fmt="poscar"), None, None, None],
        "structure_json": [None, None, json.dumps(structure.as_dict()), None, None],
    })
    out = model.predict(frame)
    assert list(out.columns) == COLUMNS
    assert out["id"].tolist() == ["a", "b", "c", "bad", "empty"]
    assert out["source"].tolist() == ["cif", "poscar", "structure_json", "cif", ""]
    expected = _expected(res, tmp)
    assert expected["error"] == ""
    for i in range(3):
        assert out.at[i, "error"] == ""
        assert out.at[i, "prediction"] == expected["prediction"]
        assert out.at[i, "probability"] == pytest.approx(expected["probability"], abs=1e-12)
        assert out.at[i, "out_of_range"] == expected["out_of_range"]
    assert out.at[3, "error"].startswith("cannot parse as CIF")
    assert "mlkit-serve" not in out.at[3, "error"]  # the temporary path never leaks
    assert out.at[4, "error"] == "no structure text in cif / poscar / structure_json"
    assert pd.isna(out.at[3, "probability"]) and pd.isna(out.at[4, "probability"])
    # the feature table still works as before
    X = res.trainer.X_raw_.head(2).reset_index(drop=True)
    plain = model.predict(X[list(res.model.fitted.input_columns)])
    assert list(plain.columns) == ["prediction", "probability", "out_of_range",
                                   "out_of_range_features"]
    assert plain["probability"].between(0, 1).all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_mlflow_models_serve_answers_a_cif_like_mlkit_predict(demo_model, tmp_path):
    res, uri, tmp = demo_model
    # as in an activated environment: the server starts uvicorn from the venv's bin/
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri,
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    # the CLI on the same file
    cli = subprocess.run(
        [sys.executable, "-m", "mlkit", "predict", "--model", "models:/demo_srv@champion",
         str(CIF), "-o", str(tmp_path / "cli.csv"), "--no-cache", "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    expected = pd.read_csv(tmp_path / "cli.csv", keep_default_na=False).iloc[0]

    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [str(mlflow_bin), "models", "serve", "-m", "models:/demo_srv@champion",
         "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                pytest.fail("mlflow models serve did not start: "
                            + (tmp_path / "serve.log").read_text()[-2000:])
            time.sleep(1)
        body = {"dataframe_split": {"columns": ["id", "cif"],
                                    "data": [[CIF.stem, CIF.read_text()]]}}
        req = urllib.request.Request(f"{base}/invocations", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                answer = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            pytest.fail(f"{exc}: {exc.read().decode()[:2000]}")
        print("request:", json.dumps(body)[:200], "...")
        print("response:", json.dumps(answer))
        rows = answer["predictions"]
        assert len(rows) == 1
        row = rows[0]
        assert row["id"] == CIF.stem and row["source"] == "cif" and row["error"] == ""
        assert str(row["prediction"]) == str(expected["prediction"])
        assert row["probability"] == pytest.approx(float(expected["probability"]), abs=1e-9)
        assert str(row["out_of_range"]) == str(expected["out_of_range"])
        assert row["out_of_range_features"] == expected["out_of_range_features"]
        assert row["prediction_raw"] is None  # JSON null, not NaN (classification)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
