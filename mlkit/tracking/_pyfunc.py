"""The MLflow pyfunc wrapper of a trained mlkit model (imports mlflow: load lazily)."""

from __future__ import annotations

import json
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd


def prepare_inputs(frame: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    """Raw feature table -> the model's input columns (one-hot, column order, float).

    Raises
    ------
    mlkit.errors.MlkitError
        When a training feature is missing.
    """
    from mlkit.models.preprocessing import encode_categoricals

    raw_cols = [c for c in settings["input_columns"] if c in frame.columns]
    encoded = encode_categoricals(frame[raw_cols], settings["categorical"], notes=[])
    missing = [c for c in settings["feature_columns"] if c not in encoded.columns]
    if missing:
        from mlkit.errors import MlkitError

        raise MlkitError(
            f"input lacks {len(missing)} training feature(s): {', '.join(missing[:8])}"
        )
    return encoded[settings["feature_columns"]].astype(float)


def predict_frame(pipeline, settings: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """Predictions + out-of-range flags for a raw feature table.

    Returns
    -------
    DataFrame with columns ``prediction`` (value, or class name), ``probability``
    (binary classification: P(class 1); NaN otherwise), ``out_of_range`` (bool) and
    ``out_of_range_features`` (";"-joined names), same index as ``frame``.
    """
    from mlkit.models.preprocessing import out_of_range

    X = prepare_inputs(frame, settings)
    pred = pipeline.predict(X)
    out = pd.DataFrame(index=frame.index)
    if settings["task"] == "classification":
        classes = settings.get("classes") or []
        names = [classes[int(p)] if int(p) < len(classes) else str(int(p)) for p in pred]
        out["prediction"] = names
        proba = pipeline.predict_proba(X)
        out["probability"] = proba[:, 1] if proba.shape[1] == 2 else np.nan
    else:
        out["prediction"] = np.asarray(pred, dtype=float)
        out["probability"] = np.nan
    flags = out_of_range(X, settings["train_min"], settings["train_max"])
    out["out_of_range"] = [bool(f) for f in flags]
    out["out_of_range_features"] = [";".join(f) for f in flags]
    return out


class MlkitPyfuncModel(mlflow.pyfunc.PythonModel):
    """pyfunc model: ``predict(raw feature table) -> prediction/probability/out_of_range``.

    Artefacts: ``pipeline`` (joblib, imputer -> scaler -> model) and ``settings`` (JSON:
    task, classes, featurizers, mobile ion, disorder strategy, input and model feature
    columns, categorical encodings, training min/max of every model input).
    """

    def load_context(self, context) -> None:
        import joblib

        self.pipeline = joblib.load(context.artifacts["pipeline"])
        with open(context.artifacts["settings"]) as fh:
            self.settings = json.load(fh)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_frame(self.pipeline, self.settings, pd.DataFrame(model_input))
