"""Files or structures in, one feature table out: parallel, cached, one row per input.

Row layout: ``id`` (file stem or mapping key), ``source`` (path or key), ``error``
(``""`` when every feature was computed), ``disorder`` (the strategy's note, e.g.
``"ordered"`` or ``"average:12 partial sites"``), ``connectivity`` (framework class,
``""`` when unknown), ``rotation_screen`` (bool: the structure passes the rotation paper's
structural screen, :func:`mlkit.structures.rotation_screen`) and ``rotation_screen_reason``
(``""`` when it passes, else why not; the one-line error when the screen could not run,
which is then False and leaves ``error`` alone), then the features of each featurizer in
the order requested.

Errors: an input that cannot be read or fails validation becomes a row with every
feature NaN and ``error`` holding the reason. A featurizer that cannot compute some or
all of its features (no mobile ion, no oxidation states, no polyanions, ...) leaves those
NaN and appends ``"<group>: <reason>"`` to ``error`` (reasons joined by ``"; "``); the other
features of the row are kept.

Settings: what defines the values is one :class:`~mlkit.features.settings.FeaturizationSettings`
(featurizers, mobile ion, disorder strategy, site limit); worker processes, the cache and
the progress bar are keyword arguments because they never change a value.

Provenance: a table made here carries ``df.attrs["mlkit"]`` =
:func:`table_provenance` -- the settings (``featurization``) and the feature ``schema``
(row layout version, hash of the feature code, mlkit version). :func:`write_table` keeps
it (parquet: in the file's metadata; CSV: in a side-car ``<table>.csv.mlkit.json``) and
:func:`mlkit.models.dataset.load_features` reads it back, so ``mlkit predict`` can refuse
a table that was made differently from the model's inputs.

Streaming: with ``output=`` the rows go to the file in input order as they finish, a
chunk of :data:`WRITE_CHUNK_ROWS` rows at a time (parquet: ``pyarrow.ParquetWriter`` row
groups; CSV: appended blocks), into ``<output>.<pid>.partial`` renamed into place at the
end; the file and its provenance are those of :func:`write_table` on the whole table. With
``return_table=False`` (what ``mlkit featurize`` does) no table is kept: the rows held in
memory are bounded by the write chunk plus the chunks in flight, not by the number of
inputs, and a :class:`TableSummary` is returned instead.

Cache: each row is stored as JSON under ``<cache_dir>/<key[:2]>/<key>.json`` as soon as it
is computed (so the cache doubles as a checkpoint: a killed run loses no finished row).
The key hashes the file's bytes (or the structure's JSON), the featurizer names and
parameters, the mobile ion, the disorder strategy, ``max_sites``, the mlkit version and a
hash of the source code of ``mlkit.features`` and ``mlkit.structures``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.errors import MlkitError, StructureError
from mlkit.features.base import BaseFeaturizer, FeatureUnavailable
from mlkit.features.settings import FeaturizationSettings
from mlkit.utils import atomic_write_bytes, atomic_write_text, file_sha256, one_line, source_hash

if TYPE_CHECKING:
    import pandas as pd
    from pymatgen.core import Structure

__all__ = [
    "META_COLUMNS",
    "PROVENANCE_KEY",
    "TableSummary",
    "feature_schema",
    "table_provenance",
    "default_cache_dir",
    "featurize_paths",
    "featurize_structures",
    "feature_columns",
    "write_table",
]

#: the non-feature columns, in order
META_COLUMNS = (
    "id",
    "source",
    "error",
    "disorder",
    "connectivity",
    "rotation_screen",
    "rotation_screen_reason",
)
#: the boolean meta column (the others are strings)
BOOL_META_COLUMNS = ("rotation_screen",)

#: bump when the row layout changes
CACHE_SCHEMA = 2
#: rows per block written to a streamed output file (a parquet row group / CSV block)
WRITE_CHUNK_ROWS = 256


#: key of ``DataFrame.attrs`` (and of the files' metadata) holding a table's provenance
PROVENANCE_KEY = "mlkit"
#: suffix of the side-car file holding a CSV table's provenance
CSV_PROVENANCE_SUFFIX = ".mlkit.json"


def feature_schema(settings: FeaturizationSettings) -> dict[str, Any]:
    """What, besides the settings, decides the feature values: code and row layout.

    Returns
    -------
    dict
        ``row_schema`` (:data:`CACHE_SCHEMA`), ``code`` (hash of the sources of
        ``mlkit.features`` and ``mlkit.structures``, plus ``mlkit.phonons`` when the
        ``phonon`` group is used) and ``mlkit`` (version, for messages).
    """
    from mlkit import __version__

    return {"row_schema": CACHE_SCHEMA, "code": _code_hash("phonon" in settings.featurizers),
            "mlkit": __version__}


def table_provenance(settings: FeaturizationSettings) -> dict[str, Any]:
    """``{"featurization": settings.to_dict(), "schema": feature_schema(settings)}``."""
    return {"featurization": settings.to_dict(), "schema": feature_schema(settings)}


def default_cache_dir() -> Path:
    """``$MLKIT_CACHE_DIR/features`` when set, else ``./.mlkit_cache/features``."""
    root = os.environ.get("MLKIT_CACHE_DIR")
    return (Path(root) if root else Path.cwd() / ".mlkit_cache") / "features"


def feature_columns(featurizers: Sequence[BaseFeaturizer]) -> list[str]:
    """Feature column names of ``featurizers`` (raises on duplicate labels)."""
    cols: list[str] = []
    for f in featurizers:
        cols.extend(f.feature_labels())
    dup = {c for c in cols if cols.count(c) > 1}
    if dup:
        raise MlkitError(f"featurizers produce duplicate columns: {sorted(dup)}")
    return cols


@lru_cache(maxsize=2)
def _code_hash(with_phonons: bool = False) -> str:
    """Hash of the code that makes feature values (the phonon package only when used)."""
    import mlkit.features
    import mlkit.structures

    pkgs = [mlkit.features, mlkit.structures]
    if with_phonons:
        import mlkit.phonons

        pkgs.append(mlkit.phonons)
    return source_hash(*pkgs)


def _settings_hash(settings: FeaturizationSettings, featurizers: Sequence[BaseFeaturizer]) -> str:
    from mlkit import __version__

    # the same fields as before the settings object, so existing caches stay valid
    key = {
        "schema": CACHE_SCHEMA,
        "version": __version__,
        "code": _code_hash(any(f.name == "phonon" for f in featurizers)),
        "featurizers": [
            [f.name, sorted((k, repr(v)) for k, v in f.get_params().items())] for f in featurizers
        ],
        "mobile_ion": settings.mobile_ion,
        "disorder": settings.disorder,
        "max_sites": settings.max_sites,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}.json"


def _load_cached(cache_dir: Path, key: str) -> dict[str, Any] | None:
    path = _cache_file(cache_dir, key)
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _store_cached(cache_dir: Path, key: str, row: dict[str, Any]) -> None:
    path = _cache_file(cache_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(row), fsync=False)


def _one_line(exc: BaseException) -> str:
    """The row's error text: the reason of mlkit's errors, ``"Type: message"`` otherwise."""
    if isinstance(exc, StructureError):
        return " ".join(exc.reason.split()) or type(exc).__name__
    text = one_line(exc)
    if isinstance(exc, MlkitError) or text == type(exc).__name__:
        return text
    return f"{type(exc).__name__}: {text}"


def _empty_row(row_id: str, source: str, featurizers: Sequence[BaseFeaturizer]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": row_id, "source": source, "error": "", "disorder": "",
                           "connectivity": "", "rotation_screen": False,
                           "rotation_screen_reason": ""}
    for col in feature_columns(featurizers):
        row[col] = math.nan
    return row


def _featurize_one(
    row_id: str,
    source: str,
    payload: str | Structure,
    featurizers: Sequence[BaseFeaturizer],
    settings: FeaturizationSettings,
) -> dict[str, Any]:
    """One row: read (if a path), validate, resolve disorder, run every featurizer."""
    from mlkit.errors import StructureError
    from mlkit.features.context import StructureContext
    from mlkit.structures import (
        read_structure,
        resolve_disorder,
        site_count_lower_bound,
        validate_structure,
    )

    row = _empty_row(row_id, source, featurizers)
    try:
        if isinstance(payload, str | Path):
            # refuse huge files before parsing them (a 14k-site CIF takes ~1 min to parse)
            n_sites = site_count_lower_bound(payload)
            if n_sites is not None and n_sites > settings.max_sites:
                raise StructureError(
                    source, f"too many sites (at least {n_sites} > max_sites={settings.max_sites})")
        structure = read_structure(payload) if isinstance(payload, str | Path) else payload
        validate_structure(structure, source, max_sites=settings.max_sites)
        structure, note = resolve_disorder(structure, settings.disorder, source)
    except Exception as exc:  # noqa: BLE001 - any failure becomes this row's error
        row["error"] = row["rotation_screen_reason"] = _one_line(exc)
        return row
    row["disorder"] = note
    ctx = StructureContext(structure, source, disorder=note)
    try:
        row["connectivity"] = str(ctx.connectivity(settings.mobile_ion).framework_class)
    except FeatureUnavailable as exc:
        ctx.add_error("connectivity", _one_line(exc))
    try:
        screen = ctx.rotation_screen(settings.mobile_ion)
        row["rotation_screen"], row["rotation_screen_reason"] = bool(screen.passed), screen.reason
    except Exception as exc:  # noqa: BLE001 - the reason column says why; not a feature error
        row["rotation_screen_reason"] = _one_line(exc)
    for f in featurizers:
        labels = f.feature_labels()
        try:
            values = f.featurize(ctx)
            if len(values) != len(labels):
                raise RuntimeError(f"{len(values)} values for {len(labels)} labels")
        except Exception as exc:  # noqa: BLE001 - reason recorded, other groups go on
            ctx.add_error(f.name, _one_line(exc))
            continue
        for label, value in zip(labels, values, strict=True):
            row[label] = float(value)
    row["error"] = "; ".join(
        f"{group}: {reason}" for group, reasons in ctx.errors.items() for reason in reasons
    )
    return row


def _featurize_chunk(
    items: Sequence[tuple[str, str, str | Structure, str]],
    featurizers: Sequence[BaseFeaturizer],
    settings: FeaturizationSettings,
    cache_dir: str | None,
    time_limit_s: float | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Worker: featurize a chunk, writing each finished row to the cache at once."""
    import warnings

    from mlkit.utils import TimeLimitExceeded, time_limit

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, (row_id, source, payload, key) in enumerate(items):
            try:
                with time_limit(time_limit_s):
                    row = _featurize_one(row_id, source, payload, featurizers, settings)
            except TimeLimitExceeded:
                # not cached: a rerun with a larger limit tries again
                row = _empty_row(row_id, source, featurizers)
                row["error"] = f"time limit of {time_limit_s:g} s per structure exceeded"
                row["rotation_screen_reason"] = row["error"]
            else:
                if cache_dir is not None:
                    _store_cached(Path(cache_dir), key, row)
            out.append((index, row))
    return out


