"""The ``mlkit train`` job: featurize -> join labels -> fit -> write -> explain -> track.

:func:`train` composes the layers below it; every option group is one value:

* :class:`~mlkit.features.settings.FeaturizationSettings` -- how structures become features
  (stored with the model, so ``mlkit predict`` featurizes the same way);
* :class:`~mlkit.models.dataset.LabelPolicy` -- how the labels become a target;
* :class:`~mlkit.models.trainer.Trainer` -- the estimator (model families, folds, trials);
  cloned with the task the labels give;
* :class:`~mlkit.tracking.TrackingSettings` -- MLflow experiment and registration
  (``None``: no tracking).

The model directory (``<output_dir>/final_model``) and every table and figure are written
before tracking starts, so a tracking store that is unreachable or goes away during
logging loses nothing: :func:`train` still returns, with the one-line reason in
``TrainResult.tracking_error`` (``mlkit train`` prints it and exits with status 3).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from mlkit.errors import MlkitError
from mlkit.features import featurize_paths
from mlkit.features.settings import FeaturizationSettings
from mlkit.models.dataset import (
    DatasetReport,
    LabelPolicy,
    build_training_table,
    load_features,
    load_groups,
    sha256_frame,
)
from mlkit.models.fitted import FittedModel
from mlkit.models.metrics import PRIMARY
from mlkit.models.trainer import Trainer
from mlkit.tracking import TrackingSettings
from mlkit.utils import atomic_write_text, file_sha256, one_line
from mlkit.workflows.model import TrainedModel

__all__ = ["TrainResult", "log_saved", "train"]


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    trainer: Trainer
    report: DatasetReport
    model: TrainedModel
    output_dir: Path
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    run_id: str | None = None
    model_uri: str | None = None
    registered: dict[str, Any] | None = None
    subset_result: Any = None
    subset_metrics: dict[str, float] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    tracking_error: str | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """The model's ``settings.json`` content (see :mod:`mlkit.workflows.model`)."""
        return self.model.settings()

    def summary_text(self) -> str:
        t = self.trainer
        metric = PRIMARY[t.task][0]
        lines = [self.report.summary()]
        lines += t.notes_
        table = t.summary()
        cols = [c for c in table.columns if c.endswith("_mean")]
        lines.append(f"nested CV ({t.outer_folds} outer folds, {t.n_trials} Optuna trials/fold):")
        for name, row in table.iterrows():
            parts = [f"{c[:-5]} {row[c]:.3f}+-{row[c[:-5] + '_std']:.3f}" for c in cols]
            lines.append(f"  {name:9s} " + "  ".join(parts))
        lines.append(
            f"chosen: {t.best_model_} (best mean {metric}); final params {t.best_params_}"
        )
        if self.run_id:
            lines.append(f"MLflow run {self.run_id}; model {self.model_uri}")
        if self.registered:
            r = self.registered
            lines.append(f"registered models:/{r['name']}@{r['alias']} (version {r['version']})")
        if self.tracking_error:
            lines.append(f"MLflow tracking failed: {self.tracking_error}")
        lines.append(f"artefacts in {self.output_dir} (model in "
                     f"{self.output_dir / 'final_model'})")
        return "\n".join(lines)


