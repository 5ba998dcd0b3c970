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
warning                 partial featurization errors of a row that was still predicted
                        (models trained with ``feature_errors="keep-partial"``: the
                        missing features are imputed as in training)
======================= ===============================================================
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
from mlkit.workflows.model import TrainedModel, load_trained_model

__all__ = ["OUTPUT_COLUMNS", "predict_features", "predict_paths", "predict_table"]

OUTPUT_COLUMNS = (
    "id", "source", "prediction", "prediction_raw", "probability", "out_of_range",
    "out_of_range_features", "error", "warning",
)


def predict_table(model: TrainedModel, features: pd.DataFrame) -> pd.DataFrame:
    """Predictions for a feature table (rows with a non-empty ``error`` stay error rows).

    Parameters
    ----------
    model : TrainedModel
    features : DataFrame
        ``id`` (+ ``source``, ``error``) and the raw feature columns.

    Returns
    -------
    DataFrame with :data:`OUTPUT_COLUMNS`, one row per input row, input order.
    """
    frame = features.reset_index(drop=True).copy()
    if "id" not in frame:
        raise MlkitError("feature table has no 'id' column")
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
    if model.labels.feature_errors == "keep-partial":
        cols = [c for c in model.fitted.input_columns if c in frame.columns]
        numeric = frame[cols].apply(pd.to_numeric, errors="coerce")
        partial = (~ok) & numeric.notna().any(axis=1).to_numpy()
        out.loc[partial, "warning"] = out.loc[partial, "error"]
        out.loc[partial, "error"] = ""
        ok = ok | partial
    if ok.any():
        pred = model.predict_frame(frame.loc[ok])
        out.loc[ok, "prediction"] = pred["prediction"].to_numpy()
        out.loc[ok, "probability"] = pred["probability"].to_numpy()
        out.loc[ok, "out_of_range"] = pred["out_of_range"].to_numpy()
        out.loc[ok, "out_of_range_features"] = pred["out_of_range_features"].to_numpy()
        if model.labels.target_transform == "log10" and model.task == "regression":
            out.loc[ok, "prediction_raw"] = 10.0 ** pred["prediction"].to_numpy(dtype=float)
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

    Returns
    -------
    DataFrame with :data:`OUTPUT_COLUMNS`.
    """
    if not isinstance(model, TrainedModel):
        model = load_trained_model(model, tracking_uri=tracking_uri)
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
    return predict_table(model, features)


def predict_features(
    model: str | Path | TrainedModel,
    features: str | Path | pd.DataFrame,
    *,
    tracking_uri: str | None = None,
) -> pd.DataFrame:
    """Predict a feature table (``.parquet``/``.csv`` or DataFrame) with a model."""
    if not isinstance(model, TrainedModel):
        model = load_trained_model(model, tracking_uri=tracking_uri)
    table = features if isinstance(features, pd.DataFrame) else load_features(features)
    return predict_table(model, table)
