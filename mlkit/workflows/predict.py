"""The ``mlkit predict`` job: featurize new structures as the model was trained, predict.

``predict_paths("models:/NAME@ALIAS", ["new/*.cif"])`` loads the model
(:func:`~mlkit.workflows.model.load_trained_model`: a local directory needs no mlflow),
featurizes the structures with the model's own
:class:`~mlkit.features.settings.FeaturizationSettings` -- the object stored with it, so
the featurizers, mobile ion, disorder strategy and site limit are those of training by
construction -- and returns one row per input:

======================= ===============================================================
column                  meaning
======================= ===============================================================
id, source              file stem, path
prediction              value (regression, in model units, e.g. log10 S/cm) or class name
prediction_raw          ``10**prediction`` when the model was trained with log10 targets
probability             P(class 1) for binary classification (NaN for regression)
out_of_range            True when any model input lies outside the training min/max
out_of_range_features   ";"-joined names of those inputs
error                   "" or why the file could not be read / featurized (then no
                        prediction); one bad file never stops the others
warning                 "" or why a predicted row is less certain: the model inputs that
                        were missing and imputed, by feature group (below), and the
                        featurization errors behind them; an allowed model mismatch
======================= ===============================================================

Partial rows (a prediction for every readable structure): when some feature groups of a
structure failed (no charge-balanced oxidation states, no non-Li cation polyhedra, no
mobile ion) and others did not, the missing model inputs are imputed by the model's own
fitted imputer -- the training medians, the same step that imputes inside each CV fold
of a ``feature_errors="keep-partial"`` training -- and the row is predicted, with
``warning`` = ``"imputed as in training: electrostatic (ewald_energy_per_atom_eV, ...);
geometry (aal); featurization errors: <the error column>"``. This holds for models
trained with either ``feature_errors`` policy: a ``"drop"`` model saw no such rows in
training, but its pipeline imputes the same way (it also imputes its training rows' own
NaN features), and the warning says which inputs were made up. ``refuse_partial=True``
(``mlkit predict --refuse-partial``) keeps such rows as error rows without a prediction
instead. A row none of whose model inputs was computed (an unreadable file) is always an
error row. A row without featurization errors whose model inputs include NaN (a feature
undefined for that structure) is predicted with the same kind of warning.

Model mismatch: a table whose provenance (``attrs["mlkit"]``, kept by
:func:`~mlkit.features.write_table` and :func:`~mlkit.models.dataset.load_features`) says
it was made with other featurization settings (featurizers, mobile ion, disorder, site
limit, group parameters) or another feature schema (row layout, feature code) than the
model's inputs is refused in one line naming each difference; so is a table that lacks
model inputs (missing or renamed columns; columns the model does not read are ignored).
:func:`predict_paths` featurizes with the model's settings, so only the feature code can
differ there (another mlkit since training). ``allow_mismatch=True``
(``--allow-feature-mismatch``) predicts anyway and puts the differences in ``warning``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.features import featurize_paths
from mlkit.models.dataset import load_features
from mlkit.structures import collect_paths
from mlkit.workflows.model import TrainedModel, check_feature_provenance, load_trained_model

__all__ = ["OUTPUT_COLUMNS", "predict_features", "predict_paths", "predict_table"]

OUTPUT_COLUMNS = (
    "id", "source", "prediction", "prediction_raw", "probability", "out_of_range",
    "out_of_range_features", "error", "warning",
)


def _check_columns(model: TrainedModel, frame: pd.DataFrame, source: str) -> None:
    """Refuse a table without the model's input columns (missing or renamed)."""
    try:
        model.fitted.prepare_inputs(frame.head(1))
    except MlkitError as exc:
        known = set(model.fitted.input_columns) | {"id", "source", "error", "disorder",
                                                   "rotation_screen", "rotation_screen_reason"}
        unknown = [str(c) for c in frame.columns if c not in known]
        extra = (f"; columns the model does not know: {', '.join(unknown[:8])}"
                 + (f" (+{len(unknown) - 8})" if len(unknown) > 8 else "")) if unknown else ""
        raise MlkitError(f"{source} does not match the model: {exc}{extra} (made with other "
                         "featurizers or renamed?)") from None


