from __future__ import annotations

import numpy as np
import pytest

from mlkit.errors import MlkitError
from mlkit.md.store import TrajectoryStore


def frames(steps, n_atoms=3):
    steps = np.asarray(steps)
    n = len(steps)
    rng = np.random.default_rng(0)
    return {
        "step": steps, "time_fs": steps * 2.0,
        "positions_A": rng.normal(size=(n, n_atoms, 3)) + steps[:, None, None],
        "velocities_A_fs": rng.normal(size=(n, n_atoms, 3)).astype(np.float32),
        "cell_A": np.repeat(np.eye(3)[None] * 5.0, n, axis=0),
        "energy_eV": -np.arange(n, dtype=float), "temperature_K": np.full(n, 300.0),
    }


@pytest.fixture
def store(tmp_path):
    s = TrajectoryStore(tmp_path / "run")
    s.write_meta({"species": ["Na", "Cl", "Cl"], "seed": 1})
    return s


def test_segments_truncate_finalize_roundtrip(store):
    store.append_segment(frames([0, 5, 10]))
    store.append_segment(frames([15, 20, 25]))
    assert store.n_frames() == 6
    store.truncate(15)  # resume from a checkpoint at step 15
    np.testing.assert_array_equal(store.read()["step"], [0, 5, 10, 15])
    store.append_segment(frames([20, 25, 30]))
    store.finalize()
    out = store.read()
    np.testing.assert_array_equal(out["step"], [0, 5, 10, 15, 20, 25, 30])
    assert out["species"] == ["Na", "Cl", "Cl"] and out["meta"]["seed"] == 1
    assert not store.segment_dir.exists() and store.trajectory_path.exists()
    assert out["velocities_A_fs"].dtype == np.float32 and out["positions_A"].dtype == np.float64


def test_interrupted_finalize_does_not_duplicate(store):
    store.append_segment(frames([0, 5]))
    store.append_segment(frames([10, 15]))
    store.finalize()
    # simulate a kill between writing trajectory.h5 and deleting the segments
    store.segment_dir.mkdir()
    store2 = TrajectoryStore(store.run_dir)
    store2.append_segment(frames([10, 15]))  # a stale segment already merged
    np.testing.assert_array_equal(store2.read()["step"], [0, 5, 10, 15])


def test_non_monotonic_steps_are_refused(store):
    store.append_segment(frames([0, 5, 5]))
    with pytest.raises(MlkitError, match="not strictly increasing"):
        store.read()


def test_status_and_tmp_cleanup(store):
    assert store.status == "new"
    store.set_status("error", "blow-up at step 3")
    assert store.status == "error" and store.status_message == "blow-up at step 3"
    with pytest.raises(ValueError, match="unknown status 'weird'"):
        store.set_status("weird")
    (store.run_dir / "checkpoint.pkl.tmp123").write_bytes(b"torn")
    assert store.cleanup_tmp() == 1
    with pytest.raises(MlkitError, match="not an MD run directory"):
        TrajectoryStore(store.run_dir / "nothing").read_meta()


def test_optional_fields_missing_from_old_parts_are_nan_filled(store):
    """Segments written by the code before the optional fields existed have none: reading
    a run resumed by newer code NaN-fills them there; consolidation keeps that."""
    import h5py

    store.append_segment(frames([0, 5]))  # old code: mandatory fields only
    new = frames([10, 15, 20])
    new["pressure_GPa"] = np.array([1.0, 2.0, 3.0])
    new["conserved_energy_eV"] = np.array([-5.0, -5.0, -5.0])
    store.append_segment(new)
    out = store.read()
    np.testing.assert_array_equal(out["pressure_GPa"], [np.nan, np.nan, 1.0, 2.0, 3.0])
    assert "pin_angle_deg" not in out
    store.truncate(15)
    np.testing.assert_array_equal(store.read()["conserved_energy_eV"],
                                  [np.nan, np.nan, -5.0, -5.0])
    store.finalize()
    with h5py.File(store.trajectory_path) as fh:
        assert "pressure_GPa" in fh and "pin_angle_deg" not in fh
    out = store.read()
    np.testing.assert_array_equal(out["pressure_GPa"], [np.nan, np.nan, 1.0, 2.0])
    summary = store.summary()
    assert summary["pressure_mean_GPa"] == 1.5 and summary["pressure_std_GPa"] == 0.5
    assert abs(summary["conserved_energy_drift_meV_atom_ps"]) < 1e-9
    assert np.isnan(summary["max_pin_angle_deg"])


def test_old_trajectory_without_optional_fields(store):
    """A run consolidated by the old code reads as before; its summary has NaNs."""
    store.append_segment(frames([0, 5, 10]))
    store.finalize()
    out = store.read()
    assert not {"pressure_GPa", "conserved_energy_eV", "pin_angle_deg"} & set(out)
    summary = store.summary()
    assert summary["n_frames"] == 3
    assert np.isnan(summary["pressure_mean_GPa"])
    assert np.isnan(summary["conserved_energy_drift_meV_atom_ps"])
    # extended by the new code: the old frames get NaN, the new ones their values
    new = frames([15, 20])
    new["pin_angle_deg"] = np.array([1e-12, 2e-12])
    store.append_segment(new)
    store.finalize()
    np.testing.assert_array_equal(store.read()["pin_angle_deg"],
                                  [np.nan, np.nan, np.nan, 1e-12, 2e-12])
    assert store.summary()["max_pin_angle_deg"] == 2e-12
