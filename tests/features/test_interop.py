"""mlkit's featurizer groups in matminer (``featurize_dataframe`` with ``ignore_errors`` /
``return_errors``) and as the first step of a scikit-learn pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

from mlkit.features import featurize_paths, featurize_structures, list_featurizers
from mlkit.features.interop import (
    MatminerCompatBase,
    MatminerFeaturizer,
    StructureFeaturizer,
    _GroupAdapter,
)
from mlkit.structures import read_structure

DEMO = Path(__file__).resolve().parents[2] / "datasets" / "demo"
#: every registered group but ``phonon`` (it runs an ML potential: minutes per structure,
#: covered by tests/features/test_phonon_featurizer.py)
GROUPS = [g for g in list_featurizers() if g != "phonon"]


def _frame() -> pd.DataFrame:
    files = sorted((DEMO / "structures").glob("*x1p00.cif"))[:4]
    good = [read_structure(p) for p in files]
    no_na = Structure.from_spacegroup("Fm-3m", Lattice.cubic(6.29), ["K", "Cl"],
                                      [[0, 0, 0], [0.5, 0.5, 0.5]])
    overlap = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]])
    return pd.DataFrame({"name": [p.stem for p in files] + ["KCl", "overlap"],
                         "structure": good + [no_na, overlap]})


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _frame()


@pytest.fixture(scope="module")
def reference(frame) -> pd.DataFrame:
    """mlkit's own table for the same structures (all groups)."""
    return featurize_structures(dict(zip(frame["name"], frame["structure"], strict=True)),
                                featurizers=tuple(GROUPS), use_cache=False, progress=False)


def test_adapter_is_a_matminer_featurizer():
    pytest.importorskip("matminer", reason="matminer not installed: the compat base is used")
    from matminer.featurizers.base import BaseFeaturizer

    f = MatminerFeaturizer("geometry")
    assert isinstance(f, BaseFeaturizer)
    assert f.citations() and f.implementors() and f.feature_labels()[0] == "aal"


@pytest.mark.parametrize("group", GROUPS)
def test_featurize_dataframe_matches_the_mlkit_table(group, frame, reference):
    pytest.importorskip("matminer", reason="matminer not installed (compat base tested below)")
    f = MatminerFeaturizer(group)
    out = f.featurize_dataframe(frame, "structure", ignore_errors=True, return_errors=True,
                                pbar=False)
    labels = f.feature_labels()
    errors = "MatminerFeaturizer Exceptions"
    assert list(out.columns) == ["name", "structure", *labels, errors]
    assert list(frame.columns) == ["name", "structure"]  # not in place
    ref = reference.set_index("id").loc[out["name"], labels].to_numpy()
    np.testing.assert_allclose(out[labels].to_numpy(float), ref, equal_nan=True)
    # the overlapping structure fails validation: NaN features and the reason
    bad = out.set_index("name").loc["overlap"]
    assert bad[labels].isna().all()
    assert "overlapping atoms" in bad[errors]
    ok = out[errors].isna()
    assert ok.iloc[:4].all()  # the demo structures featurize


def test_without_ignore_errors_the_failure_raises(frame):
    f = MatminerFeaturizer("structural")
    with pytest.raises(Exception, match="overlapping atoms"):
        f.featurize_dataframe(frame, "structure", pbar=False)


def test_features_a_group_cannot_compute_are_nan_as_in_the_table(frame, reference):
    """KCl has no Na: geometry computes some features and leaves the mobile-ion ones NaN;
    not an exception (matminer has no partial errors), the mlkit table names the reason."""
    pytest.importorskip("matminer")
    f = MatminerFeaturizer("geometry")
    out = f.featurize_dataframe(frame, "structure", ignore_errors=True, return_errors=True,
                                pbar=False).set_index("name")
    kcl = out.loc["KCl", f.feature_labels()].astype(float)
    assert kcl.isna().any() and kcl.notna().any()
    assert pd.isna(out.loc["KCl", "MatminerFeaturizer Exceptions"])
    assert "geometry:" in reference.set_index("id").loc["KCl", "error"]


def test_multiple_featurizer_takes_mlkit_groups(frame):
    pytest.importorskip("matminer")
    from matminer.featurizers.base import MultipleFeaturizer

    groups = [MatminerFeaturizer("structural"), MatminerFeaturizer("elemental")]
    multi = MultipleFeaturizer(groups)
    multi.set_n_jobs(1)
    out = multi.featurize_dataframe(frame.iloc[:4], "structure", pbar=False)
    assert list(out.columns[2:]) == groups[0].feature_labels() + groups[1].feature_labels()


def test_compat_base_gives_matminer_semantics_without_matminer(frame, reference):
    class Compat(_GroupAdapter, MatminerCompatBase):
        pass

    f = Compat("structural")
    out = f.featurize_dataframe(frame, "structure", ignore_errors=True, return_errors=True)
    labels = f.feature_labels()
    assert list(out.columns) == ["name", "structure", *labels, "Compat Exceptions"]
    ref = reference.set_index("id").loc[out["name"], labels].to_numpy()
    np.testing.assert_allclose(out[labels].to_numpy(float), ref, equal_nan=True)
    assert out["Compat Exceptions"].isna().tolist() == [True] * 5 + [False]
    assert "overlapping atoms" in out["Compat Exceptions"].iloc[5]
    with pytest.raises(Exception, match="overlapping atoms"):
        f.featurize_dataframe(frame, "structure")
    with pytest.raises(ValueError, match="exists in input dataframe"):
        f.featurize_dataframe(out, "structure", ignore_errors=True)


def test_structure_featurizer_in_a_pipeline():
    labels = pd.read_csv(DEMO / "labels.csv")
    files = [DEMO / "structures" / f"{i}.cif" for i in labels["id"]]
    X = pd.Series([read_structure(p) for p in files], index=labels["id"])
    y = labels["open_path"].to_numpy()
    step = StructureFeaturizer()
    feats = step.fit_transform(X)
    table = featurize_paths(files, use_cache=False, progress=False).set_index("id")
    assert list(feats.columns) == list(step.get_feature_names_out())
    assert step.n_features_out_ == feats.shape[1]
    np.testing.assert_allclose(feats.to_numpy(), table.loc[X.index, feats.columns].to_numpy(float),
                               equal_nan=True)
    pipe = Pipeline([("features", StructureFeaturizer()), ("impute", SimpleImputer()),
                     ("model", LogisticRegression(max_iter=2000))])
    scores = cross_val_score(clone(pipe), X, y, cv=3, scoring="accuracy")
    assert scores.shape == (3,) and np.isfinite(scores).all()
    pipe.fit(X, y)
    assert set(pipe.predict(X.iloc[:5])) <= {0, 1}
    assert pipe.score(X, y) > 0.7  # the demo label is a geometric proxy these features see
