"""Pressure and conserved energy per frame, NVE, the NPT equilibration stage, presets.

EMT copper (ASE's effective-medium calculator: real many-body forces and stress, fast)
wherever the physics allows; the pressure test also uses CHGNet.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import MlkitError
from mlkit.md import MDRun, MDSettings, TrajectoryStore


@pytest.fixture
def cu() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])


class Interrupt(BaseException):
    """Stands for a kill: not caught by the run's error handling."""


def emt(fail_at: int | None = None):
    """EMT that raises :class:`Interrupt` at its ``fail_at``-th evaluation."""
    from ase.calculators.emt import EMT

    class CountingEMT(EMT):
        calls = 0

        def calculate(self, *args, **kwargs):
            CountingEMT.calls += 1
            if fail_at is not None and CountingEMT.calls == fail_at:
                raise Interrupt
            super().calculate(*args, **kwargs)

    return CountingEMT()


def npt_settings(**kw) -> MDSettings:
    """32 Cu atoms, 500 K: 1 ps NPT (Berendsen), 0.1 ps NVT equilibration, 0.2 ps NVT."""
    base = dict(temperature_K=500.0, time_ps=0.2, timestep_fs=5.0, equilibration_ps=0.1,
                ensemble="nvt-langevin", supercell_min_length_A=7.0, save_every=5,
                checkpoint_every=4, npt_equilibration_ps=1.0, pressure_GPa=20.0, seed=2)
    base.update(kw)
    return MDSettings(**base)


# ----------------------------------------------------------------------------- pressure
def test_pressure_uses_the_stress_already_computed(nacl, chgnet_calc):
    """pressure_GPa(): -trace(stress incl. kinetic term)/3 from calc.results, no new call;
    NaN when the results belong to another configuration."""
    from ase import units
    from ase.md.velocitydistribution import thermalize_momenta
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlkit.md.observers import pressure_GPa

    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    for calc, structure in ((chgnet_calc, nacl), (emt(), cu)):
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = calc
        thermalize_momenta(atoms, 800.0, rng=np.random.default_rng(0))
        atoms.get_forces()
        n_calls = {"n": 0}
        original = calc.calculate

        def counted(*args, _original=original, _n=n_calls, **kwargs):
            _n["n"] += 1
            return _original(*args, **kwargs)

        calc.calculate = counted
        try:
            p = pressure_GPa(atoms)
            assert n_calls["n"] == 0  # no extra calculator call
            static = -np.sum(np.asarray(calc.results["stress"])[:3]) / 3 / units.GPa
            kinetic = 2 * atoms.get_kinetic_energy() / (3 * atoms.get_volume()) / units.GPa
            assert p == pytest.approx(static + kinetic, rel=1e-6)
            atoms.positions[0] += 0.01  # results are stale now
            assert np.isnan(pressure_GPa(atoms)) and n_calls["n"] == 0
        finally:
            calc.calculate = original


def test_frames_carry_pressure_and_conserved_energy(nacl, tmp_path, chgnet_calc):
    """A CHGNet Nose-Hoover run stores pressure and the chain's conserved energy per frame;
    status.json and summary() give their mean / drift."""
    settings = MDSettings(temperature_K=800.0, time_ps=0.06, timestep_fs=2.0,
                          equilibration_ps=0.0, supercell_min_length_A=0.0, threads=1,
                          save_every=5, checkpoint_every=3, seed=3)
    MDRun(nacl, tmp_path / "nh", settings, calculator=chgnet_calc, progress=False).run()
    store = TrajectoryStore(tmp_path / "nh")
    traj = store.read()
    assert np.all(np.isfinite(traj["pressure_GPa"]))
    assert np.all(np.isfinite(traj["conserved_energy_eV"])) and "pin_angle_deg" not in traj
    # Nose-Hoover: conserved energy = E_pot + E_kin + the chain's energy (not zero here)
    from ase import units

    masses = np.array([22.98977] * 4 + [35.453] * 4)
    ekin = 0.5 * np.einsum("i,fij->f", masses, (traj["velocities_A_fs"] / units.fs) ** 2)
    total = traj["energy_eV"] + ekin
    assert np.ptp(traj["conserved_energy_eV"]) * 1000 / 8 < 0.5  # meV/atom (float32 CHGNet)
    assert np.ptp(traj["conserved_energy_eV"]) < 0.5 * np.ptp(total)
    assert abs(traj["conserved_energy_eV"][-1] - total[-1]) > 1e-4
    summary = store.summary()
    status = json.loads(store.status_path.read_text())
    assert status["summary"]["n_frames"] == summary["n_frames"] == 7
    assert summary["conserved_energy"] == "nose-hoover"
    assert summary["pressure_mean_GPa"] == pytest.approx(np.mean(traj["pressure_GPa"]))
    print(summary)


