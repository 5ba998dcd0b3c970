"""``mlkit subsets`` end to end on a small feature table + labels CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlkit.cli import main


def write_inputs(tmp_path, n=60, p=5, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ (np.eye(p) + 0.3 * rng.normal(size=(p, p)))
    ids = [f"mp-{1000 + i}" for i in range(n)]
    feats = pd.DataFrame(X, columns=[f"feat{j}" for j in range(p)])
    feats.insert(0, "id", ids)
    conductivity = 10 ** (X[:, 0] - 0.5 * X[:, 1] + 0.5 * rng.normal(size=n) - 4)
    labels = pd.DataFrame({"id": ids, "sigma_S_cm": conductivity})
    feats.to_parquet(tmp_path / "features.parquet", index=False)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    return feats, labels


def test_cli_subsets_writes_outputs_and_resumes(tmp_path, capsys):
    write_inputs(tmp_path)
    out = tmp_path / "out"
    argv = [
        "subsets", "--labels", str(tmp_path / "labels.csv"),
        "--features", str(tmp_path / "features.parquet"),
        "--target", "sigma_S_cm", "--threshold", "1e-4", "--cv", "5",
        "-o", str(out), "--jobs", "2", "--no-progress", "--chunk-size", "8",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "31 subsets" in text and "non-converged subsets: 0" in text
    table = pd.read_parquet(out / "subsets.parquet")
    assert len(table) == 31 and table["bitmask"].is_unique
    best = json.loads((out / "best.json").read_text())
    assert best["f1_mean"] == pytest.approx(table["f1_mean"].max())
    assert set(best["features"]) <= {f"feat{j}" for j in range(5)}
    assert (out / "f1_vs_n_features.png").stat().st_size > 10_000
    assert len(pd.read_csv(out / "best_by_size.csv")) == 5
    # a second run refuses to silently mix with old chunks; --resume reuses them
    assert main(argv) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0
    again = pd.read_parquet(out / "subsets.parquet")
    pd.testing.assert_frame_equal(again, table)


def test_cli_subsets_rejects_nan_features(tmp_path, capsys):
    feats, _ = write_inputs(tmp_path)
    feats.loc[4, "feat3"] = np.nan
    feats.to_parquet(tmp_path / "features.parquet", index=False)
    code = main([
        "subsets", "--labels", str(tmp_path / "labels.csv"),
        "--features", str(tmp_path / "features.parquet"),
        "--target", "sigma_S_cm", "--threshold", "1e-4", "--cv", "5",
        "-o", str(tmp_path / "out"), "--no-progress",
    ])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "missing feature values" in err and "mp-1004" in err


def test_cli_subsets_track_logs_to_mlflow(tmp_path, capsys):
    import mlflow

    write_inputs(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = [
        "subsets", "--labels", str(tmp_path / "labels.csv"),
        "--features", str(tmp_path / "features.parquet"),
        "--target", "sigma_S_cm", "--threshold", "1e-4", "--cv", "5",
        "-o", str(tmp_path / "out"), "--jobs", "1", "--no-progress",
        "--track", "--tracking-uri", uri, "--experiment", "subsets-test",
    ]
    assert main(argv) == 0
    assert "logged to MLflow run" in capsys.readouterr().out
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("subsets-test")
    (run,) = client.search_runs([exp.experiment_id])
    table = pd.read_parquet(tmp_path / "out" / "subsets.parquet")
    assert run.data.metrics["n_subsets"] == 31
    assert run.data.metrics["best_f1_mean"] == pytest.approx(table["f1_mean"].max())
    assert run.data.tags["mlkit.role"] == "subsets"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"top100.csv", "best_by_size.csv", "f1_vs_n_features.png"} <= artifacts
