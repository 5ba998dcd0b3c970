"""Predict new CIFs from models:/NAME@ALIAS or a model directory with the training
featurization settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.cli import main as cli_main
from mlkit.features import FeaturizationSettings
from mlkit.models.dataset import LabelPolicy
from mlkit.models.trainer import Trainer
from mlkit.tracking import TrackingSettings
from mlkit.workflows import predict_paths, train

REPO = Path(__file__).resolve().parents[2]

R_M = {"Nb": 0.64, "Ta": 0.64, "V": 0.54, "Sb": 0.60}


def perovskite(m: str, scale: float) -> Structure:
    a = 2 * (R_M[m] + 1.40) * scale
    return Structure.from_spacegroup("Pm-3m", Lattice.cubic(a), ["Na", m, "O"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5], [0, 0.5, 0.5]])


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    sdir = tmp / "train"
    sdir.mkdir()
    rows = []
    for m in R_M:
        for s in (0.97, 0.99, 1.01, 1.03):
            st = perovskite(m, s)
            sid = f"Na{m}O3_{s:.2f}".replace(".", "p")
            st.to(filename=str(sdir / f"{sid}.cif"))
            rows.append({"id": sid, "vpa_label": st.volume / len(st)})
    pd.DataFrame(rows).to_csv(tmp / "labels.csv", index=False)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    res = train(tmp / "labels.csv", LabelPolicy("vpa_label"), structures=[sdir],
                featurization=FeaturizationSettings(max_sites=500),
                trainer=Trainer(models="logreg", outer_folds=3, n_trials=2, progress=False),
                tracking=TrackingSettings(tracking_uri=uri, register_name="perov"),
                output_dir=tmp / "out", cache_dir=tmp / "cache", progress=False, explain=False)
    return res, uri, tmp


def test_settings_recorded_with_the_model(model):
    res, _, _ = model
    s = res.settings
    assert s["feature_source"] == "structures" and s["mobile_ion"] == "Na"
    assert s["featurizers"] and "structural" in s["featurizers"]
    assert s["disorder"] == "average" and s["max_sites"] == 500
    assert res.model.featurization == FeaturizationSettings(max_sites=500)


def test_predict_new_structures_with_errors_and_range_flags(model, tmp_path):
    _, uri, tmp = model
    new = tmp_path / "new"
    new.mkdir()
    inside = perovskite("Nb", 1.00)
    inside.to(filename=str(new / "inside.cif"))
    perovskite("Ta", 1.12).to(filename=str(new / "expanded.cif"))
    (new / "broken.cif").write_text("data_x\n_cell_length_a nonsense\n")
    out = predict_paths("models:/perov@champion", [new, tmp_path / "missing.cif"],
                        tracking_uri=uri, cache_dir=tmp / "cache", progress=False)
    out = out.set_index("id")
    assert set(out.index) == {"inside", "expanded", "broken", "missing"}
    true_vpa = inside.volume / len(inside)
    assert out.loc["inside", "prediction"] == pytest.approx(true_vpa, rel=0.05)
    assert out.loc["inside", "error"] == ""
    assert "vpa" not in out.loc["inside", "out_of_range_features"].split(";")
    assert out.loc["expanded", "out_of_range"] is True
    assert "vpa" in out.loc["expanded", "out_of_range_features"].split(";")
    for bad in ("broken", "missing"):
        assert out.loc[bad, "error"] != ""
        assert pd.isna(out.loc[bad, "prediction"])
    assert "no such file" in out.loc["missing", "error"]


def test_cli_predict_writes_csv(model, tmp_path, capsys):
    _, uri, tmp = model
    f = tmp_path / "x.cif"
    perovskite("V", 1.0).to(filename=str(f))
    out_csv = tmp_path / "pred.csv"
    rc = cli_main(["predict", "--model", "models:/perov@champion", str(f), "-o", str(out_csv),
                   "--tracking-uri", uri, "--cache-dir", str(tmp / "cache"), "--no-progress"])
    assert rc == 0
    table = pd.read_csv(out_csv)
    assert list(table["id"]) == ["x"] and np.isfinite(table["prediction"]).all()
    assert "1 structures" in capsys.readouterr().out


def test_cli_predict_unknown_model_is_one_line_error(model, tmp_path, capsys):
    _, uri, _ = model
    rc = cli_main(["predict", "--model", "models:/nothere@champion", str(tmp_path),
                   "-o", str(tmp_path / "p.csv"), "--tracking-uri", uri])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "models:/nothere@champion: cannot load model" in err
    assert len(err.splitlines()) == 1


def test_predict_from_a_model_directory_does_not_import_mlflow(model, tmp_path):
    """``mlkit predict --model DIR`` reads joblib + json: mlflow is never imported."""
    res, uri, tmp = model
    f = tmp_path / "x.cif"
    perovskite("Nb", 1.0).to(filename=str(f))
    script = (
        "import sys\n"
        "from mlkit.cli import main\n"
        f"rc = main(['predict', '--model', {str(tmp / 'out' / 'final_model')!r}, {str(f)!r},"
        f" '-o', {str(tmp_path / 'p.csv')!r}, '--no-cache', '--no-progress'])\n"
        "assert rc == 0, rc\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow')\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    by_dir = pd.read_csv(tmp_path / "p.csv")
    by_uri = predict_paths("models:/perov@champion", [f], tracking_uri=uri, use_cache=False,
                           progress=False)
    assert by_dir["prediction"].iloc[0] == pytest.approx(float(by_uri["prediction"].iloc[0]))


def test_predict_featurizes_with_the_stored_settings_object(model, tmp_path):
    """A structure over the model's site limit (500, not the default 2000) is an error row."""
    _, uri, _ = model
    big = perovskite("Nb", 1.0) * (6, 6, 6)  # 1080 sites
    big.to(filename=str(tmp_path / "big.cif"))
    out = predict_paths("models:/perov@champion", [tmp_path / "big.cif"], tracking_uri=uri,
                        use_cache=False, progress=False)
    assert "500" in out.loc[0, "error"] and pd.isna(out.loc[0, "prediction"])


