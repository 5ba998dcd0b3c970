"""The public Python API: one function per CLI verb, exported lazily from ``mlkit``.

``import mlkit`` stays light (no pandas, scikit-learn, mlflow or torch); the first use of
``mlkit.featurize`` (or any other name below) imports this module, and each function
imports what it needs when called.

* :func:`featurize` -- ``mlkit featurize``: the feature DataFrame;
* :func:`train` -- ``mlkit train``: a :class:`~mlkit.workflows.TrainResult`;
* :func:`subsets` -- ``mlkit subsets``: a ``SubsetSearchResult``;
* :func:`predict` -- ``mlkit predict``: the prediction DataFrame;
* :func:`label_md` -- ``mlkit label md``: the label DataFrame;
* :func:`label_phonons` -- ``mlkit label phonons``: the label DataFrame;
* :func:`info` -- ``mlkit info``: a dict.

Keyword names follow the CLI options (``--mobile-ion`` -> ``mobile_ion``); a settings
value (``FeaturizationSettings``, ``MDSettings``, ``PhononSettings``, ...) may be passed
whole instead of its fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit import DEFAULT_MOBILE_ION

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.features import FeaturizationSettings
    from mlkit.md.settings import MDSettings
    from mlkit.phonons import PhononSettings
    from mlkit.workflows import TrainResult

__all__ = ["featurize", "info", "label_md", "label_phonons", "predict", "subsets", "train"]

PathLike = str | Path


def _featurization(settings: FeaturizationSettings | None, featurizers: str | Sequence[str],
                   mobile_ion: str, disorder: str, max_sites: int) -> FeaturizationSettings:
    from mlkit.features import FeaturizationSettings

    if settings is not None:
        return settings
    names = (featurizers,) if isinstance(featurizers, str) else tuple(featurizers)
    return FeaturizationSettings(featurizers=names, mobile_ion=mobile_ion, disorder=disorder,
                                 max_sites=max_sites)


def _structure_mapping(structures: Any) -> dict[str, Any] | None:
    """``{id: Structure}`` for in-memory structures; None for paths."""
    from pymatgen.core import Structure

    if isinstance(structures, Mapping):
        return {str(k): v for k, v in structures.items()}
    if isinstance(structures, Structure):
        return {"s0": structures}
    if isinstance(structures, Sequence) and not isinstance(structures, str) and structures \
            and all(isinstance(s, Structure) for s in structures):
        return {f"s{i}": s for i, s in enumerate(structures)}
    return None


def _paths(structures: PathLike | Sequence[PathLike]) -> list[PathLike]:
    return [structures] if isinstance(structures, str | Path) else list(structures)


def featurize(
    structures: PathLike | Sequence[PathLike] | Mapping[str, Any] | Sequence[Any],
    *,
    featurizers: str | Sequence[str] = "default",
    mobile_ion: str = DEFAULT_MOBILE_ION,
    disorder: str = "average",
    max_sites: int = 2000,
    settings: FeaturizationSettings | None = None,
    output: PathLike | None = None,
    jobs: int = 1,
    cache_dir: PathLike | None = None,
    use_cache: bool = True,
    progress: bool = False,
) -> pd.DataFrame:
    """Structures -> feature table (``mlkit featurize``).

    Parameters
    ----------
    structures : path(s) or Structures
        Files, directories or globs; or pymatgen ``Structure`` objects (a list, ids
        ``s0, s1, ...``, or a mapping ``{id: Structure}``).
    featurizers, mobile_ion, disorder, max_sites
        The featurization settings (ignored when ``settings`` is given).
    settings : FeaturizationSettings, optional
    output : path, optional
        Also write the table (``.parquet`` or ``.csv``; streamed as rows finish, see
        :func:`mlkit.features.featurize_paths`).
    jobs, cache_dir, use_cache, progress
        Worker processes, feature cache, progress bar.

    Returns
    -------
    DataFrame
        One row per input: ``id, source, error, disorder, connectivity`` then the features.
    """
    from mlkit.features import featurize_paths, featurize_structures

    fs = _featurization(settings, featurizers, mobile_ion, disorder, max_sites)
    kwargs = {"n_jobs": jobs, "cache_dir": cache_dir, "use_cache": use_cache,
              "progress": progress, "output": output}
    mapping = _structure_mapping(structures)
    return (featurize_structures(mapping, fs, **kwargs) if mapping is not None
            else featurize_paths(_paths(structures), fs, **kwargs))


def train(
    labels: PathLike | pd.DataFrame,
    target: str,
    *,
    structures: PathLike | Sequence[PathLike] | None = None,
    features: PathLike | pd.DataFrame | None = None,
    task: str | None = None,
    threshold: float | None = None,
    target_transform: str | None = None,
    censored: str = "drop",
    feature_errors: str = "drop",
    id_column: str = "id",
    featurizers: str | Sequence[str] = "default",
    mobile_ion: str = DEFAULT_MOBILE_ION,
    disorder: str = "average",
    max_sites: int = 2000,
    featurization: FeaturizationSettings | None = None,
    models: str | Sequence[str] = "logreg,rf,xgboost,lightgbm",
    n_trials: int = 20,
    outer_folds: int = 10,
    seed: int = 0,
    corr_threshold: float = 0.9,
    track: bool = True,
    experiment: str = "mlkit",
    register_name: str | None = None,
    alias: str = "champion",
    tracking_uri: str | None = None,
    explain: bool = True,
    subset_search: bool = False,
    output_dir: PathLike | None = None,
    jobs: int = 1,
    cache_dir: PathLike | None = None,
    use_cache: bool = True,
    progress: bool = False,
) -> TrainResult:
    """Nested CV, final model, SHAP, MLflow tracking and registration (``mlkit train``).

    Parameters
    ----------
    labels : path or DataFrame
        ``id`` column plus ``target``.
    target : str
    structures, features
        Exactly one: structure files/directories/globs, or a feature table.
    task, threshold, target_transform, censored, feature_errors, id_column
        The label policy (see ``docs/training.md``).
    featurizers, mobile_ion, disorder, max_sites, featurization
        How structures are featurized (stored with the model).
    models, n_trials, outer_folds, seed, corr_threshold
        The :class:`~mlkit.models.trainer.Trainer`.
    track : bool
        Log to MLflow (``experiment``, ``tracking_uri``); register as
        ``models:/<register_name>@<alias>`` when ``register_name`` is given.
    explain, subset_search, output_dir, jobs, cache_dir, use_cache, progress
        As for :func:`mlkit.workflows.train` (``jobs`` serves featurization and the CV).

    Returns
    -------
    TrainResult
        ``summary_text()``, ``trainer.summary()``, ``model``, ``run_id``, ``registered``.
    """
    from mlkit.models.dataset import LabelPolicy
    from mlkit.models.trainer import Trainer
    from mlkit.tracking import TrackingSettings
    from mlkit.workflows import train as _train

    policy = LabelPolicy(target, task=task, threshold=threshold,
                         target_transform=target_transform, censored=censored,
                         feature_errors=feature_errors, id_column=id_column)
    trainer = Trainer(models=models if isinstance(models, str) else ",".join(models),
                      n_trials=n_trials, outer_folds=outer_folds, seed=seed,
                      corr_threshold=corr_threshold, n_jobs=jobs, progress=progress)
    tracking = TrackingSettings(experiment=experiment, tracking_uri=tracking_uri,
                                register_name=register_name, alias=alias) if track else None
    return _train(labels, policy, structures=structures, features=features,
                  featurization=_featurization(featurization, featurizers, mobile_ion,
                                               disorder, max_sites),
                  trainer=trainer, tracking=tracking, explain=explain,
                  subset_search=subset_search, output_dir=output_dir, jobs=jobs,
                  cache_dir=cache_dir, use_cache=use_cache, progress=progress)


def subsets(
    labels: PathLike | pd.DataFrame,
    target: str,
    *,
    features: PathLike | pd.DataFrame | None = None,
    structures: PathLike | Sequence[PathLike] | None = None,
    threshold: float | None = None,
    censored: str = "drop",
    featurizers: str | Sequence[str] = "default",
    mobile_ion: str = DEFAULT_MOBILE_ION,
    disorder: str = "average",
    max_sites: int = 2000,
    featurization: FeaturizationSettings | None = None,
    corr_threshold: float | None = None,
    cv: int = 10,
    max_features: int | None = None,
    C: float = 1.0,
    metric: str = "f1",
    seed: int = 0,
    output_dir: PathLike | None = None,
    track: bool = False,
    experiment: str = "mlkit-subsets",
    tracking_uri: str | None = None,
    jobs: int = 1,
    cache_dir: PathLike | None = None,
    use_cache: bool = True,
    progress: bool = False,
) -> Any:
    """Logistic regression on every feature subset (``mlkit subsets``).

    Parameters
    ----------
    labels, target, threshold, censored
        A classification label (``threshold`` for a numeric target).
    features, structures
        Exactly one: a feature table, or structures featurized with the settings.
    corr_threshold : float, optional
        Drop the later column of pairs with |r| above it first.
    cv, max_features, C, metric, seed
        The search (see ``docs/subsets.md``).
    output_dir : path, optional
        Write the tables and the curve there (needed for ``track``).
    track, experiment, tracking_uri
        Log the search to MLflow.

    Returns
    -------
    SubsetSearchResult
        ``best``, ``best_by_size``, ``features_of(bitmask)``, ``summary_metrics()``.
    """
    from mlkit.errors import MlkitError
    from mlkit.models.dataset import LabelPolicy
    from mlkit.models.subsets import exhaustive_subset_search, write_outputs
    from mlkit.workflows import prepare_subset_table

    if track and output_dir is None:
        raise MlkitError("track=True needs output_dir (the logged tables are written there)")
    X, y, _notes = prepare_subset_table(
        labels, LabelPolicy(target, task="classification", threshold=threshold,
                            censored=censored),
        features=features, structures=structures,
        featurization=_featurization(featurization, featurizers, mobile_ion, disorder,
                                     max_sites),
        corr_threshold=corr_threshold, jobs=jobs, cache_dir=cache_dir, use_cache=use_cache,
        progress=progress)
    result = exhaustive_subset_search(X, y, cv=cv, max_features=max_features, C=C,
                                      metric=metric, seed=seed, n_jobs=jobs,
                                      progress=progress)
    if output_dir is not None:
        paths = write_outputs(result, output_dir)
        if track:
            from mlkit.tracking import log_subset_search

            log_subset_search(result, paths, experiment=experiment, tracking_uri=tracking_uri)
    return result


def predict(
    model: PathLike | Any,
    structures: PathLike | Sequence[PathLike] | Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    features: PathLike | pd.DataFrame | None = None,
    tracking_uri: str | None = None,
    output: PathLike | None = None,
    jobs: int = 1,
    cache_dir: PathLike | None = None,
    use_cache: bool = True,
    progress: bool = False,
    refuse_partial: bool = False,
) -> pd.DataFrame:
    """Predict structures (or a feature table) with a trained model (``mlkit predict``).

    Parameters
    ----------
    model : path, URI or TrainedModel
        A model directory, ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``,
        ``runs:/RUN_ID/model``, or ``TrainResult.model``.
    structures : path(s) or Structures
        Files/directories/globs, or pymatgen ``Structure`` objects (list or mapping);
        featurized with the model's stored settings.
    features : path or DataFrame, optional
        A feature table instead of structures.
    output : path, optional
        Also write the predictions CSV.
    refuse_partial : bool, default False
        No prediction for structures where some feature groups failed (default: predicted,
        the missing features imputed as in training and named in ``warning``).

    Returns
    -------
    DataFrame
        ``id, source, prediction, prediction_raw, probability, out_of_range,
        out_of_range_features, error, warning``.
    """
    from mlkit.errors import MlkitError
    from mlkit.features import featurize_structures
    from mlkit.workflows import (
        TrainedModel,
        load_trained_model,
        predict_features,
        predict_paths,
        predict_table,
    )

    if (structures is None) == (features is None):
        raise MlkitError("give structures or features (exactly one)")
    loaded = model if isinstance(model, TrainedModel) else load_trained_model(
        model, tracking_uri=tracking_uri)
    if features is not None:
        table = predict_features(loaded, features, refuse_partial=refuse_partial)
    elif (mapping := _structure_mapping(structures)) is not None:
        table = predict_table(loaded, featurize_structures(
            mapping, loaded.featurization, n_jobs=jobs, cache_dir=cache_dir,
            use_cache=use_cache, progress=progress), refuse_partial=refuse_partial)
    else:
        table = predict_paths(loaded, _paths(structures), jobs=jobs, cache_dir=cache_dir,
                              use_cache=use_cache, progress=progress,
                              refuse_partial=refuse_partial)
    if output is not None:
        from mlkit.utils import atomic_write_text

        atomic_write_text(output, table.to_csv(index=False))
    return table


def label_md(
    structures: PathLike | Sequence[PathLike],
    output: PathLike | None = None,
    *,
    md_dir: PathLike | None = None,
    settings: MDSettings | None = None,
    analysis_settings: Any = None,
    include_partial: bool = False,
    jobs: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
    **md_fields: Any,
) -> pd.DataFrame:
    """ML-potential MD for each structure, analysed into labels (``mlkit label md``).

    Parameters
    ----------
    structures : path(s)
        Files, directories or globs.
    output : path, optional
        Labels CSV.
    md_dir : path, optional
        Trajectories (default ``<output stem>_md`` next to the CSV, else ``md_runs``).
    settings : MDSettings, optional
        The runs; or give its fields as keywords (``temperature_K=800, time_ps=20,
        potential="chgnet"``).
    analysis_settings : AnalysisSettings, optional
    include_partial, jobs, dask_address, progress
        As for the CLI.

    Returns
    -------
    DataFrame
        One row per structure with provenance, diffusivity, conductivity, ... and errors.
    """
    from mlkit.labels.md import label_md as _label_md
    from mlkit.md.settings import MDSettings

    if settings is None:
        settings = MDSettings(**md_fields)
    elif md_fields:
        from dataclasses import replace

        settings = replace(settings, **md_fields)
    if md_dir is None:
        md_dir = (Path(output).with_name(Path(output).stem + "_md") if output is not None
                  else Path("md_runs"))
    return _label_md(_paths(structures), md_dir, output, settings, n_jobs=jobs,
                     dask_address=dask_address, include_partial=include_partial,
                     progress=progress, analysis_settings=analysis_settings)


def label_phonons(
    inputs: PathLike | Sequence[PathLike],
    output: PathLike | None = None,
    *,
    settings: PhononSettings | None = None,
    force_sets: bool = False,
    potential: str = "sevennet",
    model_path: str | None = None,
    device: str = "cpu",
    threads: int = 1,
    cache_dir: PathLike | None = None,
    plots: PathLike | None = None,
    jobs: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
    **phonon_fields: Any,
) -> pd.DataFrame:
    """Harmonic phonon descriptors from an ML potential or DFT force sets
    (``mlkit label phonons``).

    Parameters
    ----------
    inputs : path(s)
        Structure files/directories/globs, or with ``force_sets=True`` phonopy archives /
        directories (phonondb layout).
    output : path, optional
        Labels CSV.
    settings : PhononSettings, optional
        Or its fields as keywords (``temperatures_K=(800.0,)``, ``relax=False``, ...).
    potential, model_path, device, threads
        The ML potential (ignored for force sets).
    cache_dir, plots, jobs, dask_address, progress
        As for the CLI.

    Returns
    -------
    DataFrame
        One row per input: stability, mobile-ion MSD, DOS moments, ... with provenance.
    """
    from mlkit.labels.phonons import label_phonons as _label_phonons
    from mlkit.phonons import PhononSettings
    from mlkit.potentials.spec import CalculatorSpec

    if settings is None:
        settings = PhononSettings(**phonon_fields)
    elif phonon_fields:
        from dataclasses import replace

        settings = replace(settings, **phonon_fields)
    spec = None if force_sets else CalculatorSpec(potential, device, model_path, threads)
    return _label_phonons(_paths(inputs), output, settings,
                          source="force_sets" if force_sets else "potential",
                          potential=spec, cache_dir=cache_dir, plot_dir=plots, n_jobs=jobs,
                          dask_address=dask_address, progress=progress)


def info(*, device: bool = True) -> dict[str, Any]:
    """Versions, potentials and their weights, device, cache and tracking (``mlkit info``)."""
    from mlkit.cli.info import collect_info

    return collect_info(device=device)
