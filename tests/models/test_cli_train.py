from __future__ import annotations

import numpy as np
import pandas as pd

from mlkit.cli import main as cli_main


def _files(tmp_path, labels_text=None):
    rng = np.random.default_rng(0)
    n = 30
    feats = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "source": "", "error": "",
                          "vpa": rng.normal(size=n), "aal": rng.normal(size=n)})
    feats.to_parquet(tmp_path / "f.parquet")
    if labels_text is None:
        sigma = 10 ** (-4 + feats["vpa"] + 0.1 * rng.normal(size=n))
        labels = pd.DataFrame({"id": feats["id"], "sigma": sigma.map("{:.3e}".format)})
        labels.loc[3, "sigma"] = "<1E-10"
        labels.to_csv(tmp_path / "labels.csv", index=False)
    else:
        (tmp_path / "labels.csv").write_text(labels_text)
    return tmp_path / "labels.csv", tmp_path / "f.parquet"


def test_cli_train_regression_with_censored_row(tmp_path, capsys):
    labels, feats = _files(tmp_path)
    rc = cli_main(["train", "--labels", str(labels), "--features", str(feats), "--target",
                   "sigma", "--target-transform", "log10", "--models", "logreg",
                   "--outer-folds", "3", "--n-trials", "2", "--no-track", "--no-progress",
                   "--output-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "dropped 1 row(s): censored target (values <1E-10): s3" in out
    assert "29 rows used (regression)" in out and "chosen: logreg" in out
    assert (tmp_path / "out" / "cv_summary.csv").exists()


def test_cli_train_classification_threshold(tmp_path, capsys):
    labels, feats = _files(tmp_path)
    rc = cli_main(["train", "--labels", str(labels), "--features", str(feats), "--target",
                   "sigma", "--threshold", "1e-4", "--censored", "value", "--models", "rf",
                   "--outer-folds", "3", "--n-trials", "2", "--no-track", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "(classification)" in out and "f1" in out
    assert "replaced by their bound" in out


def test_cli_train_bad_labels_one_line_error(tmp_path, capsys):
    labels, feats = _files(tmp_path, "id,sigma\ns0,1e-3\ns0,1e-4\ns1,2e-4\n")
    rc = cli_main(["train", "--labels", str(labels), "--features", str(feats), "--target",
                   "sigma", "--no-track"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "labels.csv: duplicate ids (1): s0" in err
