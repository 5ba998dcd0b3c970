"""The MLflow pyfunc wrapper of a trained mlkit model (imports mlflow: load lazily).

Only MLflow's own loaders (``mlflow.pyfunc.load_model``, model serving) go through this
wrapper. ``mlkit predict`` reads the same two artefacts directly
(:func:`mlkit.workflows.load_trained_model`), so predicting from a local model
directory never imports mlflow.
"""

from __future__ import annotations

import json

import mlflow.pyfunc
import pandas as pd

from mlkit.models.fitted import FittedModel


class MlkitPyfuncModel(mlflow.pyfunc.PythonModel):
    """pyfunc model: ``predict(raw feature table) -> prediction/probability/out_of_range``.

    Artefacts: ``pipeline`` (joblib, imputer -> scaler -> model) and ``settings`` (JSON:
    the model's input contract, :meth:`FittedModel.spec`, plus the featurization
    settings and label policy it was trained with).
    """

    def load_context(self, context) -> None:
        import joblib

        with open(context.artifacts["settings"]) as fh:
            self.settings = json.load(fh)
        self.model = FittedModel.from_spec(joblib.load(context.artifacts["pipeline"]),
                                           self.settings)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.model.predict_frame(pd.DataFrame(model_input))