# ----------------------------------------------------------------------------- NVE
def test_nve_run_conserves_energy(cu, tmp_path):
    settings = MDSettings(temperature_K=600.0, time_ps=1.0, timestep_fs=4.0,
                          equilibration_ps=0.0, ensemble="nve", supercell_min_length_A=7.0,
                          save_every=5, checkpoint_every=20, seed=1)
    result = MDRun(cu, tmp_path / "nve", settings, calculator=emt(), progress=False).run()
    assert result.status == "done"
    assert result.meta["thermostat"] == "ase.md.verlet.VelocityVerlet"
    store = TrajectoryStore(tmp_path / "nve")
    traj = store.read()
    summary = store.summary()
    print(summary)
    assert summary["conserved_energy"] == "total"
    np.testing.assert_allclose(traj["conserved_energy_eV"],
                               traj["energy_eV"] + 1.5 * 31 * 8.617333e-5 * traj["temperature_K"],
                               rtol=0, atol=1e-3)  # E_pot + E_kin (FixCom: 3N - 3 DOF)
    assert summary["conserved_energy_max_dev_meV_atom"] < 0.5
    assert abs(summary["conserved_energy_drift_meV_atom_ps"]) < 0.5
    # the kinetic energy does exchange with the potential energy
    assert np.ptp(traj["energy_eV"]) * 1000 / 32 > 10


# ----------------------------------------------------------------------------- NPT stage
def test_npt_stage_shrinks_the_cell_under_pressure(cu, tmp_path):
    """NPT at 20 GPa shrinks EMT copper by ~11 % (B ~ 140 GPa, plus anharmonicity);
    the NVT part runs at the mean cell of the second half; meta records it."""
    results = {}
    for pressure in (0.0, 20.0):
        run_dir = tmp_path / f"p{pressure:g}"
        result = MDRun(cu, run_dir, npt_settings(pressure_GPa=pressure), calculator=emt(),
                       progress=False).run()
        assert result.status == "done", result.message
        results[pressure] = (TrajectoryStore(run_dir), result)
    store, result = results[20.0]
    meta = store.read_meta()
    npt = meta["npt_result"]
    print({k: v for k, v in npt.items() if k not in ("initial_cell_A", "mean_cell_A")})
    assert meta["npt_steps"] == 200 and meta["npt_integrator"] == "berendsen"
    assert meta["npt_class"] == "ase.md.nptberendsen.NPTBerendsen"
    assert meta["pressure_GPa"] == 20.0 and npt["pressure_target_GPa"] == 20.0
    assert -14.0 < npt["volume_change_percent"] < -8.0
    assert npt["pressure_mean_GPa"] == pytest.approx(20.0, abs=1.0)
    assert npt["averaged_from_step"] > 100 and npt["n_samples_averaged"] == 20
    assert "log" not in npt and len(store.read_npt_result()["log"]["step"]) == 41
    assert not store.npt_checkpoint_path.exists()
    traj = store.read()
    mean_cell = np.array(npt["mean_cell_A"])
    np.testing.assert_allclose(traj["cell_A"], np.repeat(mean_cell[None], len(traj["cell_A"]),
                                                         axis=0))
    np.testing.assert_allclose(np.diag(mean_cell) / 7.22, (1 + npt["volume_change_percent"]
                                                           / 100) ** (1 / 3), rtol=1e-9)
    summary = store.summary()
    assert summary["npt_volume_change_percent"] == npt["volume_change_percent"]
    assert summary["pressure_mean_GPa"] == pytest.approx(20.0, abs=2.0)  # NVT at that cell
    assert traj["step"][0] == meta["production_start_step"] == 20  # NVT step numbering
    # at 0 GPa the cell expands a little (thermal expansion at 500 K)
    zero = results[0.0][0].read_meta()["npt_result"]
    assert 0.0 < zero["volume_change_percent"] < 3.0
    assert zero["pressure_mean_GPa"] == pytest.approx(0.0, abs=1.0)
    # NPT settings are resume keys
    store.status_path.unlink()  # pretend unfinished
    with pytest.raises(MlkitError, match="holds a different run .*pressure_GPa"):
        MDRun(cu, store.run_dir, npt_settings(pressure_GPa=10.0), calculator=emt(),
              progress=False).run()
    with pytest.raises(MlkitError, match="holds a different run .*npt_steps"):
        MDRun(cu, store.run_dir, npt_settings(npt_equilibration_ps=0.0), calculator=emt(),
              progress=False).run()


