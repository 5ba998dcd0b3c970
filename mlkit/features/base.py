"""Base featurizer (a stateless scikit-learn transformer) and the featurizer registry.

Every featurizer group subclasses :class:`BaseFeaturizer`, implements
``featurize(ctx) -> list[float]``, ``feature_labels()``, ``citations()`` and
``implementors()``, and registers itself by name with :func:`register_featurizer`; the
registry knows the built-in groups as ``"module:Class"`` strings and imports a group's
module only when the group is first looked up (as :mod:`mlkit.potentials.registry` does).
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

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from mlkit.errors import MlkitError

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlkit.features.context import StructureContext

__all__ = [
    "BUILTIN_FEATURIZERS",
    "DEFAULT_FEATURIZERS",
    "FEATURIZERS",
    "BaseFeaturizer",
    "FeatureUnavailable",
    "FeaturizerRegistry",
    "get_featurizer",
    "list_featurizers",
    "register_featurizer",
]


class FeatureUnavailable(MlkitError):
    """A featurizer cannot compute its features for this structure (reason is one line)."""


#: name -> ``"module:Class"`` of the built-in groups, imported on first use (the group
#: modules import this one, so this one must not import them at import time)
BUILTIN_FEATURIZERS: dict[str, str] = {
    "structural": "mlkit.features.structural:StructuralFeaturizer",
    "geometry": "mlkit.features.geometry:GeometryFeaturizer",
    "electrostatic": "mlkit.features.electrostatic:ElectrostaticFeaturizer",
    "elemental": "mlkit.features.elemental:ElementalFeaturizer",
    "connectivity": "mlkit.features.connectivity:ConnectivityFeaturizer",
    "magpie": "mlkit.features.magpie:MagpieFeaturizer",
    "phonon": "mlkit.features.phonon:PhononFeaturizer",
    "bvse": "mlkit.features.bvse:BVSEFeaturizer",
}

#: featurizers run when the caller names none (``magpie`` is opt-in: 132 columns;
#: ``phonon`` is opt-in: seconds to minutes per structure; ``bvse`` is opt-in: seconds per
#: structure, ~2 GB for a 13 A cell)
DEFAULT_FEATURIZERS: tuple[str, ...] = (
    "structural",
    "geometry",
    "electrostatic",
    "elemental",
    "connectivity",
)

F = TypeVar("F", bound=type)


class FeaturizerRegistry(Mapping[str, "type[BaseFeaturizer]"]):
    """Name -> featurizer class; a built-in group's module is imported when first looked up.

    Built-in names come from ``"module:Class"`` strings (:data:`BUILTIN_FEATURIZERS`), so
    listing names imports nothing; classes registered with :func:`register_featurizer`
    from other modules are added as they are defined.
    """

    def __init__(self, specs: Mapping[str, str]) -> None:
        self._specs = dict(specs)
        self._classes: dict[str, type[BaseFeaturizer]] = {}

    def __getitem__(self, name: str) -> type[BaseFeaturizer]:
        if name not in self._classes:
            if name not in self._specs:
                raise KeyError(name)
            module, _, attr = self._specs[name].partition(":")
            self._classes[name] = getattr(importlib.import_module(module), attr)
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._specs, *self._classes]))

    def __len__(self) -> int:
        return len(set(self._specs) | set(self._classes))

    def add(self, name: str, cls: type[BaseFeaturizer]) -> None:
        """Register ``cls`` under ``name`` (error if the name belongs to another class)."""
        spec = self._specs.get(name)
        if spec is not None and spec != f"{cls.__module__}:{cls.__qualname__}":
            raise ValueError(f"featurizer name {name!r} is reserved for {spec}")
        known = self._classes.get(name)
        if known is not None and known is not cls:
            raise ValueError(f"featurizer name {name!r} already registered by {known}")
        self._classes[name] = cls

    def pop(self, name: str, default: Any = None) -> Any:
        """Unregister a class added with :meth:`add` (built-in names cannot be removed)."""
        if name in self._specs:
            raise ValueError(f"built-in featurizer {name!r} cannot be unregistered")
        return self._classes.pop(name, default)


#: the registry: name -> featurizer class (a lazy mapping)
FEATURIZERS = FeaturizerRegistry(BUILTIN_FEATURIZERS)


def register_featurizer(name: str) -> Callable[[F], F]:
    """Class decorator registering a featurizer under ``name``.

    Parameters
    ----------
    name : str
        Registry key (used by ``--featurizers`` and :class:`FeaturizationSettings`).
        A built-in name is only accepted for the class its ``"module:Class"`` names.
    """

    def decorator(cls: F) -> F:
        FEATURIZERS.add(name, cls)  # type: ignore[arg-type]
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return decorator


def list_featurizers() -> list[str]:
    """Names of all registered featurizers (sorted); imports none of them."""
    return sorted(FEATURIZERS)


def get_featurizer(name: str, **params: Any) -> BaseFeaturizer:
    """Instantiate the registered featurizer ``name``.

    Parameters that the featurizer's ``__init__`` does not accept are ignored, so
    ``get_featurizer("structural", mobile_ion="Li")`` works for every group.
    """
    if name not in FEATURIZERS:
        raise MlkitError(
            f"unknown featurizer {name!r}; available: {', '.join(list_featurizers())}"
        )
    cls = FEATURIZERS[name]
    accepted = cls._get_param_names()
    return cls(**{k: v for k, v in params.items() if k in accepted})


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
