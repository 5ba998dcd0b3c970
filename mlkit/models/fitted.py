""":class:`FittedModel`: a fitted pipeline with the contract of its inputs.

What predicting a raw feature table needs and nothing else: the pipeline
(imputer -> scaler -> model), the raw input columns, the one-hot categories, the model's
feature columns in order, the training range of every model input (for the
out-of-range flag) and the class names. It knows nothing of featurization or of
MLflow; :mod:`mlkit.workflows` stores it with the featurization settings and
:mod:`mlkit.tracking` wraps it as an MLflow pyfunc.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.models.preprocessing import encode_categoricals, out_of_range

__all__ = ["FittedModel"]

#: keys of :meth:`FittedModel.spec` (the same keys as the flat settings of older models)
SPEC_KEYS = (
    "task", "classes", "input_columns", "categorical", "feature_columns", "train_min",
    "train_max",
)


@dataclass(frozen=True)
class FittedModel:
    """A fitted pipeline and its input contract.

    Parameters
    ----------
    pipeline : fitted sklearn Pipeline
    task : {"classification", "regression"}
    input_columns : tuple of str
        Raw feature columns the model reads (before one-hot encoding).
    feature_columns : tuple of str
        Model inputs after encoding and filtering, in order.
    categorical : dict of str to tuple of str
        Categorical columns and their fixed categories.
    train_min, train_max : dict of str to float
        Range of every model input over the training rows.
    classes : tuple of str
        Class names in code order (classification).
    """

    pipeline: Any
    task: str
    input_columns: tuple[str, ...]
    feature_columns: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]
    train_min: dict[str, float]
    train_max: dict[str, float]
    classes: tuple[str, ...] = field(default=())

    @classmethod
    def from_trainer(cls, trainer: Any, classes: Any = ()) -> FittedModel:
        """The final model of a fitted :class:`~mlkit.models.trainer.Trainer`."""
        from mlkit.models.preprocessing import CATEGORICAL_COLUMNS

        return cls(
            pipeline=trainer.pipeline_, task=trainer.task,
            input_columns=tuple(trainer.input_columns_),
            feature_columns=tuple(trainer.feature_columns_),
            categorical={k: tuple(v) for k, v in CATEGORICAL_COLUMNS.items()},
            train_min=dict(trainer.train_min_), train_max=dict(trainer.train_max_),
            classes=tuple(classes or ()),
        )

    def spec(self) -> dict[str, Any]:
        """JSON-ready input contract (everything but the pipeline)."""
        return {
            "task": self.task,
            "classes": list(self.classes),
            "input_columns": list(self.input_columns),
            "categorical": {k: list(v) for k, v in self.categorical.items()},
            "feature_columns": list(self.feature_columns),
            "train_min": dict(self.train_min),
            "train_max": dict(self.train_max),
        }

    @classmethod
    def from_spec(cls, pipeline: Any, spec: Mapping[str, Any]) -> FittedModel:
        """Inverse of :meth:`spec` (extra keys, as in a model's settings, are ignored)."""
        missing = [k for k in SPEC_KEYS if k not in spec and k != "classes"]
        if missing:
            raise MlkitError(f"model settings lack {', '.join(missing)}")
        return cls(
            pipeline=pipeline, task=str(spec["task"]),
            input_columns=tuple(spec["input_columns"]),
            feature_columns=tuple(spec["feature_columns"]),
            categorical={k: tuple(v) for k, v in spec["categorical"].items()},
            train_min={k: float(v) for k, v in spec["train_min"].items()},
            train_max={k: float(v) for k, v in spec["train_max"].items()},
            classes=tuple(spec.get("classes") or ()),
        )

    def prepare_inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Raw feature table -> the model's input columns (one-hot, column order, float).

        Raises
        ------
        MlkitError
            When a training feature is missing.
        """
        raw_cols = [c for c in self.input_columns if c in frame.columns]
        encoded = encode_categoricals(frame[raw_cols], self.categorical, notes=[])
        missing = [c for c in self.feature_columns if c not in encoded.columns]
        if missing:
            raise MlkitError(
                f"input lacks {len(missing)} training feature(s): {', '.join(missing[:8])}"
            )
        return encoded[list(self.feature_columns)].astype(float)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions and out-of-range flags for a raw feature table.

        Returns
        -------
        DataFrame with columns ``prediction`` (value, or class name), ``probability``
        (binary classification: P(class 1); NaN otherwise), ``out_of_range`` (bool) and
        ``out_of_range_features`` (";"-joined names), same index as ``frame``.
        """
        X = self.prepare_inputs(frame)
        pred = self.pipeline.predict(X)
        out = pd.DataFrame(index=frame.index)
        if self.task == "classification":
            names = [
                self.classes[int(p)] if int(p) < len(self.classes) else str(int(p))
                for p in pred
            ]
            out["prediction"] = names
            proba = self.pipeline.predict_proba(X)
            out["probability"] = proba[:, 1] if proba.shape[1] == 2 else np.nan
        else:
            out["prediction"] = np.asarray(pred, dtype=float)
            out["probability"] = np.nan
        flags = out_of_range(X, self.train_min, self.train_max)
        out["out_of_range"] = [bool(f) for f in flags]
        out["out_of_range_features"] = [";".join(f) for f in flags]
        return out