def _dask_results(client: Any, chunks: list, args: tuple) -> Iterator[list]:
    """Chunks as Dask tasks; results yielded in chunk order (rows are cached as they finish).

    At most four tasks per worker thread are in flight (submitted, running or finished but
    not yet yielded), so neither the workers nor this process hold more than that many
    chunks of rows, whatever the number of chunks. Workers run tasks in threads, where the
    per-structure time limit (``SIGALRM``) cannot be set: on Dask a structure runs
    without one.
    """
    window = max(2, 4 * sum(client.nthreads().values()))
    pending = iter(chunks)
    futures: deque = deque()

    def submit_next() -> None:
        chunk = next(pending, None)
        if chunk is not None:
            futures.append(client.submit(_featurize_chunk, [it for _, it in chunk], *args,
                                         pure=False))

    for _ in range(window):
        submit_next()
    try:
        while futures:
            fut = futures.popleft()
            result = fut.result()
            fut.release()
            submit_next()
            yield result
    finally:
        client.cancel(list(futures))


@dataclasses.dataclass(frozen=True)
class TableSummary:
    """What a streamed featurization wrote (``return_table=False``).

    Attributes
    ----------
    path : Path
        The table written.
    n_rows, n_errors, n_invalid, n_features : int
        Rows (= inputs), rows with a non-empty ``error``, rows of inputs that could not be
        read or failed validation (``disorder`` empty), feature columns.
    max_rows_held : int
        The most rows this process held in memory at once (received from workers or read
        from the cache, not yet written): bounded by the write chunk and the chunks in
        flight, not by ``n_rows``.
    """

    path: Path
    n_rows: int
    n_errors: int
    n_invalid: int
    n_features: int
    max_rows_held: int