def _feature_groups(model: TrainedModel) -> dict[str, str]:
    """Raw feature column -> featurizer group of the model's featurization ({} when the
    featurizers cannot be built here, e.g. an optional dependency is missing).
    """
    try:
        featurizers = model.featurization.build_featurizers()
    except (MlkitError, ImportError, KeyError, TypeError, ValueError):
        return {}
    return {label: f.name for f in featurizers for label in f.feature_labels()}


def _imputed_note(missing: list[str], groups: dict[str, str]) -> str:
    """``"imputed as in training: electrostatic (a, b); geometry (c)"`` for ``missing``."""
    by_group: dict[str, list[str]] = {}
    for col in missing:
        by_group.setdefault(groups.get(col, "other"), []).append(col)
    parts = [f"{g} ({', '.join(cols)})" for g, cols in by_group.items()]
    return "imputed as in training: " + "; ".join(parts)


def predict_table(
    model: TrainedModel,
    features: pd.DataFrame,
    *,
    source: str = "feature table",
    allow_mismatch: bool = False,
    refuse_partial: bool = False,
) -> pd.DataFrame:
    """Predictions for a feature table, one per row with any model input computed.

    Parameters
    ----------
    model : TrainedModel
    features : DataFrame
        ``id`` (+ ``source``, ``error``) and the raw feature columns; its
        ``attrs["mlkit"]`` (provenance), when present, must match the model.
    source : str
        The table's name in error messages.
    allow_mismatch : bool, default False
        Predict a table made differently from the model's inputs; the differences go to
        every row's ``warning``.
    refuse_partial : bool, default False
        Rows with featurization errors stay error rows even when some model inputs were
        computed (default: predicted, the missing inputs imputed as in training and named
        in ``warning``; module docstring).

    Returns
    -------
    DataFrame with :data:`OUTPUT_COLUMNS`, one row per input row, input order.

    Raises
    ------
    MlkitError
        The table's provenance differs from the model's (each difference named), or it
        lacks model inputs.
    """
    where = "here" if source == "this mlkit's featurization" else "in the table"
    diffs = check_feature_provenance(model, features.attrs.get("mlkit"), source=source,
                                     allow_mismatch=allow_mismatch, where=where)
    frame = features.reset_index(drop=True).copy()
    if "id" not in frame:
        raise MlkitError(f"{source} has no 'id' column")
    _check_columns(model, frame, source)
    if "source" not in frame:
        frame["source"] = ""
    err = frame["error"].fillna("").astype(str) if "error" in frame else pd.Series(
        "", index=frame.index
    )
    out = pd.DataFrame({
        "id": frame["id"].astype(str), "source": frame["source"].astype(str),
        "prediction": pd.Series([None] * len(frame), dtype=object),
        "prediction_raw": np.nan, "probability": np.nan,
        "out_of_range": pd.Series([None] * len(frame), dtype=object),
        "out_of_range_features": "", "error": err,
    })
    ok = (err.str.strip() == "").to_numpy()
    out["warning"] = ""
    cols = [c for c in model.fitted.input_columns
            if c in frame.columns and c not in model.fitted.categorical]
    computed = frame[cols].apply(pd.to_numeric, errors="coerce").notna().to_numpy()
    if not refuse_partial:  # partial rows: some inputs computed -> predicted with a warning
        ok = ok | (computed.any(axis=1) & (err.str.strip() != "").to_numpy())
    groups = _feature_groups(model) if not computed[ok].all() else {}
    for i in np.flatnonzero(ok):
        missing = [c for c, done in zip(cols, computed[i], strict=True) if not done]
        notes = [_imputed_note(missing, groups)] if missing else []
        if err.iat[i].strip():
            notes.append("featurization errors: " + err.iat[i])
        out.at[i, "warning"] = "; ".join(notes)
        out.at[i, "error"] = ""
    if ok.any():
        pred = model.predict_frame(frame.loc[ok])
        out.loc[ok, "prediction"] = pred["prediction"].to_numpy()
        out.loc[ok, "probability"] = pred["probability"].to_numpy()
        out.loc[ok, "out_of_range"] = pred["out_of_range"].to_numpy()
        out.loc[ok, "out_of_range_features"] = pred["out_of_range_features"].to_numpy()
        if model.labels.target_transform == "log10" and model.task == "regression":
            out.loc[ok, "prediction_raw"] = 10.0 ** pred["prediction"].to_numpy(dtype=float)
    if diffs:
        note = "model mismatch allowed: " + "; ".join(diffs)
        out["warning"] = [f"{w}; {note}" if w else note for w in out["warning"]]
    return out[list(OUTPUT_COLUMNS)]


