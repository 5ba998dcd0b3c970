"""The opt-in ``phonon`` featurizer group: real potential, real phonopy, cached force constants."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.features.base import DEFAULT_FEATURIZERS, FeatureUnavailable, get_featurizer

pytest.importorskip("phonopy")
pytest.importorskip("chgnet")


def test_phonon_group_on_rocksalt(tmp_path):
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    f = get_featurizer("phonon", mobile_ion="Na", potential="chgnet", relax=False,
                       supercell_min_atoms=50, cache_dir=str(tmp_path))
    assert "phonon" not in DEFAULT_FEATURIZERS
    values = dict(zip(f.feature_labels(), f.featurize_structure(nacl), strict=True))
    assert values["ph_stable"] == 1.0
    assert values["ph_mobile_msd_mean_A2"] > 0
    assert values["ph_acoustic_cutoff_THz"] > 0
    assert 0 < values["ph_mobile_pdos_centre_THz"] < 10
    # force constants were cached: a second featurizer finds them
    assert list(tmp_path.rglob("*.json"))
    again = f.featurize_structure(nacl)
    np.testing.assert_allclose(again, list(values.values()), rtol=1e-10)
    assert f.citations()


def test_phonon_group_refuses_disorder_and_missing_ion():
    f = get_featurizer("phonon", potential="chgnet")
    disordered = Structure(Lattice.cubic(5.0), [{"Na": 0.5, "K": 0.5}, "Cl"],
                           [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(FeatureUnavailable, match="ordered"):
        f.featurize_structure(disordered)
    kcl = Structure(Lattice.cubic(5.0), ["K", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(FeatureUnavailable, match="no Na"):
        f.featurize_structure(kcl)