class _RowCount:
    """Rows held in this process: +n when they arrive, -n when written and dropped."""

    def __init__(self) -> None:
        self.held = 0
        self.peak = 0

    def add(self, n: int) -> None:
        self.held += n
        self.peak = max(self.peak, self.held)

    def drop(self, n: int) -> None:
        self.held -= n


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows -> the table's dtypes (floats, str meta columns, bool screen); no attrs."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=columns)
    for col in columns[len(META_COLUMNS) :]:
        df[col] = df[col].astype(float)
    for col in META_COLUMNS:
        if col in BOOL_META_COLUMNS:
            df[col] = df[col].fillna(False).astype(bool)
        else:
            df[col] = df[col].fillna("").astype(str)
    return df


def _output_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise MlkitError(f"{path}: output must end in .csv or .parquet")
    return suffix


class _StreamWriter:
    """Rows in input order -> ``<path>.<pid>.partial`` block by block -> ``path`` at close.

    The file equals :func:`write_table` of the whole table: parquet gets the schema and
    metadata ``DataFrame.to_parquet`` writes (pandas metadata and ``PANDAS_ATTRS`` holding
    the provenance); CSV gets one header and the side-car ``<path>.mlkit.json``. Partial
    files left by killed runs (their process gone) are removed when a new one starts.
    """

    def __init__(self, path: str | Path, columns: list[str], provenance: dict[str, Any],
                 count: _RowCount, chunk_rows: int = WRITE_CHUNK_ROWS) -> None:
        self.path = Path(path)
        self.suffix = _output_suffix(self.path)
        self.columns = columns
        self.provenance = provenance
        self.count = count
        self.chunk_rows = max(1, int(chunk_rows))
        self.buffer: list[dict[str, Any]] = []
        self.n_rows = self.n_errors = self.n_invalid = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(self.path)
        self.partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        self.partial.unlink(missing_ok=True)
        self._writer: Any = None  # pyarrow.parquet.ParquetWriter, opened on the first block
        self._schema: Any = None
        self._csv: Any = None

    def add(self, row: dict[str, Any]) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= self.chunk_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer and (self._writer is not None or self._csv is not None):
            return
        df = _frame(self.buffer, self.columns)
        self.n_rows += len(df)
        self.n_errors += int((df["error"] != "").sum())
        self.n_invalid += int(df["disorder"].eq("").sum())
        if self.suffix == ".parquet":
            self._write_parquet(df)
        else:
            if self._csv is None:
                self._csv = open(self.partial, "w", newline="")  # noqa: SIM115 - closed in close()
                df.to_csv(self._csv, index=False)
            else:
                df.to_csv(self._csv, index=False, header=False)
        self.count.drop(len(self.buffer))
        self.buffer = []

    def _write_parquet(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            df.attrs[PROVENANCE_KEY] = self.provenance  # pyarrow keeps attrs in its metadata
            table = pa.Table.from_pandas(df, preserve_index=False)
            # and pandas' to_parquet adds them again (pandas.io.parquet.PyArrowImpl.write)
            meta = {**table.schema.metadata, "PANDAS_ATTRS": json.dumps(
                {PROVENANCE_KEY: self.provenance})}
            self._schema = table.schema.with_metadata(meta)
            self._writer = pq.ParquetWriter(self.partial, self._schema)
        table = pa.Table.from_pandas(df, schema=self._schema, preserve_index=False)
        self._writer.write_table(table)

    def close(self) -> Path:
        """Write what is left, then move the file into place (and the CSV side-car)."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
        if self._csv is not None:
            self._csv.flush()
            os.fsync(self._csv.fileno())
            self._csv.close()
            sidecar = self.path.with_name(self.path.name + CSV_PROVENANCE_SUFFIX)
            sidecar.unlink(missing_ok=True)
            os.replace(self.partial, self.path)
            atomic_write_text(sidecar, json.dumps(self.provenance, indent=1))
        else:
            with open(self.partial, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file (the run failed; the output is left as it was)."""
        for handle in (self._writer, self._csv):
            if handle is not None:
                try:
                    handle.close()
                except Exception:  # noqa: BLE001, S110 - already failing; remove the file
                    pass
        self.partial.unlink(missing_ok=True)


def _remove_stale_partials(path: Path) -> None:
    """Remove ``<path>.<pid>.partial`` files whose process no longer runs (killed runs)."""
    for stale in path.parent.glob(f"{path.name}.*.partial"):
        pid_text = stale.name[len(path.name) + 1 : -len(".partial")]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            stale.unlink(missing_ok=True)
        except OSError:  # alive but not ours (EPERM): leave it
            continue


def _ordered_rows(
    items: list[tuple[str, str, str | Structure, str]],
    settings: FeaturizationSettings,
    fz: Sequence[BaseFeaturizer],
    count: _RowCount,
    *,
    n_jobs: int,
    cdir: Path,
    use_cache: bool,
    progress: bool,
    chunk_size: int | None,
    time_limit_s: float | None,
    dask_client: Any,
) -> Iterator[dict[str, Any]]:
    """Every input's row, in input order: from the cache, or computed (local or Dask).

    Which rows are cached is decided by the files' presence; a cached row is read only
    when its turn comes (so cached rows are not all held at once), and one that has become
    unreadable since (removed, or another process wrote it badly) is computed here.
    """
    from tqdm.auto import tqdm

    settings_key = _settings_hash(settings, fz)
    keys = [hashlib.sha256(f"{settings_key}:{item[3]}".encode()).hexdigest() for item in items]
    todo = [i for i, key in enumerate(keys)
            if not (use_cache and _cache_file(cdir, key).is_file())]
    bar = tqdm(total=len(items), initial=len(items) - len(todo), disable=not progress,
               desc="featurize", unit="structure")
    store = str(cdir) if use_cache else None
    args = (fz, settings, store, time_limit_s)
    if chunk_size is None:
        chunk_size = max(1, min(16, math.ceil(len(todo) / (max(n_jobs, 1) * 8))))
    chunks = [[(i, (*items[i][:3], keys[i])) for i in todo[k : k + chunk_size]]
              for k in range(0, len(todo), chunk_size)]
    results: Iterable[list[tuple[int, dict[str, Any]]]]
    if not chunks:
        results = iter(())
    elif dask_client is not None:
        results = _dask_results(dask_client, chunks, args)
    elif n_jobs == 1:
        results = (_featurize_chunk([it for _, it in chunk], *args) for chunk in chunks)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
            delayed(_featurize_chunk)([it for _, it in chunk], *args) for chunk in chunks
        )
    results = iter(results)
    todo_set = set(todo)
    next_chunk = 0
    computed: dict[int, dict[str, Any]] = {}  # rows of the current result chunk, by input
    try:
        for i, (row_id, source, payload, _) in enumerate(items):
            if i in todo_set:
                if i not in computed:  # i opens the next chunk (chunks follow input order)
                    chunk, result = chunks[next_chunk], next(results)
                    next_chunk += 1
                    computed = {chunk[local][0]: row for local, row in result}
                    count.add(len(result))
                    bar.update(len(result))
                yield computed.pop(i)
                continue
            row = _load_cached(cdir, keys[i])
            if row is None:  # gone or unreadable since the scan: compute it here
                row = _featurize_chunk([(row_id, source, payload, keys[i])], *args)[0][1]
            row["id"], row["source"] = row_id, source
            count.add(1)
            yield row
    finally:
        bar.close()
        close = getattr(results, "close", None)
        if close is not None:
            close()