def predict_paths(
    model: str | Path | TrainedModel,
    paths: Sequence[str | Path],
    *,
    tracking_uri: str | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
    allow_mismatch: bool = False,
    refuse_partial: bool = False,
) -> pd.DataFrame:
    """Featurize ``paths`` as at training time and predict them.

    Parameters
    ----------
    model : str, Path or TrainedModel
        A model directory, ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or
        ``runs:/RUN_ID/model`` (see :func:`load_trained_model`), or a loaded model.
    paths : sequence of str or Path
        Files, directories or globs; an entry that matches nothing becomes an error row.
    tracking_uri : str, optional
        As for training (default ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``).
    jobs, cache_dir, use_cache, progress
        As for :func:`mlkit.features.featurize_paths`.
    allow_mismatch : bool, default False
        Predict even when this mlkit's feature code differs from the model's (see
        :func:`predict_table`).
    refuse_partial : bool, default False
        Keep partially featurized structures as error rows (see :func:`predict_table`).

    Returns
    -------
    DataFrame with :data:`OUTPUT_COLUMNS`.

    Raises
    ------
    MlkitError
        The feature code or row layout of this mlkit differs from the model's (checked
        before featurizing).
    """
    from mlkit.features import table_provenance

    if not isinstance(model, TrainedModel):
        model = load_trained_model(model, tracking_uri=tracking_uri)
    provenance = table_provenance(model.featurization)
    # before featurizing: only the feature code can differ (the settings are the model's)
    check_feature_provenance(model, provenance, source="this mlkit's featurization",
                             allow_mismatch=allow_mismatch, where="here")
    files: list[Path] = []
    bad_rows = []
    for entry in paths:
        try:
            files.extend(collect_paths([entry]))
        except FileNotFoundError as exc:
            bad_rows.append({"id": Path(str(entry)).stem, "source": str(entry), "error": str(exc)})
    tables = []
    if files:
        tables.append(featurize_paths(
            files, model.featurization, n_jobs=jobs, cache_dir=cache_dir,
            use_cache=use_cache, progress=progress,
        ))
    if bad_rows:
        tables.append(pd.DataFrame(bad_rows))
    if not tables:
        raise FileNotFoundError("no structure files given")
    features = pd.concat(tables, ignore_index=True)
    features.attrs["mlkit"] = provenance
    return predict_table(model, features, source="this mlkit's featurization",
                         allow_mismatch=allow_mismatch, refuse_partial=refuse_partial)


def predict_features(
    model: str | Path | TrainedModel,
    features: str | Path | pd.DataFrame,
    *,
    tracking_uri: str | None = None,
    allow_mismatch: bool = False,
    refuse_partial: bool = False,
) -> pd.DataFrame:
    """Predict a feature table (``.parquet``/``.csv`` or DataFrame) with a model.

    The table must match the model (see :func:`predict_table`; ``allow_mismatch``,
    ``refuse_partial``).
    """
    if not isinstance(model, TrainedModel):
        model = load_trained_model(model, tracking_uri=tracking_uri)
    if isinstance(features, pd.DataFrame):
        table, source = features, "feature table"
    else:
        table, source = load_features(features), str(features)
    return predict_table(model, table, source=source, allow_mismatch=allow_mismatch,
                         refuse_partial=refuse_partial)
