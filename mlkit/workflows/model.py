""":class:`TrainedModel`: what ``mlkit train`` produces and ``mlkit predict`` consumes.

A fitted model (:class:`~mlkit.models.fitted.FittedModel`) together with the
:class:`~mlkit.features.settings.FeaturizationSettings` and
:class:`~mlkit.models.dataset.LabelPolicy` it was trained with, so predicting new
structures featurizes them exactly as at training time by construction.

On disk a model is a directory with two files, written by :meth:`TrainedModel.save` and
logged unchanged as the artefacts of the MLflow pyfunc model:

* ``pipeline.joblib`` -- the fitted imputer -> scaler -> model pipeline;
* ``settings.json`` -- ``format_version``, the input contract (:meth:`FittedModel.spec`),
  ``featurization`` (versioned :meth:`FeaturizationSettings.to_dict`), ``feature_schema``
  (:func:`mlkit.features.feature_schema` of the training table: row layout, feature-code
  hash, mlkit version; ``{}`` when the table did not say), ``labels``
  (:meth:`LabelPolicy.to_dict`) and ``training`` (model family, parameters, rows), plus
  flat copies of the main settings for the MLflow params view.

Model mismatch: :func:`feature_mismatches` lists how a feature table's provenance differs
from the model's (settings field by field, row layout, feature code); predict refuses
such a table in one line naming every difference unless ``allow_mismatch`` is given.

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

__all__ = [
    "MODEL_FORMAT_VERSION",
    "TrainedModel",
    "check_feature_provenance",
    "feature_mismatches",
    "load_trained_model",
]

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
    feature_schema : dict
        :func:`mlkit.features.feature_schema` of the training table (``{}``: unknown).
    """

    fitted: FittedModel
    featurization: FeaturizationSettings
    labels: LabelPolicy
    training: dict[str, Any] = field(default_factory=dict)
    feature_schema: dict[str, Any] = field(default_factory=dict)

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
            "feature_schema": dict(self.feature_schema),
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
        return cls(fitted, featurization, labels, training,
                   dict(settings.get("feature_schema") or {}))

    def predict_frame(self, frame):
        """See :meth:`FittedModel.predict_frame`."""
        return self.fitted.predict_frame(frame)


_SETTING_FIELDS = ("featurizers", "mobile_ion", "disorder", "max_sites", "featurizer_params")


def _show(value: Any) -> str:
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return ",".join(value) or "()"
    return repr(value)


def feature_mismatches(
    model: TrainedModel, provenance: Mapping[str, Any] | None, where: str = "in the table"
) -> list[str]:
    """How a feature table was made differently from the model's training inputs.

    Parameters
    ----------
    model : TrainedModel
    provenance : mapping or None
        A table's ``attrs["mlkit"]`` (:func:`mlkit.features.table_provenance`): its
        ``featurization`` settings and feature ``schema``. ``None`` or ``{}``: unknown,
        nothing to compare.
    where : str
        How the table's side is named in the phrases (``"in the table"``, ``"here"``).

    Returns
    -------
    list of str
        One phrase per difference, e.g. ``"mobile_ion 'Li' in the table, 'Na' in the
        model"``; the schema is compared only when the model recorded one.
    """
    out: list[str] = []
    if not provenance:
        return out
    if provenance.get("featurization") is not None:
        try:
            table = FeaturizationSettings.from_dict(provenance["featurization"])
        except (MlkitError, TypeError) as exc:
            return [f"the table's featurization settings are unreadable ({exc})"]
        for name in _SETTING_FIELDS:
            a, b = getattr(table, name), getattr(model.featurization, name)
            if a != b:
                out.append(f"{name} {_show(a)} {where}, {_show(b)} in the model")
    schema, ours = provenance.get("schema") or {}, model.feature_schema
    if schema and ours:
        if schema.get("row_schema") != ours.get("row_schema"):
            out.append(f"feature row schema {schema.get('row_schema')} {where}, "
                       f"{ours.get('row_schema')} in the model")
        if schema.get("code") != ours.get("code"):
            out.append(f"feature code {schema.get('code')} (mlkit {schema.get('mlkit')}) "
                       f"{where}, {ours.get('code')} (mlkit {ours.get('mlkit')}) in the model")
    return out


def check_feature_provenance(
    model: TrainedModel,
    provenance: Mapping[str, Any] | None,
    *,
    source: str = "feature table",
    allow_mismatch: bool = False,
    where: str = "in the table",
) -> list[str]:
    """Refuse a table made differently from the model's inputs (see :func:`feature_mismatches`).

    Parameters
    ----------
    model : TrainedModel
    provenance : mapping or None
        The table's ``attrs["mlkit"]``.
    source : str
        The table's name in the message (its path, or what made it).
    allow_mismatch : bool, default False
        Return the differences instead of raising (``--allow-feature-mismatch``).
    where : str
        See :func:`feature_mismatches`.

    Returns
    -------
    list of str
        The differences (empty when the table matches or says nothing).

    Raises
    ------
    MlkitError
        ``"<source> does not match the model: mobile_ion 'Li' in the table, 'Na' in the
        model; ... (...)"``, one line.
    """
    diffs = feature_mismatches(model, provenance, where)
    if diffs and not allow_mismatch:
        raise MlkitError(
            f"{source} does not match the model: {'; '.join(diffs)} (featurize with the "
            "model's settings and this mlkit, retrain, or pass allow_mismatch / "
            "--allow-feature-mismatch to predict anyway)"
        )
    return diffs


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