def _run(
    items: list[tuple[str, str, str | Structure, str]],
    settings: FeaturizationSettings,
    *,
    n_jobs: int,
    cache_dir: str | Path | None,
    use_cache: bool,
    progress: bool,
    chunk_size: int | None,
    time_limit_s: float | None = None,
    dask_client: Any = None,
    output: str | Path | None = None,
    return_table: bool = True,
    write_chunk_rows: int | None = None,
) -> pd.DataFrame | TableSummary:
    if output is None and not return_table:
        raise ValueError("return_table=False needs an output file")
    if output is not None:
        _output_suffix(Path(output))
    fz = settings.build_featurizers()
    columns = list(META_COLUMNS) + feature_columns(fz)
    cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    provenance = table_provenance(settings)
    count = _RowCount()
    # rows kept for the returned table stay held: then the writer's drops are not counted
    writer = (None if output is None else
              _StreamWriter(output, columns, provenance, _RowCount() if return_table else count,
                            WRITE_CHUNK_ROWS if write_chunk_rows is None else write_chunk_rows))
    kept: list[dict[str, Any]] | None = [] if return_table else None
    try:
        for row in _ordered_rows(items, settings, fz, count, n_jobs=n_jobs, cdir=cdir,
                                 use_cache=use_cache, progress=progress, chunk_size=chunk_size,
                                 time_limit_s=time_limit_s, dask_client=dask_client):
            if kept is not None:
                kept.append(row)
            if writer is not None:
                writer.add(row)
        path = writer.close() if writer is not None else None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if kept is None:
        assert writer is not None and path is not None
        return TableSummary(path=path, n_rows=writer.n_rows, n_errors=writer.n_errors,
                            n_invalid=writer.n_invalid,
                            n_features=len(columns) - len(META_COLUMNS),
                            max_rows_held=count.peak)
    df = _frame(kept, columns)
    df.attrs[PROVENANCE_KEY] = provenance
    return df


