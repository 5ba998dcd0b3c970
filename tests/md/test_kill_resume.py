"""Kill a real ``python -m mlkit md run`` with SIGKILL after its first checkpoint, rerun,
and check that no frame is lost or duplicated; a third run skips the finished structure."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mlkit.md import TrajectoryStore


def _checkpoint_step(path) -> int:
    try:
        return int(pickle.loads(path.read_bytes())["step"])
    except (OSError, EOFError, pickle.UnpicklingError, KeyError):
        return -1


@pytest.mark.slow
def test_sigkill_then_resume_no_gap_no_duplicate(nacl, tmp_path):
    poscar = tmp_path / "NaCl_POSCAR.vasp"
    nacl.to(filename=str(poscar), fmt="poscar")
    out = tmp_path / "md"
    cmd = [sys.executable, "-m", "mlkit", "md", "run", str(poscar), "--temperature-K", "800",
           "--time-ps", "0.3", "--timestep-fs", "2", "--equilibration-ps", "0",
           "--supercell-min-length-A", "0", "--save-every", "2", "--checkpoint-every", "5",
           "--threads", "1", "--seed", "7", "--no-progress", "-o", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_dir = out / "NaCl_POSCAR" / "T800K"
    ckpt = run_dir / "checkpoint.pkl"

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _checkpoint_step(ckpt) < 20:
        assert proc.poll() is None, "run finished before it could be killed"
        assert time.time() < deadline, "no checkpoint after 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = TrajectoryStore(run_dir)
    assert store.status == "running"  # killed mid-run
    killed_at = _checkpoint_step(ckpt)
    assert 20 <= killed_at < 150
    assert not store.trajectory_path.exists()

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert store.status == "done"
    traj = store.read()
    np.testing.assert_array_equal(traj["step"], np.arange(0, 151, 2))  # 0..N, no gap/duplicate
    assert np.all(np.isfinite(traj["positions_A"]))
    # the trajectory is continuous across the resume point: no jump at the checkpoint frame
    jumps = np.abs(np.diff(traj["positions_A"], axis=0)).max(axis=(1, 2))
    assert jumps.max() < 5 * np.median(jumps)
    mtime = store.trajectory_path.stat().st_mtime_ns

    third = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0
    assert "skipped (finished before)" in third.stdout
    assert store.trajectory_path.stat().st_mtime_ns == mtime
