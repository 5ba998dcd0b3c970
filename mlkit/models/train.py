"""Training: :class:`Trainer` (estimator on a feature table) and :func:`train` (the whole job).

``Trainer.fit(X, y)``
    1. one-hot ``connectivity``, drop constant columns, redundancy filter (label-free,
       once, before the CV; reported);
    2. nested CV of every requested model family (:mod:`mlkit.models.nested_cv`);
    3. the model family with the best mean primary metric (F1 / MAE) is chosen;
    4. its final hyperparameters are tuned with the same Optuna search on one
       seeded 80/20 (stratified) split of *all* rows, then the pipeline is refitted
       on all rows -> ``pipeline_`` (the artefact).

``train(labels, target, structures=... | features=...)``
    featurize (or read the table) -> :func:`~mlkit.models.dataset.build_training_table`
    -> ``Trainer.fit`` -> explanation figures -> MLflow tracking + registration.
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

from mlkit.errors import MlkitError
from mlkit.models.dataset import (
    DatasetReport,
    build_training_table,
    load_features,
    sha256_file,
    sha256_frame,
)
from mlkit.models.metrics import PRIMARY, is_better
from mlkit.models.nested_cv import CVResult, fit_pipeline, nested_cv, split_train_val, tune
from mlkit.models.preprocessing import (
    CATEGORICAL_COLUMNS,
    drop_constant,
    encode_categoricals,
    feature_ranges,
    redundancy_filter,
)
from mlkit.models.zoo import MODELS, parse_models

DEFAULT_MODELS = tuple(MODELS)


class Trainer:
    """Nested-CV model selection and final refit on a feature table.

    Parameters
    ----------
    task : {"classification", "regression"}
    models : sequence of str or "a,b"
        Model families from :data:`mlkit.models.zoo.MODELS`.
    outer_folds : int
        Outer CV folds (10 -> 10 % test each).
    val_fraction : float
        Validation share of the non-test rows (0.2 -> 72/18/10).
    n_trials : int
        Optuna trials per fold (and for the final tuning).
    seed : int
    corr_threshold : float
        Redundancy filter: drop the later feature of every pair with |r| above it.
    n_jobs : int
        Outer CV folds in parallel (joblib; Dask via ``joblib.parallel_config``).
    progress : bool
        tqdm progress bars.

    Attributes
    ----------
    feature_columns_ : list of str
        Model input columns after encoding and filtering (order matters).
    input_columns_ : list of str
        Columns of the table given to ``fit`` (before encoding).
    constant_dropped_ : list of str
    redundant_pairs_ : list of RedundantPair
    cv_results_ : dict of str to CVResult
    best_model_ : str
    best_params_ : dict
    pipeline_ : sklearn Pipeline fitted on all rows
    train_min_, train_max_ : dict of str to float
        Range of every model input over the training rows.
    notes_ : list of str
    """

    def __init__(
        self,
        *,
        task: str = "regression",
        models: Sequence[str] | str = DEFAULT_MODELS,
        outer_folds: int = 10,
        val_fraction: float = 0.2,
        n_trials: int = 20,
        seed: int = 0,
        corr_threshold: float = 0.9,
        n_jobs: int = 1,
        progress: bool = True,
    ) -> None:
        self.task = task
        self.models = models
        self.outer_folds = outer_folds
        self.val_fraction = val_fraction
        self.n_trials = n_trials
        self.seed = seed
        self.corr_threshold = corr_threshold
        self.n_jobs = n_jobs
        self.progress = progress

    def _validate(self) -> list[str]:
        if self.task not in PRIMARY:
            raise MlkitError(f"task must be classification or regression, got {self.task!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise MlkitError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.n_trials < 1:
            raise MlkitError(f"n_trials must be >= 1, got {self.n_trials}")
        if self.outer_folds < 2:
            raise MlkitError(f"outer_folds must be >= 2, got {self.outer_folds}")
        return parse_models(self.models)

    def prepare(self, X: pd.DataFrame, *, fit: bool = False) -> pd.DataFrame:
        """Encode/select the model input columns of a raw feature table.

        With ``fit=True`` (inside :meth:`fit`) the constant and redundancy filters are
        learned; otherwise the learned ``feature_columns_`` are selected.
        """
        notes = self.notes_ if fit else []
        encoded = encode_categoricals(X, CATEGORICAL_COLUMNS, notes=notes)
        if not fit:
            missing = [c for c in self.feature_columns_ if c not in encoded.columns]
            if missing:
                raise MlkitError(
                    f"feature table lacks {len(missing)} training feature(s): "
                    + ", ".join(missing[:8])
                )
            return encoded[self.feature_columns_]
        encoded, self.constant_dropped_ = drop_constant(encoded, notes=notes)
        kept, self.redundant_pairs_ = redundancy_filter(
            encoded, self.corr_threshold, notes=notes
        )
        self.feature_columns_ = kept
        return encoded[kept]

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Trainer:
        """Run the nested CV of every model, choose the best, refit it on all rows.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_columns)
            Raw feature columns (numeric + ``connectivity``), index = id.
        y : Series of shape (n_samples,)
            Class codes (classification) or values (regression), same index.
        """
        models = self._validate()
        if len(X) != len(y):
            raise MlkitError(f"X has {len(X)} rows but y has {len(y)}")
        if self.task == "classification":
            counts = y.value_counts()
            if len(counts) < 2 or counts.min() < 2:
                raise MlkitError(
                    f"classification needs >= 2 classes with >= 2 members each, got "
                    f"{counts.to_dict()}"
                )
            if counts.min() < self.outer_folds:
                self.notes_ = [
                    f"smallest class has {counts.min()} members < {self.outer_folds} outer "
                    "folds: some test folds lack it (ROC-AUC NaN there)"
                ]
            else:
                self.notes_ = []
        else:
            self.notes_ = []
        self.input_columns_ = list(X.columns)
        self.X_raw_ = X
        Xf = self.prepare(X, fit=True)
        self.X_ = Xf
        self.y_ = y
        self.cv_results_: dict[str, CVResult] = {}
        metric = PRIMARY[self.task][0]
        best, best_value = None, float("nan")
        for name in models:
            t0 = time.perf_counter()
            res = nested_cv(
                Xf, y, name, self.task, outer_folds=self.outer_folds,
                val_fraction=self.val_fraction, n_trials=self.n_trials, seed=self.seed,
                progress=self.progress, n_jobs=self.n_jobs,
            )
            res.wall_time_s = time.perf_counter() - t0
            self.cv_results_[name] = res
            value = float(res.mean[metric])
            if best is None or is_better(self.task, value, best_value):
                best, best_value = name, value
        self.best_model_ = best
        tr, va = split_train_val(y, self.task, self.val_fraction, self.seed)
        self.best_params_, self.final_val_score_ = tune(
            best, self.task, Xf.iloc[tr], y.iloc[tr], Xf.iloc[va], y.iloc[va],
            n_trials=self.n_trials, seed=self.seed,
        )
        self.pipeline_ = fit_pipeline(best, self.task, self.best_params_, Xf, y, self.seed)
        self.train_min_, self.train_max_ = feature_ranges(Xf)
        return self

    def summary(self) -> pd.DataFrame:
        """Mean and std of every metric over the outer folds, one row per model."""
        rows = []
        for name, res in self.cv_results_.items():
            row = {"model": name, **res.summary()}
            row["wall_time_s"] = getattr(res, "wall_time_s", float("nan"))
            rows.append(row)
        return pd.DataFrame(rows).set_index("model")

    def oof_predictions(self) -> pd.DataFrame:
        """Out-of-fold predictions of all models (long format, column ``model``)."""
        return pd.concat(
            [r.oof.assign(model=n) for n, r in self.cv_results_.items()], ignore_index=True
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted values / class codes for a raw feature table."""
        return self.pipeline_.predict(self.prepare(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(self.prepare(X))


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    trainer: Trainer
    report: DatasetReport
    settings: dict[str, Any]
    output_dir: Path
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    run_id: str | None = None
    model_uri: str | None = None
    registered: dict[str, Any] | None = None
    subset_result: Any = None
    subset_metrics: dict[str, float] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    def summary_text(self) -> str:
        t = self.trainer
        metric = PRIMARY[t.task][0]
        lines = [self.report.summary()]
        lines += t.notes_
        table = t.summary()
        cols = [c for c in table.columns if c.endswith("_mean")]
        lines.append(f"nested CV ({t.outer_folds} outer folds, {t.n_trials} Optuna trials/fold):")
        for name, row in table.iterrows():
            parts = [
                f"{c[:-5]} {row[c]:.3f}+-{row[c[:-5] + '_std']:.3f}" for c in cols
            ]
            lines.append(f"  {name:9s} " + "  ".join(parts))
        lines.append(
            f"chosen: {t.best_model_} (best mean {metric}); final params {t.best_params_}"
        )
        if self.run_id:
            lines.append(f"MLflow run {self.run_id}; model {self.model_uri}")
        if self.registered:
            r = self.registered
            lines.append(
                f"registered models:/{r['name']}@{r['alias']} (version {r['version']})"
            )
        lines.append(f"artefacts in {self.output_dir}")
        return "\n".join(lines)


def _featurize(
    structures: str | Path | Sequence[str | Path],
    *,
    featurizers: Sequence[str] | None,
    mobile_ion: str,
    disorder: str,
    max_sites: int,
    n_jobs: int,
    cache_dir: str | Path | None,
    progress: bool,
) -> pd.DataFrame:
    try:
        from mlkit.features import featurize_paths
    except ImportError as exc:  # pragma: no cover - features helper not merged yet
        raise MlkitError(
            f"--structures needs mlkit.features.featurize_paths ({exc}); use --features"
        ) from exc
    paths = [structures] if isinstance(structures, (str, Path)) else list(structures)
    return featurize_paths(
        paths, featurizers=featurizers, mobile_ion=mobile_ion, disorder=disorder,
        max_sites=max_sites, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress,
    )


def resolve_featurizers(featurizers: Sequence[str] | None) -> list[str] | None:
    """The explicit featurizer list used when ``None`` (the default set), if knowable."""
    if featurizers is not None:
        return list(featurizers)
    try:
        import mlkit.features as feats
    except ImportError:  # pragma: no cover
        return None
    for name in ("DEFAULT_FEATURIZERS", "DEFAULT_GROUPS"):
        if hasattr(feats, name):
            return list(getattr(feats, name))
    return None


def train(
    labels: str | Path | pd.DataFrame,
    target: str,
    *,
    structures: str | Path | Sequence[str | Path] | None = None,
    features: str | Path | pd.DataFrame | None = None,
    task: str | None = None,
    models: Sequence[str] | str = DEFAULT_MODELS,
    experiment: str = "mlkit",
    target_transform: str | None = None,
    threshold: float | None = None,
    censored: str = "drop",
    duplicates: str = "error",
    non_numeric: str = "error",
    id_column: str = "id",
    feature_errors: str = "drop",
    mobile_ion: str = "Na",
    featurizers: Sequence[str] | None = None,
    disorder: str = "average",
    max_sites: int = 2000,
    n_trials: int = 20,
    outer_folds: int = 10,
    val_fraction: float = 0.2,
    seed: int = 0,
    corr_threshold: float = 0.9,
    subset_search: bool = False,
    register_name: str | None = None,
    alias: str = "champion",
    tracking_uri: str | None = None,
    track: bool = True,
    explain: bool = True,
    output_dir: str | Path | None = None,
    n_jobs: int = 1,
    cv_jobs: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    run_name: str | None = None,
) -> TrainResult:
    """Train, explain, track and register a screening model (the ``mlkit train`` job).

    Parameters
    ----------
    labels : path to a CSV or DataFrame
        ``id`` column (structure file stems) plus ``target``.
    target : str
    structures : path, directory or glob(s), optional
        Featurized with :func:`mlkit.features.featurize_paths` (``featurizers``,
        ``mobile_ion``, ``disorder``, ``max_sites``). Exactly one of ``structures``
        and ``features`` is required.
    features : path (.parquet / .csv) or DataFrame, optional
        A table written by ``mlkit featurize``.
    task, target_transform, threshold, censored, duplicates, non_numeric, id_column
        See :func:`mlkit.models.dataset.load_labels`.
    feature_errors : {"drop", "keep-partial"}
        See :func:`mlkit.models.dataset.build_training_table`.
    models, n_trials, outer_folds, val_fraction, seed, corr_threshold
        See :class:`Trainer`.
    subset_search : bool
        Also run :func:`mlkit.models.subsets.exhaustive_subset_search` (classification,
        logistic regression on every feature subset) and log its result.
    register_name, alias : str
        Register the final model as ``models:/<register_name>@<alias>``; no registration
        when ``register_name`` is None.
    tracking_uri : str, optional
        Default: ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db`` in the cwd.
    track : bool
        Log to MLflow (False: only local artefacts).
    explain : bool
        SHAP and figures for the final model.
    output_dir : path, optional
        Local copy of all artefacts (default: a temporary directory).
    n_jobs : int
        Featurization workers.
    cv_jobs : int
        Outer CV folds in parallel (results do not depend on it).

    Returns
    -------
    TrainResult
    """
    if (structures is None) == (features is None):
        raise MlkitError("give exactly one of structures (--structures) or features (--features)")
    t_start = time.perf_counter()
    out = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="mlkit-"))
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_feat = time.perf_counter()
    if structures is not None:
        table = _featurize(
            structures, featurizers=featurizers, mobile_ion=mobile_ion, disorder=disorder,
            max_sites=max_sites, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress,
        )
        feature_source = "structures"
        feature_sha = sha256_frame(table.drop(columns=["source"], errors="ignore"))
    elif isinstance(features, pd.DataFrame):
        table = features
        feature_source = "table"
        feature_sha = sha256_frame(table)
    else:
        table = load_features(features)
        feature_source = "table"
        feature_sha = sha256_file(features)
    timings["featurize_s"] = time.perf_counter() - t_feat
    labels_sha = sha256_frame(labels) if isinstance(labels, pd.DataFrame) else (
        sha256_file(labels) if Path(labels).is_file() else ""
    )
    X, y, report = build_training_table(
        table, labels, target, id_column=id_column, task=task, censored=censored,
        duplicates=duplicates, non_numeric=non_numeric, target_transform=target_transform,
        threshold=threshold, feature_errors=feature_errors,
    )
    t_cv = time.perf_counter()
    trainer = Trainer(
        task=report.task, models=models, outer_folds=outer_folds, val_fraction=val_fraction,
        n_trials=n_trials, seed=seed, corr_threshold=corr_threshold, n_jobs=cv_jobs,
        progress=progress,
    ).fit(X, y)
    timings["cv_and_refit_s"] = time.perf_counter() - t_cv

    settings: dict[str, Any] = {
        "task": trainer.task,
        "target": target,
        "target_transform": None if trainer.task == "classification" else target_transform,
        "threshold": threshold,
        "classes": report.classes,
        "feature_source": feature_source,
        "featurizers": resolve_featurizers(featurizers),
        "mobile_ion": mobile_ion,
        "disorder": disorder,
        "max_sites": max_sites,
        "feature_errors": feature_errors,
        "input_columns": trainer.input_columns_,
        "categorical": {k: list(v) for k, v in CATEGORICAL_COLUMNS.items()},
        "feature_columns": trainer.feature_columns_,
        "train_min": trainer.train_min_,
        "train_max": trainer.train_max_,
        "model": trainer.best_model_,
        "params": trainer.best_params_,
        "n_train": int(len(y)),
    }
    result = TrainResult(trainer=trainer, report=report, settings=settings, output_dir=out,
                         timings_s=timings)
    _write_tables(result, X)
    if subset_search:
        result.subset_result = _run_subset_search(result, out)
    t_explain = time.perf_counter()
    if explain:
        from mlkit.explain import explain_training

        figs, tabs = explain_training(trainer, out, progress=progress)
        result.figures.update(figs)
        result.tables.update(tabs)
    timings["explain_s"] = time.perf_counter() - t_explain
    wall = time.perf_counter() - t_start
    t_track = time.perf_counter()
    if track:
        from mlkit.tracking import log_training

        info = log_training(
            result, experiment=experiment, tracking_uri=tracking_uri,
            register_name=register_name, alias=alias, run_name=run_name,
            params={
                "labels_sha256": labels_sha, "features_sha256": feature_sha,
                "wall_time_s": round(wall, 2),
            },
        )
        result.run_id = info["run_id"]
        result.model_uri = info["model_uri"]
        result.registered = info.get("registered")
    timings["tracking_s"] = time.perf_counter() - t_track
    timings["total_s"] = time.perf_counter() - t_start
    return result


