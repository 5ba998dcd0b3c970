"""``label_phonons`` / ``mlkit label phonons``: error rows, resume without duplicates, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from shared_data import shared_path

from mlkit.labels.phonons import label_phonons
from mlkit.phonons import PhononSettings
from mlkit.potentials.spec import CalculatorSpec

pytest.importorskip("phonopy")
pytest.importorskip("chgnet")

FAST = PhononSettings(relax=False, supercell_matrix=(3, 3, 3), mesh_lengths_A=(10.0, 15.0, 20.0),
                      band_points=5, temperatures_K=(800.0, 300.0))


def _inputs(tmp_path: Path) -> list[Path]:
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                  [[0, 0, 0], [0.5, 0.5, 0.5]])
    good = tmp_path / "NaCl.json"
    good.write_text(json.dumps(nacl.get_primitive_structure().as_dict()))
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a 5\nloop_\n_atom_site_label\nNa1 0 0\n")
    return [good, bad]


def test_batch_gives_error_rows_and_resumes_without_duplicates(tmp_path):
    inputs = _inputs(tmp_path)
    out = tmp_path / "labels.csv"
    spec = CalculatorSpec("chgnet", threads=1)
    first = label_phonons(inputs, out, FAST, potential=spec, progress=False)
    assert list(first["id"]) == ["NaCl", "broken"]
    assert list(first["status"]) == ["done", "error"]
    assert first.loc[1, "error"].startswith(str(inputs[1]))
    done = first.iloc[0]
    assert done["potential"] == "chgnet" and done["potential_version"]
    assert done["supercell_matrix"] == "3 0 0 0 3 0 0 0 3"
    assert done["n_supercell_atoms"] == 54
    assert done["ph_stable"] == 1.0
    assert done["ph_mobile_msd_mean_A2_800K"] > done["ph_mobile_msd_mean_A2_300K"] > 0
    parts = sorted(p.name for p in (tmp_path / "labels_parts").iterdir())
    assert parts == ["NaCl.json", "broken.json"]
    # a rerun reuses every finished row: same table, nothing recomputed
    mtime = (tmp_path / "labels_parts" / "NaCl.json").stat().st_mtime_ns
    again = label_phonons(inputs, out, FAST, potential=spec, progress=False)
    pd.testing.assert_frame_equal(first, again)
    assert (tmp_path / "labels_parts" / "NaCl.json").stat().st_mtime_ns == mtime
    assert len(pd.read_csv(out)) == 2
    # other settings do not reuse the rows
    other = label_phonons(inputs[:1], tmp_path / "other.csv",
                          PhononSettings(**{**FAST.as_dict(), "temperatures_K": (500.0,)}),
                          potential=spec, progress=False)
    assert "ph_mobile_msd_mean_A2_500K" in other.columns


def test_cli_label_phonons(tmp_path):
    from mlkit.cli import main

    inputs = _inputs(tmp_path)
    out = tmp_path / "cli.csv"
    rc = main(["label", "phonons", str(inputs[0]), str(inputs[1]), "-o", str(out),
               "--potential", "chgnet", "--no-relax", "--dim", "3 3 3", "--no-progress",
               "--temperatures-K", "800", "--plots", str(tmp_path / "plots")])
    assert rc == 0
    table = pd.read_csv(out)
    assert list(table["status"]) == ["done", "error"]
    assert (tmp_path / "plots" / "NaCl_dos.png").stat().st_size > 1000


@pytest.mark.shared
def test_dft_force_sets_on_dask_equal_local(tmp_path):
    """Two phonondb archives through a Dask LocalCluster give the local rows."""
    distributed = pytest.importorskip("distributed")
    raw = shared_path("phonondb_na", "raw")
    archives = sorted(raw.glob("materials-id-682-*"))  # NaF
    archives += sorted(raw.glob("materials-id-1266-*"))  # Na2Se
    settings = PhononSettings(band_points=5, temperatures_K=(800.0,))
    local = label_phonons(archives, tmp_path / "local.csv", settings, source="force_sets",
                          progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = label_phonons(archives, tmp_path / "dask.csv", settings, source="force_sets",
                               dask_client=client, progress=False)
    assert list(local["status"]) == ["done", "done"]
    assert list(local["phonon_source"]) == ["dft", "dft"]
    cols = [c for c in local.columns if c.startswith("ph_") and not c.endswith("_s")]
    pd.testing.assert_frame_equal(local[cols], remote[cols])
    assert (local["ph_stable"] == 1.0).all()  # NaF and Na2Se are DFT-stable
