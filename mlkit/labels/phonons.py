"""Structures or DFT force sets -> harmonic phonons -> one descriptor row each (resumable).

:func:`label_phonons` runs :func:`label_one` for every input over local processes or a
Dask cluster. Each finished input writes its row to ``<parts_dir>/<id>.json`` (atomic
replace) before the next starts, so a killed batch loses only the inputs in flight and a
rerun skips every input whose row exists for the same settings: nothing is duplicated.
Unreadable inputs, unstable relaxations or failing potentials give an error row; the batch
goes on.

Two sources:

* ``source="potential"``: structure files; force constants from a registered ML potential
  (:func:`mlkit.phonons.force_constants_from_potential`), cached in ``cache_dir``.
* ``source="force_sets"``: phonondb-style archives or directories (``POSCAR-unitcell``,
  ``FORCE_SETS``, ``phonopy.conf`` with DIM); force constants from the DFT forces.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.phonons.settings import PhononSettings
from mlkit.potentials.spec import CalculatorSpec, calculator_from_spec
from mlkit.utils import atomic_write_text, one_line, source_hash

__all__ = ["collect_force_set_inputs", "label_one", "label_phonons"]

#: provenance columns first in every row, in this order
PROVENANCE_COLUMNS = (
    "id", "source", "status", "error", "phonon_source", "potential", "potential_version",
    "mobile_ion", "supercell_matrix", "n_supercell_atoms", "n_displacements", "displacement_A",
    "relax", "relax_converged", "relax_fmax_eV_A", "relax_max_shift_A", "ph_mesh",
    "temperatures_K", "phonopy_version", "mlkit_version", "settings_hash", "total_s",
)
ARCHIVE_SUFFIXES = (".tar.lzma", ".tar.xz", ".tar.gz", ".tgz", ".tar")


def _input_id(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem if path.is_file() else name


def collect_force_set_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Archives (``.tar.lzma`` etc.) and phonopy directories under ``paths``, sorted.

    A directory holding ``FORCE_SETS`` is one input; any other directory is searched (one
    level) for archives and such directories. A path that does not exist is kept (its row
    says so).
    """
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists() or p.is_file() or (p / "FORCE_SETS").exists():
            # a missing path stays an input: it becomes an error row, not a failed batch
            found.append(p)
            continue
        for child in sorted(p.iterdir()):
            if (child.is_file() and child.name.endswith(ARCHIVE_SUFFIXES)) or (
                child.is_dir() and (child / "FORCE_SETS").exists()
            ):
                found.append(child)
    return found


@lru_cache(maxsize=1)
def _phonon_code_hash() -> str:
    import mlkit.phonons

    return source_hash(mlkit.phonons)


def settings_hash(settings: PhononSettings, source: str, potential: CalculatorSpec | None) -> str:
    """Hash of everything that changes a row: settings, source, potential and the code of
    :mod:`mlkit.phonons` (resume only reuses rows with the same hash; the force-constant
    cache has its own key, so a code change recomputes descriptors, not forces).
    """
    payload = {"settings": settings.as_dict(), "source": source, "code": _phonon_code_hash(),
               "potential": [potential.name, potential.model_path] if potential else None}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    from mlkit import __version__

    try:
        phonopy_version = md.version("phonopy")
    except md.PackageNotFoundError:
        phonopy_version = ""
    return {"phonopy_version": phonopy_version, "mlkit_version": __version__}


