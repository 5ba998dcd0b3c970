"""Predict new structures with a registered / logged mlkit model.

``predict_paths("models:/NAME@ALIAS", ["new/*.cif"])`` loads the pyfunc model,
featurizes the structures with *exactly* the settings stored with it (featurizers,
mobile ion, disorder strategy, max sites), and returns one row per input:

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
from typing import Any

import numpy as np
import pandas as pd

OUTPUT_COLUMNS = (
    "id", "source", "prediction", "prediction_raw", "probability", "out_of_range",
    "out_of_range_features", "error", "warning",
)


def predict_table(pipeline, settings: dict[str, Any], features: pd.DataFrame) -> pd.DataFrame:
    """Predictions for a feature table (rows with a non-empty ``error`` stay error rows).

    Parameters
    ----------
    pipeline : fitted sklearn Pipeline
    settings : dict
        As stored with the model (see :func:`mlkit.tracking.load_model`).
    features : DataFrame
        ``id`` (+ ``source``, ``error``) and the raw feature columns.

    Returns
    -------
    DataFrame with :data:`OUTPUT_COLUMNS`, one row per input row, input order.
    """
    from mlkit.tracking._pyfunc import predict_frame

    frame = features.reset_index(drop=True).copy()
    if "id" not in frame:
        raise ValueError("feature table has no 'id' column")
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
    if settings.get("feature_errors") == "keep-partial":
        cols = [c for c in settings["input_columns"] if c in frame.columns]
        numeric = frame[cols].apply(pd.to_numeric, errors="coerce")
        partial = (~ok) & numeric.notna().any(axis=1).to_numpy()
        out.loc[partial, "warning"] = out.loc[partial, "error"]
        out.loc[partial, "error"] = ""
        ok = ok | partial
    if ok.any():
        pred = predict_frame(pipeline, settings, frame.loc[ok])
        out.loc[ok, "prediction"] = pred["prediction"].to_numpy()
        out.loc[ok, "probability"] = pred["probability"].to_numpy()
        out.loc[ok, "out_of_range"] = pred["out_of_range"].to_numpy()
        out.loc[ok, "out_of_range_features"] = pred["out_of_range_features"].to_numpy()
        if settings.get("target_transform") == "log10" and settings["task"] == "regression":
            out.loc[ok, "prediction_raw"] = 10.0 ** pred["prediction"].to_numpy(dtype=float)
    return out[list(OUTPUT_COLUMNS)]


def predict_paths(
    model_uri: str,
    paths: Sequence[str | Path],
    *,
    tracking_uri: str | None = None,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Featurize ``paths`` as at training time and predict them.

    Parameters
    ----------
    model_uri : str
        ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``runs:/RUN_ID/model``.
    paths : sequence of str or Path
        Files, directories or globs; an entry that matches nothing becomes an error row.
    tracking_uri : str, optional
        As for training (default ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``).

    Returns
    -------
    DataFrame with :data:`OUTPUT_COLUMNS`.
    """
    from mlkit.features import featurize_paths
    from mlkit.structures import collect_paths
    from mlkit.tracking import load_model

    pipeline, settings = load_model(model_uri, tracking_uri=tracking_uri)
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
            files, featurizers=settings.get("featurizers"), mobile_ion=settings["mobile_ion"],
            disorder=settings["disorder"], max_sites=int(settings.get("max_sites", 2000)),
            n_jobs=n_jobs, cache_dir=cache_dir, progress=progress,
        ))
    if bad_rows:
        tables.append(pd.DataFrame(bad_rows))
    if not tables:
        raise FileNotFoundError("no structure files given")
    features = pd.concat(tables, ignore_index=True)
    return predict_table(pipeline, settings, features)


def predict_features(
    model_uri: str, features: str | Path | pd.DataFrame, *, tracking_uri: str | None = None
) -> pd.DataFrame:
    """Predict a feature table (``.parquet``/``.csv`` or DataFrame) with a logged model."""
    from mlkit.models.dataset import load_features
    from mlkit.tracking import load_model

    pipeline, settings = load_model(model_uri, tracking_uri=tracking_uri)
    table = features if isinstance(features, pd.DataFrame) else load_features(features)
    return predict_table(pipeline, settings, table)
