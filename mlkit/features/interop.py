"""mlkit's featurizer groups where matminer and scikit-learn expect featurizers.

* :class:`MatminerFeaturizer` -- one registered group (``"geometry"``, ...) as a matminer
  featurizer: ``featurize(structure)``, ``feature_labels()``, ``citations()``,
  ``implementors()``, and ``featurize_dataframe(df, "structure", ignore_errors=True,
  return_errors=True)`` / ``featurize_many`` with matminer's semantics (a failing row gets
  NaN features and, with ``return_errors``, the traceback in
  ``"MatminerFeaturizer Exceptions"``). When matminer is installed it *is* a
  ``matminer.featurizers.base.BaseFeaturizer`` subclass (so ``MultipleFeaturizer`` and
  matminer pipelines take it); without matminer a small compatible base provides the same
  methods.
* :class:`StructureFeaturizer` -- a scikit-learn transformer: ``fit`` / ``transform`` on a
  list or Series of pymatgen ``Structure`` -> DataFrame of the numeric features of
  :func:`~mlkit.features.featurize_structures` (same settings value, same numbers),
  usable as the first step of a ``Pipeline``.

Both treat a structure as the feature table does: validated (site limit, overlapping
atoms), partial occupancies resolved with the ``disorder`` strategy, then the group's
features. Features a group cannot compute for a structure are NaN, as in the table; a
structure that fails validation, or for which the group computes nothing, raises (the
matminer error column). The reasons for *partly* missing features (e.g. no mobile ion for
the geometry group's environment features) appear only in the ``error`` column of
:func:`~mlkit.features.featurize_structures`: matminer has no partial errors.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from mlkit import DEFAULT_MOBILE_ION
from mlkit.errors import StructureError
from mlkit.features.base import FeatureUnavailable
from mlkit.features.pipeline import META_COLUMNS, featurize_structures
from mlkit.features.settings import FeaturizationSettings

__all__ = ["MatminerCompatBase", "MatminerFeaturizer", "StructureFeaturizer", "matminer_base"]


class MatminerCompatBase(BaseEstimator, TransformerMixin):
    """The batch methods of ``matminer.featurizers.base.BaseFeaturizer``, without matminer.

    Subclasses implement ``featurize(x)`` and ``feature_labels()``. Runs serially (there
    is no pool: ``set_n_jobs`` only records the number).
    """

    def set_n_jobs(self, n_jobs: int) -> None:
        self._n_jobs = int(n_jobs)

    @property
    def n_jobs(self) -> int:
        return getattr(self, "_n_jobs", 1)

    def fit(self, X: Any, y: Any = None, **fit_kwargs: Any) -> MatminerCompatBase:
        return self

    def transform(self, X: Sequence[Any]) -> list[list[Any]]:
        return self.featurize_many(X, ignore_errors=False, pbar=False)

    def featurize_wrapper(self, x: Any, return_errors: bool = False,
                          ignore_errors: bool = False) -> list[Any]:
        """``featurize(*x)``; NaN row (+ traceback) on failure when ``ignore_errors``."""
        try:
            values = list(self.featurize(*x))
            return values + [float("nan")] if return_errors else values
        except Exception:
            if not ignore_errors:
                raise
            nan = [float("nan")] * len(self.feature_labels())
            if return_errors:
                return nan + ["".join(traceback.format_exception(*sys.exc_info()))]
            return nan

    def featurize_many(self, entries: Sequence[Any], ignore_errors: bool = False,
                       return_errors: bool = False, pbar: bool = True) -> list[list[Any]]:
        if return_errors and not ignore_errors:
            raise ValueError("Cannot return errors unless ignore_errors is True")
        rows = [x if isinstance(x, tuple) else (x,) for x in entries]
        return [self.featurize_wrapper(x, return_errors, ignore_errors) for x in rows]

    def featurize_dataframe(self, df: pd.DataFrame, col_id: str | list[str],
                            ignore_errors: bool = False, return_errors: bool = False,
                            inplace: bool = False, multiindex: bool = False,
                            pbar: bool = True) -> pd.DataFrame:
        """Append the feature columns (and ``"<Class> Exceptions"``) to ``df``."""
        if multiindex:
            raise NotImplementedError("multiindex=True needs matminer")
        cols = [col_id] if isinstance(col_id, str) else list(col_id)
        labels = list(self.feature_labels())
        if return_errors:
            labels.append(f"{type(self).__name__} Exceptions")
        clash = [c for c in labels if c in df.columns]
        if clash:
            raise ValueError(f"'{clash[0]}' exists in input dataframe")
        entries = list(zip(*(df[c] for c in cols), strict=True))
        values = self.featurize_many(entries, ignore_errors=ignore_errors,
                                     return_errors=return_errors, pbar=pbar)
        new = pd.DataFrame(values, index=df.index, columns=labels)
        if inplace:
            for c in labels:
                df[c] = new[c]
            return df
        return pd.concat([df, new], axis=1)


def matminer_base() -> type:
    """``matminer.featurizers.base.BaseFeaturizer`` when importable, else the compat base."""
    try:
        from matminer.featurizers.base import BaseFeaturizer
    except ImportError:
        return MatminerCompatBase
    return BaseFeaturizer


class _GroupAdapter:
    """One mlkit group behind matminer's per-entry API (mixed into a matminer base)."""

    def __init__(self, group: str = "structural", *, mobile_ion: str = DEFAULT_MOBILE_ION,
                 disorder: str = "average", max_sites: int = 2000,
                 params: dict[str, Any] | None = None) -> None:
        self.group = group
        self.mobile_ion = mobile_ion
        self.disorder = disorder
        self.max_sites = max_sites
        self.params = params
        # mlkit's groups are fast: serial by default (matminer would start a pool per call)
        self.set_n_jobs(1)

    def _featurizer(self):
        settings = FeaturizationSettings(
            featurizers=(self.group,), mobile_ion=self.mobile_ion, disorder=self.disorder,
            max_sites=self.max_sites, featurizer_params={self.group: self.params or {}})
        return settings, settings.build_featurizers()[0]

    def featurize(self, structure: Any) -> list[float]:
        """The group's features of one pymatgen ``Structure`` (NaN where unavailable).

        Raises
        ------
        FeatureUnavailable
            The structure fails validation or the disorder strategy, or the group can
            compute none of its features (one line; matminer's ``ignore_errors`` catches it).
        """
        from mlkit.features.context import StructureContext
        from mlkit.structures import resolve_disorder, validate_structure

        settings, featurizer = self._featurizer()
        try:
            validate_structure(structure, "structure", max_sites=settings.max_sites)
            resolved, note = resolve_disorder(structure, settings.disorder, "structure")
        except StructureError as exc:  # matminer re-raises type(e)(msg): one argument
            raise FeatureUnavailable(str(exc)) from exc
        ctx = StructureContext(resolved, "structure", disorder=note)
        return [float(v) for v in featurizer.featurize(ctx)]

    def feature_labels(self) -> list[str]:
        return list(self._featurizer()[1].feature_labels())

    def citations(self) -> list[str]:
        return list(self._featurizer()[1].citations())

    def implementors(self) -> list[str]:
        return list(self._featurizer()[1].implementors())