def label_one(
    path: str | Path,
    settings: PhononSettings,
    source: str = "potential",
    potential: CalculatorSpec | None = None,
    cache_dir: str | Path | None = None,
    plot_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Phonon descriptor row of one input; never raises for a bad input (error row)."""
    from mlkit.phonons.force_constants import (
        force_constants_from_force_sets,
        force_constants_from_potential,
        read_phonondb_archive,
    )
    from mlkit.phonons.properties import phonon_descriptors

    path = Path(path)
    t0 = time.perf_counter()
    row: dict[str, Any] = {"id": _input_id(path), "source": str(path), "status": "error",
                           "error": "", "mobile_ion": settings.mobile_ion,
                           "temperatures_K": " ".join(f"{t:g}" for t in settings.temperatures_K),
                           "settings_hash": settings_hash(settings, source, potential),
                           **_versions()}
    try:
        if source == "force_sets":
            data = read_phonondb_archive(path)
            model = force_constants_from_force_sets(
                data["unitcell"], data["force_sets"], data["supercell_matrix"],
                data["primitive_matrix"], symmetrize_fc=settings.symmetrize_fc,
                source=str(path), symprec=settings.symprec)
        elif source == "potential":
            from mlkit.structures import read_structure

            structure = read_structure(path)
            model = force_constants_from_potential(
                structure, calculator_from_spec(potential or CalculatorSpec()), settings,
                cache_dir=cache_dir, source=str(path))
        else:
            raise MlkitError(f"unknown phonon source {source!r} (potential | force_sets)")
        result = phonon_descriptors(model, settings)
    except MlkitError as exc:
        msg = one_line(exc)
        row["error"] = msg if msg.startswith(str(path)) else f"{path}: {msg}"
        row["total_s"] = time.perf_counter() - t0
        return row
    except Exception as exc:  # noqa: BLE001 - one bad structure never stops a batch
        row["error"] = f"{path}: {type(exc).__name__}: {one_line(exc, 300)}"
        row["total_s"] = time.perf_counter() - t0
        return row
    prov = model.provenance
    row.update(
        status="done",
        phonon_source=prov.get("source", source),
        potential=prov.get("potential", ""),
        potential_version=prov.get("potential_version", ""),
        supercell_matrix=" ".join(str(int(x)) for x in np.ravel(prov["supercell_matrix"])),
        n_supercell_atoms=prov.get("n_supercell_atoms"),
        n_displacements=prov.get("n_displacements"),
        displacement_A=prov.get("displacement_A"),
        relax=prov.get("relax", False),
        relax_converged=prov.get("relax_converged", ""),
        relax_fmax_eV_A=prov.get("relax_fmax_eV_A", float("nan")),
        relax_max_shift_A=prov.get("relax_max_shift_A", float("nan")),
        force_constants_s=prov.get("force_constants_s", float("nan")),
        forces_s=prov.get("forces_s", float("nan")),
        relax_s=prov.get("relax_s", float("nan")),
        fc_cached=prov.get("cached", False),
    )
    row.update(result.row)
    if plot_dir is not None:
        from mlkit.phonons.plots import plot_band_structure, plot_dos

        pdir = Path(plot_dir)
        pdir.mkdir(parents=True, exist_ok=True)
        plot_dos(result, settings.mobile_ion).savefig(pdir / f"{row['id']}_dos.png", dpi=110)
        if result.band is not None:
            plot_band_structure(result, model, settings).savefig(
                pdir / f"{row['id']}_bands.png", dpi=110)
    row["total_s"] = time.perf_counter() - t0
    return row


def _run_and_store(path: str, settings_dict: dict, source: str, potential: CalculatorSpec | None,
                   cache_dir: str | None, plot_dir: str | None, part: str) -> dict[str, Any]:
    settings = PhononSettings.from_dict(settings_dict)
    if potential is not None and potential.threads:
        try:
            import torch

            torch.set_num_threads(potential.threads)
        except ImportError:
            pass
    row = label_one(path, settings, source, potential, cache_dir, plot_dir)
    atomic_write_text(part, json.dumps(row, default=str))
    return row


def label_phonons(
    paths: Sequence[str | Path],
    output: str | Path | None = None,
    settings: PhononSettings | None = None,
    *,
    source: str = "potential",
    potential: CalculatorSpec | None = None,
    parts_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    plot_dir: str | Path | None = None,
    n_jobs: int = 1,
    dask_address: str | None = None,
    dask_client: Any = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Phonon descriptor rows for many inputs (resumable, parallel, error rows).

    Parameters
    ----------
    paths : sequence of path
        Structure files / directories / globs (``source="potential"``) or force-set
        archives / directories (``source="force_sets"``).
    output : path, optional
        CSV written at the end (the rows are already safe in ``parts_dir``).
    settings : PhononSettings
    source : {"potential", "force_sets"}
    potential : CalculatorSpec
        Potential, device and weights for ``source="potential"``.
    parts_dir : path, optional
        One JSON row per finished input (default ``<output stem>_parts`` next to the CSV).
    cache_dir : path, optional
        Force-constant cache of the potential path.
    plot_dir : path, optional
        DOS and band-structure PNGs per input.
    n_jobs : int
        Local worker processes; or ``dask_address`` / ``dask_client`` for a Dask cluster.

    Returns
    -------
    pandas.DataFrame
        One row per input in input order, provenance columns first.
    """
    from tqdm.auto import tqdm

    settings = settings or PhononSettings()
    if source == "potential":
        from mlkit.structures import collect_paths

        potential = potential or CalculatorSpec()
        files = [Path(p) for p in collect_paths(paths)]
    elif source == "force_sets":
        potential = None
        files = collect_force_set_inputs(paths)
    else:
        raise MlkitError(f"unknown phonon source {source!r} (potential | force_sets)")
    if not files:
        raise MlkitError(f"no inputs found in {', '.join(map(str, paths))}")
    if n_jobs < 1:
        raise MlkitError(f"n_jobs must be >= 1, got {n_jobs}")
    if parts_dir is None:
        if output is None:
            raise MlkitError("give output or parts_dir (where finished rows are kept)")
        parts_dir = Path(output).with_name(Path(output).stem + "_parts")
    parts = Path(parts_dir)
    parts.mkdir(parents=True, exist_ok=True)
    shash = settings_hash(settings, source, potential)
    ids = [_input_id(f) for f in files]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise MlkitError(f"inputs with the same id: {dup[:5]}")

    rows: dict[str, dict[str, Any]] = {}
    todo = []
    for f, sid in zip(files, ids, strict=True):
        part = parts / f"{sid}.json"
        if part.exists():
            try:
                row = json.loads(part.read_text())
                if row.get("settings_hash") == shash:
                    rows[sid] = row
                    continue
            except ValueError:
                pass  # a torn file cannot exist (atomic writes); an edited one is redone
        todo.append((str(f), str(part), sid))

    args = (settings.as_dict(), source, potential,
            str(cache_dir) if cache_dir else None, str(plot_dir) if plot_dir else None)
    bar = tqdm(total=len(files), initial=len(rows), unit="structure", desc="phonons",
               disable=not progress)
    if dask_address is not None or dask_client is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        client = dask_client or Client(dask_address)
        try:
            futures = {client.submit(_run_and_store, f, *args, part, pure=False): sid
                       for f, part, sid in todo}
            for fut in dask_completed(futures):
                rows[futures[fut]] = fut.result()
                bar.update(1)
        finally:
            if dask_client is None:
                client.close()
    elif n_jobs == 1:
        for f, part, sid in todo:
            rows[sid] = _run_and_store(f, *args, part)
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            futures = {pool.submit(_run_and_store, f, *args, part): sid for f, part, sid in todo}
            for fut in as_completed(futures):
                rows[futures[fut]] = fut.result()
                bar.update(1)
    bar.close()
    table = pd.DataFrame([rows[sid] for sid in ids])
    first = [c for c in PROVENANCE_COLUMNS if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first]]
    if output is not None:
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, table.to_csv(index=False))
    return table
