from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import MlkitError
from mlkit.md import MDRun, MDSettings, TrajectoryStore


def small_settings(**kw) -> MDSettings:
    base = dict(temperature_K=800.0, time_ps=0.1, timestep_fs=2.0, equilibration_ps=0.02,
                supercell_min_length_A=0.0, threads=1, save_every=5, checkpoint_every=3, seed=3)
    base.update(kw)
    return MDSettings(**base)


def test_short_run_frames_and_provenance(nacl, tmp_path, chgnet_calc):
    import chgnet

    settings = small_settings()
    result = MDRun(nacl, tmp_path / "run", settings, calculator=chgnet_calc,
                   progress=False).run()
    assert result.status == "done" and not result.skipped
    assert result.n_frames == settings.expected_frames == 11
    assert result.steps_run == settings.equilibration_steps + settings.production_steps == 60
    store = TrajectoryStore(tmp_path / "run")
    traj = store.read()
    np.testing.assert_array_equal(traj["step"], np.arange(10, 61, 5))
    assert traj["positions_A"].shape == (11, 8, 3) and traj["velocities_A_fs"].shape == (11, 8, 3)
    assert traj["cell_A"].shape == (11, 3, 3) and np.all(np.isfinite(traj["energy_eV"]))
    np.testing.assert_allclose(traj["time_fs"], traj["step"] * 2.0)
    # stored velocities (A/fs) match the position change over one frame (10 fs) to first order
    dx = np.diff(traj["positions_A"], axis=0)
    v_mid = 0.5 * (traj["velocities_A_fs"][1:] + traj["velocities_A_fs"][:-1]) * 10.0
    assert np.corrcoef(dx.ravel(), v_mid.ravel())[0, 1] > 0.9
    # stored temperature = kinetic temperature of the stored velocities
    from ase import units

    masses = np.array([22.98977] * 4 + [35.453] * 4)
    v_ase = traj["velocities_A_fs"][-1] / units.fs
    ekin = 0.5 * np.sum(masses[:, None] * v_ase**2)
    assert traj["temperature_K"][-1] == pytest.approx(2 * ekin / (3 * 8 * units.kB), rel=1e-3)
    # provenance: in meta.json and as HDF5 attributes of the consolidated file
    with h5py.File(store.trajectory_path) as fh:
        prov = json.loads(fh.attrs["provenance"])
        assert json.loads(fh.attrs["species"]) == ["Na"] * 4 + ["Cl"] * 4
        assert fh["positions_A"].maxshape[0] is None  # appendable
    for key, value in {"potential": "chgnet", "potential_version": chgnet.__version__,
                       "seed": 3, "ensemble": "nvt-nose-hoover", "timestep_fs": 2.0,
                       "temperature_K": 800.0, "tdamp_fs": 200.0, "tchain": 3,
                       "mlkit_version": "0.1.0", "repeats": [1, 1, 1],
                       "thermostat": "ase.md.nose_hoover_chain.NoseHooverChainNVT"}.items():
        assert prov[key] == value, key
    assert not store.segment_dir.exists()
    # a finished run is not run again
    again = MDRun(nacl, tmp_path / "run", settings, calculator=chgnet_calc, progress=False).run()
    assert again.skipped and again.status == "done" and again.n_frames == 11


def test_supercell_applied_and_positions_unwrapped(nacl, tmp_path, chgnet_calc):
    settings = small_settings(supercell_min_length_A=8.0, time_ps=0.04, equilibration_ps=0,
                              temperature_K=1500.0)
    result = MDRun(nacl, tmp_path / "sc", settings, calculator=chgnet_calc, progress=False).run()
    assert result.status == "done" and result.meta["n_atoms"] == 64
    assert result.meta["supercell_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    traj = TrajectoryStore(tmp_path / "sc").read()
    assert traj["positions_A"].shape[1] == 64
    # unwrapped: no frame-to-frame jump of the order of a cell length
    assert np.abs(np.diff(traj["positions_A"], axis=0)).max() < 2.0


@pytest.mark.parametrize("ensemble", ["nvt-nose-hoover", "nvt-langevin"])
def test_thermostats_hold_the_target_temperature(ensemble, tmp_path):
    """Both ensembles sample <T> = target (EMT copper: a real, fast ASE calculator)."""
    from ase.calculators.emt import EMT

    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    settings = MDSettings(temperature_K=500.0, time_ps=3.0, timestep_fs=5.0,
                          equilibration_ps=0.5, ensemble=ensemble, supercell_min_length_A=7.0,
                          save_every=10, checkpoint_every=100, tdamp_fs=100.0,
                          friction_per_fs=0.02)
    result = MDRun(cu, tmp_path / ensemble, settings, calculator=EMT(), progress=False).run()
    assert result.status == "done"
    temps = TrajectoryStore(tmp_path / ensemble).read()["temperature_K"]
    # 32 atoms: instantaneous T fluctuates by ~sqrt(2/3N) = 14 %; the mean is within ~5 %
    assert temps.mean() == pytest.approx(500.0, rel=0.08)
    assert 0.05 < temps.std() / temps.mean() < 0.35


def test_langevin_resume_reproduces_uninterrupted_run(nacl, tmp_path, chgnet_calc):
    """Interrupt after a checkpoint, resume: identical trajectory (RNG + state restored)."""
    settings = small_settings(ensemble="nvt-langevin", time_ps=0.08, equilibration_ps=0,
                              checkpoint_every=2)
    ref = MDRun(nacl, tmp_path / "ref", settings, calculator=chgnet_calc, progress=False).run()
    assert ref.status == "done"

    class Interrupt(BaseException):
        pass

    calls = {"n": 0}
    original = chgnet_calc.calculate

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 27:  # mid-run, after the checkpoints at steps 0, 10 and 20
            raise Interrupt
        return original(*args, **kwargs)

    chgnet_calc.calculate = flaky
    try:
        with pytest.raises(Interrupt):
            MDRun(nacl, tmp_path / "cut", settings, calculator=chgnet_calc,
                  progress=False).run()
    finally:
        chgnet_calc.calculate = original
    store = TrajectoryStore(tmp_path / "cut")
    assert store.status == "running" and store.load_checkpoint()["step"] == 20
    resumed = MDRun(nacl, tmp_path / "cut", settings, calculator=chgnet_calc,
                    progress=False).run()
    assert resumed.status == "done" and resumed.steps_run == 20
    a = TrajectoryStore(tmp_path / "ref").read()
    b = store.read()
    np.testing.assert_array_equal(a["step"], b["step"])
    np.testing.assert_allclose(a["positions_A"], b["positions_A"], atol=1e-5)


def test_blow_up_overlapping_atoms_is_error_status(tmp_path, chgnet_calc):
    s = Structure(Lattice.cubic(5.0), ["Na", "Cl", "Cl"],
                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.52, 0.5, 0.5]])
    result = MDRun(s, tmp_path / "bad", small_settings(), calculator=chgnet_calc,
                   progress=False).run()
    assert result.status == "error"
    assert result.message.startswith("blow-up at step 0: atoms Cl1-Cl2 at 0.10 A < 0.5 A")
    assert TrajectoryStore(tmp_path / "bad").status == "error"
    # an error run is final too: not rerun
    assert MDRun(s, tmp_path / "bad", small_settings(), calculator=chgnet_calc,
                 progress=False).run().skipped


