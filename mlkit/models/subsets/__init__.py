"""Exhaustive feature-subset search: every subset of the features, inside k-fold CV.

Read the modules in the order of the search:

* :mod:`~mlkit.models.subsets.folds` -- input checks, stratified folds, per-fold scaling
* :mod:`~mlkit.models.subsets.chunks` -- subsets as bitmasks, grouped in chunks; table rows
* :mod:`~mlkit.models.subsets.kernel` -- the numba Newton (IRLS) kernel for one chunk and fold
* :mod:`~mlkit.models.subsets.fits` -- one chunk task (fast logreg path or generic classifier)
* :mod:`~mlkit.models.subsets.execution` -- thread pool / joblib / Dask; checkpoint files
* :mod:`~mlkit.models.subsets.result` -- streaming summary and :class:`SubsetSearchResult`
* :mod:`~mlkit.models.subsets.search` -- :func:`exhaustive_subset_search`, :func:`subset_fold_fits`
* :mod:`~mlkit.models.subsets.estimator` -- :class:`ExhaustiveSubsetSearch` (scikit-learn selector)
* :mod:`~mlkit.models.subsets.io` -- :func:`write_outputs`

See docs/subsets.md.
"""

from __future__ import annotations

from mlkit.models.subsets.chunks import DEFAULT_CHUNK_GENERIC, DEFAULT_CHUNK_LOGREG, METRICS
from mlkit.models.subsets.estimator import ExhaustiveSubsetSearch
from mlkit.models.subsets.fits import ESTIMATORS
from mlkit.models.subsets.folds import MAX_FEATURES_SUPPORTED, FoldData, make_folds
from mlkit.models.subsets.io import write_outputs
from mlkit.models.subsets.result import SubsetSearchResult
from mlkit.models.subsets.search import MAX_SUBSETS, exhaustive_subset_search, subset_fold_fits

__all__ = [
    "DEFAULT_CHUNK_GENERIC",
    "DEFAULT_CHUNK_LOGREG",
    "ESTIMATORS",
    "MAX_FEATURES_SUPPORTED",
    "MAX_SUBSETS",
    "METRICS",
    "ExhaustiveSubsetSearch",
    "FoldData",
    "SubsetSearchResult",
    "exhaustive_subset_search",
    "make_folds",
    "subset_fold_fits",
    "write_outputs",
]
