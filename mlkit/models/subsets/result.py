"""The search's outcome: streaming per-size statistics and :class:`SubsetSearchResult`.

The full table can hold hundreds of millions of rows, so the per-size summary and the
best subsets are accumulated chunk by chunk (:class:`StreamingSummary`); the result
keeps the table in memory only when no checkpoint directory holds it on disk.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError
from mlkit.models.subsets.chunks import concat_tables, mask_dtype
from mlkit.models.subsets.execution import jsonable, read_checkpoint_tables
from mlkit.utils import atomic_write_bytes

__all__ = ["SIZE_SUMMARY_COLUMNS", "StreamingSummary", "SubsetSearchResult"]

HIST_BINS = 1000  # per-size histogram of the mean metric (for the curve's quantiles)
SIZE_SUMMARY_COLUMNS = (
    "n_features", "n_subsets", "mean", "std", "max", "q05", "q25", "median", "q75", "q95",
)


class StreamingSummary:
    """Per-size statistics and best rows, updated chunk by chunk.

    The outcome does not depend on the order in which chunks arrive.

    Parameters
    ----------
    p : int
        Number of features.
    metric : str
        Column prefix ranking the subsets (``f1``, ``accuracy`` or ``roc_auc``).
    """

    def __init__(self, p: int, metric: str) -> None:
        self.p = p
        self.metric = metric
        self.count = np.zeros(p + 1, np.int64)
        self.sum = np.zeros(p + 1)
        self.sumsq = np.zeros(p + 1)
        self.hist = np.zeros((p + 1, HIST_BINS), np.int64)
        self.best_rows: dict[int, pd.Series] = {}
        self.n_not_converged = 0
        self.n_rows = 0

    @staticmethod
    def _key(row: pd.Series, metric: str) -> tuple:
        m = row[f"{metric}_mean"]
        m = -np.inf if np.isnan(m) else m
        return (-m, row[f"{metric}_std"], int(row["bitmask"]))


    def add(self, table: pd.DataFrame) -> None:
        col = f"{self.metric}_mean"
        k = table["n_features"].to_numpy().astype(np.int64)
        v = table[col].to_numpy()
        ok = ~np.isnan(v)
        np.add.at(self.count, k[ok], 1)
        np.add.at(self.sum, k[ok], v[ok])
        np.add.at(self.sumsq, k[ok], v[ok] ** 2)
        b = np.clip((v[ok] * HIST_BINS).astype(np.int64), 0, HIST_BINS - 1)
        np.add.at(self.hist, (k[ok], b), 1)
        self.n_not_converged += int((~table["converged"]).sum())
        self.n_rows += len(table)
        if not len(table):
            return
        srt = table.assign(_m=table[col].fillna(-np.inf)).sort_values(
            ["n_features", "_m", f"{self.metric}_std", "bitmask"],
            ascending=[True, False, True, True],
        )
        for _, row in srt.drop_duplicates("n_features").drop(columns="_m").iterrows():
            kk = int(row["n_features"])
            old = self.best_rows.get(kk)
            if old is None or self._key(row, self.metric) < self._key(old, self.metric):
                self.best_rows[kk] = row

    def quantiles(self, k: int, qs: Sequence[float]) -> list[float]:
        cdf = np.cumsum(self.hist[k]) / max(self.count[k], 1)
        return [float((np.searchsorted(cdf, q) + 0.5) / HIST_BINS) for q in qs]


    def best_by_size(self, names: Sequence[str]) -> pd.DataFrame:
        """Best row of every size seen, with a ``features`` column (comma-separated names)."""
        best_rows = [self.best_rows[k] for k in sorted(self.best_rows)]
        if not best_rows:
            return concat_tables([], self.p)
        best = pd.DataFrame(best_rows).reset_index(drop=True)
        best["bitmask"] = best["bitmask"].astype(mask_dtype(self.p))
        best["n_features"] = best["n_features"].astype(np.uint8)
        best["features"] = [
            ",".join(n for j, n in enumerate(names) if (int(b) >> j) & 1) for b in best["bitmask"]
        ]
        return best

    def size_table(self) -> pd.DataFrame:
        """Per size: count, mean, std, max and quantiles of the mean metric."""
        rows = []
        for k in range(1, self.p + 1):
            cnt = self.count[k]
            if cnt == 0:
                continue
            mean = self.sum[k] / cnt
            var = max(self.sumsq[k] / cnt - mean**2, 0.0)
            q05, q25, q50, q75, q95 = self.quantiles(k, (0.05, 0.25, 0.5, 0.75, 0.95))
            best = self.best_rows[k][f"{self.metric}_mean"]
            rows.append(
                {
                    "n_features": k,
                    "n_subsets": int(cnt),
                    "mean": mean,
                    "std": math.sqrt(var),
                    "max": float(best),
                    "q05": q05,
                    "q25": q25,
                    "median": q50,
                    "q75": q75,
                    "q95": q95,
                }
            )
        return pd.DataFrame(rows, columns=list(SIZE_SUMMARY_COLUMNS))


@dataclass
class SubsetSearchResult:
    """Outcome of :func:`exhaustive_subset_search`.

    Attributes
    ----------
    feature_names : list of str
        Bit ``j`` of a bitmask is ``feature_names[j]``.
    metric : str
        Metric used for ``best`` / ``best_by_size`` (``f1``, ``accuracy`` or ``roc_auc``).
    best_by_size : DataFrame
        Best subset of every size (highest mean metric; ties: lower std, then lower
        bitmask), with a ``features`` column listing the names.
    size_summary : DataFrame
        Per size: number of subsets, mean/std/max of the mean metric and quantiles
        (from a 1000-bin histogram).
    n_not_converged : int
        Subsets with at least one fold whose Newton iteration did not converge.
    complete : bool
        False when the run stopped early (``max_chunks``); the table then holds the
        finished chunks only.
    params : dict
        The search settings (cv, C, seed, tol, estimator, ...).
    classes : list
        The two target values; the positive class is ``classes[1]``.
    """

    feature_names: list[str]
    metric: str
    best_by_size: pd.DataFrame
    size_summary: pd.DataFrame
    n_not_converged: int
    complete: bool
    params: dict
    classes: list
    checkpoint_dir: Path | None = None
    _table: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """Every subset's row, sorted by bitmask (read from the checkpoint files when used)."""
        if self._table is None:
            if self.checkpoint_dir is None:
                raise MlkitError("no table: the search kept no rows")
            frames = read_checkpoint_tables(Path(self.checkpoint_dir))
            self._table = concat_tables(frames, len(self.feature_names))
        return self._table

    @property
    def best(self) -> pd.Series:
        """Overall best subset: highest mean metric.

        Ties: fewer features, then lower std, then lower bitmask.
        """
        b = self.best_by_size.copy()
        col = f"{self.metric}_mean"
        b["_m"] = b[col].fillna(-np.inf)
        b = b.sort_values(
            ["_m", "n_features", f"{self.metric}_std", "bitmask"],
            ascending=[False, True, True, True],
        )
        return b.drop(columns="_m").iloc[0]

    def features_of(self, bitmask: int) -> list[str]:
        """Feature names of a bitmask."""
        return [n for j, n in enumerate(self.feature_names) if (int(bitmask) >> j) & 1]

    def top(self, n: int = 100) -> pd.DataFrame:
        """The ``n`` best subsets of the whole table, with their feature names."""
        col = f"{self.metric}_mean"
        t = self.table.nlargest(n, col, keep="first").copy()
        t["features"] = [",".join(self.features_of(b)) for b in t["bitmask"]]
        return t

    def summary_metrics(self) -> dict[str, float]:
        """Flat numbers for experiment tracking."""
        best = self.best
        out = {
            f"best_{self.metric}_mean": float(best[f"{self.metric}_mean"]),
            f"best_{self.metric}_std": float(best[f"{self.metric}_std"]),
            "best_n_features": int(best["n_features"]),
            "n_subsets": int(self.size_summary["n_subsets"].sum()),
            "n_not_converged": int(self.n_not_converged),
        }
        for _, row in self.best_by_size.iterrows():
            out[f"best_{self.metric}_k{int(row['n_features'])}"] = float(row[f"{self.metric}_mean"])
        return out

    def to_parquet(self, path: str | Path) -> Path:
        """Write the full table (bitmask + metrics) to one parquet file.

        The feature names, metric and settings go in the file's metadata (``mlkit_subsets``).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tab = pa.Table.from_pandas(self.table, preserve_index=False)
        meta = dict(tab.schema.metadata or {})
        meta[b"mlkit_subsets"] = json.dumps(
            {
                "feature_names": self.feature_names,
                "metric": self.metric,
                "params": jsonable(self.params),
                "classes": [str(c) for c in self.classes],
            }
        ).encode()
        buffer = pa.BufferOutputStream()
        pq.write_table(tab.replace_schema_metadata(meta), buffer)
        atomic_write_bytes(path, buffer.getvalue().to_pybytes())  # a kill leaves no torn file
        return path

    def plot_curve(self, path: str | Path, *, title: str | None = None) -> Path:
        """Metric versus number of features (paper Figure S2): best, mean and spread per size.

        Drawn on a :class:`matplotlib.figure.Figure` (no pyplot state, no backend switch).
        """
        from matplotlib.figure import Figure

        s = self.size_summary
        k = s["n_features"].to_numpy()
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        ax.fill_between(k, s["q05"], s["q95"], color="0.85", label="5-95 % of subsets")
        ax.fill_between(k, s["q25"], s["q75"], color="0.65", label="25-75 % of subsets")
        ax.plot(k, s["mean"], "o-", color="0.3", ms=3, label="mean over subsets")
        ax.plot(k, s["max"], "o-", color="C3", ms=4, label="best subset")
        best = self.best
        ax.annotate(
            f"{best[f'{self.metric}_mean']:.3f} (k={int(best['n_features'])})",
            (best["n_features"], best[f"{self.metric}_mean"]),
            textcoords="offset points",
            xytext=(4, 6),
            color="C3",
            fontsize=8,
        )
        ax.set_xlabel("number of features")
        ax.set_ylabel(f"mean {self.metric} over {self.params.get('cv')} CV folds")
        ax.set_xticks(k)
        ax.set_ylim(min(0.0, float(s["q05"].min())), 1.05)
        ax.set_title(
            title
            or f"Exhaustive subset search ({self.params.get('estimator')}, "
            f"{int(s['n_subsets'].sum()):,} subsets)"
        )
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
        return path
