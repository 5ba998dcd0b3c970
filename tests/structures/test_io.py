"""Reading structure files of every supported format, path collection, parse errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import StructureError
from mlkit.structures import collect_paths, read_structure, structure_id


def _same(a: Structure, b: Structure) -> None:
    assert a.composition == b.composition
    np.testing.assert_allclose(a.lattice.matrix, b.lattice.matrix, atol=1e-5)
    assert a.matches(b)


@pytest.fixture
def files(tmp_path, nacl):
    nacl.to(filename=str(tmp_path / "nacl.cif"))
    nacl.to(filename=str(tmp_path / "mp-22862_POSCAR-unitcell.vasp"), fmt="poscar")
    nacl.to(filename=str(tmp_path / "POSCAR"), fmt="poscar")
    (tmp_path / "nacl.json").write_text(json.dumps(nacl.as_dict()))
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    write(tmp_path / "nacl.extxyz", AseAtomsAdaptor.get_atoms(nacl), format="extxyz")
    (tmp_path / "notes.txt").write_text("not a structure")
    return tmp_path


@pytest.mark.parametrize(
    "name", ["nacl.cif", "mp-22862_POSCAR-unitcell.vasp", "POSCAR", "nacl.json", "nacl.extxyz"]
)
def test_every_format_round_trips(files, nacl, name):
    _same(read_structure(files / name), nacl)


def test_row_id_is_the_file_stem():
    assert structure_id("a/b/mp-28178_POSCAR-unitcell.vasp") == "mp-28178_POSCAR-unitcell"
    assert structure_id("x/00x.cif") == "00x"


def test_collect_directory_glob_file_and_dedupe(files):
    from_dir = collect_paths([files])
    names = [p.name for p in from_dir]
    assert names == sorted(names)
    assert "notes.txt" not in names and len(names) == 5
    globbed = collect_paths([str(files / "*.cif"), files / "nacl.cif"])
    assert [p.name for p in globbed] == ["nacl.cif"]
    # an explicitly named file is kept whatever its suffix
    assert collect_paths([files / "notes.txt"]) == [files / "notes.txt"]


def test_collect_missing_path_and_empty_glob(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        collect_paths([tmp_path / "absent.cif"])
    with pytest.raises(FileNotFoundError, match="matches no structure"):
        collect_paths([str(tmp_path / "*.cif")])


def test_unparseable_cif_is_one_line_error_without_warning_flood(tmp_path, capfd):
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a 5.0\nloop_\n_atom_site_label\n Na1 0.1 0.2\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(StructureError) as err:
            read_structure(bad)
    msg = str(err.value)
    assert msg.startswith(f"{bad}: cannot parse as CIF: ")
    assert "\n" not in msg and len(msg) < 300
    assert caught == []
    out, errout = capfd.readouterr()
    assert out == "" and errout == ""


def test_unreadable_poscar_json_xyz(tmp_path):
    (tmp_path / "x.vasp").write_text("junk\n1.0\n")
    (tmp_path / "x.json").write_text('{"a": 1}')
    (tmp_path / "x.xyz").write_text("1\n\nNa 0 0 0\n")
    for name, fmt in (("x.vasp", "POSCAR"), ("x.json", "JSON"), ("x.xyz", "extxyz")):
        with pytest.raises(StructureError, match=f"cannot parse as {fmt}"):
            read_structure(tmp_path / name)
    with pytest.raises(StructureError, match="no such file"):
        read_structure(tmp_path / "absent.cif")


def test_cif_keeps_partial_occupancy(tmp_path):
    s = Structure(Lattice.cubic(4.0), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.to(filename=str(tmp_path / "dis.cif"))
    back = read_structure(tmp_path / "dis.cif")
    assert not back.is_ordered
    assert back[0].species.get_atomic_fraction("Na") == pytest.approx(0.5)
