"""Force constants: DFT force sets and ML potentials, checked against phonopy's own API."""

from __future__ import annotations

import io
import lzma
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path
from pymatgen.core import Lattice, Structure

from mlkit.errors import MlkitError
from mlkit.phonons import (
    PhononSettings,
    choose_supercell_matrix,
    force_constants_from_force_sets,
    force_constants_from_potential,
    phonon_descriptors,
    read_phonondb_archive,
)

phonopy = pytest.importorskip("phonopy")

def nacl_primitive() -> Structure:
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                  [[0, 0, 0], [0.5, 0.5, 0.5]])
    return s.get_primitive_structure()


def archive(mp_id: str) -> Path:
    """The phonondb archive of ``mp_id`` in ../shared (the test skips when it is absent)."""
    hits = sorted(shared_path("phonondb_na", "raw").glob(f"materials-id-{mp_id.split('-')[1]}-*"))
    assert hits, mp_id
    return hits[0]


def test_supercell_choice_reaches_min_atoms_with_equal_widths():
    # 4 x 4 x 12 A, 4 atoms: 5 x 5 x 1 (100 atoms, widths 20 20 12) keeps a = b
    m = choose_supercell_matrix(np.diag([4.0, 4.0, 12.0]), n_atoms=4, min_atoms=80)
    assert np.array_equal(np.diag(m), [5, 5, 1])
    assert np.array_equal(np.diag(choose_supercell_matrix(np.eye(3) * 5, 100, 80)), [1, 1, 1])
    m = choose_supercell_matrix(np.diag([6.47, 6.86, 19.1]), n_atoms=32, min_atoms=80)
    assert 32 * round(abs(np.linalg.det(m))) >= 80


@pytest.mark.shared
def test_dft_force_constants_identical_to_phonopy_load(tmp_path):
    """Archive read in memory == phonopy.load on the unpacked files (FC and displacements)."""
    path = archive("mp-23363")  # NaAlCl4
    data = read_phonondb_archive(path)
    model = force_constants_from_force_sets(data["unitcell"], data["force_sets"],
                                            data["supercell_matrix"], data["primitive_matrix"])
    raw = lzma.decompress(path.read_bytes(), format=lzma.FORMAT_AUTO)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        tar.extractall(tmp_path, filter="data")
    unit = next(tmp_path.rglob("POSCAR-unitcell"))
    ref = phonopy.load(supercell_matrix=data["supercell_matrix"], primitive_matrix="auto",
                       unitcell_filename=str(unit),
                       force_sets_filename=str(unit.parent / "FORCE_SETS"),
                       produce_fc=True, symmetrize_fc=True, is_compact_fc=False, log_level=0)
    assert model.phonon.force_constants.shape == ref.force_constants.shape
    np.testing.assert_allclose(model.phonon.force_constants, ref.force_constants, atol=1e-12)
    assert model.provenance["source"] == "dft"
    assert model.provenance["n_supercell_atoms"] == len(ref.supercell)


@pytest.mark.shared
def test_thermal_displacements_identical_to_phonopy(tmp_path):
    """Our mesh sum == phonopy's ThermalDisplacements with the same mesh and exclusions."""
    from mlkit.phonons import descriptors as dk
    from mlkit.phonons.properties import gamma_centred_mesh, sample_modes

    data = read_phonondb_archive(archive("mp-10163"))  # NaAlTe2, DFT-stable
    model = force_constants_from_force_sets(data["unitcell"], data["force_sets"],
                                            data["supercell_matrix"], data["primitive_matrix"])
    ph = model.phonon
    mesh = np.array([5, 5, 4])
    ph.run_mesh(mesh, with_eigenvectors=True, is_mesh_symmetry=False, is_gamma_center=True)
    ph.run_thermal_displacements(temperatures=[300.0, 800.0], exclude_gamma_acoustic=True)
    ref = np.asarray(ph.thermal_displacements.thermal_displacements)  # (T, atoms, 3)
    q, w = gamma_centred_mesh(mesh)
    s = sample_modes(ph, q, w)
    sel = dk.select_modes(s.frequencies_THz, s.gamma_mask)
    assert sel.n_imaginary == 0 and sel.n_soft == 0
    for i, t in enumerate((300.0, 800.0)):
        u = dk.thermal_displacement_tensors_A2(s.frequencies_THz, s.eigenvectors,
                                               ph.primitive.masses, t, sel.included, s.weights)
        np.testing.assert_allclose(np.diagonal(u, axis1=1, axis2=2), ref[i].reshape(-1, 3),
                                   rtol=1e-6)  # CODATA versions of hbar, amu differ by 3e-7