class MatminerFeaturizer(_GroupAdapter, matminer_base()):  # type: ignore[misc]
    """A registered mlkit featurizer group as a matminer featurizer.

    Parameters
    ----------
    group : str
        Registered group name (``mlkit.features.list_featurizers()``).
    mobile_ion : str
        Passed to groups that take it.
    disorder : {"average", "majority", "refuse"}
    max_sites : int
    params : dict, optional
        Group parameters (as ``FeaturizationSettings.featurizer_params[group]``).

    Examples
    --------
    >>> f = MatminerFeaturizer("geometry")
    >>> df = f.featurize_dataframe(df, "structure", ignore_errors=True, return_errors=True)
    """


class StructureFeaturizer(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: structures -> mlkit feature DataFrame.

    Parameters
    ----------
    featurizers : str or tuple of str
        Group names (``"default"``, ``"default,magpie"``, ...).
    mobile_ion, disorder, max_sites
        As :class:`~mlkit.features.settings.FeaturizationSettings`.
    n_jobs : int
        Worker processes for :func:`~mlkit.features.featurize_structures`.

    Attributes
    ----------
    feature_names_in_ : not set (the input is structures, not columns)
    n_features_out_ : int
        Number of feature columns (set by ``fit``).
    """

    def __init__(self, featurizers: str | tuple[str, ...] = "default", *,
                 mobile_ion: str = DEFAULT_MOBILE_ION, disorder: str = "average",
                 max_sites: int = 2000, n_jobs: int = 1) -> None:
        self.featurizers = featurizers
        self.mobile_ion = mobile_ion
        self.disorder = disorder
        self.max_sites = max_sites
        self.n_jobs = n_jobs

    def settings(self) -> FeaturizationSettings:
        """The :class:`FeaturizationSettings` value of these parameters."""
        names = (self.featurizers,) if isinstance(self.featurizers, str) else self.featurizers
        return FeaturizationSettings(featurizers=tuple(names), mobile_ion=self.mobile_ion,
                                     disorder=self.disorder, max_sites=self.max_sites)

    def _labels(self) -> list[str]:
        from mlkit.features.pipeline import feature_columns

        return feature_columns(self.settings().build_featurizers())

    def fit(self, X: Sequence[Any], y: Any = None) -> StructureFeaturizer:
        """Check the settings; stateless otherwise. Returns ``self``."""
        self.n_features_out_ = len(self._labels())
        return self

    def transform(self, X: Sequence[Any] | pd.Series) -> pd.DataFrame:
        """Features of each structure.

        Parameters
        ----------
        X : list or Series of pymatgen Structure, length n

        Returns
        -------
        DataFrame of shape (n, n_features)
            Index: the Series' index (or 0..n-1); the numeric features of the mlkit table,
            NaN where unavailable (follow with an imputer when an estimator needs complete
            rows).
        """
        index = X.index if isinstance(X, pd.Series) else pd.RangeIndex(len(X))
        structures = {f"s{i}": s for i, s in enumerate(list(X))}
        table = featurize_structures(structures, self.settings(), n_jobs=self.n_jobs,
                                     use_cache=False, progress=False)
        out = table.drop(columns=list(META_COLUMNS)).astype(float)
        out.index = index
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self._labels(), dtype=object)

    def __sklearn_tags__(self):  # noqa: D401 - sklearn hook
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags
