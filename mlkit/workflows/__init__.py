"""Workflows: the jobs behind the CLI verbs, composed from the layers below.

* :func:`train` -- featurize -> join labels -> :class:`~mlkit.models.trainer.Trainer` ->
  tables -> explanation -> MLflow (:mod:`mlkit.workflows.train`);
* :class:`TrainedModel`, :func:`load_trained_model` -- the saved model with its
  featurization settings and label policy (:mod:`mlkit.workflows.model`);
* :func:`predict_paths`, :func:`predict_features`, :func:`predict_table` -- featurize as
  at training time and predict (:mod:`mlkit.workflows.predict`);
* :func:`prepare_subset_table` -- the input of the subset search
  (:mod:`mlkit.workflows.subsets`).

This layer sits above ``features``, ``models``, ``explain`` and ``tracking`` and below
``cli``; nothing but the CLI imports it.
"""

from __future__ import annotations

from mlkit.workflows.model import TrainedModel, load_trained_model
from mlkit.workflows.predict import OUTPUT_COLUMNS, predict_features, predict_paths, predict_table
from mlkit.workflows.subsets import prepare_subset_table
from mlkit.workflows.train import TrainResult, train

__all__ = [
    "OUTPUT_COLUMNS",
    "TrainResult",
    "TrainedModel",
    "load_trained_model",
    "predict_features",
    "predict_paths",
    "predict_table",
    "prepare_subset_table",
    "train",
]