def train(
    labels: str | Path | pd.DataFrame,
    policy: LabelPolicy,
    *,
    structures: str | Path | Sequence[str | Path] | None = None,
    features: str | Path | pd.DataFrame | None = None,
    featurization: FeaturizationSettings | None = None,
    trainer: Trainer | None = None,
    tracking: TrackingSettings | None = None,
    explain: bool = True,
    subset_search: bool = False,
    group_column: str | None = None,
    output_dir: str | Path | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> TrainResult:
    """Train, explain, track and register a screening model (the ``mlkit train`` job).

    Parameters
    ----------
    labels : path to a CSV or DataFrame
        ``id`` column (structure file stems) plus the policy's target.
    policy : LabelPolicy
        Target column and label handling (see :func:`mlkit.models.dataset.load_labels`).
    structures : path, directory or glob(s), optional
        Featurized with ``featurization``. Exactly one of ``structures`` and ``features``.
    features : path (.parquet / .csv) or DataFrame, optional
        A table written by ``mlkit featurize``; ``featurization`` should say how it was
        made (it is stored with the model and used by ``mlkit predict``).
    featurization : FeaturizationSettings, optional
        Default: the settings a given feature table records (``attrs["mlkit"]``, see
        :func:`mlkit.features.table_provenance`), else ``FeaturizationSettings()``. A
        table that records other settings than the ones given is refused (the model
        would featurize new structures differently from its training rows).
    trainer : Trainer, optional
        The estimator's settings (default ``Trainer()``); cloned with the task found by
        the label policy, then fitted.
    tracking : TrackingSettings, optional
        Log to MLflow (and register when ``register_name`` is set); None: local only.
    explain : bool
        SHAP and figures for the final model.
    subset_search : bool
        Also run :func:`mlkit.models.subsets.exhaustive_subset_search` (binary
        classification, logistic regression on every feature subset) and log its result.
    group_column : str, optional
        Column of the labels table with a group per row (e.g. a structure family): the
        CV splits keep each group on one side (``Trainer.fit(X, y, groups=...)``); a row
        without a group is its own group (:func:`mlkit.models.dataset.load_groups`).
        The subset search, when asked for, still uses random folds (noted).
    output_dir : path, optional
        Local copy of all artefacts, the model in ``final_model/`` (default: a
        temporary directory).
    jobs : int
        Featurization worker processes (the trainer's ``n_jobs`` runs the CV folds).
    cache_dir, use_cache, progress
        As for :func:`mlkit.features.featurize_paths`; ``progress`` also shows the
        explanation's progress.
    """
    if (structures is None) == (features is None):
        raise MlkitError("give exactly one of structures (--structures) or features (--features)")
    given_featurization = featurization
    featurization = featurization if featurization is not None else FeaturizationSettings()
    t_start = time.perf_counter()
    out = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="mlkit-"))
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_feat = time.perf_counter()
    if structures is not None:
        paths = [structures] if isinstance(structures, str | Path) else list(structures)
        table = featurize_paths(
            paths, featurization, n_jobs=jobs, cache_dir=cache_dir, use_cache=use_cache,
            progress=progress,
        )
        feature_source = "structures"
        feature_sha = sha256_frame(table.drop(columns=["source"], errors="ignore"))
        feature_origin = _origin(paths[0]) if len(paths) == 1 else None
    elif isinstance(features, pd.DataFrame):
        table, feature_source, feature_sha = features, "table", sha256_frame(features)
        feature_origin = None
    else:
        table, feature_source = load_features(features), "table"
        feature_sha = file_sha256(features)
        feature_origin = _origin(features)
    timings["featurize_s"] = time.perf_counter() - t_feat
    source = str(features) if isinstance(features, str | Path) else "feature table"
    featurization, schema = _table_settings(table, featurization, given_featurization, source)
    labels_sha = sha256_frame(labels) if isinstance(labels, pd.DataFrame) else (
        file_sha256(labels) if Path(labels).is_file() else ""
    )
    X, y, report = build_training_table(table, labels, policy)
    groups = None
    if group_column is not None:
        groups = load_groups(labels, group_column, list(X.index), id_column=policy.id_column,
                             report=report)
        if subset_search:
            report.note("subset search: random folds (it takes no groups)")
    t_cv = time.perf_counter()
    estimator = clone(trainer if trainer is not None else Trainer()).set_params(task=report.task)
    estimator.fit(X, y, groups=groups)
    timings["cv_and_refit_s"] = time.perf_counter() - t_cv

    model = TrainedModel(
        FittedModel.from_trainer(estimator, report.classes), featurization, policy,
        training={"model": estimator.best_model_, "params": estimator.best_params_,
                  "n_train": int(len(y)), "feature_source": feature_source,
                  **({"group_column": group_column} if group_column else {})},
        feature_schema=schema,
    )
    result = TrainResult(trainer=estimator, report=report, model=model, output_dir=out,
                         timings_s=timings)
    _write_tables(result)
    if subset_search:
        result.subset_result = _run_subset_search(result, out)
    t_explain = time.perf_counter()
    if explain:
        from mlkit.explain import explain_training

        figs, tabs = explain_training(estimator, out, progress=progress)
        result.figures.update(figs)
        result.tables.update(tabs)
    timings["explain_s"] = time.perf_counter() - t_explain
    wall = time.perf_counter() - t_start
    t_track = time.perf_counter()
    model.save(out / "final_model")  # before tracking: a store that fails loses nothing
    if tracking is not None:
        from mlkit.tracking import DatasetInput, log_training
        from mlkit.workflows.serving import STRUCTURE_PREDICTOR

        label_table = labels if isinstance(labels, pd.DataFrame) else pd.read_csv(labels)
        inputs = [
            DatasetInput("labels", label_table, None if isinstance(labels, pd.DataFrame)
                         else _origin(labels), labels_sha, targets=policy.target),
            DatasetInput("features", table, feature_origin, feature_sha),
        ]
        try:
            info = log_training(result, tracking, params={
                "labels_sha256": labels_sha, "features_sha256": feature_sha,
                "wall_time_s": round(wall, 2),
            }, inputs=inputs, structure_predictor=STRUCTURE_PREDICTOR)
        except Exception as exc:  # noqa: BLE001 - any store failure: keep the local model
            text = one_line(exc, 300)
            result.tracking_error = text if isinstance(exc, MlkitError) else \
                f"{type(exc).__name__}: {text}"
        else:
            result.run_id = info["run_id"]
            result.model_uri = info["model_uri"]
            result.registered = info.get("registered")
    timings["tracking_s"] = time.perf_counter() - t_track
    timings["total_s"] = time.perf_counter() - t_start
    return result


def _origin(path: str | Path) -> str:
    """Absolute path of a local input (the dataset source shown by MLflow)."""
    return str(Path(path).resolve())


def _table_settings(
    table: pd.DataFrame,
    featurization: FeaturizationSettings,
    given: FeaturizationSettings | None,
    source: str,
) -> tuple[FeaturizationSettings, dict[str, Any]]:
    """The settings and feature schema to store with the model, from the table's provenance.

    A table that records how it was made gives its schema; its settings replace the
    default when none were given and must equal the given ones otherwise. A table that
    records nothing keeps the given settings and an empty (unknown) schema.
    """
    provenance = table.attrs.get("mlkit") or {}
    schema = dict(provenance.get("schema") or {})
    if provenance.get("featurization") is None:
        return featurization, schema
    made = FeaturizationSettings.from_dict(provenance["featurization"])
    if given is None:
        return made, schema
    diffs = [f"{name} {getattr(made, name)!r} in the table, {getattr(given, name)!r} given"
             for name in ("featurizers", "mobile_ion", "disorder", "max_sites",
                          "featurizer_params")
             if getattr(made, name) != getattr(given, name)]
    if diffs:
        raise MlkitError(
            f"{source} was made with other featurization settings than given: "
            f"{'; '.join(diffs)} (give the table's settings, e.g. --mobile-ion, so that "
            "predict featurizes new structures the same way)"
        )
    return given, schema