def test_squeezed_cell_temperature_runaway(tmp_path, chgnet_calc):
    squeezed = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.0), ["Na", "Cl"],
                                         [[0, 0, 0], [0.5, 0.5, 0.5]])
    result = MDRun(squeezed, tmp_path / "sq", small_settings(temperature_K=300.0),
                   calculator=chgnet_calc, progress=False).run()
    assert result.status == "error" and "temperature" in result.message
    assert "x target 300 K" in result.message


def test_resume_refuses_a_different_run(nacl, tmp_path, chgnet_calc):
    MDRun(nacl, tmp_path / "r", small_settings(time_ps=0.02), calculator=chgnet_calc,
          progress=False).run()
    TrajectoryStore(tmp_path / "r").status_path.unlink()  # pretend unfinished
    with pytest.raises(MlkitError, match="holds a different run .*seed"):
        MDRun(nacl, tmp_path / "r", small_settings(time_ps=0.02, seed=99),
              calculator=chgnet_calc, progress=False).run()


def test_finished_run_is_extended_by_a_longer_time(nacl, tmp_path, chgnet_calc):
    short = small_settings(time_ps=0.04, equilibration_ps=0.0, checkpoint_every=2)
    first = MDRun(nacl, tmp_path / "x", short, calculator=chgnet_calc, progress=False).run()
    assert first.status == "done" and first.n_frames == 5
    longer = small_settings(time_ps=0.08, equilibration_ps=0.0, checkpoint_every=2)
    second = MDRun(nacl, tmp_path / "x", longer, calculator=chgnet_calc, progress=False).run()
    assert second.status == "done" and not second.skipped and second.steps_run == 20
    store = TrajectoryStore(tmp_path / "x")
    np.testing.assert_array_equal(store.read()["step"], np.arange(0, 41, 5))
    assert not store.segment_dir.exists()
    # same length again: skipped
    assert MDRun(nacl, tmp_path / "x", longer, calculator=chgnet_calc,
                 progress=False).run().skipped


def test_calculator_error_with_empty_message_ends_as_error(tmp_path):
    """An exception without a message (str(exc) == "") must still close the run as "error".

    The old handler took ``str(exc).splitlines()[0]``, which raised IndexError inside the
    handler and left the run marked "running" forever.
    """
    from ase.calculators.emt import EMT

    class FailingEMT(EMT):
        """EMT copper that raises ``RuntimeError()`` from its 12th evaluation on."""

        calls = 0

        def calculate(self, *args, **kwargs):
            FailingEMT.calls += 1
            if FailingEMT.calls >= 12:
                raise RuntimeError()
            super().calculate(*args, **kwargs)

    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    settings = small_settings(time_ps=0.2, equilibration_ps=0.0, checkpoint_every=1)
    result = MDRun(cu, tmp_path / "fail", settings, calculator=FailingEMT(),
                   progress=False).run()
    store = TrajectoryStore(tmp_path / "fail")
    assert result.status == "error" and store.status == "error"
    assert result.message.startswith("step ") and result.message.endswith(
        "RuntimeError: RuntimeError")
    assert store.status_message == result.message
    assert 0 < result.n_frames < settings.expected_frames  # frames before the failure kept
    again = MDRun(cu, tmp_path / "fail", settings, calculator=EMT(), progress=False).run()
    assert again.skipped and again.status == "error"
