"""Files around the search: labels + features -> ``(X, y)``; a result -> output files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mlkit.errors import MlkitError
from mlkit.models.subsets.execution import jsonable
from mlkit.models.subsets.result import SubsetSearchResult

__all__ = ["prepare_table", "write_outputs"]


def prepare_table(
    labels: str | Path | pd.DataFrame,
    target: str,
    *,
    features: str | Path | pd.DataFrame | None = None,
    structures: Sequence[str | Path] | None = None,
    threshold: float | None = None,
    id_column: str = "id",
    corr_threshold: float | None = None,
    mobile_ion: str = "Na",
    n_jobs: int = 1,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Labels + (feature table | structures) -> numeric ``X``, binary ``y`` and notes.

    Uses :func:`mlkit.models.dataset.build_training_table` (label parsing, joins,
    dropped rows), one-hot encodes ``connectivity``, drops constant columns and, with
    ``corr_threshold``, the redundant column of every pair with |Pearson r| above it.

    Returns
    -------
    X : DataFrame of shape (n_samples, n_features)
    y : Series of shape (n_samples,)
    notes : list of str
    """
    from mlkit.models.dataset import build_training_table, load_features
    from mlkit.models.preprocessing import drop_constant, encode_categoricals, redundancy_filter

    if (features is None) == (structures is None):
        raise MlkitError("give exactly one of features (a table) or structures (files)")
    if structures is not None:
        from mlkit.features import featurize_paths

        table = featurize_paths(structures, mobile_ion=mobile_ion, n_jobs=n_jobs, progress=progress)
    elif isinstance(features, pd.DataFrame):
        table = features
    else:
        table = load_features(features)
    X, y, report = build_training_table(
        table, labels, target, id_column=id_column, task="classification", threshold=threshold
    )
    notes = list(report.notes)
    X = encode_categoricals(X, notes=notes)
    X, _ = drop_constant(X, notes=notes)
    if corr_threshold is not None:
        kept, _pairs = redundancy_filter(X, corr_threshold, notes=notes)
        X = X.loc[:, kept]
    nan_rows = X.index[X.isna().any(axis=1)]
    if len(nan_rows):
        raise MlkitError(
            f"{len(nan_rows)} row(s) have missing feature values "
            f"(e.g. {', '.join(map(str, nan_rows[:3]))}); "
            "the subset search needs complete rows"
        )
    return X, y, notes


def write_outputs(result: SubsetSearchResult, out_dir: str | Path) -> dict[str, Path]:
    """Write the result files into ``out_dir``.

    Files: ``subsets.parquet``, ``best_by_size.csv``, ``size_summary.csv``, ``top100.csv``,
    ``best.json`` and the curve ``<metric>_vs_n_features.png``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "table": result.to_parquet(out / "subsets.parquet"),
        "best_by_size": out / "best_by_size.csv",
        "size_summary": out / "size_summary.csv",
        "top100": out / "top100.csv",
        "best": out / "best.json",
    }
    result.best_by_size.to_csv(paths["best_by_size"], index=False)
    result.size_summary.to_csv(paths["size_summary"], index=False)
    result.top(100).to_csv(paths["top100"], index=False)
    best = result.best
    paths["best"].write_text(
        json.dumps(
            {
                "bitmask": int(best["bitmask"]),
                "features": result.features_of(int(best["bitmask"])),
                **{k: float(best[k]) for k in best.index if k.endswith(("_mean", "_std"))},
                "n_not_converged": int(result.n_not_converged),
                "complete": bool(result.complete),
                "params": jsonable(result.params),
            },
            indent=1,
        )
    )
    paths["curve"] = result.plot_curve(out / f"{result.metric}_vs_n_features.png")
    return paths