def _write_tables(result: TrainResult) -> None:
    """CV summary, folds, out-of-fold predictions, dropped features, report, settings."""
    t = result.trainer
    out = result.output_dir
    paths = {
        "cv_summary": out / "cv_summary.csv",
        "cv_folds": out / "cv_folds.csv",
        "oof_predictions": out / "oof_predictions.csv",
        "dropped_features": out / "dropped_features.csv",
        "features": out / "feature_columns.json",
        "report": out / "dataset_report.json",
        "settings": out / "settings.json",
    }
    # every file whole or absent after a kill: temp file + rename
    atomic_write_text(paths["cv_summary"], t.summary().to_csv())
    atomic_write_text(paths["cv_folds"], pd.concat(
        [r.fold_metrics.assign(model=n) for n, r in t.cv_results_.items()]
    ).to_csv())
    atomic_write_text(paths["oof_predictions"], t.oof_predictions().to_csv(index=False))
    rows = [
        {"feature": c, "reason": "constant", "partner": "", "r": np.nan}
        for c in t.constant_dropped_
    ] + [
        {"feature": p.dropped, "reason": "redundant", "partner": p.kept, "r": p.r}
        for p in t.redundant_pairs_
    ]
    atomic_write_text(paths["dropped_features"], pd.DataFrame(
        rows, columns=["feature", "reason", "partner", "r"]).to_csv(index=False))
    atomic_write_text(paths["features"], json.dumps(t.feature_columns_, indent=1))
    atomic_write_text(paths["report"], json.dumps(result.report.to_dict(), indent=1))
    atomic_write_text(paths["settings"], json.dumps(result.settings, indent=1, default=str))
    result.tables.update(paths)


def _run_subset_search(result: TrainResult, out: Path) -> Any:
    """Exhaustive logistic-regression subset search on the filtered features (classification)."""
    t = result.trainer
    if t.task != "classification":
        result.report.note("subset search skipped: it is defined for classification (F1)")
        return None
    if t.y_.nunique() != 2:
        result.report.note("subset search skipped: it needs a binary target")
        return None
    from mlkit.models.subsets import exhaustive_subset_search

    X = t.X_
    if X.shape[1] > 63:
        result.report.note(f"subset search skipped: {X.shape[1]} features > 63")
        return None
    if X.isna().any().any():
        # the search needs finite inputs; the median is label-free (noted, not silent)
        result.report.note(
            "subset search: NaN feature values replaced by the column median "
            f"({int(X.isna().sum().sum())} values)"
        )
        X = X.fillna(X.median())
    res = exhaustive_subset_search(X, t.y_, cv=t.outer_folds, seed=t.seed, metric="f1",
                                   progress=t.progress)
    path = out / "subset_search_best_by_size.csv"
    atomic_write_text(path, res.best_by_size.to_csv(index=False))
    result.tables["subset_search"] = path
    result.figures["subset_curve"] = res.plot_curve(out / "subset_search_curve.png")
    result.subset_metrics = {f"subset_{k}": float(v) for k, v in res.summary_metrics().items()}
    return res


def log_saved(output_dir: str | Path, tracking: TrackingSettings | None = None) -> dict[str, Any]:
    """Log a finished ``mlkit train`` output directory to MLflow (``mlkit track``).

    The way to track a training whose store was down: ``train`` keeps the model and every
    table on disk and reports ``tracking_error``; once the store is back this logs them
    (:func:`mlkit.tracking.log_saved_training`) and registers the model when
    ``tracking.register_name``. The model's input example is one row at the middle of
    the training range of every input (categorical columns: their first category).

    Raises
    ------
    MlkitError
        One line naming the directory when it is not a finished training output.
    """
    from mlkit.tracking import log_saved_training
    from mlkit.workflows.model import load_trained_model
    from mlkit.workflows.serving import STRUCTURE_PREDICTOR

    out = Path(output_dir)
    if not (out / "final_model").is_dir():
        raise MlkitError(f"{out}: no final_model/ here (not a mlkit train output directory)")
    fitted = load_trained_model(out / "final_model").fitted
    example = {}
    for col in fitted.input_columns:
        if col in fitted.categorical:
            example[col] = [str(fitted.categorical[col][0])]
        else:
            lo, hi = fitted.train_min.get(col, 0.0), fitted.train_max.get(col, 0.0)
            example[col] = [(lo + hi) / 2.0]
    return log_saved_training(out, fitted, pd.DataFrame(example), tracking,
                              structure_predictor=STRUCTURE_PREDICTOR)
