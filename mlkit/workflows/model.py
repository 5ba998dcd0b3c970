""":class:`TrainedModel`: what ``mlkit train`` produces and ``mlkit predict`` consumes.

A fitted model (:class:`~mlkit.models.fitted.FittedModel`) together with the
:class:`~mlkit.features.settings.FeaturizationSettings` and
:class:`~mlkit.models.dataset.LabelPolicy` it was trained with, so predicting new
structures featurizes them exactly as at training time by construction.

On disk a model is a directory with two files, written by :meth:`TrainedModel.save` and
logged unchanged as the artefacts of the MLflow pyfunc model:

* ``pipeline.joblib`` -- the fitted imputer -> scaler -> model pipeline;
* ``settings.json`` -- ``format_version``, the input contract (:meth:`FittedModel.spec`),
  ``featurization`` (versioned :meth:`FeaturizationSettings.to_dict`), ``labels``
  (:meth:`LabelPolicy.to_dict`) and ``training`` (model family, parameters, rows), plus
  flat copies of the main settings for the MLflow params view.

:func:`load_trained_model` reads such a directory (or an MLflow model directory, whose
files sit under ``artifacts/``) with joblib and json only: no mlflow import.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlkit.errors import MlkitError
from mlkit.features.settings import FeaturizationSettings
from mlkit.models.dataset import LabelPolicy
from mlkit.models.fitted import FittedModel
from mlkit.utils import atomic_write_text

__all__ = ["MODEL_FORMAT_VERSION", "TrainedModel", "load_trained_model"]

#: bump when the layout of ``settings.json`` changes
MODEL_FORMAT_VERSION = 2


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with the settings that made its inputs.

    Parameters
    ----------
    fitted : FittedModel
    featurization : FeaturizationSettings
        How structures are featurized for this model (at training and prediction).
    labels : LabelPolicy
        How the target was read (``target_transform`` gives ``prediction_raw``;
        ``feature_errors="keep-partial"`` lets partially featurized rows be predicted).
    training : dict
        ``model`` (family), ``params``, ``n_train``, ``feature_source``.
    """

    fitted: FittedModel
    featurization: FeaturizationSettings
    labels: LabelPolicy
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.fitted.task

    def settings(self) -> dict[str, Any]:
        """The JSON content of ``settings.json`` (see module docstring)."""
        feat = self.featurization.to_dict()
        return {
            "format_version": MODEL_FORMAT_VERSION,
            **self.fitted.spec(),
            "target": self.labels.target,
            "target_transform": self.labels.target_transform if self.task == "regression"
            else None,
            "threshold": self.labels.threshold,
            "feature_errors": self.labels.feature_errors,
            # flat copies for the MLflow params view
            **{k: feat[k] for k in ("featurizers", "mobile_ion", "disorder", "max_sites")},
            **self.training,
            "featurization": feat,
            "labels": self.labels.to_dict(),
            "training": dict(self.training),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``pipeline.joblib`` and ``settings.json`` into ``directory``; returns it."""
        import joblib

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as fh:
            tmp = Path(fh.name)
        try:
            joblib.dump(self.fitted.pipeline, tmp)
            tmp.replace(directory / "pipeline.joblib")
        finally:
            tmp.unlink(missing_ok=True)
        atomic_write_text(
            directory / "settings.json", json.dumps(self.settings(), indent=1, default=str)
        )
        return directory

    @classmethod
    def from_settings(cls, pipeline: Any, settings: Mapping[str, Any]) -> TrainedModel:
        """Rebuild from a pipeline and ``settings.json`` content (also the flat, unversioned
        settings of models saved before format 2).
        """
        version = int(settings.get("format_version", 1))
        if version > MODEL_FORMAT_VERSION:
            raise MlkitError(
                f"model format {version} is newer than this mlkit reads "
                f"({MODEL_FORMAT_VERSION}); upgrade mlkit"
            )
        fitted = FittedModel.from_spec(pipeline, settings)
        if version >= 2:
            featurization = FeaturizationSettings.from_dict(settings["featurization"])
            labels = LabelPolicy(**settings["labels"])
            training = dict(settings.get("training", {}))
        else:  # format 1: one flat dict
            featurization = FeaturizationSettings.from_dict(settings)
            labels = LabelPolicy(
                target=settings["target"], task=fitted.task,
                target_transform=settings.get("target_transform"),
                threshold=settings.get("threshold"),
                feature_errors=settings.get("feature_errors", "drop"),
            )
            training = {k: settings[k] for k in ("model", "params", "n_train", "feature_source")
                        if k in settings}
        return cls(fitted, featurization, labels, training)

    def predict_frame(self, frame):
        """See :meth:`FittedModel.predict_frame`."""
        return self.fitted.predict_frame(frame)


def load_trained_model(model: str | Path, *, tracking_uri: str | None = None) -> TrainedModel:
    """Load a model from a local directory (no mlflow) or an MLflow URI.

    Parameters
    ----------
    model : str or Path
        A directory holding ``settings.json`` and ``pipeline.joblib`` (the
        ``final_model`` folder of ``mlkit train --output-dir``, or a downloaded MLflow
        model whose files are under ``artifacts/``); otherwise an MLflow URI
        (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/RUN_ID/model``),
        downloaded with :func:`mlkit.tracking.download_model`.
    tracking_uri : str, optional
        MLflow store for URIs.
    """
    path = Path(str(model))
    if path.is_dir():
        return _load_dir(path)
    if "://" not in str(model) and ":/" not in str(model):
        raise FileNotFoundError(f"{model}: no such model directory (nor an MLflow model URI)")
    from mlkit.tracking import download_model

    with tempfile.TemporaryDirectory(prefix="mlkit-model-") as tmp:
        return _load_dir(download_model(str(model), tmp, tracking_uri=tracking_uri))


def _load_dir(path: Path) -> TrainedModel:
    import joblib

    for base in (path, path / "artifacts"):
        if (base / "settings.json").is_file() and (base / "pipeline.joblib").is_file():
            settings = json.loads((base / "settings.json").read_text())
            return TrainedModel.from_settings(joblib.load(base / "pipeline.joblib"), settings)
    raise MlkitError(f"{path}: not an mlkit model directory (no settings.json + pipeline.joblib)")
