"""What defines a feature table: :class:`FeaturizationSettings`, one frozen value.

The same object featurizes the training structures, is stored with the trained model
(:meth:`~FeaturizationSettings.to_dict`, versioned) and featurizes the structures to
predict (:meth:`~FeaturizationSettings.from_dict`), so prediction reproduces training by
construction. Options that change how fast a table is made but not its values (worker
processes, the row cache, the progress bar) are arguments of
:func:`~mlkit.features.pipeline.featurize_paths`, not settings: they are not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mlkit import DEFAULT_MOBILE_ION
from mlkit.errors import MlkitError
from mlkit.features.base import DEFAULT_FEATURIZERS, BaseFeaturizer, get_featurizer
from mlkit.structures.disorder import DISORDER_STRATEGIES

__all__ = ["SETTINGS_VERSION", "FeaturizationSettings", "parse_featurizer_names"]

#: bump when a field is added, removed or changes meaning
SETTINGS_VERSION = 2


def parse_featurizer_names(names: str | Any | None) -> tuple[str, ...]:
    """``"default,magpie"`` or ``["structural", "geometry,elemental"]`` -> unique names.

    ``None`` and ``"default"`` stand for :data:`~mlkit.features.base.DEFAULT_FEATURIZERS`;
    order is kept, repeats are dropped.
    """
    items = [names] if names is None or isinstance(names, str) else list(names)
    out: list[str] = []
    for item in items:
        parts = DEFAULT_FEATURIZERS if item is None else str(item).split(",")
        for part in (p.strip() for p in parts):
            for name in DEFAULT_FEATURIZERS if part == "default" else (part,):
                if name and name not in out:
                    out.append(name)
    if not out:
        raise MlkitError("no featurizer given")
    return tuple(out)


@dataclass(frozen=True)
class FeaturizationSettings:
    """Featurizers and structure policy of a feature table.

    Parameters
    ----------
    featurizers : tuple of str
        Registered featurizer names in column order; ``"default"`` and comma-separated
        lists are expanded (see :func:`parse_featurizer_names`).
    mobile_ion : str, default "Na"
        Mobile-ion element, passed to every featurizer that takes it.
    disorder : {"average", "majority", "refuse"}
        Partial-occupancy strategy (:func:`mlkit.structures.resolve_disorder`).
    max_sites : int, default 2000
        Structures with more sites become error rows.
    featurizer_params : mapping, optional
        Per-group parameters, e.g. ``{"phonon": {"potential": "chgnet"}}``; stored as a
        sorted tuple of ``(group, ((name, value), ...))`` so the settings stay hashable.
    """

    featurizers: tuple[str, ...] = field(default=DEFAULT_FEATURIZERS)
    mobile_ion: str = DEFAULT_MOBILE_ION
    disorder: str = "average"
    max_sites: int = 2000
    featurizer_params: Any = ()

    def __post_init__(self) -> None:
        from mlkit.features.base import FEATURIZERS

        names = parse_featurizer_names(self.featurizers)
        unknown = [n for n in names if n not in FEATURIZERS]
        if unknown:
            raise MlkitError(
                f"unknown featurizer {unknown[0]!r}; available: {', '.join(sorted(FEATURIZERS))}"
            )
        object.__setattr__(self, "featurizers", names)
        if self.disorder not in DISORDER_STRATEGIES:
            raise MlkitError(
                f"unknown disorder strategy {self.disorder!r}; choose from {DISORDER_STRATEGIES}"
            )
        if not isinstance(self.mobile_ion, str) or not self.mobile_ion.strip():
            raise MlkitError(f"mobile_ion must be an element symbol, got {self.mobile_ion!r}")
        if int(self.max_sites) != self.max_sites or self.max_sites < 1:
            raise MlkitError(f"max_sites must be an integer >= 1, got {self.max_sites}")
        object.__setattr__(self, "max_sites", int(self.max_sites))
        params = dict(self.featurizer_params)
        for group, values in params.items():
            if group not in FEATURIZERS:
                raise MlkitError(f"parameters for unknown featurizer {group!r}")
            accepted = FEATURIZERS[group]._get_param_names()
            bad = sorted(set(dict(values)) - set(accepted))
            if bad:
                raise MlkitError(f"featurizer {group!r} has no parameter(s) {', '.join(bad)}")
        object.__setattr__(self, "featurizer_params", tuple(sorted(
            (g, tuple(sorted(dict(v).items()))) for g, v in params.items())))

    def build_featurizers(self) -> list[BaseFeaturizer]:
        """New featurizer instances, ``mobile_ion`` passed to those that take it."""
        params = {g: dict(v) for g, v in self.featurizer_params}
        return [get_featurizer(name, **{"mobile_ion": self.mobile_ion, **params.get(name, {})})
                for name in self.featurizers]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``"version"``; :meth:`from_dict` reads it back."""
        out = asdict(self)
        out["featurizers"] = list(self.featurizers)
        out["featurizer_params"] = {g: dict(v) for g, v in self.featurizer_params}
        return {"version": SETTINGS_VERSION, **out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeaturizationSettings:
        """Settings from :meth:`to_dict` output.

        A dict without ``"version"`` is the flat settings of a model saved before the
        settings were versioned (``featurizers`` None meant the default set).
        """
        version = data.get("version", 0)
        if version > SETTINGS_VERSION:
            raise MlkitError(
                f"featurization settings version {version} is newer than this mlkit "
                f"understands ({SETTINGS_VERSION}); upgrade mlkit"
            )
        known = ("featurizers", "mobile_ion", "disorder", "max_sites", "featurizer_params")
        if version >= 1:
            extra = sorted(set(data) - {"version", *known})
            if extra:
                raise MlkitError(f"unknown featurization setting(s): {', '.join(extra)}")
        kwargs = {k: data[k] for k in known if data.get(k) is not None}
        if "featurizers" in kwargs:
            kwargs["featurizers"] = tuple(kwargs["featurizers"])
        return cls(**kwargs)
