"""Named feature sets (:mod:`mlkit.features.sets`)."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import MlkitError
from mlkit.features import FeaturizationSettings, featurize_structures
from mlkit.features.sets import FEATURE_SETS, feature_set_columns, feature_set_groups


def test_rotation_paper_set_has_the_papers_four_groups_and_23_columns():
    groups = feature_set_groups("rotation-paper")
    assert list(groups) == ["structural", "local geometrical", "electrostatic", "elemental"]
    columns = feature_set_columns("rotation-paper")
    assert len(columns) == 23 == len(set(columns))
    assert columns[0] == "vpa" and "aal" in columns


def test_specs_names_lists_and_errors():
    assert feature_set_columns(None) is None and feature_set_columns("") is None
    assert feature_set_columns("vpa, aal") == ["vpa", "aal"]
    assert feature_set_columns("vpa,") == ["vpa"]
    assert feature_set_columns(["aal"]) == ["aal"]
    with pytest.raises(MlkitError, match="unknown feature set 'paper'; known: rotation-paper"):
        feature_set_columns("paper")
    with pytest.raises(MlkitError, match="selects no column"):
        feature_set_columns([])


def test_every_named_column_is_made_by_the_default_featurizers():
    # NaClO4-like toy: Na + an isolated ClO4 tetrahedron in a cubic box
    d = 1.44 / 3**0.5
    species = ["Na", "Cl", "O", "O", "O", "O"]
    coords = [[0, 0, 0], [2.9, 2.9, 2.9], [2.9 + d, 2.9 + d, 2.9 + d],
              [2.9 - d, 2.9 - d, 2.9 + d], [2.9 - d, 2.9 + d, 2.9 - d],
              [2.9 + d, 2.9 - d, 2.9 - d]]
    s = Structure(Lattice.cubic(5.8), species, coords, coords_are_cartesian=True)
    table = featurize_structures({"naclo4": s}, FeaturizationSettings(), progress=False,
                                 use_cache=False)
    for name in FEATURE_SETS:
        missing = [c for c in feature_set_columns(name) if c not in table.columns]
        assert missing == []
    assert table.loc[0, "aal"] == pytest.approx(1.44, abs=1e-6)
