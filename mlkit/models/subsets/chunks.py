"""Enumeration of the subsets in *chunks* and the table rows of one chunk.

A subset is a bitmask (bit ``j`` = feature ``j`` in column order). A chunk holds the
``2**n_low`` bitmasks that share their high bits ``p - n_low``: the chunk id is that
high-bit pattern. Chunks are the unit of parallel work and of checkpointing; inside a
chunk the kernel visits the low bits depth first (:mod:`mlkit.models.subsets.kernel`).

Table columns (one row per subset): ``bitmask`` (uint32 for <= 32 features, else
uint64), ``n_features``, mean and standard deviation (``ddof=0``) over folds of each
metric in :data:`METRICS`, ``n_iter_max`` (largest Newton iteration count over folds,
-1 if a fold did not converge, 0 for the generic path) and ``converged``.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd

from mlkit.errors import MlkitError

__all__ = [
    "DEFAULT_CHUNK_GENERIC",
    "DEFAULT_CHUNK_LOGREG",
    "METRICS",
    "aggregate",
    "chunk_ids",
    "chunk_masks",
    "concat_tables",
    "mask_dtype",
    "n_low_bits",
    "popcount",
]

METRICS = ("f1", "accuracy", "roc_auc")
DEFAULT_CHUNK_LOGREG = 8192
DEFAULT_CHUNK_GENERIC = 256


def n_low_bits(p: int, chunk_size: int) -> int:
    """Number of low bits enumerated inside a chunk of ``chunk_size`` (a power of two)."""
    if chunk_size < 1 or chunk_size & (chunk_size - 1):
        raise MlkitError(f"chunk_size must be a power of two, got {chunk_size}")
    return min(p, int(math.log2(chunk_size)))


def chunk_ids(p: int, n_low: int, max_k: int) -> list[int]:
    """Chunk ids (high-bit patterns) with at most ``max_k`` bits, ascending."""
    h = p - n_low
    ids = [
        sum(1 << j for j in combo)
        for k in range(min(max_k, h) + 1)
        for combo in combinations(range(h), k)
    ]
    return sorted(ids)


def popcount(masks: np.ndarray) -> np.ndarray:
    """Number of set bits of each mask (uint8)."""
    m = masks.astype(np.uint64)
    counts = np.zeros(m.shape, np.uint8)
    for j in range(64):
        counts += ((m >> np.uint64(j)) & np.uint64(1)).astype(np.uint8)
    return counts


def mask_dtype(p: int):
    """Bitmask column dtype for ``p`` features."""
    return np.uint32 if p <= 32 else np.uint64


def chunk_masks(chunk_id: int, p: int, n_low: int, max_k: int) -> np.ndarray:
    """All fitted bitmasks of a chunk, ascending (global masks, int64)."""
    local = np.arange(1 << n_low, dtype=np.int64)
    masks = (np.int64(chunk_id) << np.int64(n_low)) | local
    masks = masks[masks > 0]
    return masks[popcount(masks) <= max_k]


def aggregate(chunk_id: int, p: int, n_low: int, max_k: int, f1, acc, auc, iters) -> pd.DataFrame:
    """Per-fold arrays of shape (n_folds, 2**n_low) -> the chunk's table rows."""
    masks = chunk_masks(chunk_id, p, n_low, max_k)
    local = (masks & ((1 << n_low) - 1)).astype(np.int64)
    it = iters[:, local]
    frame = {
        "bitmask": masks.astype(mask_dtype(p)),
        "n_features": popcount(masks),
    }
    for name, arr in zip(METRICS, (f1, acc, auc), strict=True):
        vals = arr[:, local]
        frame[f"{name}_mean"] = vals.mean(axis=0)
        frame[f"{name}_std"] = vals.std(axis=0)
    frame["n_iter_max"] = np.where((it < 0).any(axis=0), -1, it.max(axis=0)).astype(np.int16)
    frame["converged"] = (it >= 0).all(axis=0)
    return pd.DataFrame(frame)


def concat_tables(frames: list[pd.DataFrame], p: int) -> pd.DataFrame:
    """Chunk tables -> one table sorted by bitmask (an empty table with the columns if none)."""
    if not frames:
        return aggregate(0, p, 0, 0, *(np.zeros((1, 1)),) * 3, np.zeros((1, 1), np.int16)).iloc[:0]
    t = pd.concat(frames, ignore_index=True)
    return t.sort_values("bitmask", kind="stable").reset_index(drop=True)
