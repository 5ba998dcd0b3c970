"""Output files of a search (the table it searches comes from
:func:`mlkit.workflows.prepare_subset_table`).
"""

from __future__ import annotations

import json
from pathlib import Path

from mlkit.models.subsets.execution import jsonable
from mlkit.models.subsets.result import SubsetSearchResult
from mlkit.utils import atomic_write_text

__all__ = ["write_outputs"]


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
    atomic_write_text(paths["best_by_size"], result.best_by_size.to_csv(index=False))
    atomic_write_text(paths["size_summary"], result.size_summary.to_csv(index=False))
    atomic_write_text(paths["top100"], result.top(100).to_csv(index=False))
    best = result.best
    atomic_write_text(
        paths["best"],
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
        ),
    )
    paths["curve"] = result.plot_curve(out / f"{result.metric}_vs_n_features.png")
    return paths
