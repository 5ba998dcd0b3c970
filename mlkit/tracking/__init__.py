"""MLflow tracking and the model registry -- the only part of mlkit that imports mlflow.

Store: ``tracking_uri`` argument > ``$MLFLOW_TRACKING_URI`` > ``sqlite:///mlflow.db`` in
the current directory (artefacts of a new experiment in a SQLite store go to
``mlruns/<experiment>/`` next to the database file).

Layout of one ``mlkit train``:

* every run is tagged ``mlkit.version`` and, when mlkit runs from a git checkout,
  ``mlkit.git_commit`` (``<sha>`` or ``<sha>-dirty``); the label and feature tables are
  logged as MLflow dataset inputs (``context=training``, names ``labels`` and
  ``features``, digest = the first 16 hex digits of their sha256), so the UI's dataset
  view shows which data trained which run;
* parent run (``mlkit.role=train``): settings as params, sha256 of labels and features,
  the feature list after filtering, dropped features, dataset report, the chosen
  model's CV metrics, figures, tables, and the final model (pyfunc, signature, input
  example), registered as ``models:/<name>@<alias>``;
* one nested child run per model family (``mlkit.role=cv``): tuned hyperparameters per
  fold, ``<metric>`` per outer fold (step = fold), ``<metric>_mean`` / ``<metric>_std``,
  and its out-of-fold predictions. Metric names are the same for every model so runs
  line up in the MLflow compare view.

:func:`download_model` fetches a logged or registered model as a local directory; reading
it (:func:`mlkit.workflows.load_trained_model`) needs no mlflow.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit.errors import MlkitError
from mlkit.utils import one_line

DEFAULT_TRACKING_URI_NAME = "mlflow.db"

#: columns of structure text a registered model accepts instead of a feature table
STRUCTURE_COLUMNS = ("cif", "poscar", "structure_json")


@dataclass(frozen=True)
class TrackingSettings:
    """Where and under which names a training run is logged.

    Parameters
    ----------
    experiment : str
        MLflow experiment name.
    tracking_uri : str, optional
        Default: ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db`` in the cwd.
    register_name : str, optional
        Register the final model as ``models:/<register_name>@<alias>``.
    alias : str
    run_name : str, optional
    """

    experiment: str = "mlkit"
    tracking_uri: str | None = None
    register_name: str | None = None
    alias: str = "champion"
    run_name: str | None = None


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """``tracking_uri`` > ``$MLFLOW_TRACKING_URI`` > ``sqlite:///<cwd>/mlflow.db``."""
    if tracking_uri:
        return str(tracking_uri)
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path.cwd() / DEFAULT_TRACKING_URI_NAME}"


def check_reachable(uri: str, timeout_s: float = 10.0) -> None:
    """Fail fast when an HTTP tracking server does not answer (other stores: no check).

    mlflow retries a refused connection with exponential backoff (by default 7 times,
    minutes in all); one ``GET <uri>/health`` with a short timeout says at once that the
    server is not there.

    Raises
    ------
    MlkitError
        ``"tracking server http://...: unreachable (<reason>)"``.
    """
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s):
            pass
    except urllib.error.HTTPError:
        return  # it answered (an old server or a proxy without /health)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MlkitError(f"tracking server {uri}: unreachable ({one_line(reason)})") from None


def _sqlite_dir(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).resolve().parent
    return None


def _setup(tracking_uri: str | None, experiment: str | None = None) -> str:
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)  # cloudpickle notice
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment is not None:
        client = mlflow.MlflowClient()
        if client.get_experiment_by_name(experiment) is None:
            base = _sqlite_dir(uri)
            location = (base / "mlruns" / experiment).as_uri() if base else None
            client.create_experiment(experiment, artifact_location=location)
        mlflow.set_experiment(experiment)
    return uri


def _flat_params(settings: dict[str, Any]) -> dict[str, str]:
    skip = {"train_min", "train_max", "input_columns", "feature_columns", "categorical"}
    out = {}
    for k, v in settings.items():
        if k in skip:
            continue
        text = json.dumps(v, default=str) if isinstance(v, (list, dict, tuple)) else str(v)
        out[k] = text[:6000]
    return out


@dataclass(frozen=True)
class DatasetInput:
    """A table that went into a run, logged with ``mlflow.log_input``.

    Parameters
    ----------
    name : str
        Dataset name in the UI (``labels``, ``features``).
    frame : DataFrame
    source : str, optional
        Where it came from (a file path); None: the code location.
    sha256 : str
        Hex digest of the table (its first 16 digits are the MLflow digest).
    targets : str, optional
        Target column of a label table.
    """

    name: str
    frame: Any
    source: str | None = None
    sha256: str = ""
    targets: str | None = None


