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

    Workers run tasks in threads, where the per-structure time limit (``SIGALRM``) cannot
    be set: on Dask a structure runs without one.
    """
    futures = [client.submit(_featurize_chunk, [it for _, it in chunk], *args, pure=False)
               for chunk in chunks]
    try:
        for fut in futures:
            yield fut.result()
    finally:
        client.cancel(futures)


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
) -> pd.DataFrame:
    import pandas as pd
    from tqdm.auto import tqdm

    fz = settings.build_featurizers()
    columns = list(META_COLUMNS) + feature_columns(fz)
    settings_key = _settings_hash(settings, fz)
    cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    rows: list[dict[str, Any] | None] = [None] * len(items)
    todo: list[tuple[int, tuple[str, str, str | Structure, str]]] = []
    for i, (row_id, source, payload, content_hash) in enumerate(items):
        key = hashlib.sha256(f"{settings_key}:{content_hash}".encode()).hexdigest()
        cached = _load_cached(cdir, key) if use_cache else None
        if cached is not None:
            cached["id"], cached["source"] = row_id, source
            rows[i] = cached
        else:
            todo.append((i, (row_id, source, payload, key)))

    bar = tqdm(
        total=len(items),
        initial=len(items) - len(todo),
        disable=not progress,
        desc="featurize",
        unit="structure",
    )
    store = str(cdir) if use_cache else None
    if todo:
        if chunk_size is None:
            chunk_size = max(1, min(16, math.ceil(len(todo) / (max(n_jobs, 1) * 8))))
        chunks = [todo[k : k + chunk_size] for k in range(0, len(todo), chunk_size)]
        args = (fz, settings, store, time_limit_s)
        if dask_client is not None:
            results = _dask_results(dask_client, chunks, args)
        elif n_jobs == 1:
            results: Iterable[list[tuple[int, dict[str, Any]]]] = (
                _featurize_chunk([it for _, it in chunk], *args) for chunk in chunks
            )
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
                delayed(_featurize_chunk)([it for _, it in chunk], *args) for chunk in chunks
            )
        for chunk, result in zip(chunks, results, strict=True):
            for local, row in result:
                rows[chunk[local][0]] = row
            bar.update(len(result))
    bar.close()
    df = pd.DataFrame([r for r in rows if r is not None], columns=columns)
    for col in columns[len(META_COLUMNS) :]:
        df[col] = df[col].astype(float)
    for col in META_COLUMNS:
        if col in BOOL_META_COLUMNS:
            df[col] = df[col].fillna(False).astype(bool)
        else:
            df[col] = df[col].fillna("").astype(str)
    df.attrs[PROVENANCE_KEY] = table_provenance(settings)
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
    **overrides: Any,
) -> pd.DataFrame:
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
    **overrides
        Fields of :class:`FeaturizationSettings` replacing those of ``settings``
        (``featurize_paths(paths, mobile_ion="Li")``).

    Returns
    -------
    pandas.DataFrame of shape (n_inputs, 7 + n_features)
        Columns ``id, source, error, disorder, connectivity, rotation_screen,
        rotation_screen_reason`` (:data:`META_COLUMNS`) then the features.
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
    **overrides: Any,
) -> pd.DataFrame:
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
    )


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a feature table to ``.csv`` or ``.parquet`` (atomically: temp file + rename).

    The table's provenance (``df.attrs["mlkit"]``) goes into the parquet metadata, or
    into ``<path>.mlkit.json`` next to a CSV (a stale side-car is removed).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise MlkitError(f"{path}: output must end in .csv or .parquet")
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