def _with_overrides(
    settings: FeaturizationSettings | None, overrides: Mapping[str, Any]
) -> FeaturizationSettings:
    settings = settings if settings is not None else FeaturizationSettings()
    if not isinstance(settings, FeaturizationSettings):
        raise TypeError(f"settings must be FeaturizationSettings, got {type(settings).__name__}")
    try:
        return dataclasses.replace(settings, **overrides)
    except TypeError as exc:  # an unknown keyword: name the real fields
        fields = ", ".join(f.name for f in dataclasses.fields(FeaturizationSettings))
        raise TypeError(f"{one_line(exc)}; settings fields are {fields}") from None


def featurize_paths(
    paths: Sequence[str | Path],
    settings: FeaturizationSettings | None = None,
    *,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    chunk_size: int | None = None,
    time_limit_s: float | None = 600.0,
    dask_client: Any = None,
    output: str | Path | None = None,
    return_table: bool = True,
    **overrides: Any,
) -> pd.DataFrame | TableSummary:
    """Featurize structure files: one row per input file.

    Parameters
    ----------
    paths : sequence of str or Path
        Files, directories and globs (``mlkit.structures.collect_paths``).
    settings : FeaturizationSettings, optional
        Featurizers, mobile ion, disorder strategy (recorded per row) and site limit;
        default ``FeaturizationSettings()``.
    n_jobs : int, default 1
        Worker processes (joblib loky); ``-1`` = all cores.
    cache_dir : str or Path, optional
        Row cache; default :func:`default_cache_dir`.
    progress : bool, default True
        Show a tqdm progress bar.
    use_cache : bool, default True
        False: neither read nor write the cache.
    chunk_size : int, optional
        Structures per parallel task (default: about 8 tasks per worker, at most 16).
    time_limit_s : float or None, default 600
        Wall-time limit per structure; a structure over it gets an error row naming the
        limit (not cached, so a rerun with a larger limit retries it). ``None``: no limit.
        Enforced with ``SIGALRM`` in the worker's main thread (POSIX; local and joblib
        workers), not inside threads.
    dask_client : distributed.Client, optional
        Run the chunks on a Dask cluster (LocalCluster, or dask-jobqueue on SLURM/PBS)
        instead of local processes; the table is the same.
    output : str or Path, optional
        Also write the table to this ``.csv`` or ``.parquet`` file, streamed: rows go out
        in input order, in blocks, as they finish (temp file renamed at the end; the file
        equals :func:`write_table` of the table).
    return_table : bool, default True
        False (needs ``output``): keep no table in memory and return a
        :class:`TableSummary`; memory is then bounded by the write block and the chunks
        in flight, not by the number of inputs (``mlkit featurize`` runs this way).
    **overrides
        Fields of :class:`FeaturizationSettings` replacing those of ``settings``
        (``featurize_paths(paths, mobile_ion="Li")``).

    Returns
    -------
    pandas.DataFrame of shape (n_inputs, 7 + n_features), or TableSummary
        Columns ``id, source, error, disorder, connectivity, rotation_screen,
        rotation_screen_reason`` (:data:`META_COLUMNS`) then the features; with
        ``return_table=False`` the :class:`TableSummary` of the file written.
    """
    from mlkit.structures import collect_paths, structure_id

    files = collect_paths(paths)
    by_id: dict[str, list[str]] = {}
    for p in files:
        by_id.setdefault(structure_id(p), []).append(str(p))
    clashes = {k: v for k, v in by_id.items() if len(v) > 1}
    if clashes:
        sid, where = next(iter(clashes.items()))
        raise MlkitError(
            f"{len(clashes)} id(s) shared by several inputs, e.g. {sid!r}: {', '.join(where)}; "
            "ids are file names without suffix and must be unique in a table (rename the files)")
    items = []
    for p in files:
        try:
            digest = file_sha256(p)
        except OSError as exc:
            digest = f"unreadable:{p}:{exc}"
        items.append((structure_id(p), str(p), str(p), digest))
    return _run(
        items,
        _with_overrides(settings, overrides),
        n_jobs=n_jobs,
        cache_dir=cache_dir,
        use_cache=use_cache,
        progress=progress,
        chunk_size=chunk_size,
        time_limit_s=time_limit_s,
        dask_client=dask_client,
        output=output,
        return_table=return_table,
    )


