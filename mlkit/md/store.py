"""Crash-safe, appendable trajectory store (HDF5 segments + one consolidated file).

One directory per MD run (structure x temperature)::

    RUN_DIR/
      meta.json          provenance: potential + version, seed, ensemble, thermostat
                         parameters, timestep, temperature, supercell, species, mlkit version
      status.json        {"status": "running" | "done" | "error", "message": ...}
      initial.json       the initial (super)cell as a pymatgen Structure (atom order = trajectory)
      checkpoint.pkl     full dynamical state at the last checkpoint (see mlkit.md.run)
      segments/seg_<first step>.h5   frames written since the start, one file per checkpoint
      trajectory.h5      all frames, written when the run finishes (segments are then removed)

Every file is written to a temporary name and moved into place with ``os.replace``
(:func:`mlkit.utils.atomic_write_bytes`; the HDF5 files the same way),
so a run killed at any instant leaves either the old or the new version, never a
torn file. Frames are flushed in segments just before each checkpoint; on resume
frames after the checkpoint step are dropped (:meth:`TrajectoryStore.truncate`),
so no frame is lost or duplicated.

HDF5 datasets (first axis = frame; resizable along it)::

    step             (n_frames,)            int64   MD step (production from step meta
                                                    "production_start_step")
    time_fs          (n_frames,)            float64 step * timestep_fs
    positions_A      (n_frames, n_atoms, 3) float64 unwrapped Cartesian positions, angstrom
    velocities_A_fs  (n_frames, n_atoms, 3) float32 angstrom / fs
    cell_A           (n_frames, 3, 3)       float64 lattice vectors as rows, angstrom
    energy_eV        (n_frames,)            float64 potential energy
    temperature_K    (n_frames,)            float64 instantaneous kinetic temperature

File attributes: ``provenance`` (the JSON of meta.json) and ``species`` (JSON list).
"""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlkit.errors import MlkitError
from mlkit.utils import atomic_write_bytes

FRAME_FIELDS: dict[str, str] = {
    "step": "int64",
    "time_fs": "float64",
    "positions_A": "float64",
    "velocities_A_fs": "float32",
    "cell_A": "float64",
    "energy_eV": "float64",
    "temperature_K": "float64",
}
STATUSES = ("running", "done", "error")


def _write_h5(path: Path, frames: dict[str, np.ndarray], attrs: dict[str, str]) -> None:
    """Write frames to ``path`` atomically (tmp file + os.replace)."""
    import h5py

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with h5py.File(tmp, "w") as fh:
        for name, dtype in FRAME_FIELDS.items():
            arr = np.asarray(frames[name], dtype=dtype)
            fh.create_dataset(
                name,
                data=arr,
                maxshape=(None, *arr.shape[1:]),
                chunks=(max(1, min(len(arr), 64)), *arr.shape[1:]) if len(arr) else True,
            )
        for key, value in attrs.items():
            fh.attrs[key] = value
    os.replace(tmp, path)


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as fh:
        return {name: fh[name][()] for name in FRAME_FIELDS}


class TrajectoryStore:
    """Read/write access to one run directory (see the module docstring for the layout).

    Parameters
    ----------
    run_dir : str or Path
        Directory of one run; created on first write.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    # ---------------------------------------------------------------- paths
    @property
    def meta_path(self) -> Path:
        return self.run_dir / "meta.json"

    @property
    def status_path(self) -> Path:
        return self.run_dir / "status.json"

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pkl"

    @property
    def trajectory_path(self) -> Path:
        return self.run_dir / "trajectory.h5"

    @property
    def initial_path(self) -> Path:
        return self.run_dir / "initial.json"

    @property
    def segment_dir(self) -> Path:
        return self.run_dir / "segments"

    def exists(self) -> bool:
        """True when the directory holds a run (meta.json present)."""
        return self.meta_path.exists()

    def cleanup_tmp(self) -> int:
        """Remove temporary files left by a run killed mid-write; returns how many."""
        n = 0
        for d in (self.run_dir, self.segment_dir):
            if d.exists():
                for path in d.glob("*.tmp*"):
                    path.unlink(missing_ok=True)
                    n += 1
        return n

    # ---------------------------------------------------------------- meta / status
    def write_meta(self, meta: dict[str, Any]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.meta_path, json.dumps(meta, indent=1, sort_keys=True).encode())

    def read_meta(self) -> dict[str, Any]:
        if not self.meta_path.exists():
            raise MlkitError(f"{self.run_dir}: not an MD run directory (no meta.json)")
        return json.loads(self.meta_path.read_text())

    @property
    def status(self) -> str:
        """``"new"`` when nothing has run yet, else one of :data:`STATUSES`."""
        if not self.status_path.exists():
            return "new"
        return json.loads(self.status_path.read_text())["status"]

    @property
    def status_message(self) -> str:
        if not self.status_path.exists():
            return ""
        return json.loads(self.status_path.read_text()).get("message", "")

    def set_status(self, status: str, message: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        payload = {"status": status, "message": message, "updated_unix": time.time()}
        atomic_write_bytes(self.status_path, json.dumps(payload).encode())

    def write_initial(self, structure) -> None:
        """Store the initial (super)cell (pymatgen Structure) as JSON."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.initial_path, json.dumps(structure.as_dict()).encode())

    def read_initial(self):
        """The initial (super)cell as a pymatgen Structure."""
        from pymatgen.core import Structure

        return Structure.from_dict(json.loads(self.initial_path.read_text()))

    # ---------------------------------------------------------------- checkpoint
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_write_bytes(self.checkpoint_path, pickle.dumps(state, protocol=4))

    def load_checkpoint(self) -> dict[str, Any] | None:
        if not self.checkpoint_path.exists():
            return None
        return pickle.loads(self.checkpoint_path.read_bytes())

    # ---------------------------------------------------------------- frames
    def _attrs(self) -> dict[str, str]:
        meta = self.read_meta() if self.exists() else {}
        return {
            "provenance": json.dumps(meta, sort_keys=True),
            "species": json.dumps(meta.get("species", [])),
        }

    def _segments(self) -> list[Path]:
        if not self.segment_dir.exists():
            return []
        return sorted(self.segment_dir.glob("seg_*.h5"))

    def append_segment(self, frames: dict[str, np.ndarray]) -> Path | None:
        """Write a block of frames as a new segment (atomic). Empty blocks are ignored."""
        if len(frames["step"]) == 0:
            return None
        self.segment_dir.mkdir(parents=True, exist_ok=True)
        first = int(frames["step"][0])
        path = self.segment_dir / f"seg_{first:012d}.h5"
        _write_h5(path, frames, self._attrs())
        return path

    def truncate(self, max_step: int) -> None:
        """Drop every stored frame with ``step > max_step`` (used on resume)."""
        for path in self._segments():
            data = _read_h5(path)
            keep = data["step"] <= max_step
            if keep.all():
                continue
            if not keep.any():
                path.unlink()
            else:
                _write_h5(path, {k: v[keep] for k, v in data.items()}, self._attrs())
        if self.trajectory_path.exists():
            data = _read_h5(self.trajectory_path)
            keep = data["step"] <= max_step
            if not keep.all():
                _write_h5(
                    self.trajectory_path, {k: v[keep] for k, v in data.items()}, self._attrs()
                )

    def read(self) -> dict[str, Any]:
        """All stored frames, in step order.

        Returns
        -------
        dict
            The :data:`FRAME_FIELDS` arrays plus ``"species"`` (list of str) and
            ``"meta"`` (provenance dict).
        """
        parts = []
        if self.trajectory_path.exists():
            parts.append(_read_h5(self.trajectory_path))
        last = int(parts[0]["step"][-1]) if parts and len(parts[0]["step"]) else -1
        for path in self._segments():
            seg = _read_h5(path)
            # segments already merged into trajectory.h5 by an interrupted finalize()
            keep = seg["step"] > last
            if keep.any():
                parts.append({k: v[keep] for k, v in seg.items()})
        meta = self.read_meta()
        if not parts:
            n_atoms = len(meta.get("species", []))
            out = {
                name: np.zeros((0, n_atoms, 3) if name.endswith(("_A", "_A_fs")) else (0,),
                               dtype=dtype)
                for name, dtype in FRAME_FIELDS.items()
            }
            out["cell_A"] = np.zeros((0, 3, 3))
        else:
            out = {name: np.concatenate([p[name] for p in parts]) for name in FRAME_FIELDS}
        steps = out["step"]
        if len(steps) > 1 and np.any(np.diff(steps) <= 0):
            raise MlkitError(f"{self.run_dir}: stored steps are not strictly increasing")
        out["species"] = list(meta.get("species", []))
        out["meta"] = meta
        return out

    def n_frames(self) -> int:
        """Number of stored frames."""
        if not self.exists():
            return 0
        return len(self.read()["step"])

    def finalize(self) -> None:
        """Consolidate segments into ``trajectory.h5`` (atomic) and delete the segments."""
        segments = self._segments()
        if not segments and self.trajectory_path.exists():
            return
        data = self.read()
        frames = {name: data[name] for name in FRAME_FIELDS}
        _write_h5(self.trajectory_path, frames, self._attrs())
        for path in segments:
            path.unlink()
        if self.segment_dir.exists() and not any(self.segment_dir.iterdir()):
            self.segment_dir.rmdir()