def test_cli_predict_deprecated_n_jobs_alias(model, tmp_path, capsys):
    _, _, tmp = model
    f = tmp_path / "x.cif"
    perovskite("V", 1.0).to(filename=str(f))
    rc = cli_main(["predict", "--model", str(tmp / "out" / "final_model"), str(f), "-o",
                   str(tmp_path / "p.csv"), "--n-jobs", "1", "--no-cache", "--no-progress"])
    assert rc == 0
    assert "--n-jobs is deprecated; use --jobs" in capsys.readouterr().err


def test_partial_rows_are_predicted_with_the_imputed_features_named(model, tmp_path, capsys):
    """Rock salt NaCl has no non-Na cation polyhedra (geometry and elemental groups fail):
    the model (trained with the default feature_errors="drop") predicts it with the missing
    inputs imputed by its own fitted imputer, and names them; --refuse-partial refuses.
    """
    res, uri, tmp = model
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    nacl.to(filename=str(tmp_path / "nacl.cif"))
    perovskite("Nb", 1.0).to(filename=str(tmp_path / "whole.cif"))
    (tmp_path / "broken.cif").write_text("data_x\n_cell_length_a nonsense\n")
    out = predict_paths(res.model, [tmp_path], cache_dir=tmp / "cache",
                        progress=False).set_index("id")
    row = out.loc["nacl"]
    assert row["error"] == "" and np.isfinite(float(row["prediction"]))
    assert row["warning"].startswith("imputed as in training: geometry (")
    assert "featurization errors: geometry: no non-Na cation polyhedra" in row["warning"]
    # the prediction is the pipeline's on the row with NaN inputs (its imputer's medians)
    from mlkit.features import featurize_paths

    feats = featurize_paths([tmp_path / "nacl.cif"], res.model.featurization,
                            cache_dir=tmp / "cache", progress=False)
    fitted = res.model.fitted
    X = fitted.prepare_inputs(feats)
    missing = [c for c in X.columns if pd.isna(X.iloc[0][c])]
    assert missing and all(c in row["warning"] for c in missing)
    imputer = fitted.pipeline.named_steps["impute"]
    medians = dict(zip(fitted.feature_columns, imputer.statistics_, strict=True))
    filled = X.fillna(medians)
    assert float(row["prediction"]) == pytest.approx(float(fitted.pipeline.predict(filled)[0]))
    # whole rows carry no warning; unreadable files stay error rows
    assert out.loc["whole", "warning"] == "" and out.loc["whole", "error"] == ""
    assert out.loc["broken", "error"] != "" and pd.isna(out.loc["broken", "prediction"])

    refused = predict_paths(res.model, [tmp_path / "nacl.cif"], cache_dir=tmp / "cache",
                            progress=False, refuse_partial=True)
    assert refused.loc[0, "error"].startswith("geometry: no non-Na cation polyhedra")
    assert pd.isna(refused.loc[0, "prediction"]) and refused.loc[0, "warning"] == ""
    rc = cli_main(["predict", "--model", str(tmp / "out" / "final_model"),
                   str(tmp_path / "nacl.cif"), "-o", str(tmp_path / "p.csv"),
                   "--cache-dir", str(tmp / "cache"), "--no-progress", "--refuse-partial"])
    assert rc == 0 and "1 error rows, 0 with imputed features" in capsys.readouterr().out