def provenance_tags() -> dict[str, str]:
    """``mlkit.version`` and, from a git checkout, ``mlkit.git_commit``."""
    import mlkit
    from mlkit.utils import git_commit

    tags = {"mlkit.version": str(mlkit.__version__)}
    commit = git_commit()
    if commit:
        tags["mlkit.git_commit"] = commit
    return tags


def _log_inputs(inputs: list[DatasetInput]) -> None:
    import warnings

    import mlflow.data

    for item in inputs:
        targets = item.targets if item.targets in getattr(item.frame, "columns", ()) else None
        with warnings.catch_warnings():
            # schema hints on integer columns, and "source can be interpreted in multiple
            # ways" for a local path (both resolve to the local file source)
            warnings.simplefilter("ignore", UserWarning)
            ds = mlflow.data.from_pandas(
                item.frame, source=item.source, targets=targets, name=item.name,
                digest=item.sha256[:16] or None,
            )
        mlflow.log_input(ds, context="training")


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    import math

    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}


def log_training(
    result,
    tracking: TrackingSettings | None = None,
    *,
    params: dict[str, Any] | None = None,
    inputs: list[DatasetInput] | None = None,
    structure_predictor: str | None = None,
) -> dict[str, Any]:
    """Log a :class:`mlkit.workflows.TrainResult` to MLflow (see module docstring).

    ``inputs`` (the label and feature tables) are logged as dataset inputs of the parent
    and of every child run. ``structure_predictor`` (``"module:function"``, called as
    ``function(pipeline, settings, frame)``) lets the pyfunc model answer requests that
    carry structures (:data:`STRUCTURE_COLUMNS`) instead of features; the signature then
    makes every column optional and adds those text columns and ``id``.

    ``result`` needs ``trainer`` (fitted :class:`~mlkit.models.trainer.Trainer`),
    ``settings`` (flat dict, logged as params), ``model`` (with ``save(directory)`` and
    ``fitted``, a :class:`~mlkit.models.fitted.FittedModel`), ``output_dir``, ``tables``,
    ``figures`` and ``subset_metrics``.

    Returns
    -------
    dict with ``run_id``, ``model_uri`` (``runs:/<run_id>/model``), ``child_run_ids``,
    ``tracking_uri`` and ``registered`` (``{"name", "version", "alias"}`` or None).
    """
    import mlflow

    tracking = tracking if tracking is not None else TrackingSettings()
    check_reachable(resolve_tracking_uri(tracking.tracking_uri))
    uri = _setup(tracking.tracking_uri, tracking.experiment)
    trainer = result.trainer
    settings = result.settings
    out = Path(result.output_dir)
    child_ids: dict[str, str] = {}
    tags = provenance_tags()
    with mlflow.start_run(run_name=tracking.run_name or f"train-{settings['target']}") as parent:
        mlflow.set_tags({"mlkit.role": "train", "mlkit.target": settings["target"],
                         "mlkit.task": trainer.task, **tags})
        _log_inputs(inputs or [])
        mlflow.log_params(_flat_params(settings))
        mlflow.log_params({
            "models": ",".join(trainer.cv_results_), "outer_folds": trainer.outer_folds,
            "val_fraction": trainer.val_fraction, "n_trials": trainer.n_trials,
            "seed": trainer.seed, "corr_threshold": trainer.corr_threshold,
            "n_samples": len(trainer.y_), "n_features": len(trainer.feature_columns_),
            **{k: v for k, v in (params or {}).items() if k != "wall_time_s"},
        })
        if params and "wall_time_s" in params:
            mlflow.log_metric("wall_time_s", float(params["wall_time_s"]))
        best = trainer.cv_results_[trainer.best_model_]
        mlflow.log_metrics(_finite(best.summary()))
        if getattr(result, "subset_metrics", None):
            mlflow.log_metrics(_finite(result.subset_metrics))
        for name, res in trainer.cv_results_.items():
            with mlflow.start_run(run_name=name, nested=True) as child:
                child_ids[name] = child.info.run_id
                mlflow.set_tags({"mlkit.role": "cv", "mlkit.model": name,
                                 "mlkit.target": settings["target"], **tags})
                _log_inputs(inputs or [])
                mlflow.log_params({
                    "model": name, "task": trainer.task, "outer_folds": trainer.outer_folds,
                    "n_trials": trainer.n_trials, "seed": trainer.seed,
                    "n_features": len(trainer.feature_columns_),
                    "features_sha256": (params or {}).get("features_sha256", ""),
                    "labels_sha256": (params or {}).get("labels_sha256", ""),
                })
                mlflow.log_metrics(_finite(res.summary()))
                if hasattr(res, "wall_time_s"):
                    mlflow.log_metric("wall_time_s", float(res.wall_time_s))
                for fold, row in res.fold_metrics.iterrows():
                    mlflow.log_metrics(_finite(row.to_dict()), step=int(fold))
                mlflow.log_dict({"best_params_per_fold": res.best_params,
                                 "val_score_per_fold": res.val_scores},
                                "best_params_per_fold.json")
                mlflow.log_text(res.oof.to_csv(index=False), "oof_predictions.csv")
        mlflow.log_dict({"features": trainer.feature_columns_}, "feature_columns.json")
        for path in list(result.tables.values()) + list(result.figures.values()):
            if Path(path).exists():
                mlflow.log_artifact(str(path), artifact_path="figures"
                                    if str(path).endswith(".png") else "tables")
        # final model as pyfunc
        model_dir = result.model.save(out / "final_model")
        info, registered = _log_model(model_dir, result.model.fitted,
                                      _input_example(trainer, result.model.fitted), settings,
                                      tracking, structure_predictor)
        run_id = parent.info.run_id
    return {
        "run_id": run_id,
        "model_uri": f"runs:/{run_id}/model",
        "logged_model_uri": info.model_uri,
        "child_run_ids": child_ids,
        "tracking_uri": uri,
        "registered": registered,
    }


