"""Featurizers: structures -> one feature table (see docs/features.md).

Featurizers are stateless scikit-learn transformers registered by name in
:data:`FEATURIZERS` (a lazy ``name -> "module:Class"`` registry); one
:class:`FeaturizationSettings` value says which run and how structures are treated, and
:func:`featurize_paths` / :func:`featurize_structures` run them over many structures in
parallel with a per-row cache.
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
from mlkit.features.connectivity import ConnectivityFeaturizer
from mlkit.features.context import StructureContext, guess_oxidation_states
from mlkit.features.electrostatic import ElectrostaticFeaturizer
from mlkit.features.elemental import ElementalFeaturizer
from mlkit.features.geometry import GeometryFeaturizer
from mlkit.features.magpie import MagpieFeaturizer
from mlkit.features.pipeline import (
    META_COLUMNS,
    default_cache_dir,
    featurize_paths,
    featurize_structures,
    write_table,
)
from mlkit.features.settings import FeaturizationSettings, parse_featurizer_names
from mlkit.features.structural import StructuralFeaturizer

__all__ = [
    "BUILTIN_FEATURIZERS",
    "DEFAULT_FEATURIZERS",
    "FEATURIZERS",
    "META_COLUMNS",
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
    "featurize_paths",
    "featurize_structures",
    "get_featurizer",
    "guess_oxidation_states",
    "list_featurizers",
    "parse_featurizer_names",
    "register_featurizer",
    "write_table",
]