@pytest.mark.parametrize("fail_at", [100, 430])
def test_npt_run_killed_and_resumed_matches(cu, tmp_path, fail_at):
    """Killed inside the NPT stage (100th calculator call, 2 per Berendsen step: after its
    checkpoint at step 40) or in the NVT part (430th: after the NVT checkpoint at step 20),
    the resumed run equals the uninterrupted one."""
    settings = npt_settings()
    ref = MDRun(cu, tmp_path / "ref", settings, calculator=emt(), progress=False).run()
    assert ref.status == "done"
    with pytest.raises(Interrupt):
        MDRun(cu, tmp_path / "cut", settings, calculator=emt(fail_at), progress=False).run()
    store = TrajectoryStore(tmp_path / "cut")
    assert store.status == "running"
    if fail_at == 100:
        assert store.load_npt_checkpoint()["step"] == 40 and store.load_checkpoint() is None
        assert store.read_npt_result() is None
    else:
        assert store.read_npt_result() is not None and not store.npt_checkpoint_path.exists()
        assert store.load_checkpoint()["step"] > 0
    resumed = MDRun(cu, tmp_path / "cut", settings, calculator=emt(), progress=False).run()
    assert resumed.status == "done"
    a, b = TrajectoryStore(tmp_path / "ref"), store
    np.testing.assert_array_equal(a.read()["step"], b.read()["step"])
    np.testing.assert_allclose(a.read()["positions_A"], b.read()["positions_A"], atol=1e-8)
    np.testing.assert_allclose(a.read()["cell_A"], b.read()["cell_A"], atol=1e-10)
    assert (a.read_meta()["npt_result"]["mean_cell_A"]
            == b.read_meta()["npt_result"]["mean_cell_A"])


def test_langevin_baoab_npt_and_its_limits(cu, tmp_path):
    settings = npt_settings(npt_integrator="langevin-baoab", time_ps=0.05, equilibration_ps=0)
    result = MDRun(cu, tmp_path / "baoab", settings, calculator=emt(), progress=False).run()
    assert result.status == "done"
    npt = TrajectoryStore(tmp_path / "baoab").read_meta()["npt_result"]
    assert npt["npt_class"].startswith("ase.md.langevinbaoab.LangevinBAOAB")
    assert npt["volume_change_percent"] < -5.0
    with pytest.raises(MlkitError, match="constrained runs need 'berendsen'"):
        npt_settings(npt_integrator="langevin-baoab", constraint="rc").validate()
    with pytest.raises(MlkitError, match="unknown npt_integrator 'mtk'"):
        npt_settings(npt_integrator="mtk").validate()
    npt_settings(npt_integrator="mtk", npt_equilibration_ps=0).validate()  # no NPT: unused


