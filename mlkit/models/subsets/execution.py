"""Running the chunk tasks: local thread pool, joblib or Dask; checkpoint files.

Executors yield ``(chunk_id, table)`` pairs, at most a small window of tasks ahead, so
memory stays bounded whatever the number of chunks. With a checkpoint directory every
finished chunk is one parquet file (written atomically); ``search.json`` holds the
fingerprint of the data and settings, so a rerun resumes only the *same* search.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.models.subsets.fits import run_chunk
from mlkit.models.subsets.folds import FoldData
from mlkit.utils import atomic_write_bytes, atomic_write_text

__all__ = [
    "FORMAT_VERSION",
    "chunk_path",
    "fingerprint",
    "finished_chunks",
    "iter_dask",
    "iter_local",
    "jsonable",
    "prepare_checkpoint",
    "read_checkpoint_tables",
    "write_chunk",
]

FORMAT_VERSION = 1


def jsonable(d: dict) -> dict:
    """Settings -> JSON-safe values (anything unusual becomes its ``str``)."""
    return {
        k: (v if isinstance(v, (int, float, str, bool, type(None), list)) else str(v))
        for k, v in d.items()
    }


# --------------------------------------------------------------------------- checkpointing
def fingerprint(data: FoldData, spec: dict, names: list[str]) -> str:
    """sha256 of the raw data, feature names and every setting that changes a table row."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(data.X_raw).tobytes())
    h.update(np.ascontiguousarray(data.y01).tobytes())
    h.update(json.dumps(names).encode())
    keys = {
        k: spec[k] for k in ("cv", "seed", "C", "tol", "max_iter", "n_low", "max_k", "estimator")
    }
    h.update(json.dumps(keys, sort_keys=True, default=str).encode())
    h.update(str(FORMAT_VERSION).encode())
    return h.hexdigest()


def chunk_path(directory: Path, chunk_id: int) -> Path:
    return directory / f"chunk_{chunk_id:08d}.parquet"


def write_chunk(directory: Path, chunk_id: int, table: pd.DataFrame) -> None:
    """One chunk's rows -> its parquet file (atomic: readers never see half a file)."""
    atomic_write_bytes(chunk_path(directory, chunk_id), table.to_parquet(index=False))


def prepare_checkpoint(directory: Path, fp: str, spec: dict) -> None:
    """Create ``directory/search.json``, or refuse a directory holding another search."""
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / "search.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") != fp:
            raise MlkitError(
                f"{directory}: checkpoint belongs to a different search "
                "(data or settings changed); "
                "use another checkpoint_dir or delete it"
            )
    else:
        meta = {
            "fingerprint": fp,
            "format": FORMAT_VERSION,
            "spec": jsonable({k: v for k, v in spec.items() if k != "estimator_obj"}),
        }
        atomic_write_text(meta_path, json.dumps(meta, indent=1))


def finished_chunks(directory: Path, chunks: list[int]) -> list[int]:
    """The chunks of ``chunks`` that already have a file in ``directory``."""
    return [c for c in chunks if chunk_path(directory, c).exists()]


def read_checkpoint_tables(directory: Path) -> list[pd.DataFrame]:
    """Every chunk table in ``directory``, in file-name (chunk id) order."""
    return [pd.read_parquet(f) for f in sorted(Path(directory).glob("chunk_*.parquet"))]


# --------------------------------------------------------------------------- executors
def iter_local(
    data: FoldData, todo: list[int], spec: dict, n_jobs: int
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Run ``todo`` on ``n_jobs`` local workers; yield ``(chunk_id, table)`` in ``todo`` order.

    ``logreg`` chunks go to a thread pool (the numba kernel releases the GIL); the
    generic path uses joblib processes.
    """
    if spec["estimator"] == "logreg":
        # the numba kernel releases the GIL: a thread pool runs chunks in parallel
        if n_jobs <= 1:
            for c in todo:
                yield c, run_chunk(data, c, spec)
            return
        window = 2 * n_jobs
        with ThreadPoolExecutor(n_jobs) as pool:
            pending: dict[int, Any] = {}
            it = iter(todo)
            for c in it:
                pending[c] = pool.submit(run_chunk, data, c, spec)
                if len(pending) >= window:
                    break
            while pending:
                c0 = next(iter(pending))
                fut = pending.pop(c0)
                res = fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    pending[nxt] = pool.submit(run_chunk, data, nxt, spec)
                yield c0, res
        return
    from joblib import Parallel, delayed

    par = Parallel(n_jobs=n_jobs, return_as="generator")
    yield from zip(todo, par(delayed(run_chunk)(data, c, spec) for c in todo), strict=True)


def iter_dask(
    client: Any, data: FoldData, todo: list[int], spec: dict
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Run ``todo`` as Dask tasks (``data`` scattered once); yield as they complete."""
    from distributed import as_completed

    data_f = client.scatter(data, broadcast=True)
    n_threads = max(sum(client.nthreads().values()), 1)
    window = 4 * n_threads
    it = iter(todo)
    futures = {}
    for c in it:
        futures[
            client.submit(
                run_chunk, data_f, c, spec, pure=False, key=f"mlkit-subsets-{spec['fp'][:12]}-{c}"
            )
        ] = c
        if len(futures) >= window:
            break
    ac = as_completed(list(futures))
    for fut in ac:
        c = futures.pop(fut)
        res = fut.result()
        fut.release()
        nxt = next(it, None)
        if nxt is not None:
            nf = client.submit(
                run_chunk,
                data_f,
                nxt,
                spec,
                pure=False,
                key=f"mlkit-subsets-{spec['fp'][:12]}-{nxt}",
            )
            futures[nf] = nxt
            ac.add(nf)
        yield c, res