def _log_model(model_dir: Path, fitted: Any, example: Any, settings: dict[str, Any],
               tracking: TrackingSettings, structure_predictor: str | None,
               ) -> tuple[Any, dict[str, str] | None]:
    """Log the saved model as a pyfunc in the active run; register it when asked."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    from mlkit.tracking._pyfunc import MlkitPyfuncModel

    signature = infer_signature(example, fitted.predict_frame(example))
    if structure_predictor:
        signature = _either_signature(signature)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=MlkitPyfuncModel(structure_predictor),
        artifacts={"pipeline": str(model_dir / "pipeline.joblib"),
                   "settings": str(model_dir / "settings.json")},
        signature=signature,
        input_example=example,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", "mlkit"],
        metadata={"mlkit_settings": json.dumps(
            {k: settings.get(k) for k in ("task", "target", "featurizers", "mobile_ion",
                                          "disorder", "model")}, default=str)},
    )
    registered = None
    if tracking.register_name:
        name, alias = tracking.register_name, tracking.alias
        mv = mlflow.register_model(info.model_uri, name)
        mlflow.MlflowClient().set_registered_model_alias(name, alias, mv.version)
        registered = {"name": name, "version": str(mv.version), "alias": alias}
        mlflow.set_tag("mlkit.registered", f"models:/{name}@{alias}")
    return info, registered


#: files of a ``mlkit train`` output directory that :func:`log_saved_training` needs
SAVED_TRAINING_FILES = ("settings.json", "cv_summary.csv", "cv_folds.csv",
                        "oof_predictions.csv", "final_model/settings.json",
                        "final_model/pipeline.joblib")


def log_saved_training(
    output_dir: str | Path,
    fitted: Any,
    example: Any,
    tracking: TrackingSettings | None = None,
    *,
    structure_predictor: str | None = None,
) -> dict[str, Any]:
    """Log a finished ``mlkit train`` output directory to MLflow afterwards.

    For a training whose tracking failed (store down): the same layout as
    :func:`log_training`, read back from the directory's files -- parent run with the
    settings as params, the chosen model's CV metrics, every table and figure, the final
    model (registered when ``tracking.register_name``); one child run per model family
    with its per-fold metrics and out-of-fold predictions. Not on disk, so not logged:
    the tuned hyperparameters per fold, the dataset inputs and the training wall time.
    The runs are tagged ``mlkit.logged_from`` (the directory).

    Parameters
    ----------
    output_dir : str or Path
        A ``mlkit train`` output directory (:data:`SAVED_TRAINING_FILES`).
    fitted : FittedModel
        The directory's final model (``predict_frame`` gives the output signature).
    example : DataFrame
        Input example of the model's input columns.

    Returns
    -------
    dict as :func:`log_training`.
    """
    import mlflow
    import pandas as pd

    out = Path(output_dir)
    missing = [f for f in SAVED_TRAINING_FILES if not (out / f).is_file()]
    if missing:
        raise MlkitError(f"{out}: not a finished mlkit train output (missing "
                         f"{', '.join(missing)})")
    tracking = tracking if tracking is not None else TrackingSettings()
    check_reachable(resolve_tracking_uri(tracking.tracking_uri))
    uri = _setup(tracking.tracking_uri, tracking.experiment)
    settings = json.loads((out / "settings.json").read_text())
    summary = pd.read_csv(out / "cv_summary.csv", index_col=0)
    folds = pd.read_csv(out / "cv_folds.csv")
    oof = pd.read_csv(out / "oof_predictions.csv")
    best = settings.get("training", {}).get("model", settings.get("model"))
    target = settings.get("target", "")
    tags = {**provenance_tags(), "mlkit.logged_from": str(out.resolve())}
    child_ids: dict[str, str] = {}
    fold_col = "fold" if "fold" in folds.columns else folds.columns[0]
    with mlflow.start_run(run_name=tracking.run_name or f"train-{target}") as parent:
        mlflow.set_tags({"mlkit.role": "train", "mlkit.target": target,
                         "mlkit.task": settings.get("task", ""), **tags})
        mlflow.log_params(_flat_params(settings))
        mlflow.log_params({"models": ",".join(map(str, summary.index)),
                           "n_features": len(settings.get("feature_columns", []))})
        if best in summary.index:
            mlflow.log_metrics(_finite(summary.loc[best].to_dict()))
        for name in summary.index:
            with mlflow.start_run(run_name=str(name), nested=True) as child:
                child_ids[str(name)] = child.info.run_id
                mlflow.set_tags({"mlkit.role": "cv", "mlkit.model": str(name),
                                 "mlkit.target": target, **tags})
                mlflow.log_params({"model": name, "task": settings.get("task", "")})
                mlflow.log_metrics(_finite(summary.loc[name].to_dict()))
                mine = folds[folds["model"] == name]
                for _, row in mine.iterrows():
                    mlflow.log_metrics(_finite(row.drop(["model", fold_col]).to_dict()),
                                       step=int(row[fold_col]))
                mlflow.log_text(oof[oof["model"] == name].drop(columns="model")
                                .to_csv(index=False), "oof_predictions.csv")
        mlflow.log_dict({"features": settings.get("feature_columns", [])},
                        "feature_columns.json")
        for path in sorted(out.iterdir()):
            if path.is_file() and path.suffix in (".csv", ".json", ".png"):
                mlflow.log_artifact(str(path), artifact_path="figures"
                                    if path.suffix == ".png" else "tables")
        info, registered = _log_model(out / "final_model", fitted, example, settings,
                                      tracking, structure_predictor)
        run_id = parent.info.run_id
    return {"run_id": run_id, "model_uri": f"runs:/{run_id}/model",
            "logged_model_uri": info.model_uri, "child_run_ids": child_ids,
            "tracking_uri": uri, "registered": registered}


def log_subset_search(
    result,
    paths: dict[str, Path],
    *,
    experiment: str = "mlkit-subsets",
    tracking_uri: str | None = None,
    run_name: str | None = None,
) -> str:
    """Log an exhaustive feature-subset search to MLflow; returns the run id.

    Logged: the search parameters, ``result.summary_metrics()`` (best metric overall and
    per subset size, number of subsets, non-converged count), the metric-versus-size
    curve PNG, the best-by-size / size-summary / top-100 tables and ``best.json``. The
    full table (``subsets.parquet``, one row per subset) stays on disk: it is large.
    """
    import mlflow

    _setup(tracking_uri, experiment)
    with mlflow.start_run(run_name=run_name or f"subsets-{result.metric}") as run:
        mlflow.set_tags({"mlkit.role": "subsets", "mlkit.metric": result.metric,
                         **provenance_tags()})
        mlflow.log_params(_flat_params(dict(result.params)))
        mlflow.log_metrics(_finite(result.summary_metrics()))
        for key, path in paths.items():
            if key != "table" and Path(path).exists():
                mlflow.log_artifact(str(path))
        return run.info.run_id


def _either_signature(signature):
    """Inputs: the feature columns or a structure column, all optional (+ ``id``)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    cols = [ColSpec(c.type, c.name, required=False) for c in signature.inputs.inputs]
    cols += [ColSpec("string", name, required=False) for name in ("id", *STRUCTURE_COLUMNS)]
    return ModelSignature(inputs=Schema(cols), outputs=signature.outputs)


def _input_example(trainer, fitted):
    import pandas as pd

    X = pd.DataFrame(trainer.X_raw_).head(3)
    cols = [c for c in fitted.input_columns if c in X.columns]
    X = X[cols].copy()
    for c in cols:
        X[c] = X[c].astype(str) if c in fitted.categorical else X[c].astype(float)
    return X.reset_index(drop=True)


def download_model(
    model_uri: str, dst_dir: str | Path, *, tracking_uri: str | None = None
) -> Path:
    """Download a model logged by :func:`log_training` into ``dst_dir``.

    Parameters
    ----------
    model_uri : str
        ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``runs:/RUN_ID/model``.

    Returns
    -------
    Path
        The local model directory (``MLmodel``, ``artifacts/pipeline.joblib``,
        ``artifacts/settings.json``).

    Raises
    ------
    MlkitError
        One line naming the URI when the store, run or model does not exist.
    """
    import mlflow

    _setup(tracking_uri)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst_dir))
    except Exception as exc:  # noqa: BLE001 - mlflow raises many types; one line for the user
        raise MlkitError(f"{model_uri}: cannot load model ({one_line(exc, 300)})") from exc
    return Path(local)
