"""featurize_paths / featurize_structures: error rows, cache, parallel, writers; the
settings value and the lazy registry."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import MlkitError
from mlkit.features import (
    DEFAULT_FEATURIZERS,
    FEATURIZERS,
    META_COLUMNS,
    BaseFeaturizer,
    FeaturizationSettings,
    featurize_paths,
    featurize_structures,
    pipeline,
    register_featurizer,
    write_table,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path, nacl, na3po4):
    d = tmp_path / "in"
    d.mkdir()
    nacl.to(filename=str(d / "nacl.cif"))
    na3po4.to(filename=str(d / "na3po4.vasp"), fmt="poscar")
    (d / "garbage.cif").write_text("data_x\nthis is not a CIF at all\n")
    overlap = Structure(Lattice.cubic(5.0), ["Na", "Cl", "Cl"], [[0, 0, 0], [0.5] * 3, [0.51] * 3])
    overlap.to(filename=str(d / "overlap.vasp"), fmt="poscar")
    # no Na at all: mobile-ion features need it
    kcl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(6.29), ["K", "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    kcl.to(filename=str(d / "kcl.cif"))
    return d


def test_one_row_per_input_and_error_rows(files, tmp_path):
    df = featurize_paths([files], cache_dir=tmp_path / "cache", progress=False)
    n_meta = len(META_COLUMNS)
    assert list(df.columns[:n_meta]) == list(META_COLUMNS)
    assert set(df["id"]) == {"nacl", "na3po4", "garbage", "overlap", "kcl"}
    rows = df.set_index("id")
    assert (
        rows.loc["nacl", "error"] == "geometry: no non-Na cation polyhedra (aal undefined); "
        "elemental: no non-Na cation polyhedra"
    )
    assert rows.loc["na3po4", "error"] == ""
    assert rows.loc["na3po4", "connectivity"] == "isolated"
    assert rows.loc["na3po4", "aal"] == pytest.approx(1.54)
    assert rows.loc["nacl", "vpa"] == pytest.approx(5.64**3 / 8)
    assert rows.loc["nacl", "disorder"] == "ordered"
    # unreadable / invalid files: a reason, all features NaN, nothing else stopped
    for bad in ("garbage", "overlap"):
        assert rows.loc[bad, "error"] != ""
        assert rows.loc[bad, "disorder"] == ""
        assert rows.loc[bad, df.columns[n_meta:]].isna().all()
        assert not rows.loc[bad, "rotation_screen"]
        assert rows.loc[bad, "rotation_screen_reason"] == rows.loc[bad, "error"]
    assert "overlap" in rows.loc["overlap", "error"]
    # no Na: the mobile-ion features are NaN with the reason, the rest is kept
    assert "geometry: no Na in structure" in rows.loc["kcl", "error"]
    assert math.isnan(rows.loc["kcl", "mobile_cn"])
    assert rows.loc["kcl", "vpa"] == pytest.approx(6.29**3 / 8)
    assert df[df.columns[n_meta:]].dtypes.map(lambda t: t == np.float64).all()


def test_too_many_sites_is_an_error_row(files, tmp_path):
    # a file: refused by the pre-check on the CIF's atom rows, before parsing
    df = featurize_paths([files / "nacl.cif"], max_sites=4, use_cache=False, progress=False)
    assert "too many sites (at least 8 > max_sites=4)" in df.iloc[0]["error"]
    assert np.isnan(df.iloc[0]["vpa"])
    # an in-memory structure: refused by validation
    from mlkit.structures import read_structure

    mem = featurize_structures({"nacl": read_structure(files / "nacl.cif")}, max_sites=4,
                               use_cache=False, progress=False)
    assert "too many sites (8 > max_sites=4)" in mem.iloc[0]["error"]


def test_cache_hit_runs_no_featurizer(files, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = featurize_paths([files], cache_dir=cache, progress=False)
    assert len(list(cache.rglob("*.json"))) == len(first)

    def must_not_run(*args, **kwargs):
        raise AssertionError("featurizer ran on a cache hit")

    monkeypatch.setattr(pipeline, "_featurize_one", must_not_run)
    second = featurize_paths([files], cache_dir=cache, progress=False)
    pd.testing.assert_frame_equal(first, second)


def test_cache_key_changes_with_settings_and_content(files, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    featurize_paths([files / "nacl.cif"], cache_dir=cache, progress=False)
    calls = []
    real = pipeline._featurize_one

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_featurize_one", counting)
    featurize_paths([files / "nacl.cif"], cache_dir=cache, progress=False, mobile_ion="Cl")
    assert calls == ["nacl"]
    featurize_paths(
        [files / "nacl.cif"], cache_dir=cache, progress=False, featurizers=["structural"]
    )
    assert calls == ["nacl", "nacl"]
    Structure.from_file(files / "nacl.cif").scale_lattice(200.0).to(
        filename=str(files / "nacl.cif")
    )
    df = featurize_paths([files / "nacl.cif"], cache_dir=cache, progress=False)
    assert calls == ["nacl"] * 3
    assert df.iloc[0]["vpa"] == pytest.approx(200.0 / 8)


def test_no_cache_writes_nothing(files, tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_CACHE_DIR", str(tmp_path / "envcache"))
    featurize_paths([files / "nacl.cif"], use_cache=False, progress=False)
    assert not (tmp_path / "envcache").exists()
    featurize_paths([files / "nacl.cif"], progress=False)
    assert len(list((tmp_path / "envcache" / "features").rglob("*.json"))) == 1


def test_parallel_equals_serial(nacl, na3po4, licl, tmp_path):
    structures = {"nacl": nacl, "na3po4": na3po4, "licl": licl}
    serial = featurize_structures(structures, use_cache=False, progress=False)
    parallel = featurize_structures(
        structures, n_jobs=2, chunk_size=1, use_cache=False, progress=False
    )
    pd.testing.assert_frame_equal(serial, parallel)
    assert list(serial["id"]) == ["nacl", "na3po4", "licl"]


def test_featurizer_selection_and_bad_options(nacl):
    df = featurize_structures(
        {"a": nacl}, featurizers=["structural,electrostatic"], use_cache=False, progress=False
    )
    assert "vpa" in df and "ewald_energy_per_atom_eV" in df and "aal" not in df
    assert df.iloc[0]["connectivity"] == "none"
    with pytest.raises(ValueError, match="unknown featurizer"):
        featurize_structures({"a": nacl}, featurizers=["bogus"], use_cache=False)
    with pytest.raises(ValueError, match="disorder strategy"):
        featurize_structures({"a": nacl}, disorder="random", use_cache=False)


def test_rotation_screen_columns(nacl, na3po4, tmp_path):
    perovskite = Structure(
        Lattice.cubic(3.95),
        ["Na", "Nb", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    structures = {"na3po4": na3po4, "nacl": nacl, "nanbo3": perovskite}
    df = featurize_structures(structures, featurizers=["structural"], use_cache=False,
                              progress=False)
    assert df["rotation_screen"].dtype == bool
    rows = df.set_index("id")
    assert rows.loc["na3po4", "rotation_screen"]
    assert rows.loc["na3po4", "rotation_screen_reason"] == ""
    assert not rows.loc["nacl", "rotation_screen"]
    assert rows.loc["nacl", "rotation_screen_reason"] == "no polyanions"
    assert rows.loc["nanbo3", "rotation_screen_reason"] == "framework is corner-sharing"
    assert rows.loc["nanbo3", "connectivity"] == "corner"
    # the CSV round trip keeps the column a bool
    back = pd.read_csv(write_table(df, tmp_path / "t.csv"), keep_default_na=False)
    assert back["rotation_screen"].tolist() == [True, False, False]


def test_a_failing_rotation_screen_is_a_reason_not_a_row_error(na3po4, monkeypatch):
    import mlkit.structures

    def broken(*args, **kwargs):
        raise ValueError("screen exploded\nsecond line")

    monkeypatch.setattr(mlkit.structures, "rotation_screen", broken)
    df = featurize_structures({"a": na3po4}, featurizers=["structural"], use_cache=False,
                              progress=False)
    row = df.iloc[0]
    assert not row["rotation_screen"]
    assert row["rotation_screen_reason"] == "rotation screen failed: screen exploded second line"
    assert row["error"] == "" and row["connectivity"] == "isolated"
    assert row["vpa"] == pytest.approx(7.0**3 / 8)


def test_write_table_csv_and_parquet(nacl, tmp_path):
    df = featurize_structures({"a": nacl}, use_cache=False, progress=False)
    for name in ("t.csv", "t.parquet"):
        out = write_table(df, tmp_path / name)
        back = (
            pd.read_csv(out, keep_default_na=False)
            if name.endswith("csv")
            else pd.read_parquet(out)
        )
        assert back.shape == df.shape
        assert back.loc[0, "vpa"] == pytest.approx(df.loc[0, "vpa"])
    with pytest.raises(ValueError, match="must end in .csv or .parquet"):
        write_table(df, tmp_path / "t.xlsx")


def test_settings_round_trip_and_validation():
    s = FeaturizationSettings(["default,magpie"], mobile_ion="Li", disorder="majority",
                              max_sites=300)
    assert s.featurizers == DEFAULT_FEATURIZERS + ("magpie",)
    d = s.to_dict()
    assert d["version"] == 2 and d["featurizers"][-1] == "magpie"
    assert FeaturizationSettings.from_dict(json.loads(json.dumps(d))) == s
    assert hash(s) == hash(FeaturizationSettings.from_dict(d))  # frozen: usable as a key
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mobile_ion = "Na"
    with pytest.raises(MlkitError, match="unknown featurizer 'bogus'"):
        FeaturizationSettings(("bogus",))
    with pytest.raises(MlkitError, match="disorder strategy"):
        FeaturizationSettings(disorder="random")
    with pytest.raises(MlkitError, match="max_sites"):
        FeaturizationSettings(max_sites=0)
    p = FeaturizationSettings(["default,phonon"], featurizer_params={"phonon": {"potential": "x"}})
    assert FeaturizationSettings.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert p.build_featurizers()[-1].get_params()["potential"] == "x"
    with pytest.raises(MlkitError, match="no parameter"):
        FeaturizationSettings(featurizer_params={"phonon": {"bogus": 1}})
    with pytest.raises(MlkitError, match="newer"):
        FeaturizationSettings.from_dict({**d, "version": 99})
    with pytest.raises(MlkitError, match="unknown featurization setting"):
        FeaturizationSettings.from_dict({**d, "cache_dir": "/tmp"})
    # the flat settings of models saved before versioning: None meant the default set
    old = FeaturizationSettings.from_dict({"featurizers": None, "mobile_ion": "Na",
                                           "disorder": "average", "max_sites": 2000})
    assert old == FeaturizationSettings()


def test_settings_object_and_keyword_overrides_give_the_same_table(nacl):
    s = FeaturizationSettings(("structural",), mobile_ion="K")
    by_object = featurize_structures({"a": nacl}, s, use_cache=False, progress=False)
    by_keywords = featurize_structures({"a": nacl}, featurizers=["structural"],
                                       mobile_ion="K", use_cache=False, progress=False)
    pd.testing.assert_frame_equal(by_object, by_keywords)
    with pytest.raises(TypeError, match="settings fields are featurizers"):
        featurize_structures({"a": nacl}, n_job=2, use_cache=False)


def test_registry_imports_a_group_only_when_it_is_looked_up():
    """Listing names imports no group module; the first lookup imports one."""
    code = (
        "import sys\n"
        "from mlkit.features.base import FEATURIZERS, list_featurizers\n"
        "names = list_featurizers()\n"
        "assert 'magpie' in names and 'structural' in names, names\n"
        "assert 'mlkit.features.magpie' not in sys.modules\n"
        "cls = FEATURIZERS['magpie']\n"
        "assert cls.__name__ == 'MagpieFeaturizer' and cls.name == 'magpie'\n"
        "assert 'mlkit.features.magpie' in sys.modules\n"
        "assert 'mlkit.features.structural' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]


def test_a_builtin_name_cannot_be_taken_by_another_class():
    with pytest.raises(ValueError, match="reserved for mlkit.features.structural"):
        register_featurizer("structural")(type("Impostor", (BaseFeaturizer,), {}))
    assert FEATURIZERS["structural"].__name__ == "StructuralFeaturizer"


def test_dask_backend_gives_the_local_table(tmp_path, nacl, na3po4):
    distributed = pytest.importorskip("distributed")
    from mlkit.features import featurize_structures

    structures = {"nacl": nacl, "na3po4": na3po4}
    local = featurize_structures(structures, use_cache=False, progress=False, chunk_size=1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = featurize_structures(structures, cache_dir=tmp_path, progress=False,
                                      chunk_size=1, dask_client=client)
    pd.testing.assert_frame_equal(local, remote)
    assert len(list(tmp_path.rglob("*.json"))) == 2  # workers wrote the row cache


def _rock_salts(n: int) -> dict[str, Structure]:
    """``n`` distinct NaCl cells (a = 5.50 .. A in 0.01 A steps): distinct cache keys."""
    return {
        f"nacl_{k:03d}": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.50 + 0.01 * k), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
        for k in range(n)
    }


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_streamed_file_equals_write_table(tmp_path, na3po4, monkeypatch, suffix):
    import pyarrow.parquet as pq

    structures = {**_rock_salts(5), "na3po4": na3po4, "empty_cell_k": Structure(
        Lattice.cubic(4.0), ["K"], [[0, 0, 0]])}
    monkeypatch.setattr(pipeline, "WRITE_CHUNK_ROWS", 2)  # several row groups / CSV blocks
    whole = featurize_structures(structures, cache_dir=tmp_path / "c", progress=False,
                                 chunk_size=3)
    ref = write_table(whole, tmp_path / f"ref.{suffix}")
    summary = featurize_structures(structures, cache_dir=tmp_path / "c2", progress=False,
                                   chunk_size=3, output=tmp_path / f"out.{suffix}",
                                   return_table=False)
    out = summary.path
    assert summary.n_rows == len(whole) == 7
    assert summary.n_errors == int((whole["error"] != "").sum()) >= 1
    assert summary.n_features == whole.shape[1] - len(META_COLUMNS)
    if suffix == "parquet":
        assert pq.ParquetFile(out).num_row_groups == 4  # 2 + 2 + 2 + 1 rows
        assert pq.read_schema(out).metadata == pq.read_schema(ref).metadata
        back, ref_back = pd.read_parquet(out), pd.read_parquet(ref)
        pd.testing.assert_frame_equal(back, ref_back)
        assert back.attrs == ref_back.attrs == {"mlkit": whole.attrs["mlkit"]}
    else:
        assert out.read_bytes() == ref.read_bytes()
        sidecar = Path(f"{out}.mlkit.json")
        assert json.loads(sidecar.read_text()) == whole.attrs["mlkit"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(
        [f"ref.{suffix}", f"out.{suffix}"] + ([f"ref.{suffix}.mlkit.json",
                                               f"out.{suffix}.mlkit.json"]
                                              if suffix == "csv" else []))


def test_streaming_holds_a_bounded_number_of_rows(tmp_path, monkeypatch):
    structures = _rock_salts(24)
    monkeypatch.setattr(pipeline, "WRITE_CHUNK_ROWS", 4)
    kw = {"featurizers": ("structural",), "cache_dir": tmp_path / "c", "progress": False,
          "chunk_size": 2}
    summary = featurize_structures(structures, output=tmp_path / "a.parquet",
                                   return_table=False, **kw)
    # a write block (4) plus one result chunk (2), whatever the number of inputs
    assert summary.n_rows == 24 and 0 < summary.max_rows_held <= 4 + 2
    # all cached now: rows are read one at a time as their turn comes
    again = featurize_structures(structures, output=tmp_path / "b.parquet",
                                 return_table=False, **kw)
    assert again.max_rows_held <= 4 + 1
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"),
                                  pd.read_parquet(tmp_path / "b.parquet"))
    # a returned table holds every row
    whole = featurize_structures(structures, **kw)
    pd.testing.assert_frame_equal(whole, pd.read_parquet(tmp_path / "a.parquet"))


def test_stale_partial_of_a_dead_run_is_removed_and_failures_leave_no_partial(tmp_path, nacl):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f"t.parquet.{dead}.partial"
    stale.write_bytes(b"half a table")
    featurize_structures({"a": nacl}, featurizers=("structural",), use_cache=False,
                         progress=False, output=tmp_path / "t.parquet")
    assert not stale.exists() and (tmp_path / "t.parquet").is_file()
    with pytest.raises(ValueError, match="needs an output"):
        featurize_structures({"a": nacl}, use_cache=False, progress=False, return_table=False)
    with pytest.raises(MlkitError, match="must end in .csv or .parquet"):
        featurize_structures({"a": nacl}, use_cache=False, progress=False,
                             output=tmp_path / "t.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def test_dask_streams_more_chunks_than_its_window(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(pipeline, "WRITE_CHUNK_ROWS", 1)

    structures = _rock_salts(7)  # 7 chunks of 1 > the window of 4 tasks per worker thread
    kw = {"featurizers": ("structural",), "progress": False, "chunk_size": 1}
    local = featurize_structures(structures, use_cache=False, **kw)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        summary = featurize_structures(structures, cache_dir=tmp_path / "c", dask_client=client,
                                       output=tmp_path / "d.parquet", return_table=False, **kw)
    assert summary.n_rows == 7 and summary.max_rows_held <= 1 + 1
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "d.parquet"), local)


def test_a_torn_cache_entry_is_recomputed_and_rewritten(tmp_path):
    structures = _rock_salts(3)
    kw = {"featurizers": ("structural",), "cache_dir": tmp_path / "c", "progress": False}
    first = featurize_structures(structures, **kw)
    entries = sorted((tmp_path / "c").rglob("*.json"))
    assert len(entries) == 3
    entries[1].write_text('{"id": "nacl_0')  # what a non-atomic writer killed mid-way leaves
    again = featurize_structures(structures, output=tmp_path / "t.parquet", **kw)
    pd.testing.assert_frame_equal(again, first)
    assert all(json.loads(p.read_text())["error"] == "" for p in entries)