def featurize_structures(
    structures: Mapping[str, Structure],
    settings: FeaturizationSettings | None = None,
    *,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
    chunk_size: int | None = None,
    time_limit_s: float | None = 600.0,
    dask_client: Any = None,
    output: str | Path | None = None,
    return_table: bool = True,
    **overrides: Any,
) -> pd.DataFrame | TableSummary:
    """Featurize in-memory structures ``{id: Structure}``; same settings, options and table
    as :func:`featurize_paths` (``source`` = ``id``; cache key = hash of the structure's JSON).
    """
    items = []
    for key, s in structures.items():
        digest = hashlib.sha256(json.dumps(s.as_dict(), sort_keys=True, default=str).encode())
        items.append((str(key), str(key), s, digest.hexdigest()))
    return _run(
        items,
        _with_overrides(settings, overrides),
        n_jobs=n_jobs,
        cache_dir=cache_dir,
        use_cache=use_cache,
        progress=progress,
        chunk_size=chunk_size,
        time_limit_s=time_limit_s,
        dask_client=dask_client,
        output=output,
        return_table=return_table,
    )


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a feature table to ``.csv`` or ``.parquet`` (atomically: temp file + rename).

    The table's provenance (``df.attrs["mlkit"]``) goes into the parquet metadata, or
    into ``<path>.mlkit.json`` next to a CSV (a stale side-car is removed).
    """
    path = Path(path)
    suffix = _output_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        sidecar = path.with_name(path.name + CSV_PROVENANCE_SUFFIX)
        sidecar.unlink(missing_ok=True)
        atomic_write_text(path, df.to_csv(index=False))
        if PROVENANCE_KEY in df.attrs:
            atomic_write_text(sidecar, json.dumps(df.attrs[PROVENANCE_KEY], indent=1))
    else:
        buffer = io.BytesIO()
        df.to_parquet(buffer, index=False)
        atomic_write_bytes(path, buffer.getvalue())
    return path
