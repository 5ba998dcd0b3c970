"""Structures: reading, validation, disorder policy, polyanions and framework connectivity."""

from __future__ import annotations

from mlkit.structures.connectivity import (
    CONNECTIVITY_CLASSES,
    Connectivity,
    classify_connectivity,
    shared_ligand_pairs,
)
from mlkit.structures.disorder import (
    DISORDER_STRATEGIES,
    majority_element,
    majority_symbols,
    n_partial_sites,
    resolve_disorder,
    site_average,
)
from mlkit.structures.io import STRUCTURE_SUFFIXES, collect_paths, read_structure, structure_id
from mlkit.structures.polyanions import (
    ANION_CANDIDATES,
    BONDING_METHODS,
    Polyanion,
    element_roles,
    find_polyanions,
    polyhedron_shape,
)
from mlkit.structures.validate import require_species, validate_structure

__all__ = [
    "ANION_CANDIDATES",
    "BONDING_METHODS",
    "CONNECTIVITY_CLASSES",
    "DISORDER_STRATEGIES",
    "STRUCTURE_SUFFIXES",
    "Connectivity",
    "Polyanion",
    "classify_connectivity",
    "collect_paths",
    "element_roles",
    "find_polyanions",
    "majority_element",
    "majority_symbols",
    "n_partial_sites",
    "polyhedron_shape",
    "read_structure",
    "require_species",
    "resolve_disorder",
    "shared_ligand_pairs",
    "site_average",
    "structure_id",
    "validate_structure",
]
