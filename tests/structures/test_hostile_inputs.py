"""Inputs found by trying mlkit as a new user would (issue 12): each a one-line refusal."""

from __future__ import annotations

import time

import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import MlkitError, StructureError
from mlkit.features import META_COLUMNS, featurize_paths
from mlkit.structures import read_structure, site_count_lower_bound

CIF_HEAD = """data_x
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
"""


@pytest.mark.parametrize("occupancy, reason", [("-0.5", "is not positive"),
                                               ("0", "is not positive"),
                                               ("abc", "is not a number")])
def test_bad_occupancy_is_refused_not_dropped(tmp_path, occupancy, reason):
    path = tmp_path / "neg.cif"
    path.write_text(CIF_HEAD + f"Na1 Na 0 0 0 {occupancy}\nCl1 Cl 0.5 0.5 0.5 1\n")
    with pytest.raises(StructureError, match=f"neg.cif: .*site Na1: occupancy .*{reason}"):
        read_structure(path)


def test_occupancy_with_uncertainty_is_read(tmp_path):
    path = tmp_path / "ok.cif"
    path.write_text(CIF_HEAD + "Na1 Na 0 0 0 0.50(2)\nK1 K 0 0 0 0.5\nCl1 Cl 0.5 0.5 0.5 1\n")
    s = read_structure(path)
    assert s[0].species.as_dict() == {"Na": 0.5, "K": 0.5}


def _big_cif(path, n_side: int) -> None:
    rows = [f"Na{i} Na {i / n_side**3:.6f} 0.1 0.1 1" for i in range(n_side**3)]
    path.write_text(CIF_HEAD + "\n".join(rows) + "\n")


def test_site_count_pre_check(tmp_path):
    cif = tmp_path / "big.cif"
    _big_cif(cif, 12)  # 1,728 rows
    assert site_count_lower_bound(cif) == 1728
    s = Structure(Lattice.cubic(30.0), ["Na"] * 3000, [[i / 3000, 0.5, 0.5] for i in range(3000)])
    s.to(filename=str(tmp_path / "big.vasp"), fmt="poscar")
    assert site_count_lower_bound(tmp_path / "big.vasp") == 3000
    assert site_count_lower_bound(tmp_path / "none.json") is None


def test_huge_file_refused_before_parsing(tmp_path):
    cif = tmp_path / "huge.cif"
    _big_cif(cif, 24)  # 13,824 sites: pymatgen needs ~1 min to parse it
    t0 = time.perf_counter()
    table = featurize_paths([cif], use_cache=False, progress=False,
                            featurizers=("structural",))
    elapsed = time.perf_counter() - t0
    assert "too many sites (at least 13824 > max_sites=2000)" in table.loc[0, "error"]
    assert elapsed < 10  # the parse alone takes 40-60 s here


def test_duplicate_ids_are_refused(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.cif").write_text(CIF_HEAD + "Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\n")
    with pytest.raises(MlkitError, match="'x'.*a/x.cif.*b/x.cif.*must be unique"):
        featurize_paths([tmp_path / "a", tmp_path / "b"], use_cache=False, progress=False)
    # the same file named twice is one input, not a clash
    table = featurize_paths([tmp_path / "a" / "x.cif", tmp_path / "a"], use_cache=False,
                            progress=False, featurizers=("structural",))
    assert list(table["id"]) == ["x"]


def test_time_limit_per_structure_gives_an_error_row(tmp_path, monkeypatch):
    """A structure stuck in a featurizer is cut at the limit; the others are unaffected."""
    import mlkit.features.structural as structural

    good = tmp_path / "good.cif"
    good.write_text(CIF_HEAD + "Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\n")
    slow = tmp_path / "slow.cif"
    slow.write_text(CIF_HEAD + "Na1 Na 0 0 0 1\nBr1 Br 0.5 0.5 0.5 1\n")
    original = structural.StructuralFeaturizer.featurize

    def stuck_on_br(self, ctx):
        if "Br" in ctx.structure.composition:
            time.sleep(30)
        return original(self, ctx)

    monkeypatch.setattr(structural.StructuralFeaturizer, "featurize", stuck_on_br)
    t0 = time.perf_counter()
    table = featurize_paths([good, slow], use_cache=True, cache_dir=tmp_path / "cache",
                            progress=False, featurizers=("structural",), time_limit_s=1.0)
    assert time.perf_counter() - t0 < 20
    assert table.loc[0, "error"] == ""
    assert table.loc[1, "error"] == "time limit of 1 s per structure exceeded"
    assert table.iloc[1, len(META_COLUMNS):].isna().all()
    assert table.loc[1, "rotation_screen_reason"] == table.loc[1, "error"]
    # the timed-out row was not cached: without the slow path it is computed on a rerun
    monkeypatch.setattr(structural.StructuralFeaturizer, "featurize", original)
    again = featurize_paths([good, slow], use_cache=True, cache_dir=tmp_path / "cache",
                            progress=False, featurizers=("structural",), time_limit_s=1.0)
    assert again.loc[1, "error"] == ""