@pytest.mark.shared
def test_unstable_compound_is_flagged_not_dropped():
    """NaNbCl6 has imaginary modes in DFT at 0 K: descriptors still come, with the flag."""
    data = read_phonondb_archive(archive("mp-28178"))
    model = force_constants_from_force_sets(data["unitcell"], data["force_sets"],
                                            data["supercell_matrix"], data["primitive_matrix"])
    settings = PhononSettings(mesh_lengths_A=(20.0, 40.0), band_points=11)
    row = phonon_descriptors(model, settings).row
    assert row["ph_stable"] == 0.0
    assert row["ph_n_imaginary_mesh"] > 0
    assert row["ph_min_freq_mesh_THz"] < -0.1
    assert 0.05 < row["ph_mobile_msd_mean_A2_800K"] < 2.0


def test_read_archive_errors_name_the_file(tmp_path):
    bad = tmp_path / "x.tar.lzma"
    bad.write_bytes(b"not an archive")
    with pytest.raises(MlkitError, match="x.tar.lzma: unreadable phonon archive"):
        read_phonondb_archive(bad)
    d = tmp_path / "dir"
    d.mkdir()
    (d / "FORCE_SETS").write_text("1\n")
    with pytest.raises(MlkitError, match="lacks"):
        read_phonondb_archive(d)


def test_potential_force_constants_identical_to_phonopy_with_same_calculator(tmp_path):
    """Without relaxation or residual subtraction our FC are phonopy's on the same forces."""
    pytest.importorskip("chgnet")
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    from mlkit.potentials import get_calculator

    calc = get_calculator("chgnet", device="cpu", threads=1)
    s = nacl_primitive()
    settings = PhononSettings(relax=False, subtract_residual_forces=False,
                              supercell_matrix=(3, 3, 3), displacement_A=0.03)
    model = force_constants_from_potential(s, calc, settings, cache_dir=tmp_path)
    ref = Phonopy(PhonopyAtoms(symbols=[sp.symbol for sp in s.species], cell=s.lattice.matrix,
                               scaled_positions=s.frac_coords),
                  supercell_matrix=np.eye(3, dtype=int) * 3, primitive_matrix="auto", log_level=0)
    ref.generate_displacements(distance=0.03)
    forces = []
    from ase import Atoms

    for cell in ref.supercells_with_displacements:
        atoms = Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions,
                      pbc=True)
        atoms.calc = calc
        forces.append(atoms.get_forces())
    ref.forces = np.array(forces)
    ref.produce_force_constants()
    ref.symmetrize_force_constants()
    np.testing.assert_allclose(model.phonon.force_constants, ref.force_constants, atol=1e-6)
    assert model.provenance["n_displacements"] == 2  # rocksalt: one per species
    assert model.provenance["potential"] == "chgnet"
    # second call comes from the cache, with identical force constants
    again = force_constants_from_potential(s, calc, settings, cache_dir=tmp_path)
    assert again.provenance["cached"] is True
    np.testing.assert_allclose(again.phonon.force_constants, model.phonon.force_constants,
                               atol=1e-10)
    row = phonon_descriptors(again, PhononSettings(mesh_lengths_A=(15.0, 30.0))).row
    assert row["ph_mobile_msd_mean_A2_800K"] > 0


def test_relaxation_records_what_it_did():
    pytest.importorskip("chgnet")
    from mlkit.phonons import relax_positions
    from mlkit.potentials import get_calculator

    calc = get_calculator("chgnet", device="cpu", threads=1)
    s = nacl_primitive()
    s.perturb(0.0)
    relaxed, record = relax_positions(s, calc, PhononSettings(relax_steps=20))
    assert relaxed.lattice.abc == pytest.approx(s.lattice.abc)  # cell fixed by default
    assert record["relax_fmax_eV_A"] < 0.01  # rocksalt positions are fixed by symmetry
    assert record["relax_max_shift_A"] < 1e-6


def test_disordered_structure_is_refused():
    s = Structure(Lattice.cubic(5.0), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(MlkitError, match="ordered"):
        force_constants_from_potential(s, object(), PhononSettings(), source="x.cif")
