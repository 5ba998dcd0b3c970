"""Structures: reading, validation, disorder policy, chemistry (oxidation states, element
roles, radii), polyanions and framework connectivity.
"""

from __future__ import annotations

from mlkit.structures.chemistry import (
    ANION_CANDIDATES,
    OxidationStateError,
    anion_elements,
    composition_roles,
    element_roles,
    guess_oxidation_states,
    ionic_radius_A,
    oxidation_states,
    pauling,
    symbol,
)
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
from mlkit.structures.io import (
    STRUCTURE_SUFFIXES,
    collect_paths,
    read_structure,
    site_count_lower_bound,
    structure_id,
)
from mlkit.structures.polyanions import (
    BONDING_METHODS,
    Polyanion,
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
    "OxidationStateError",
    "Polyanion",
    "anion_elements",
    "classify_connectivity",
    "collect_paths",
    "composition_roles",
    "element_roles",
    "find_polyanions",
    "guess_oxidation_states",
    "ionic_radius_A",
    "majority_element",
    "majority_symbols",
    "n_partial_sites",
    "oxidation_states",
    "pauling",
    "polyhedron_shape",
    "read_structure",
    "site_count_lower_bound",
    "require_species",
    "resolve_disorder",
    "shared_ligand_pairs",
    "site_average",
    "structure_id",
    "symbol",
    "validate_structure",
]