def _write_tables(result: TrainResult, X: pd.DataFrame) -> None:
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
    t.summary().to_csv(paths["cv_summary"])
    pd.concat(
        [r.fold_metrics.assign(model=n) for n, r in t.cv_results_.items()]
    ).to_csv(paths["cv_folds"])
    t.oof_predictions().to_csv(paths["oof_predictions"], index=False)
    rows = [
        {"feature": c, "reason": "constant", "partner": "", "r": np.nan}
        for c in t.constant_dropped_
    ] + [
        {"feature": p.dropped, "reason": "redundant", "partner": p.kept, "r": p.r}
        for p in t.redundant_pairs_
    ]
    pd.DataFrame(rows, columns=["feature", "reason", "partner", "r"]).to_csv(
        paths["dropped_features"], index=False
    )
    paths["features"].write_text(json.dumps(t.feature_columns_, indent=1))
    paths["report"].write_text(json.dumps(result.report.to_dict(), indent=1))
    paths["settings"].write_text(json.dumps(result.settings, indent=1, default=str))
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
    res.best_by_size.to_csv(path, index=False)
    result.tables["subset_search"] = path
    result.figures["subset_curve"] = res.plot_curve(out / "subset_search_curve.png")
    result.subset_metrics = {f"subset_{k}": float(v) for k, v in res.summary_metrics().items()}
    return res
