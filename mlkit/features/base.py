"""Base featurizer (a stateless scikit-learn transformer) and the featurizer registry.

Every featurizer group subclasses :class:`BaseFeaturizer`, implements
``featurize(ctx) -> list[float]``, ``feature_labels()``, ``citations()`` and
``implementors()``, and registers itself by name with :func:`register_featurizer`.
Expensive per-structure work (neighbour list, oxidation states, polyanions,
connectivity, Ewald sums) lives in :class:`~mlkit.features.context.StructureContext`,
built once per structure and shared by every featurizer.

Failure policy
--------------
- ``featurize`` raises :class:`FeatureUnavailable` when none of its features can be
  computed (e.g. no oxidation states can be assigned): every column of the group is
  NaN and the reason goes into the row's ``error`` column.
- When only some features are undefined (e.g. no mobile ion, so the mobile-ion
  features but not the polyanion features are missing), ``featurize`` returns NaN for
  those and records the reason with ``ctx.add_error(group, reason)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from mlkit.errors import MlkitError

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlkit.features.context import StructureContext

__all__ = [
    "DEFAULT_FEATURIZERS",
    "FEATURIZERS",
    "BaseFeaturizer",
    "FeatureUnavailable",
    "get_featurizer",
    "list_featurizers",
    "register_featurizer",
]


class FeatureUnavailable(MlkitError):
    """A featurizer cannot compute its features for this structure (reason is one line)."""


#: name -> featurizer class
FEATURIZERS: dict[str, type[BaseFeaturizer]] = {}

#: featurizers run when the caller names none (``magpie`` is opt-in: 132 columns)
DEFAULT_FEATURIZERS: tuple[str, ...] = (
    "structural",
    "geometry",
    "electrostatic",
    "elemental",
    "connectivity",
)

F = TypeVar("F", bound=type)


def register_featurizer(name: str) -> Callable[[F], F]:
    """Class decorator registering a featurizer under ``name``.

    Parameters
    ----------
    name : str
        Registry key (used by ``--featurizers`` and the ``featurizers=`` argument).
    """

    def decorator(cls: F) -> F:
        if name in FEATURIZERS and FEATURIZERS[name] is not cls:
            raise ValueError(f"featurizer name {name!r} already registered by {FEATURIZERS[name]}")
        cls.name = name  # type: ignore[attr-defined]
        FEATURIZERS[name] = cls  # type: ignore[assignment]
        return cls

    return decorator


def list_featurizers() -> list[str]:
    """Names of all registered featurizers (sorted)."""
    _import_builtin_groups()
    return sorted(FEATURIZERS)


def get_featurizer(name: str, **params: Any) -> BaseFeaturizer:
    """Instantiate the registered featurizer ``name``.

    Parameters that the featurizer's ``__init__`` does not accept are ignored, so
    ``get_featurizer("structural", mobile_ion="Li")`` works for every group.
    """
    _import_builtin_groups()
    if name not in FEATURIZERS:
        raise ValueError(
            f"unknown featurizer {name!r}; available: {', '.join(sorted(FEATURIZERS))}"
        )
    cls = FEATURIZERS[name]
    accepted = cls._get_param_names()
    return cls(**{k: v for k, v in params.items() if k in accepted})


def _import_builtin_groups() -> None:
    # importing the group modules registers them
    from mlkit.features import (  # noqa: F401
        connectivity,
        electrostatic,
        elemental,
        geometry,
        magpie,
        phonon,
        structural,
    )


class BaseFeaturizer(TransformerMixin, BaseEstimator):
    """Stateless transformer: list of structures -> array of shape (n_structures, n_features).

    Subclasses store their keyword arguments in ``__init__`` (nothing else) and implement
    :meth:`featurize`, :meth:`feature_labels`, :meth:`citations` and :meth:`implementors`.
    """

    #: registry name, set by :func:`register_featurizer`
    name: str = "base"
    #: True when some features need the mobile ion (documented per group)
    uses_mobile_ion: bool = False

    # -- the sklearn contract ---------------------------------------------------------
    def fit(self, X: Sequence[Any] | None = None, y: Any = None) -> BaseFeaturizer:
        """No-op (featurizers are stateless); returns ``self``."""
        return self

    def transform(self, X: Sequence[Structure | StructureContext]) -> np.ndarray:
        """Featurize a sequence of structures.

        Parameters
        ----------
        X : sequence of pymatgen ``Structure`` or ``StructureContext``, length n_structures

        Returns
        -------
        ndarray of shape (n_structures, n_features)
            NaN where a feature is unavailable (reasons: use :func:`featurize_structures`,
            which reports them in the ``error`` column).
        """
        n_features = len(self.feature_labels())
        out = np.full((len(X), n_features), np.nan)
        for i, item in enumerate(X):
            ctx = self._as_context(item)
            try:
                values = self.featurize(ctx)
            except FeatureUnavailable:
                continue
            out[i] = values
        return out

    def __sklearn_tags__(self):  # noqa: D401 - sklearn hook
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_labels(), dtype=object)

    # -- what subclasses implement ----------------------------------------------------
    def featurize(self, ctx: StructureContext) -> list[float]:
        """Features of one structure (length ``len(self.feature_labels())``)."""
        raise NotImplementedError

    def feature_labels(self) -> list[str]:
        raise NotImplementedError

    def citations(self) -> list[str]:
        raise NotImplementedError

    def implementors(self) -> list[str]:
        return ["mlkit developers"]

    # -- helpers ----------------------------------------------------------------------
    def featurize_structure(self, structure: Structure) -> list[float]:
        """Convenience: features of one pymatgen structure (raises FeatureUnavailable)."""
        return self.featurize(self._as_context(structure))

    def _as_context(self, item: Structure | StructureContext) -> StructureContext:
        from mlkit.features.context import StructureContext

        if isinstance(item, StructureContext):
            return item
        return StructureContext(item)

    def _mobile_ion(self) -> str:
        return str(getattr(self, "mobile_ion", "Na"))
