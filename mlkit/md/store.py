"""Crash-safe, appendable trajectory store (HDF5 segments + one consolidated file).

One directory per MD run (structure x temperature)::

    RUN_DIR/
      meta.json          provenance: potential + version, seed, ensemble, thermostat
                         parameters, timestep, temperature, supercell, species, mlkit version
      status.json        {"status": "running" | "done" | "error", "message": ...}
      initial.json       the initial (super)cell as a pymatgen Structure (atom order = trajectory)
      checkpoint.pkl     full dynamical state at the last checkpoint (see mlkit.md.run)
      npt_checkpoint.pkl state inside the NPT equilibration stage (only while it runs)
      npt.json           outcome of the NPT stage: mean cell, volume change, pressure, log
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

Optional datasets (:data:`OPTIONAL_FRAME_FIELDS`; absent from files written before they
existed, so readers must not require them)::

    pressure_GPa        (n_frames,)         float64 pressure incl. the kinetic term
                                                    (NaN when the calculator gave no stress)
    conserved_energy_eV (n_frames,)         float64 integrator's conserved energy
                                                    (NVE / Langevin: E_pot + E_kin)
    pin_angle_deg       (n_frames,)         float64 RC/RTC: largest orientation-pin turn
                                                    over the steps since the previous frame

When some parts of a run (segments of a resumed run, or an old ``trajectory.h5`` that
is extended) have an optional field and others do not, :meth:`TrajectoryStore.read`
NaN-fills the frames that lack it (and consolidation writes it so); a field that no
part has stays absent.

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
#: per-frame fields written by newer code only (module docstring)
OPTIONAL_FRAME_FIELDS: dict[str, str] = {
    "pressure_GPa": "float64",
    "conserved_energy_eV": "float64",
    "pin_angle_deg": "float64",
}
STATUSES = ("running", "done", "error")


def _fields(frames: dict[str, Any]) -> dict[str, str]:
    """The mandatory fields plus the optional ones present in ``frames`` (name -> dtype)."""
    return {**FRAME_FIELDS,
            **{k: v for k, v in OPTIONAL_FRAME_FIELDS.items() if k in frames}}


def _write_h5(path: Path, frames: dict[str, np.ndarray], attrs: dict[str, str]) -> None:
    """Write frames to ``path`` atomically (tmp file + os.replace)."""
    import h5py

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with h5py.File(tmp, "w") as fh:
        for name, dtype in _fields(frames).items():
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
        return {name: fh[name][()] for name in _fields(fh)}


def _concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join frame blocks; an optional field missing from some blocks is NaN there."""
    out = {name: np.concatenate([p[name] for p in parts]) for name in FRAME_FIELDS}
    for name, dtype in OPTIONAL_FRAME_FIELDS.items():
        if any(name in p for p in parts):
            out[name] = np.concatenate([
                np.asarray(p[name], dtype=dtype) if name in p
                else np.full(len(p["step"]), np.nan, dtype=dtype) for p in parts])
    return out


