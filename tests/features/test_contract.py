"""Contract tests over every registered featurizer (sklearn-style)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_union

from mlkit.features import (
    DEFAULT_FEATURIZERS,
    FEATURIZERS,
    BaseFeaturizer,
    StructureContext,
    get_featurizer,
    list_featurizers,
    register_featurizer,
)

NAMES = list_featurizers()


def test_registry_has_the_groups_and_enough_features():
    assert set(DEFAULT_FEATURIZERS) <= set(NAMES)
    assert "magpie" in NAMES
    n = sum(len(FEATURIZERS[name]().feature_labels()) for name in DEFAULT_FEATURIZERS)
    assert n >= 20


#: the phonon group runs an ML potential (minutes on these structures, float32 forces that
#: differ in the last bits between calls): its contract is tested on rocksalt with CHGNet in
#: test_phonon_featurizer.py
FAST_NAMES = [n for n in NAMES if n != "phonon"]


@pytest.mark.parametrize("name", FAST_NAMES)
def test_contract(name, nacl, na3po4):
    f = FEATURIZERS[name]()
    assert isinstance(f, BaseFeaturizer)
    assert f.name == name
    labels = f.feature_labels()
    assert len(labels) == len(set(labels)) > 0
    assert all(isinstance(x, str) and " " not in x for x in labels)
    before = dict(vars(f))
    assert f.fit([nacl, na3po4]) is f
    X1 = f.transform([nacl, na3po4])
    X2 = f.fit_transform([nacl, na3po4])
    assert X1.shape == (2, len(labels))
    np.testing.assert_array_equal(X1, X2)  # stateless and deterministic
    assert dict(vars(f)) == before  # fit learned nothing
    assert not [k for k in vars(f) if k.endswith("_")]
    assert list(f.get_feature_names_out()) == labels
    # featurize on a shared context returns one float per label
    values = f.featurize(StructureContext(na3po4))
    assert len(values) == len(labels)
    cites = f.citations()
    assert cites and all(isinstance(c, str) and c for c in cites)
    assert f.implementors()


@pytest.mark.parametrize("name", NAMES)
def test_clone_and_params(name):
    f = FEATURIZERS[name]()
    g = clone(f)
    assert g is not f and g.get_params() == f.get_params()
    if f.uses_mobile_ion:
        assert f.get_params()["mobile_ion"] == "Na"
        h = get_featurizer(name, mobile_ion="Li")
        assert h.get_params()["mobile_ion"] == "Li"
        assert clone(h).set_params(mobile_ion="K").mobile_ion == "K"


def test_feature_union_concatenates(nacl, na3po4):
    union = make_union(get_featurizer("structural"), get_featurizer("geometry"))
    X = union.fit_transform([nacl, na3po4])
    n = len(get_featurizer("structural").feature_labels()) + len(
        get_featurizer("geometry").feature_labels()
    )
    assert X.shape == (2, n)


def test_unknown_featurizer_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown featurizer 'nope'.*structural"):
        get_featurizer("nope")


def test_a_new_group_plugs_into_the_registry(nacl):
    @register_featurizer("test_cell_volume")
    class CellVolume(BaseFeaturizer):
        def __init__(self, scale: float = 1.0) -> None:
            self.scale = scale

        def featurize(self, ctx):
            return [ctx.structure.volume * self.scale]

        def feature_labels(self):
            return ["cell_volume_A3"]

        def citations(self):
            return ["test"]

    try:
        assert "test_cell_volume" in list_featurizers()
        X = get_featurizer("test_cell_volume", mobile_ion="Na").transform([nacl])
        assert X[0, 0] == pytest.approx(5.64**3)
        with pytest.raises(ValueError, match="already registered"):
            register_featurizer("test_cell_volume")(type("Other", (BaseFeaturizer,), {}))
    finally:
        FEATURIZERS.pop("test_cell_volume", None)
