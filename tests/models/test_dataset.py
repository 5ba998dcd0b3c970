"""Every bad labels input gets a clear message and its documented handling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mlkit.errors import MlkitError
from mlkit.models.dataset import LabelPolicy, build_training_table, load_features, load_labels


def _features(ids, error=None):
    n = len(ids)
    return pd.DataFrame({
        "id": ids, "source": [f"{i}.cif" for i in ids],
        "error": error if error is not None else [""] * n,
        "vpa": np.linspace(10, 20, n), "connectivity": ["isolated"] * n,
    })


def _write(tmp_path, text):
    p = tmp_path / "labels.csv"
    p.write_text(text)
    return p


def test_clean_regression_with_log10(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,1e-5\nc,2e-4\n")
    y, rep = load_labels(p, "sigma", target_transform="log10")
    assert rep.task == "regression"
    np.testing.assert_allclose(y.loc[["a", "b"]].to_numpy(), [-3.0, -5.0])
    assert "log10" in " ".join(rep.notes)


def test_censored_default_drop_reports_counts(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,<1E-10\nc,<1E-8\nd,2e-4\n")
    y, rep = load_labels(p, "sigma")
    assert list(y.index) == ["a", "d"]
    assert rep.dropped["censored target"] == ["b", "c"]
    assert any("dropped 2 row(s): censored target" in n for n in rep.notes)


def test_censored_value_uses_bound_and_error_raises(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,<1E-10\n")
    y, rep = load_labels(p, "sigma", censored="value", target_transform="log10")
    assert y["b"] == pytest.approx(-10.0)
    assert any("replaced by their bound" in n for n in rep.notes)
    with pytest.raises(MlkitError, match=r"labels.csv: 1 censored target.*<1E-10"):
        load_labels(p, "sigma", censored="error")


def test_censored_never_parsed_as_number_by_threshold(tmp_path):
    # "<1E-10" must not become class 0 silently: dropped and reported by default
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,<1E-10\nc,1e-6\nd,2e-4\ne,1e-7\n")
    y, rep = load_labels(p, "sigma", threshold=1e-4)
    assert "b" not in y.index and rep.dropped["censored target"] == ["b"]
    assert y.to_dict() == {"a": 1, "c": 0, "d": 1, "e": 0}


def test_missing_targets_dropped_and_reported(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,\nc,NaN\nd,2e-4\n")
    y, rep = load_labels(p, "sigma")
    assert list(y.index) == ["a", "d"]
    assert rep.dropped["missing target"] == ["b", "c"]


def test_non_numeric_target_error_and_drop(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,high\nc,2e-4\n")
    with pytest.raises(MlkitError, match=r"labels.csv: non-numeric target.*b='high'"):
        load_labels(p, "sigma")
    y, rep = load_labels(p, "sigma", non_numeric="drop")
    assert list(y.index) == ["a", "c"] and rep.dropped["non-numeric target"] == ["b"]


def test_duplicate_ids_error_and_first(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,1e-4\na,5e-3\n")
    with pytest.raises(MlkitError, match=r"labels.csv: duplicate ids \(1\): a"):
        load_labels(p, "sigma")
    y, rep = load_labels(p, "sigma", duplicates="first")
    assert y["a"] == pytest.approx(1e-3)
    assert rep.dropped["duplicate id (kept first row)"] == ["a"]


def test_single_member_class_and_single_class(tmp_path):
    p = _write(tmp_path, "id,cls\na,0\nb,0\nc,1\nd,0\n")
    with pytest.raises(MlkitError, match=r"single member"):
        load_labels(p, "cls", task="classification")
    p2 = _write(tmp_path, "id,cls\na,1\nb,1\nc,1\n")
    with pytest.raises(MlkitError, match=r"single class"):
        load_labels(p2, "cls", task="classification")


def test_string_classes_and_inferred_binary(tmp_path):
    p = _write(tmp_path, "id,kind\na,fast\nb,slow\nc,fast\nd,slow\n")
    y, rep = load_labels(p, "kind")
    assert rep.task == "classification" and rep.classes == ["fast", "slow"]
    assert y.to_dict() == {"a": 0, "b": 1, "c": 0, "d": 1}
    p2 = _write(tmp_path, "id,rot\na,1\nb,0\nc,1\nd,0\n")
    _, rep2 = load_labels(p2, "rot")
    assert rep2.task == "classification"


def test_log10_of_nonpositive_is_an_error(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,0\nc,-1\n")
    with pytest.raises(MlkitError, match=r"log10 transform needs positive targets; 2 value"):
        load_labels(p, "sigma", target_transform="log10")


def test_missing_columns_and_file(tmp_path):
    p = _write(tmp_path, "name,sigma\na,1\n")
    with pytest.raises(MlkitError, match=r"no id column 'id'"):
        load_labels(p, "sigma")
    p = _write(tmp_path, "id,sigma\na,1\n")
    with pytest.raises(MlkitError, match=r"no target column 'conductivity'"):
        load_labels(p, "conductivity")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_labels(tmp_path / "nope.csv", "sigma")


def test_unknown_ids_and_featurization_errors(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,1e-4\nc,2e-4\nzz,1e-5\n")
    feats = _features(["a", "b", "c", "extra"], error=["", "cannot read", "", ""])
    X, y, rep = build_training_table(feats, p, "sigma")
    assert list(X.index) == ["a", "c"] and list(y.index) == ["a", "c"]
    assert rep.dropped["featurization error"] == ["b"]
    assert rep.dropped["unknown id (no structure/feature row)"] == ["zz"]
    assert any("featurization error for b: cannot read" in n for n in rep.notes)
    assert any("1 feature row(s) have no label" in n for n in rep.notes)
    # metadata columns are not features
    assert list(X.columns) == ["vpa", "connectivity"]


def test_no_matching_ids_is_an_error(tmp_path):
    p = _write(tmp_path, "id,sigma\nq,1e-3\nr,1e-4\n")
    with pytest.raises(MlkitError, match=r"none of the 2 label ids matches"):
        build_training_table(_features(["a", "b"]), p, "sigma")


def test_class_lost_after_join_is_reported(tmp_path):
    # class 1 has two members but one has a featurization error -> single member
    p = _write(tmp_path, "id,cls\na,0\nb,0\nc,1\nd,1\n")
    feats = _features(["a", "b", "c", "d"], error=["", "", "", "bad file"])
    with pytest.raises(MlkitError, match=r"single member"):
        build_training_table(feats, p, "cls", task="classification")


def test_load_features_csv_and_parquet(tmp_path):
    f = _features(["a", "b"])
    f.to_csv(tmp_path / "f.csv", index=False)
    f.to_parquet(tmp_path / "f.parquet")
    for name in ("f.csv", "f.parquet"):
        g = load_features(tmp_path / name)
        assert list(g["id"]) == ["a", "b"] and list(g["error"]) == ["", ""]
    (tmp_path / "f.txt2").write_text("x")
    with pytest.raises(MlkitError, match="unknown feature table format"):
        load_features(tmp_path / "f.txt2")


def test_censored_value_with_threshold_only_when_class_is_certain(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,<1E-10\nc,<1E-3\nd,>1E-2\ne,1e-6\nf,2e-3\n")
    y, rep = load_labels(p, "sigma", threshold=1e-4, censored="value")
    # "<1E-10" is certainly below 1e-4 -> class 0; ">1E-2" certainly above -> class 1;
    # "<1E-3" may be on either side -> dropped and reported
    assert y.to_dict() == {"a": 1, "b": 0, "d": 1, "e": 0, "f": 1}
    assert rep.dropped["censored target on the wrong side of the threshold (class unknown)"] == [
        "c"]


def test_partial_featurization_errors_can_be_kept(tmp_path):
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,1e-4\nc,2e-4\n")
    feats = _features(["a", "b", "c"], error=["", "geometry: no polyanions", "cannot read"])
    feats.loc[2, "vpa"] = np.nan  # unreadable file: every feature NaN
    feats.loc[2, "connectivity"] = np.nan
    X, _, rep = build_training_table(feats, p, "sigma", feature_errors="keep-partial")
    assert list(X.index) == ["a", "b"]
    assert rep.dropped["featurization error"] == ["c"]
    assert any("1 labelled row(s) with partial featurization errors kept" in n for n in rep.notes)
    X2, _, rep2 = build_training_table(feats, p, "sigma")
    assert list(X2.index) == ["a"] and rep2.dropped["featurization error"] == ["b", "c"]
    with pytest.raises(MlkitError, match="feature_errors must be one of"):
        build_training_table(feats, p, "sigma", feature_errors="ignore")


def test_label_policy_is_one_validated_frozen_value(tmp_path):
    policy = LabelPolicy("sigma", target_transform="log10", censored="value",
                         duplicates="first", feature_errors="keep-partial")
    assert LabelPolicy(**policy.to_dict()) == policy
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.threshold = 1.0
    for bad in ({"censored": "keep"}, {"duplicates": "last"}, {"non_numeric": "zero"},
                {"target_transform": "ln"}, {"feature_errors": "ignore"}, {"task": "ranking"}):
        with pytest.raises(MlkitError, match=next(iter(bad))):
            LabelPolicy("sigma", **bad)
    with pytest.raises(MlkitError, match="threshold turns the target into classes"):
        LabelPolicy("sigma", task="regression", threshold=1e-4)
    p = _write(tmp_path, "id,sigma\na,1e-3\nb,<1e-5\nb,2e-4\nc,3e-4\n")
    y, rep = load_labels(p, policy)
    y2, _ = load_labels(p, "sigma", target_transform="log10", censored="value",
                        duplicates="first")
    pd.testing.assert_series_equal(y, y2)
    assert list(y.index) == ["a", "b", "c"] and y["b"] == pytest.approx(-5.0)
