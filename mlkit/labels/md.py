"""Structures -> ML-potential MD -> trajectory analysis -> one label row per run.

Two stages, both resumable:

1. :func:`run_md_structures` runs (or resumes, or skips when finished) one MD per
   structure into ``out_dir/<id>/T<T>K/`` (see :mod:`mlkit.md.store`), over local
   processes (``n_jobs``) or a Dask distributed cluster (``dask_address``). A structure
   that cannot be read, has no auto temperature or blows up becomes an error row; the
   batch goes on. Input errors are remembered in ``out_dir/<id>/input_error.json``.
2. :func:`analyze_runs` reads every run under ``out_dir``, finds the polyanions of the
   initial supercell (:func:`mlkit.structures.find_polyanions`) and calls
   :func:`mlkit.analysis.analyze_trajectory`: one row per structure and temperature with
   all labels plus provenance (potential + version, T, steps, timestep, seed, supercell,
   ensemble, mlkit version).

The label table is rebuilt from the run directories each time, so rerunning never
duplicates rows.

GPU clusters: start one Dask worker per GPU with ``dask worker ADDR --nthreads 1
--resources GPU=1`` and pass ``resources={"GPU": 1}``; each task then holds one GPU and
builds its calculator with ``device="auto"`` (CUDA). Batched MD of many small cells per
model call (torch-sim) is not implemented: :func:`torchsim_available` is the hook that a
batched backend would check (torch-sim installed and a GPU present).
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlkit.errors import MlkitError
from mlkit.md import MDRun, MDSettings, TrajectoryStore, resolve_temperature_K, run_dir_for
from mlkit.md.store import FRAME_FIELDS, OPTIONAL_FRAME_FIELDS
from mlkit.utils import atomic_write_text, one_line

if TYPE_CHECKING:
    from mlkit.analysis import AnalysisSettings

INPUT_ERROR_FILE = "input_error.json"

#: provenance columns of every label row, in order
PROVENANCE_COLUMNS = (
    "id", "source", "temperature_K", "status", "error", "potential", "potential_version",
    "ensemble", "constraint", "timestep_fs", "equilibration_ps", "production_ps", "n_steps",
    "n_frames", "frame_interval_fs", "seed", "supercell", "n_atoms", "mobile_ion",
    "mlkit_version", "run_dir",
)


def torchsim_available() -> bool:
    """True when torch-sim is installed and a CUDA GPU is present (batched-MD hook)."""
    import importlib.util

    if importlib.util.find_spec("torch_sim") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


# ----------------------------------------------------------------------------- running
def _write_input_error(out_dir: Path, structure_id: str, source: str, message: str) -> None:
    d = out_dir / structure_id
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_text(d / INPUT_ERROR_FILE, json.dumps({"source": source, "error": message}))


def run_one_structure(path: str, out_dir: str, settings: Mapping[str, Any],
                      progress: bool = False) -> dict[str, Any]:
    """Run (or resume) the MD of one structure file; never raises for bad input.

    Returns
    -------
    dict
        ``id, source, run_dir, status ("done" | "error"), error, n_frames, skipped,
        ms_per_step``.
    """
    from mlkit.structures import read_structure, structure_id, validate_structure

    sid = structure_id(path)
    row: dict[str, Any] = {"id": sid, "source": str(path), "run_dir": "", "status": "error",
                           "error": "", "n_frames": 0, "skipped": False,
                           "ms_per_step": float("nan")}
    out = Path(out_dir)
    md_settings = MDSettings(**dict(settings))
    try:
        md_settings.validate()
        structure = read_structure(path)
        validate_structure(structure, str(path), min_distance_A=md_settings.min_distance_A)
        temperature_K = resolve_temperature_K(structure, md_settings, source=str(path))
        run_dir = run_dir_for(out, sid, temperature_K, md_settings.constraint)
        row["run_dir"] = str(run_dir)
        result = MDRun(structure, run_dir, md_settings, source=str(path),
                       progress=progress).run()
    except (MlkitError, ValueError, FileNotFoundError, RuntimeError) as exc:
        message = one_line(exc)
        if not message.startswith(str(path)):
            message = f"{path}: {message}"
        row["error"] = message
        if not row["run_dir"]:
            _write_input_error(out, sid, str(path), message)
        return row
    except Exception as exc:  # noqa: BLE001 - a batch never stops on one structure
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        row["error"] = f"{path}: unexpected {tb}"
        return row
    (out / sid / INPUT_ERROR_FILE).unlink(missing_ok=True)
    row.update(status=result.status, error=result.message, n_frames=result.n_frames,
               skipped=result.skipped, ms_per_step=result.ms_per_step)
    return row


def run_md_structures(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    settings: MDSettings | None = None,
    *,
    n_jobs: int = 1,
    dask_address: str | None = None,
    dask_client=None,
    resources: Mapping[str, float] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run MD for many structures; one row per structure (errors as rows).

    Parameters
    ----------
    paths : sequence of str or Path
        Structure files, directories or globs (:func:`mlkit.structures.collect_paths`).
    out_dir : str or Path
        Root of the run directories.
    settings : MDSettings, optional
        ``threads=None`` gives each local worker ``max(1, cpu_count // n_jobs)`` threads.
    n_jobs : int
        Local worker processes (1 runs in this process).
    dask_address : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); or pass ``dask_client``.
    resources : mapping, optional
        Dask worker resources each task needs, e.g. ``{"GPU": 1}``.
    progress : bool
        A tqdm bar over structures (and per-run step bars when ``n_jobs == 1``).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, source, run_dir, status, error, n_frames, skipped, ms_per_step``.
    """
    from tqdm.auto import tqdm

    from mlkit.structures import collect_paths

    settings = settings or MDSettings()
    settings.validate()
    files = [str(p) for p in collect_paths(paths)]
    if not files:
        raise MlkitError(f"no structure files found in {', '.join(map(str, paths))}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = settings.to_dict()
    rows: list[dict[str, Any]] = []
    use_dask = dask_address is not None or dask_client is not None
    if n_jobs < 1:
        raise MlkitError(f"n_jobs must be >= 1, got {n_jobs}")
    if cfg["threads"] is None and not use_dask:
        cfg["threads"] = max(1, (os.cpu_count() or 1) // n_jobs)

    bar = tqdm(total=len(files), unit="structure", desc="md", disable=not progress)
    if use_dask:
        from distributed import Client
        from distributed import as_completed as dask_completed

        client = dask_client or Client(dask_address)
        try:
            futures = [client.submit(run_one_structure, f, str(out), cfg, False, pure=False,
                                     resources=dict(resources) if resources else None)
                       for f in files]
            for fut in dask_completed(futures):
                rows.append(fut.result())
                bar.update(1)
        finally:
            if dask_client is None:
                client.close()
    elif n_jobs == 1:
        for f in files:
            rows.append(run_one_structure(f, str(out), cfg, progress))
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            futures = [pool.submit(run_one_structure, f, str(out), cfg, False) for f in files]
            for fut in as_completed(futures):
                rows.append(fut.result())
                bar.update(1)
    bar.close()
    order = {f: i for i, f in enumerate(files)}
    rows.sort(key=lambda r: order[r["source"]])
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- analysis
def find_run_dirs(out_dir: str | Path) -> list[Path]:
    """Every run directory (holding ``meta.json``) under ``out_dir``, sorted."""
    root = Path(out_dir)
    if (root / "meta.json").exists():
        return [root]
    return sorted(p.parent for p in root.glob("**/meta.json"))


def _provenance_row(meta: Mapping[str, Any], run_dir: Path, status: str, error: str,
                    n_frames: int) -> dict[str, Any]:
    reps = meta.get("repeats", [1, 1, 1])
    interval = float(meta.get("frame_interval_fs", 0.0))
    return {
        "id": run_dir.parent.name,
        "source": meta.get("source", ""),
        "temperature_K": meta.get("temperature_K"),
        "status": status,
        "error": error,
        "potential": meta.get("potential", ""),
        "potential_version": meta.get("potential_version", ""),
        "ensemble": meta.get("ensemble", ""),
        "constraint": meta.get("constraint", "none"),
        "timestep_fs": meta.get("timestep_fs"),
        "equilibration_ps": meta.get("equilibration_steps", 0) * meta.get("timestep_fs", 0) / 1e3,
        "production_ps": max(n_frames - 1, 0) * interval / 1000.0,
        "n_steps": max(n_frames - 1, 0) * int(meta.get("save_every", 1)),
        "n_frames": n_frames,
        "frame_interval_fs": interval,
        "seed": meta.get("seed"),
        "supercell": "x".join(str(r) for r in reps),
        "n_atoms": meta.get("n_atoms"),
        "mobile_ion": meta.get("mobile_ion", "Na"),
        "mlkit_version": meta.get("mlkit_version", ""),
        "run_dir": str(run_dir),
    }


def rotor_groups(structure, mobile_ion: str = "Na", species: Sequence[str] | None = None,
                 ) -> tuple[list[list[int]], list[list[int]], list[str]]:
    """Rotor centres, ligands and labels from :func:`mlkit.structures.find_rotors`.

    The paper's rotors by default (tetrahedral and octahedral polyanion centres; bonded
    centres as one group such as P2S6 or B10H10); ``species`` selects by label or centre
    element (e.g. ``["PS4"]``).

    Returns
    -------
    centers : list of list of int
        Centre atom(s) of each rotor.
    ligands : list of list of int
    labels : list of str
    """
    from mlkit.structures import find_rotors

    rotors = find_rotors(structure, mobile_ion=mobile_ion, species=species)
    return ([list(r.center_indices) for r in rotors], [list(r.ligand_indices) for r in rotors],
            [r.label for r in rotors])


def rotors_from_structure(structure, mobile_ion: str = "Na",
                          species: Sequence[str] | None = None,
                          ) -> tuple[list[list[int]], list[list[int]]]:
    """Rotor centres and ligands (:func:`rotor_groups` without the labels)."""
    centers, ligands, _ = rotor_groups(structure, mobile_ion, species)
    return centers, ligands


def pressure_from_frames(run_dir: str | Path, *, n_samples: int = 100, calculator=None,
                         threads: int | None = 1) -> dict[str, float]:
    """Pressure of a stored run, re-evaluated on ``n_samples`` evenly spaced frames.

    For runs whose frames do not store the pressure (written before it was recorded):
    the potential of ``meta.json`` (or ``calculator``) gives the virial stress of each
    sampled frame, the stored velocities the kinetic term (ASE
    ``get_stress(include_ideal_gas=True)``); P = -trace(stress) / 3.

    Returns
    -------
    dict
        ``pressure_GPa`` (mean), ``pressure_sem_GPa`` (standard error over the samples,
        which are ~correlation-time apart only for long runs), ``pressure_std_GPa``,
        ``pressure_n_samples``.
    """
    import numpy as np
    from ase import Atoms, units

    store = TrajectoryStore(run_dir)
    meta = store.read_meta()
    traj = store.read()
    n = len(traj["step"])
    if n == 0:
        raise MlkitError(f"{run_dir}: no frames stored")
    if calculator is None:
        from mlkit.potentials import get_calculator

        calculator = get_calculator(meta["potential"], device="cpu", threads=threads,
                                    dtype=meta.get("dtype", "float32"),
                                    model_path=meta.get("model_path"))
    picks = np.unique(np.linspace(0, n - 1, min(n_samples, n)).round().astype(int))
    masses = None
    pressures = []
    for k in picks:
        atoms = Atoms(symbols=list(traj["species"]), positions=traj["positions_A"][k],
                      cell=traj["cell_A"][k], pbc=True)
        atoms.wrap()
        if masses is None:
            masses = atoms.get_masses()
        atoms.set_momenta(np.asarray(traj["velocities_A_fs"][k], dtype=float)
                          * masses[:, None] / units.fs)
        atoms.calc = calculator
        stress = atoms.get_stress(voigt=True, include_ideal_gas=True)  # eV/A^3
        pressures.append(-float(np.mean(stress[:3])) / units.GPa)
    p = np.asarray(pressures)
    return {"pressure_GPa": float(p.mean()),
            "pressure_source": "re-evaluated",
            "pressure_sem_GPa": float(p.std(ddof=1) / np.sqrt(len(p))) if len(p) > 1 else
            float("nan"),
            "pressure_std_GPa": float(p.std(ddof=1)) if len(p) > 1 else float("nan"),
            "pressure_n_samples": int(len(p))}


def analyze_run(run_dir: str | Path, *, include_partial: bool = False,
                min_frames: int = 10, analysis_settings: AnalysisSettings | None = None,
                production_ps: float | None = None, return_curves: bool = False,
                **analysis_kwargs: Any) -> dict[str, Any] | tuple[dict[str, Any], dict]:
    """One label row for one run directory (an error row when it cannot be analysed).

    Parameters
    ----------
    run_dir : str or Path
    include_partial : bool
        Also analyse runs still ``running`` (or interrupted) from the frames stored so far.
    min_frames : int
        Fewer stored frames give an error row.
    analysis_settings : AnalysisSettings, optional
        Thresholds and fit windows of :func:`mlkit.analysis.analyze_trajectory`
        (default: the paper's).
    production_ps : float, optional
        Analyse only the first ``production_ps`` of the stored production, as if the run
        had stopped there (run-length checks); the row's ``production_ps`` is the cut and
        ``run_production_ps`` the stored length. A cut longer than the run is an error row.
    return_curves : bool
        Also return the curves of :func:`mlkit.analysis.analyze_trajectory`
        (``return_curves=True``; an empty dict for error rows).
    **analysis_kwargs
        Single :class:`~mlkit.analysis.AnalysisSettings` fields overriding
        ``analysis_settings``.

    Returns
    -------
    dict, or (dict, dict) when ``return_curves``
    """
    row, curves = _analyze_run(Path(run_dir), include_partial, min_frames,
                               analysis_settings, production_ps, analysis_kwargs)
    return (row, curves) if return_curves else row


def _analyze_run(run_dir: Path, include_partial: bool, min_frames: int,
                 analysis_settings: AnalysisSettings | None, production_ps: float | None,
                 analysis_kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    import numpy as np

    store = TrajectoryStore(run_dir)
    meta = store.read_meta()
    status = store.status
    if status == "error":
        n = store.n_frames()
        return _provenance_row(meta, run_dir, "error", store.status_message, n), {}
    if status != "done" and not include_partial:
        n = store.n_frames()
        return _provenance_row(meta, run_dir, "incomplete", f"{run_dir}: run not finished "
                               f"({status}); rerun md run, or pass include_partial", n), {}
    traj = store.read()
    n_stored = len(traj["step"])
    n = n_stored
    if production_ps is not None:
        interval_ps = float(meta["frame_interval_fs"]) / 1000.0
        n = int(round(production_ps / interval_ps)) + 1
        if production_ps <= 0 or n > n_stored:
            row = _provenance_row(meta, run_dir, "error", "", n_stored)
            row["error"] = (f"{run_dir}: cut production_ps={production_ps} outside the "
                            f"stored {row['production_ps']:g} ps")
            return row, {}
        traj = {k: v[:n] if k in FRAME_FIELDS or k in OPTIONAL_FRAME_FIELDS else v
                for k, v in traj.items()}
    row = _provenance_row(meta, run_dir, "done" if status == "done" else "partial", "", n)
    if production_ps is not None:
        row["run_production_ps"] = _provenance_row(meta, run_dir, "", "", n_stored)[
            "production_ps"]
    if n < min_frames:
        row.update(status="error", error=f"{run_dir}: only {n} frames stored (< {min_frames})")
        return row, {}
    try:
        from mlkit.analysis import AnalysisSettings, analyze_trajectory

        settings = (analysis_settings or AnalysisSettings()).replace(**analysis_kwargs)
        mobile_ion = meta.get("mobile_ion", "Na")
        initial = store.read_initial()
        centers, ligands, rotor_labels = rotor_groups(initial, mobile_ion,
                                                      settings.rotor_species)
        labels, curves = analyze_trajectory(
            traj["positions_A"], traj["species"], np.asarray(traj["cell_A"][0]),
            float(meta["frame_interval_fs"]), float(meta["temperature_K"]), centers, ligands,
            mobile_ion=mobile_ion, velocities_A_fs=traj["velocities_A_fs"],
            rotor_labels=rotor_labels, site_positions_A=initial.cart_coords,
            settings=settings, return_curves=True,
        )
    except (MlkitError, ValueError, RuntimeError) as exc:
        row.update(status="error", error=f"{run_dir}: analysis failed: {one_line(exc)}")
        return row, {}
    row["n_rotors"] = len(centers)
    for key, value in labels.items():
        if key not in row:
            row[key] = value
    # run diagnostics: pressure, conserved-energy drift, pin angles, NPT stage
    for key, value in store.summary(traj).items():
        if key == "n_frames":
            continue
        row[key] = json.dumps(value) if isinstance(value, list | dict) else value
    row["pressure_GPa"] = row.pop("pressure_mean_GPa", float("nan"))
    return row, curves


def analyze_runs(out_dir: str | Path, *, include_partial: bool = False,
                 progress: bool = True, analysis_settings: AnalysisSettings | None = None,
                 **analysis_kwargs: Any) -> pd.DataFrame:
    """Label table (one row per structure and temperature) for every run under ``out_dir``.

    Input errors recorded by :func:`run_md_structures` become error rows too.
    ``analysis_settings`` and ``analysis_kwargs`` as in :func:`analyze_run`.
    """
    from tqdm.auto import tqdm

    root = Path(out_dir)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such MD output directory")
    rows = [analyze_run(d, include_partial=include_partial,
                        analysis_settings=analysis_settings, **analysis_kwargs)
            for d in tqdm(find_run_dirs(root), unit="run", desc="analyze", disable=not progress)]
    for err in sorted(root.glob(f"*/{INPUT_ERROR_FILE}")):
        info = json.loads(err.read_text())
        rows.append({"id": err.parent.name, "source": info.get("source", ""),
                     "status": "error", "error": info.get("error", "")})
    if not rows:
        raise MlkitError(f"{root}: no MD runs found")
    df = pd.DataFrame(rows)
    first = [c for c in PROVENANCE_COLUMNS if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def label_md(paths: Sequence[str | Path], out_dir: str | Path, labels_csv: str | Path | None,
             settings: MDSettings | None = None, *, n_jobs: int = 1,
             dask_address: str | None = None, include_partial: bool = False,
             progress: bool = True, analysis_settings: AnalysisSettings | None = None,
             **analysis_kwargs: Any) -> pd.DataFrame:
    """Run MD for every structure (resumable), then analyse; write ``labels_csv``.

    ``settings`` defines the MD runs, ``analysis_settings`` (and single-field
    ``analysis_kwargs``) the analysis, as in :func:`analyze_run`.
    """
    run_rows = run_md_structures(paths, out_dir, settings, n_jobs=n_jobs,
                                 dask_address=dask_address, progress=progress)
    df = analyze_runs(out_dir, include_partial=include_partial, progress=progress,
                      analysis_settings=analysis_settings, **analysis_kwargs)
    wanted = set(run_rows["id"])
    df = df[df["id"].isin(wanted)].reset_index(drop=True)
    if labels_csv is not None:
        Path(labels_csv).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(labels_csv, df.to_csv(index=False))
    return df
