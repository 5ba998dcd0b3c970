"""Featurizers: structures -> one feature table (see docs/features.md).

Featurizers are stateless scikit-learn transformers registered by name in
:data:`FEATURIZERS` (a lazy ``name -> "module:Class"`` registry); one
:class:`FeaturizationSettings` value says which run and how structures are treated, and
:func:`featurize_paths` / :func:`featurize_structures` run them over many structures in
parallel with a per-row cache.

The featurizer classes (``StructuralFeaturizer``, ...) are importable from here but, like
the registry, their modules are imported on first use.
"""

from __future__ import annotations

from mlkit.features.base import (
    BUILTIN_FEATURIZERS,
    DEFAULT_FEATURIZERS,
    FEATURIZERS,
    BaseFeaturizer,
    FeatureUnavailable,
    get_featurizer,
    list_featurizers,
    register_featurizer,
)
from mlkit.features.context import StructureContext
from mlkit.features.pipeline import (
    META_COLUMNS,
    PROVENANCE_KEY,
    TableSummary,
    default_cache_dir,
    feature_schema,
    featurize_paths,
    featurize_structures,
    table_provenance,
    write_table,
)
from mlkit.features.settings import FeaturizationSettings, parse_featurizer_names

__all__ = [
    "BUILTIN_FEATURIZERS",
    "DEFAULT_FEATURIZERS",
    "FEATURIZERS",
    "META_COLUMNS",
    "PROVENANCE_KEY",
    "BVSEFeaturizer",
    "BaseFeaturizer",
    "ConnectivityFeaturizer",
    "ElectrostaticFeaturizer",
    "ElementalFeaturizer",
    "FeatureUnavailable",
    "FeaturizationSettings",
    "GeometryFeaturizer",
    "MagpieFeaturizer",
    "StructuralFeaturizer",
    "StructureContext",
    "default_cache_dir",
    "feature_schema",
    "featurize_paths",
    "featurize_structures",
    "get_featurizer",
    "list_featurizers",
    "parse_featurizer_names",
    "register_featurizer",
    "TableSummary",
    "table_provenance",
    "write_table",
]

#: class name -> registry name of the built-in groups (for the lazy attributes below)
_LAZY_CLASSES = {spec.split(":")[1]: name for name, spec in BUILTIN_FEATURIZERS.items()}


def __getattr__(attr: str):
    if attr in _LAZY_CLASSES:
        return FEATURIZERS[_LAZY_CLASSES[attr]]
    raise AttributeError(f"module 'mlkit.features' has no attribute {attr!r}")
