"""The MLflow pyfunc wrapper of a trained mlkit model (imports mlflow: load lazily).

Only MLflow's own loaders (``mlflow.pyfunc.load_model``, model serving) go through this
wrapper. ``mlkit predict`` reads the same two artefacts directly
(:func:`mlkit.workflows.load_trained_model`), so predicting from a local model
directory never imports mlflow.
"""

from __future__ import annotations

import importlib
import json

import mlflow.pyfunc
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.models.fitted import FittedModel


class MlkitPyfuncModel(mlflow.pyfunc.PythonModel):
    """pyfunc model: a raw feature table, or structures, in; predictions out.

    * feature table -> ``prediction``, ``probability``, ``out_of_range``,
      ``out_of_range_features`` (one row per input row);
    * a column of structure text (:data:`~mlkit.tracking.STRUCTURE_COLUMNS`: ``cif``,
      ``poscar``, ``structure_json``; optional ``id``) -> the rows of ``mlkit predict``
      (``id``, ``source``, ``prediction``, ``prediction_raw``, ``probability``,
      ``out_of_range``, ``out_of_range_features``, ``error``, ``warning``), featurized with
      the settings stored at training by ``structure_predictor``.

    Artefacts: ``pipeline`` (joblib, imputer -> scaler -> model) and ``settings`` (JSON:
    the model's input contract, :meth:`FittedModel.spec`, plus the featurization
    settings and label policy it was trained with).

    Parameters
    ----------
    structure_predictor : str, optional
        ``"module:function"`` called as ``function(pipeline, settings, frame)`` for
        structure input, imported on first use (the tracking layer does not import the
        featurization code itself). None: feature tables only.
    """

    def __init__(self, structure_predictor: str | None = None) -> None:
        self.structure_predictor = structure_predictor

    def load_context(self, context) -> None:
        import joblib

        with open(context.artifacts["settings"]) as fh:
            self.settings = json.load(fh)
        self.pipeline = joblib.load(context.artifacts["pipeline"])
        self.model = FittedModel.from_spec(self.pipeline, self.settings)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from mlkit.tracking import STRUCTURE_COLUMNS

        frame = pd.DataFrame(model_input)
        if not any(c in frame.columns for c in STRUCTURE_COLUMNS):
            return self.model.predict_frame(frame)
        handler = getattr(self, "structure_predictor", None)
        if not handler:
            raise MlkitError("this model was logged without structure input; "
                             "send its feature table (or retrain with a newer mlkit)")
        module, _, name = handler.partition(":")
        predict = getattr(importlib.import_module(module), name)
        return predict(self.pipeline, self.settings, frame)
