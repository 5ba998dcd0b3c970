"""The opt-in ``bvse`` featurizer group: real bvlain BVSE landscapes of tiny structures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.features import FeaturizationSettings, featurize_structures
from mlkit.features.base import DEFAULT_FEATURIZERS, FeatureUnavailable, get_featurizer

pytest.importorskip("bvlain")


def li2s() -> Structure:
    """Antifluorite Li2S, a = 5.71 A: Li on the simple-cubic tetrahedral sublattice."""
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.71), ["S", "Li"],
                                     [[0, 0, 0], [0.25, 0.25, 0.25]])


def na3ps4_cubic() -> Structure:
    """Cubic Na3PS4 (I-43m, a = 6.99 A): Na 6b, P 2a, S 8c (x = 0.17, P-S 2.06 A)."""
    return Structure.from_spacegroup("I-43m", Lattice.cubic(6.99), ["Na", "P", "S"],
                                     [[0, 0.5, 0.5], [0, 0, 0], [0.17, 0.17, 0.17]])


def lina_cl2() -> Structure:
    """Rock salt with alternate (001) cation layers Li / Na (ordered LiNaCl2, a = 5.4 A)."""
    lattice = Lattice.tetragonal(5.4 / math.sqrt(2), 5.4)
    species = ["Li", "Cl", "Na", "Cl"]
    coords = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0.5, 0.5], [0, 0, 0.5]]
    return Structure(lattice, species, coords)


def _values(f, s: Structure) -> dict[str, float]:
    return dict(zip(f.feature_labels(), f.featurize_structure(s), strict=True))


def test_li_conductor_barriers_finite_and_ordered():
    f = get_featurizer("bvse", mobile_ion="Li")
    assert "bvse" not in DEFAULT_FEATURIZERS
    v = _values(f, li2s())
    b = [v["bvse_barrier_1d_eV"], v["bvse_barrier_2d_eV"], v["bvse_barrier_3d_eV"]]
    assert all(math.isfinite(x) for x in b)
    assert 0 < b[0] <= b[1] <= b[2] < f.energy_window_eV
    # cubic: the first percolating path is already 3-D
    assert b[0] == pytest.approx(b[2], abs=0.02)
    assert v["bvse_percolation_dim"] == 3
    assert v["bvse_site_energy_min_eV"] < 0
    assert 0 < v["bvse_low_energy_fraction"] < 1


def test_na_conductor_and_window_cap():
    f = get_featurizer("bvse", mobile_ion="Na")
    v = _values(f, na3ps4_cubic())
    b = [v[f"bvse_barrier_{d}d_eV"] for d in (1, 2, 3)]
    assert 0 < b[0] <= b[1] <= b[2] < 5.0
    assert v["bvse_percolation_dim"] == 3
    # a window below the 1-D barrier: nothing percolates, every barrier is the cap
    tight = get_featurizer("bvse", mobile_ion="Na", energy_window_eV=b[0] / 2)
    w = _values(tight, na3ps4_cubic())
    assert [w[f"bvse_barrier_{d}d_eV"] for d in (1, 2, 3)] == [b[0] / 2] * 3
    assert w["bvse_percolation_dim"] == 0


def test_mobile_ion_parameter_changes_the_landscape():
    s = lina_cl2()
    li = _values(get_featurizer("bvse", mobile_ion="Li"), s)
    na = _values(get_featurizer("bvse", mobile_ion="Na"), s)
    assert li["bvse_barrier_1d_eV"] != pytest.approx(na["bvse_barrier_1d_eV"], abs=0.02)
    assert li["bvse_site_energy_min_eV"] != pytest.approx(na["bvse_site_energy_min_eV"],
                                                          abs=0.01)


def test_missing_mobile_ion_is_a_group_error_and_the_row_keeps_other_groups():
    f = get_featurizer("bvse", mobile_ion="K")
    with pytest.raises(FeatureUnavailable, match="no K"):
        f.featurize_structure(li2s())
    settings = FeaturizationSettings(featurizers=("structural", "bvse"), mobile_ion="K")
    table = featurize_structures({"li2s": li2s()}, settings, n_jobs=1, use_cache=False,
                                 progress=False)
    row = table.iloc[0]
    assert "bvse: no K in structure" in row["error"]
    assert np.isnan(row["bvse_barrier_3d_eV"])
    assert np.isfinite(row["vpa"])


def test_no_parameters_and_grid_limit_are_group_errors():
    # anti-ReO3 Na3N: bvlain tabulates Na+ only with O, S, Se, Te and the halides
    na3n = Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.82), ["N", "Na"],
                                     [[0, 0, 0], [0.5, 0, 0]])
    with pytest.raises(FeatureUnavailable, match="no BVSE parameters for Na\\+1 with N-3"):
        get_featurizer("bvse", mobile_ion="Na").featurize_structure(na3n)
    with pytest.raises(FeatureUnavailable, match="max_grid_points"):
        get_featurizer("bvse", mobile_ion="Li", max_grid_points=1000).featurize_structure(li2s())


def test_settings_params_reach_the_group():
    settings = FeaturizationSettings(featurizers=("bvse",), mobile_ion="Li",
                                     featurizer_params={"bvse": {"resolution_A": 0.25}})
    (f,) = settings.build_featurizers()
    assert f.mobile_ion == "Li" and f.resolution_A == 0.25
