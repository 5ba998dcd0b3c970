from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import MlkitError
from mlkit.md import MDSettings, auto_temperature_K, perpendicular_widths_A, supercell_repeats
from mlkit.md.supercell import make_supercell


def rocksalt(a: float, cation: str, anion: str) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])


def antifluorite(a: float, cation: str, anion: str) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [anion, cation],
                                     [[0, 0, 0], [0.25, 0.25, 0.25]])


def test_auto_temperature_rule(nacl):
    assert auto_temperature_K(nacl) == 800.0
    assert auto_temperature_K(rocksalt(6.0, "Na", "Br")) == 800.0
    assert auto_temperature_K(rocksalt(4.6, "Na", "F")) == 800.0
    assert auto_temperature_K(antifluorite(5.55, "Na", "O")) == 1300.0
    assert auto_temperature_K(antifluorite(6.54, "Na", "S")) == 1300.0
    assert auto_temperature_K(antifluorite(6.8, "Na", "Se")) == 1300.0


def test_auto_temperature_polyanion_centre_is_not_the_anion():
    # Na2SO4-like composition: S is the (cationic) centre, O the anion -> divalent -> 1300 K
    s = Structure(Lattice.cubic(7.0), ["Na", "Na", "S", "O", "O", "O", "O"],
                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.35, 0.35, 0.25],
                   [0.15, 0.15, 0.25], [0.25, 0.35, 0.15], [0.25, 0.15, 0.35]])
    assert auto_temperature_K(s) == 1300.0


NA_H = rocksalt(4.9, "Na", "H")  # hydride
NA3_N = Structure(Lattice.cubic(4.7), ["N", "Na", "Na", "Na"],  # anti-ReO3 nitride
                  [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]])


@pytest.mark.parametrize("structure", [NA_H, NA3_N], ids=["NaH", "Na3N"])
def test_auto_temperature_outside_rule_asks_for_T(structure):
    with pytest.raises(MlkitError, match="--temperature-K") as exc:
        auto_temperature_K(structure, source="x.cif")
    assert str(exc.value).startswith("x.cif:") and "\n" not in str(exc.value)


def test_supercell_widths_and_repeats_triclinic():
    lat = Lattice.from_parameters(4.0, 5.0, 9.0, 70.0, 80.0, 100.0)
    widths = perpendicular_widths_A(lat.matrix)
    # width_i = V / |a_j x a_k| equals the projection of a_i on the face normal
    for i in range(3):
        normal = np.cross(lat.matrix[(i + 1) % 3], lat.matrix[(i + 2) % 3])
        assert widths[i] == pytest.approx(abs(lat.matrix[i] @ normal) / np.linalg.norm(normal))
    reps = supercell_repeats(lat.matrix, 8.0)
    assert np.all(np.array(reps) * widths >= 8.0)
    # minimal: one fewer repeat in any direction breaks the condition
    for i in range(3):
        if reps[i] > 1:
            assert (reps[i] - 1) * widths[i] < 8.0
    assert supercell_repeats(lat.matrix, 0) == (1, 1, 1)


def test_make_supercell_keeps_input(nacl):
    big, reps = make_supercell(nacl, 8.0)
    assert reps == (2, 2, 2) and len(big) == 64 and len(nacl) == 8
    small, reps = make_supercell(nacl, 5.0)
    assert reps == (1, 1, 1) and len(small) == 8


def test_settings_validation_and_step_counts():
    s = MDSettings(time_ps=0.1, timestep_fs=2.0, equilibration_ps=0.013, save_every=5)
    assert s.production_steps == 50 and s.equilibration_steps == 10  # rounded up to save_every
    assert s.expected_frames == 11
    for bad, reason in ((dict(ensemble="npt"), "unknown ensemble 'npt'"),
                        (dict(temperature_K=-5), "temperature_K must be > 0 or 'auto', got -5"),
                        (dict(time_ps=0), "time_ps must be > 0, got 0"),
                        (dict(save_every=0), "save_every must be >= 1, got 0"),
                        (dict(equilibration_ps=-1), "equilibration_ps must be >= 0, got -1")):
        with pytest.raises(MlkitError, match=f"^{reason}"):  # a user error, one per rule
            MDSettings(**bad).validate()
    import json

    assert json.loads(json.dumps(MDSettings().to_dict()))["ensemble"] == "nvt-nose-hoover"


def test_closest_pair_matches_ase_neighbor_list():
    from ase.neighborlist import neighbor_list

    from mlkit.md.run import closest_pair

    rng = np.random.default_rng(4)
    lat = Lattice.from_parameters(5.0, 6.0, 7.0, 65.0, 80.0, 110.0)
    frac = rng.random((40, 3))
    s = Structure(lat, ["Na"] * 40, frac)
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(s)
    i, j, d = neighbor_list("ijd", atoms, 3.0)
    k = int(np.argmin(d))
    # unwrapped positions (shifted by lattice vectors) give the same answer
    shifted = atoms.positions + rng.integers(-3, 4, size=(40, 1)) * lat.matrix[0]
    ci, cj, cd = closest_pair(shifted, lat.matrix, chunk_pairs=100)
    assert cd == pytest.approx(d[k], abs=1e-9)
    assert {ci, cj} == {int(i[k]), int(j[k])}
