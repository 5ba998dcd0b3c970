"""Labels CSV loading, validation, and the join with a feature table.

Every problem with the labels is either an error (one line, naming the file) or
a documented, *reported* drop -- nothing is parsed or dropped silently. The options are
one frozen :class:`LabelPolicy` value; :func:`load_labels` applies each of its policies
with one small function (``_apply_duplicates``, ``_apply_censored``, ...).

Handling (defaults in brackets)
-------------------------------
* ``id`` column missing, ``target`` column missing: error.
* duplicate ids [``duplicates="error"``]: error listing the ids; ``"first"`` keeps
  the first row of each id and reports the others.
* missing targets (empty cell / NaN): dropped and reported.
* censored targets such as ``"<1E-10"`` or ``">0.1"`` [``censored="drop"``]:
  ``"drop"`` drops and reports them; ``"value"`` uses the bound as the value
  (reported) -- with a ``threshold`` only when the class is certain (``"<b"`` with
  ``b <= threshold`` is class 0, ``">b"`` with ``b >= threshold`` class 1; others are
  dropped and reported); ``"error"`` raises.
* non-numeric targets (``"abc"``) for a numeric task: error listing the ids
  (``non_numeric="drop"`` drops and reports them instead).
* ``target_transform="log10"`` on a value <= 0: error listing the ids.
* ``threshold`` turns the raw (untransformed) value into a class: 1 if
  ``value >= threshold`` else 0.
* classification with a class that has fewer than two members (or with a
  single class): error (stratified CV is impossible).
* label ids without a feature row ("unknown ids"): dropped and reported; error
  when no id matches at all.
* feature rows whose ``error`` column is non-empty (featurization failed)
  [``feature_errors="drop"``]: excluded and reported. ``"keep-partial"`` excludes only
  rows whose features are *all* NaN (unreadable files) and keeps rows where some
  feature groups failed (e.g. "no polyanions"): their NaN features are imputed inside
  each CV fold; the count is reported.
* feature rows without a label: ignored and counted in the report.

Groups for grouped CV (:func:`load_groups`, ``mlkit train --group-column COL``): a
column of the same labels file (e.g. OBELiX's ``Family``). A row whose group cell is
empty (or NaN/``na``/``none``) is its own group (``"id:<id>"``, so it can never leak into
another fold; the count is reported); a missing column is an error.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.utils import one_line

#: columns of a featurize table that are metadata, never model inputs
METADATA_COLUMNS = (
    "id",
    "source",
    "error",
    "disorder",
    "formula",
    "composition",
    "rotation_screen",
    "rotation_screen_reason",
)
CENSORED_POLICIES = ("drop", "value", "error")
DUPLICATE_POLICIES = ("error", "first")
NON_NUMERIC_POLICIES = ("error", "drop")
FEATURE_ERROR_POLICIES = ("drop", "keep-partial")
TARGET_TRANSFORMS = (None, "log10")
TASKS = ("classification", "regression")

_CENSORED_RE = re.compile(r"^\s*([<>]=?)\s*([-+0-9.eE]+)\s*$")


@dataclass
class DatasetReport:
    """What happened to every row on the way from labels/features to ``(X, y)``.

    Attributes
    ----------
    dropped : dict of str to list of str
        Reason -> ids dropped for that reason (e.g. ``"censored"``, ``"missing target"``,
        ``"unknown id"``, ``"featurization error"``).
    notes : list of str
        Human-readable one-line messages, in the order they happened.
    n_labels, n_features, n_used : int
        Label rows read, feature rows given, rows in the final table.
    task : str
        ``"classification"`` or ``"regression"``.
    """

    dropped: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    n_labels: int = 0
    n_features: int = 0
    n_used: int = 0
    task: str = ""
    class_counts: dict[str, int] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)

    def drop(self, reason: str, ids: Sequence[str], detail: str = "") -> None:
        """Record ``ids`` dropped for ``reason`` and add a one-line note."""
        ids = [str(i) for i in ids]
        if not ids:
            return
        self.dropped.setdefault(reason, []).extend(ids)
        shown = ", ".join(ids[:8]) + (f", ... (+{len(ids) - 8})" if len(ids) > 8 else "")
        extra = f" ({detail})" if detail else ""
        self.notes.append(f"dropped {len(ids)} row(s): {reason}{extra}: {shown}")

    def note(self, message: str) -> None:
        self.notes.append(message)

    def summary(self) -> str:
        """Multi-line summary, one note per line."""
        head = f"{self.n_used} rows used ({self.task}); {self.n_labels} label rows, " \
               f"{self.n_features} feature rows"
        if self.class_counts:
            head += "; classes " + ", ".join(f"{k}: {v}" for k, v in self.class_counts.items())
        return "\n".join([head, *self.notes])

    def to_dict(self) -> dict:
        return {
            "n_labels": self.n_labels,
            "n_features": self.n_features,
            "n_used": self.n_used,
            "task": self.task,
            "class_counts": dict(self.class_counts),
            "classes": list(self.classes),
            "dropped": {k: list(v) for k, v in self.dropped.items()},
            "notes": list(self.notes),
        }


def sha256_frame(frame: pd.DataFrame) -> str:
    """Hex sha256 of a DataFrame's content (column names, index and values)."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _parse_target(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Split raw target cells into numeric values and flags.

    Returns
    -------
    values : Series of float (NaN where not a plain number)
    missing, censored, non_numeric : Series of bool
    censored bounds are returned inside ``values`` only via :func:`_censored_bound`.
    """
    values = pd.Series(np.nan, index=raw.index, dtype=float)
    missing = pd.Series(False, index=raw.index)
    censored = pd.Series(False, index=raw.index)
    non_numeric = pd.Series(False, index=raw.index)
    for idx, cell in raw.items():
        if cell is None or (isinstance(cell, float) and np.isnan(cell)):
            missing[idx] = True
            continue
        if isinstance(cell, (bool, np.bool_)):
            values[idx] = float(cell)
            continue
        if isinstance(cell, (int, float, np.integer, np.floating)):
            values[idx] = float(cell)
            continue
        text = str(cell).strip()
        if text == "" or text.lower() in ("nan", "na", "n/a", "none", "null"):
            missing[idx] = True
            continue
        try:
            values[idx] = float(text)
            continue
        except ValueError:
            pass
        if _CENSORED_RE.match(text):
            censored[idx] = True
        else:
            non_numeric[idx] = True
    return values, missing, censored, non_numeric


def _censored_bound(text: str) -> float:
    match = _CENSORED_RE.match(str(text))
    assert match is not None
    return float(match.group(2))


@dataclass(frozen=True)
class LabelPolicy:
    """How a labels table becomes a target: one value, stored with the model.

    Parameters
    ----------
    target : str
        Target column name.
    task : {"classification", "regression"} or None
        None infers: classification when ``threshold`` is given, when the target is
        not numeric, or when its numeric values are exactly {0, 1}; otherwise regression.
    target_transform : {None, "log10"}
        Applied to the value after parsing (regression only; ignored for the class
        when ``threshold`` is given, which compares the raw value).
    threshold : float, optional
        Class 1 if raw value >= threshold, else 0.
    censored : {"drop", "value", "error"}
        Handling of censored cells such as ``"<1E-10"`` (see module docstring).
    duplicates : {"error", "first"}
        Handling of duplicate ids.
    non_numeric : {"error", "drop"}
        Handling of non-numeric cells for a numeric target.
    id_column : str
        Name of the id column (structure file stems).
    feature_errors : {"drop", "keep-partial"}
        Rows whose featurization reported an error (see module docstring).
    """

    target: str
    task: str | None = None
    target_transform: str | None = None
    threshold: float | None = None
    censored: str = "drop"
    duplicates: str = "error"
    non_numeric: str = "error"
    id_column: str = "id"
    feature_errors: str = "drop"

    def __post_init__(self) -> None:
        for name, allowed in (
            ("censored", CENSORED_POLICIES), ("duplicates", DUPLICATE_POLICIES),
            ("non_numeric", NON_NUMERIC_POLICIES), ("target_transform", TARGET_TRANSFORMS),
            ("feature_errors", FEATURE_ERROR_POLICIES), ("task", (None, *TASKS)),
        ):
            if getattr(self, name) not in allowed:
                raise MlkitError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.threshold is not None and self.task == "regression":
            raise MlkitError(
                "threshold turns the target into classes: it needs task=classification"
            )

    def to_dict(self) -> dict:
        """JSON-ready dict; ``LabelPolicy(**d)`` reads it back."""
        return asdict(self)


def load_labels(
    csv: str | Path | pd.DataFrame,
    policy: LabelPolicy | str,
    *,
    report: DatasetReport | None = None,
    **overrides,
) -> tuple[pd.Series, DatasetReport]:
    """Read a labels CSV and return a clean target Series indexed by id.

    Parameters
    ----------
    csv : path or DataFrame
        Labels table with the policy's ``id_column`` (structure file stems) and ``target``.
    policy : LabelPolicy or str
        The label policy; a str is the target column of ``LabelPolicy(target, **overrides)``.
    report : DatasetReport, optional
        Appended to; a new one is created if None.
    **overrides
        Fields of :class:`LabelPolicy` replacing those of ``policy``.

    Returns
    -------
    y : Series of shape (n_labels,)
        float for regression, int class codes 0..k-1 for classification; index = id (str).
        For string classes, ``y.attrs["classes"]`` lists the class names in code order.
    report : DatasetReport
    """
    policy = _policy(policy, overrides)
    report = report if report is not None else DatasetReport()
    source, table = _read_labels(csv, policy)
    report.n_labels = len(table)
    ids = _clean_ids(table[policy.id_column], source)
    later = _apply_duplicates(ids, policy, source, report)
    raw = pd.Series(
        table[policy.target].to_numpy()[~later], index=ids.to_numpy()[~later], name=policy.target
    )

    values, missing, cens, nonnum = _parse_target(raw)
    report.drop("missing target", list(raw.index[missing.to_numpy()]))
    if missing.all():
        raise MlkitError(f"{source}: no target value in {policy.target!r} ({len(raw)} rows)")
    numeric_like = (~missing & ~nonnum).sum()
    if policy.task != "regression" and policy.threshold is None and nonnum.sum() > 0 and (
        policy.task == "classification" or numeric_like == 0
    ):
        return _string_classes(raw, missing, source, policy, report), report
    if cens.any():
        _apply_censored(raw, values, cens, source, policy, report)
    if nonnum.any():
        _apply_non_numeric(raw, nonnum, source, policy, report)
    y = values[(~(missing | cens | nonnum)).to_numpy()].astype(float)
    if y.empty:
        raise MlkitError(
            f"{source}: no usable target in {policy.target!r}: every row was dropped "
            f"({'; '.join(report.notes[-3:])})"
        )
    if not np.all(np.isfinite(y.to_numpy())):
        bad = list(y.index[~np.isfinite(y.to_numpy())])
        raise MlkitError(
            f"{source}: non-finite target(s) in {policy.target!r}: {', '.join(bad[:8])}"
        )
    if policy.threshold is not None:
        return _apply_threshold(y, source, policy, report), report
    task = policy.task
    if task is None:
        uniq = set(np.unique(y.to_numpy()))
        task = "classification" if uniq and uniq <= {0.0, 1.0} else "regression"
        report.note(f"task inferred: {task}")
    report.task = task
    if task == "classification":
        return _numeric_classes(y, source, policy, report), report
    return _apply_transform(y, source, policy, report), report


def _policy(policy: LabelPolicy | str, overrides: dict) -> LabelPolicy:
    if isinstance(policy, str):
        return LabelPolicy(policy, **overrides)
    return replace(policy, **overrides) if overrides else policy


#: byte-order marks recognised in a labels file, longest first (UTF-32 LE starts as UTF-16 LE)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: delimiters a labels file may use (the one most frequent in the header line wins)
LABEL_DELIMITERS = (",", ";", "\t")


def _decode_labels(raw: bytes, source: str) -> str:
    """Text of a labels file: UTF-8 (BOM or not), or UTF-16/32 with a byte-order mark."""
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise MlkitError(
            f"{source}: not {encoding.upper()} text (byte 0x{raw[exc.start]:02x} at position "
            f"{exc.start}); save it as a UTF-8 CSV"
        ) from None
    if "\x00" in text:
        raise MlkitError(
            f"{source}: holds NUL bytes (UTF-16 without a byte-order mark, or not a text file); "
            "save it as a UTF-8 CSV"
        )
    return text


def _read_labels(csv: str | Path | pd.DataFrame, policy: LabelPolicy) -> tuple[str, pd.DataFrame]:
    """The labels table and its name for messages; checks the id and target columns."""
    source, table = _read_table(csv)
    for what, col in (("id", policy.id_column), ("target", policy.target)):
        if col not in table.columns:
            raise MlkitError(
                f"{source}: no {what} column {col!r} "
                f"(columns: {', '.join(map(str, table.columns))})"
            )
    return source, table


def _read_table(csv: str | Path | pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """A labels table (all cells str) and its name for messages.

    A file may be UTF-8 (with or without BOM) or UTF-16/32 with a byte-order mark, and
    comma-, semicolon- or tab-separated (the delimiter most frequent in the header line);
    surrounding spaces of the column names are dropped.
    """
    if isinstance(csv, pd.DataFrame):
        source, table = "labels", csv.copy()
    else:
        source = str(csv)
        if not Path(csv).is_file():
            raise FileNotFoundError(f"{source}: labels file not found")
        text = _decode_labels(Path(csv).read_bytes(), source)
        if not text.strip():
            raise MlkitError(f"{source}: empty labels file")
        header = next(line for line in text.splitlines() if line.strip())
        sep = max(LABEL_DELIMITERS, key=header.count)
        try:
            table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise MlkitError(f"{source}: not a readable CSV ({one_line(exc)})") from exc
        table.columns = [str(c).strip() for c in table.columns]
        repeated = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
        if repeated:
            raise MlkitError(f"{source}: repeated column name(s) {', '.join(map(repr, repeated))}")
        if table.empty:
            raise MlkitError(f"{source}: no label rows (only a header)")
    return source, table


#: group cells that mean "no group" (the row becomes its own group)
_NO_GROUP = ("", "nan", "na", "n/a", "none", "null")


def load_groups(
    csv: str | Path | pd.DataFrame,
    group_column: str,
    ids: Sequence[str],
    *,
    id_column: str = "id",
    report: DatasetReport | None = None,
) -> pd.Series:
    """Group label of each of ``ids`` from a column of the labels table (grouped CV).

    Parameters
    ----------
    csv : path or DataFrame
        The labels table (read as :func:`load_labels` reads it).
    group_column : str
        Column holding the group (e.g. a structure family).
    ids : sequence of str
        The rows to label, e.g. the index of the training table; each must be in the file.
    id_column : str
        The id column (the label policy's ``id_column``).
    report : DatasetReport, optional
        Receives one note: the number of groups and of rows without a group.

    Returns
    -------
    Series of str, index = ``ids``
        A row with an empty group cell is its own group ``"id:<id>"``. With repeated
        ids the first row counts (as ``duplicates="first"`` does for the target).
    """
    source, table = _read_table(csv)
    for what, col in (("id", id_column), ("group", group_column)):
        if col not in table.columns:
            raise MlkitError(
                f"{source}: no {what} column {col!r} "
                f"(columns: {', '.join(map(str, table.columns))})"
            )
    keys = _clean_ids(table[id_column], source)
    cells = pd.Series(table[group_column].to_numpy(), index=keys.to_numpy())
    cells = cells[~cells.index.duplicated(keep="first")]
    ids = [str(i) for i in ids]
    missing = [i for i in ids if i not in cells.index]
    if missing:
        raise MlkitError(
            f"{source}: {len(missing)} id(s) without a row: {', '.join(missing[:8])}"
        )
    text = cells.loc[ids].astype(str).str.strip()
    empty = text.str.lower().isin(_NO_GROUP)
    groups = text.where(~empty, "id:" + pd.Series(ids, index=text.index))
    groups.name = group_column
    if report is not None:
        report.note(
            f"groups from {group_column!r}: {groups.nunique()} distinct over {len(ids)} rows"
            + (f" ({int(empty.sum())} row(s) without a group, each its own group)"
               if empty.any() else "")
        )
    return groups


def _clean_ids(column: pd.Series, source: str) -> pd.Series:
    ids = column.astype(str).str.strip()
    empty = ids == ""
    if empty.any():
        rows = [str(i + 2) for i in np.flatnonzero(empty.to_numpy())]
        raise MlkitError(f"{source}: empty id in CSV line(s) {', '.join(rows[:8])}")
    return ids


def _apply_duplicates(
    ids: pd.Series, policy: LabelPolicy, source: str, report: DatasetReport
) -> np.ndarray:
    """Policy ``duplicates``: error, or keep the first row of each id (reported).

    Returns the boolean mask of the rows dropped (the later rows of a repeated id).
    """
    later = ids.duplicated(keep="first").to_numpy()
    if later.any():
        dup_ids = sorted(set(ids[ids.duplicated(keep=False)]))
        if policy.duplicates == "error":
            raise MlkitError(
                f"{source}: duplicate ids ({len(dup_ids)}): {', '.join(dup_ids[:8])}"
                " (fix the file or pass duplicates='first')"
            )
        report.drop("duplicate id (kept first row)", list(ids[later]))
    return later


def _string_classes(
    raw: pd.Series, missing: pd.Series, source: str, policy: LabelPolicy, report: DatasetReport
) -> pd.Series:
    """Classification on string labels (e.g. ``"fast"`` / ``"slow"``), classes sorted."""
    labels = raw[(~missing).to_numpy()].astype(str).str.strip()
    classes = sorted(labels.unique())
    y = pd.Series(
        pd.Categorical(labels, categories=classes).codes.astype(int), index=labels.index
    )
    y.attrs["classes"] = classes
    report.task = "classification"
    return _check_classes(y, source, policy.target, report)


def _apply_censored(
    raw: pd.Series,
    values: pd.Series,
    cens: pd.Series,
    source: str,
    policy: LabelPolicy,
    report: DatasetReport,
) -> None:
    """Policy ``censored`` (``"<1E-10"``): error, drop, or use the bound (updates in place)."""
    cens_ids = list(raw.index[cens.to_numpy()])
    examples = sorted(set(raw[cens.to_numpy()].astype(str)))[:4]
    if policy.censored == "error":
        raise MlkitError(
            f"{source}: {len(cens_ids)} censored target(s) in {policy.target!r} "
            f"(e.g. {', '.join(examples)}; ids {', '.join(cens_ids[:8])}); "
            "pass censored='drop' or 'value'"
        )
    if policy.censored == "drop":
        report.drop("censored target", cens_ids, f"values {', '.join(examples)}")
        return
    threshold = policy.threshold
    ambiguous = []
    for idx in np.flatnonzero(cens.to_numpy()):
        text = str(raw.iloc[idx]).strip()
        bound = _censored_bound(text)
        if threshold is not None and (
            (text.startswith("<") and bound > threshold)
            or (text.startswith(">") and bound < threshold)
        ):
            ambiguous.append(raw.index[idx])  # class unknown: stays censored
            continue
        values.iloc[idx] = bound
        cens.iloc[idx] = False
    n_used = len(cens_ids) - len(ambiguous)
    if n_used:
        report.note(
            f"{n_used} censored target(s) ({', '.join(examples)}) replaced by their "
            f"bound: {', '.join([i for i in cens_ids if i not in ambiguous][:8])}"
        )
    report.drop("censored target on the wrong side of the threshold (class unknown)", ambiguous)


def _apply_non_numeric(
    raw: pd.Series, nonnum: pd.Series, source: str, policy: LabelPolicy, report: DatasetReport
) -> None:
    """Policy ``non_numeric``: error listing the ids, or drop them (reported)."""
    bad_ids = list(raw.index[nonnum.to_numpy()])
    examples = sorted(set(raw[nonnum.to_numpy()].astype(str)))[:4]
    if policy.non_numeric == "error":
        raise MlkitError(
            f"{source}: non-numeric target(s) in {policy.target!r}: "
            + ", ".join(f"{i}={raw[i]!r}" for i in bad_ids[:8])
            + " (fix the file or pass non_numeric='drop')"
        )
    report.drop("non-numeric target", bad_ids, f"values {', '.join(examples)}")


def _apply_threshold(
    y: pd.Series, source: str, policy: LabelPolicy, report: DatasetReport
) -> pd.Series:
    """Policy ``threshold``: class 1 when the raw value is >= threshold."""
    report.task = "classification"
    y = (y >= float(policy.threshold)).astype(int)
    report.note(
        f"class 1 = {policy.target} >= {policy.threshold:g} (raw value, before any transform)"
    )
    return _check_classes(y, source, policy.target, report)


def _numeric_classes(
    y: pd.Series, source: str, policy: LabelPolicy, report: DatasetReport
) -> pd.Series:
    """Integer class labels -> codes 0..k-1 (``attrs["classes"]`` keeps the labels)."""
    codes = y.to_numpy()
    if not np.allclose(codes, np.round(codes)):
        raise MlkitError(
            f"{source}: target {policy.target!r} has non-integer values; for classification "
            "give integer/string classes or a threshold"
        )
    classes = sorted(np.unique(codes.astype(int)).tolist())
    y = pd.Series(np.searchsorted(classes, codes.astype(int)), index=y.index)
    y.attrs["classes"] = [str(c) for c in classes]
    return _check_classes(y, source, policy.target, report)


def _apply_transform(
    y: pd.Series, source: str, policy: LabelPolicy, report: DatasetReport
) -> pd.Series:
    """Policy ``target_transform`` of a regression target (``log10`` needs values > 0)."""
    target = policy.target
    if policy.target_transform == "log10":
        nonpos = y <= 0
        if nonpos.any():
            bad = list(y.index[nonpos.to_numpy()])
            raise MlkitError(
                f"{source}: log10 transform needs positive targets; {len(bad)} value(s) <= 0: "
                + ", ".join(bad[:8])
            )
        y = np.log10(y)
        report.note(f"target transformed: log10({target})")
    y.name = f"log10({target})" if policy.target_transform == "log10" else target
    return y


def _check_classes(y: pd.Series, source: str, target: str, report: DatasetReport) -> pd.Series:
    counts = y.value_counts().sort_index()
    classes = y.attrs.get("classes") or [str(c) for c in counts.index]
    names = {code: (classes[code] if code < len(classes) else str(code)) for code in counts.index}
    report.class_counts = {names[c]: int(n) for c, n in counts.items()}
    if not report.classes:
        report.classes = [names[c] for c in counts.index]
    if len(counts) < 2:
        raise MlkitError(
            f"{source}: target {target!r} has a single class ({report.class_counts}); "
            "classification needs at least two"
        )
    small = [names[c] for c, n in counts.items() if n < 2]
    if small:
        raise MlkitError(
            f"{source}: class(es) {', '.join(small)} of {target!r} have a single member "
            f"(counts {report.class_counts}); stratified CV needs >= 2 per class "
            "(and >= the number of outer folds to use all folds)"
        )
    y.name = target
    return y


def load_features(path: str | Path) -> pd.DataFrame:
    """Read a feature table (``.parquet`` or ``.csv``) written by ``mlkit featurize``.

    Its provenance (how it was made: featurization settings and feature schema) comes
    back in ``frame.attrs["mlkit"]``: from the parquet metadata, or from the side-car
    ``<table>.csv.mlkit.json`` of a CSV; absent for tables made elsewhere.
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: feature table not found")
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    elif path.suffix.lower() in (".csv", ".txt"):
        frame = pd.read_csv(path, keep_default_na=True)
        if "error" in frame.columns:
            frame["error"] = frame["error"].fillna("").astype(str)
        sidecar = path.with_name(path.name + ".mlkit.json")
        if sidecar.is_file():
            try:
                frame.attrs["mlkit"] = json.loads(sidecar.read_text())
            except ValueError as exc:
                raise MlkitError(f"{sidecar}: unreadable provenance ({one_line(exc)})") from None
    else:
        raise MlkitError(f"{path}: unknown feature table format (use .parquet or .csv)")
    if "id" not in frame.columns:
        raise MlkitError(f"{path}: feature table has no 'id' column")
    frame["id"] = frame["id"].astype(str)
    return frame


def build_training_table(
    features: pd.DataFrame,
    labels: str | Path | pd.DataFrame,
    policy: LabelPolicy | str,
    **overrides,
) -> tuple[pd.DataFrame, pd.Series, DatasetReport]:
    """Join a feature table with labels into model inputs.

    Parameters
    ----------
    features : DataFrame
        One row per structure, column ``"id"`` (file stem) plus feature columns;
        optional metadata columns ``source``, ``error``, ``disorder`` are not features.
    labels : path or DataFrame
        See :func:`load_labels`.
    policy : LabelPolicy or str
        The label policy (a str is the target column); ``feature_errors`` says which rows
        with a non-empty ``error`` are dropped (see module docstring).
    **overrides
        Fields of :class:`LabelPolicy` replacing those of ``policy``.

    Returns
    -------
    X : DataFrame of shape (n_samples, n_columns)
        Feature columns (numeric plus categorical such as ``"connectivity"``), index = id,
        rows in the order of the labels file. No column filtering is done here
        (see :mod:`mlkit.models.preprocessing`).
    y : Series of shape (n_samples,)
    report : DatasetReport
    """
    policy = _policy(policy, overrides)
    feature_errors = policy.feature_errors
    target = policy.target
    report = DatasetReport()
    y, report = load_labels(labels, policy, report=report)
    if "id" not in features.columns:
        raise MlkitError("feature table has no 'id' column")
    feats = features.copy()
    feats["id"] = feats["id"].astype(str)
    report.n_features = len(feats)
    dup = feats["id"].duplicated(keep=False)
    if dup.any():
        raise MlkitError(
            "feature table has duplicate ids: " + ", ".join(sorted(set(feats.loc[dup, "id"]))[:8])
        )
    if "error" in feats.columns:
        err = feats["error"].fillna("").astype(str).str.strip() != ""
        if feature_errors == "keep-partial":
            values = feats[[c for c in feats.columns if c not in METADATA_COLUMNS]]
            numeric = values.apply(pd.to_numeric, errors="coerce")
            partial = err & numeric.notna().any(axis=1)
            n_partial = int(sum(partial & feats["id"].isin(y.index)))
            if n_partial:
                report.note(
                    f"{n_partial} labelled row(s) with partial featurization errors kept "
                    "(their NaN features are imputed inside each fold)"
                )
            err = err & ~partial
        failed = feats.loc[err]
        labelled_failed = [i for i in failed["id"] if i in y.index]
        for i, msg in zip(failed["id"], failed["error"], strict=True):
            if i in y.index:
                report.note(f"featurization error for {i}: {msg}")
        report.drop("featurization error", labelled_failed)
        feats = feats.loc[~err]
        y = y.drop(index=labelled_failed)
    feats = feats.set_index("id")
    unknown = [i for i in y.index if i not in feats.index]
    if len(unknown) == len(y):
        raise MlkitError(
            f"none of the {len(y)} label ids matches a structure/feature id "
            f"(labels e.g. {', '.join(list(y.index[:3]))}; features e.g. "
            f"{', '.join(list(feats.index[:3]))})"
        )
    report.drop("unknown id (no structure/feature row)", unknown)
    y = y.drop(index=unknown)
    unlabelled = [i for i in feats.index if i not in y.index]
    if unlabelled:
        report.note(f"{len(unlabelled)} feature row(s) have no label and are not used")
    feature_cols = [c for c in feats.columns if c not in METADATA_COLUMNS]
    X = feats.loc[list(y.index), feature_cols]
    X.index.name = "id"
    if report.task == "classification":
        y = _check_classes(y, "labels", target, report)
    report.n_used = len(y)
    return X, y, report
