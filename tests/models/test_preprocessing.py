from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlkit.errors import MlkitError
from mlkit.models.preprocessing import (
    drop_constant,
    encode_categoricals,
    make_pipeline,
    out_of_range,
    redundancy_filter,
)


def test_redundancy_filter_keeps_the_earlier_column_and_reports_pairs():
    rng = np.random.default_rng(1)
    a = rng.normal(size=200)
    b = rng.normal(size=200)
    X = pd.DataFrame({"a": a, "b": b, "a_copy": 2 * a + 0.01 * rng.normal(size=200),
                      "neg_b": -b, "c": rng.normal(size=200)})
    notes: list[str] = []
    kept, pairs = redundancy_filter(X, 0.9, notes=notes)
    assert kept == ["a", "b", "c"]
    assert [(p.dropped, p.kept) for p in pairs] == [("a_copy", "a"), ("neg_b", "b")]
    assert pairs[1].r == pytest.approx(-1.0)
    assert "a_copy" in notes[0] and "neg_b" in notes[0]
    # order decides, deterministically: reversed column order keeps the other member
    kept_rev, _ = redundancy_filter(X[X.columns[::-1]], 0.9)
    assert kept_rev == ["c", "neg_b", "a_copy"]
    # a looser threshold keeps everything uncorrelated; a bad threshold is an error
    assert redundancy_filter(X[["a", "b", "c"]], 0.9)[0] == ["a", "b", "c"]
    with pytest.raises(MlkitError, match="corr threshold"):
        redundancy_filter(X, 1.5)


def test_threshold_is_strict_and_configurable():
    x = np.arange(20, dtype=float)
    y = x + np.where(np.arange(20) % 2 == 0, 3.0, -3.0)  # r ~ 0.94
    X = pd.DataFrame({"x": x, "y": y})
    r = abs(np.corrcoef(x, y)[0, 1])
    assert redundancy_filter(X, r - 1e-6)[0] == ["x"]
    assert redundancy_filter(X, r + 1e-6)[0] == ["x", "y"]


def test_constant_and_all_nan_features_are_dropped_with_a_note():
    X = pd.DataFrame({"a": [1.0, 2, 3], "const": [5.0, 5, 5], "nan": [np.nan] * 3,
                      "const_nan": [1.0, np.nan, 1.0]})
    notes: list[str] = []
    kept, dropped = drop_constant(X, notes=notes)
    assert list(kept.columns) == ["a"] and dropped == ["const", "nan", "const_nan"]
    assert "3 constant/all-NaN" in notes[0]
    with pytest.raises(MlkitError, match="every feature is constant"):
        drop_constant(X[["const"]])


def test_one_hot_with_fixed_categories():
    X = pd.DataFrame({"vpa": [1.0, 2.0, 3.0], "connectivity": ["isolated", "edge", "weird"],
                      "comment": ["x", "y", "z"]})
    notes: list[str] = []
    out = encode_categoricals(X, notes=notes)
    assert "connectivity=isolated" in out and "connectivity=none" in out
    assert out["connectivity=isolated"].tolist() == [1.0, 0.0, 0.0]
    assert out.filter(like="connectivity=").iloc[2].sum() == 0  # unknown -> all zeros
    assert "comment" not in out
    assert any("unknown categories ['weird']" in n for n in notes)
    assert any("non-numeric column 'comment' dropped" in n for n in notes)
    # an existing numeric one-hot (mlkit.features layout) is not duplicated
    cats = ["isolated", "corner", "edge", "face", "mixed", "none"]
    Y = X[["vpa", "connectivity"]].assign(**{f"connectivity_{c}": 0.0 for c in cats})
    assert not any(c.startswith("connectivity=") for c in encode_categoricals(Y).columns)


def test_pipeline_imputes_and_scales_with_training_statistics_only():
    from sklearn.linear_model import Ridge

    X_train = pd.DataFrame({"a": [1.0, 2.0, np.nan, 5.0]})
    X_test = pd.DataFrame({"a": [100.0]})
    pipe = make_pipeline(Ridge()).fit(X_train, [1, 2, 3, 4])
    assert pipe.named_steps["impute"].statistics_[0] == 2.0
    assert pipe.named_steps["scale"].mean_[0] == pytest.approx(np.mean([1, 2, 2, 5]))
    pipe.predict(X_test)  # transforming the test row does not refit anything
    assert pipe.named_steps["scale"].mean_[0] == pytest.approx(2.5)


def test_out_of_range_flags_each_feature():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.5, np.nan], "b": [5.0, -1.0, 5.0, 5.0]})
    flags = out_of_range(X, {"a": 0.0, "b": 0.0}, {"a": 2.0, "b": 10.0})
    assert flags == [[], ["b"], ["a"], []]