def test_old_run_without_new_fields_is_resumed(cu, tmp_path):
    """A directory written by the code before this change (meta.json without npt_steps,
    segments without the optional fields) is resumed, not refused; the consolidated
    trajectory NaN-fills the old frames' pressure."""
    settings = MDSettings(temperature_K=500.0, time_ps=0.4, timestep_fs=5.0,
                          equilibration_ps=0.0, ensemble="nvt-langevin",
                          supercell_min_length_A=7.0, save_every=5, checkpoint_every=4)
    with pytest.raises(Interrupt):
        MDRun(cu, tmp_path / "old", settings, calculator=emt(50), progress=False).run()
    store = TrajectoryStore(tmp_path / "old")
    meta = store.read_meta()
    for key in [k for k in meta if k.startswith("npt_") or k == "pressure_GPa"]:
        del meta[key]
    store.write_meta(meta)
    for seg in store.segment_dir.glob("seg_*.h5"):
        with h5py.File(seg, "a") as fh:
            for name in ("pressure_GPa", "conserved_energy_eV"):
                del fh[name]
    n_old = store.n_frames()
    assert n_old > 0 and "pressure_GPa" not in store.read()
    result = MDRun(cu, tmp_path / "old", settings, calculator=emt(), progress=False).run()
    assert result.status == "done"
    traj = store.read()
    assert len(traj["step"]) == settings.expected_frames
    assert np.isnan(traj["pressure_GPa"][:n_old]).all()
    assert np.isfinite(traj["pressure_GPa"][n_old:]).all()
    assert store.read_meta()["npt_steps"] == 0


# ----------------------------------------------------------------------------- presets
def test_presets():
    phonon = MDSettings.preset("phonon-paper")
    assert (phonon.ensemble, phonon.temperature_K, phonon.timestep_fs) == (
        "nvt-langevin", 800.0, 1.5)
    assert phonon.equilibration_steps == 10_000 and phonon.production_steps == 40_000
    assert (phonon.equilibration_ps, phonon.time_ps) == (15.0, 60.0)
    rotation = MDSettings.preset("rotation-paper")
    assert (rotation.ensemble, rotation.timestep_fs, rotation.time_ps) == (
        "nvt-nose-hoover", 2.0, 60.0)
    assert rotation.temperature_K == "auto" and rotation.supercell_min_length_A == 8.0
    assert rotation.production_steps == 30_000
    short = MDSettings.preset("phonon-paper", time_ps=6.0, seed=4)
    assert short.production_steps == 4000 and short.seed == 4 and short.timestep_fs == 1.5
    with pytest.raises(MlkitError, match="unknown MD preset 'x'; choose phonon-paper, "
                                         "rotation-paper"):
        MDSettings.preset("x")


def test_cli_preset(capsys):
    import argparse

    from mlkit.cli.md import add_run_options, settings_from_args

    p = argparse.ArgumentParser()
    add_run_options(p)
    assert settings_from_args(p.parse_args(["x.cif"])) == MDSettings()
    s = settings_from_args(p.parse_args(["x.cif", "--preset", "phonon-paper"]))
    assert s == MDSettings.preset("phonon-paper")
    s = settings_from_args(p.parse_args(["x.cif", "--preset", "phonon-paper", "--time-ps", "3",
                                         "--seed", "5"]))
    assert (s.time_ps, s.seed, s.timestep_fs, s.ensemble) == (3.0, 5, 1.5, "nvt-langevin")
    with pytest.raises(SystemExit):
        p.parse_args(["x.cif", "--preset", "nope"])
    assert "--preset: invalid choice: 'nope'" in capsys.readouterr().err