def _fit_drift(time_ps: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Slope of a linear fit (per ps) and max |value - first value| over finite values."""
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    t, v = time_ps[ok], values[ok]
    return float(np.polyfit(t - t[0], v, 1)[0]), float(np.abs(v - v[0]).max())


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

    @property
    def npt_checkpoint_path(self) -> Path:
        return self.run_dir / "npt_checkpoint.pkl"

    @property
    def npt_path(self) -> Path:
        return self.run_dir / "npt.json"

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

    def set_status(self, status: str, message: str = "", **extra: Any) -> None:
        """Write status.json (``extra``: more JSON keys, e.g. ``summary=`` at the end)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        payload = {"status": status, "message": message, "updated_unix": time.time(), **extra}
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

    # ---------------------------------------------------------------- NPT stage
    def save_npt_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_write_bytes(self.npt_checkpoint_path, pickle.dumps(state, protocol=4))

    def load_npt_checkpoint(self) -> dict[str, Any] | None:
        if not self.npt_checkpoint_path.exists():
            return None
        return pickle.loads(self.npt_checkpoint_path.read_bytes())

    def write_npt_result(self, result: dict[str, Any]) -> None:
        """Store the outcome of the NPT stage (npt.json).

        Its checkpoint is removed by the caller once the NVT checkpoint at step 0 exists
        (a kill in between resumes the stage from its last checkpoint).
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.npt_path, json.dumps(result, indent=1).encode())

    def read_npt_result(self) -> dict[str, Any] | None:
        """The NPT stage outcome (npt.json), or None when the run had none (yet)."""
        if not self.npt_path.exists():
            return None
        return json.loads(self.npt_path.read_text())

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
            The :data:`FRAME_FIELDS` arrays, the :data:`OPTIONAL_FRAME_FIELDS` that any
            stored part has (NaN where a part lacks them), ``"species"`` (list of str)
            and ``"meta"`` (provenance dict).
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
            out = _concatenate(parts)
        steps = out["step"]
        if len(steps) > 1 and np.any(np.diff(steps) <= 0):
            raise MlkitError(f"{self.run_dir}: stored steps are not strictly increasing")
        out["species"] = list(meta.get("species", []))
        out["meta"] = meta
        return out

    def summary(self, traj: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run-level diagnostics from the stored frames (and the NPT stage, if any).

        Parameters
        ----------
        traj : dict, optional
            The output of :meth:`read` when already at hand.

        Returns
        -------
        dict
            ``n_frames``; ``pressure_mean_GPa``, ``pressure_std_GPa`` (over frames with a
            pressure; NaN when none); ``conserved_energy`` (what the field is: ``"total"``
            for NVE, ``"nose-hoover"`` for the chain's conserved quantity,
            ``"total (not conserved: langevin)"``), ``conserved_energy_drift_meV_atom_ps``
            (slope of a linear fit) and ``conserved_energy_max_dev_meV_atom``
            (max |E - E_first|); ``max_pin_angle_deg`` (RC/RTC; NaN otherwise); and, when
            the run had an NPT stage, ``npt_volume_change_percent``,
            ``npt_pressure_mean_GPa`` and ``npt_mean_cell_A``. Frames written by older
            code lack the optional fields: the values are then NaN.
        """
        traj = self.read() if traj is None else traj
        meta = traj["meta"]
        n_atoms = max(1, len(traj["species"]))
        nan = float("nan")
        time_ps = np.asarray(traj["time_fs"], dtype=float) / 1000.0
        out: dict[str, Any] = {"n_frames": len(traj["step"])}
        pressure = traj.get("pressure_GPa", np.zeros(0))
        ok = pressure[np.isfinite(pressure)]
        out["pressure_mean_GPa"] = float(ok.mean()) if len(ok) else nan
        out["pressure_std_GPa"] = float(ok.std()) if len(ok) else nan
        kinds = {"nve": "total", "nvt-nose-hoover": "nose-hoover",
                 "nvt-langevin": "total (not conserved: langevin)"}
        out["conserved_energy"] = kinds.get(meta.get("ensemble", ""), "")
        energy = traj.get("conserved_energy_eV")
        slope, dev = _fit_drift(time_ps, energy) if energy is not None else (nan, nan)
        out["conserved_energy_drift_meV_atom_ps"] = 1000.0 * slope / n_atoms
        out["conserved_energy_max_dev_meV_atom"] = 1000.0 * dev / n_atoms
        pin = traj.get("pin_angle_deg")
        out["max_pin_angle_deg"] = (float(np.nanmax(pin))
                                    if pin is not None and np.isfinite(pin).any() else nan)
        npt = meta.get("npt_result")
        if npt:
            out["npt_volume_change_percent"] = npt.get("volume_change_percent", nan)
            out["npt_pressure_mean_GPa"] = npt.get("pressure_mean_GPa", nan)
            out["npt_mean_cell_A"] = npt.get("mean_cell_A")
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
        frames = {name: data[name] for name in (*FRAME_FIELDS, *OPTIONAL_FRAME_FIELDS)
                  if name in data}
        _write_h5(self.trajectory_path, frames, self._attrs())
        for path in segments:
            path.unlink()
        if self.segment_dir.exists() and not any(self.segment_dir.iterdir()):
            self.segment_dir.rmdir()
