"""Structures: reading, validation, disorder policy, chemistry (oxidation states, element
roles, radii), polyanions, framework connectivity, rotors and the rotation screen.
"""

from __future__ import annotations

from mlkit.structures.chemistry import (
    ANION_CANDIDATES,
    OxidationStateError,
    anion_elements,
    can_centre_polyanion,
    composition_roles,
    covalent_radius_A,
    element_roles,
    forms_centre_bonds,
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
from mlkit.structures.rotors import DEFAULT_ROTOR_SHAPES, Rotor, find_rotors, rotor_label
from mlkit.structures.screen import SCREEN_SHAPES, ScreenResult, rotation_screen
from mlkit.structures.validate import require_species, validate_structure

__all__ = [
    "ANION_CANDIDATES",
    "BONDING_METHODS",
    "CONNECTIVITY_CLASSES",
    "DEFAULT_ROTOR_SHAPES",
    "DISORDER_STRATEGIES",
    "SCREEN_SHAPES",
    "STRUCTURE_SUFFIXES",
    "Connectivity",
    "OxidationStateError",
    "Polyanion",
    "Rotor",
    "ScreenResult",
    "anion_elements",
    "can_centre_polyanion",
    "classify_connectivity",
    "collect_paths",
    "composition_roles",
    "covalent_radius_A",
    "element_roles",
    "find_polyanions",
    "find_rotors",
    "forms_centre_bonds",
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
    "rotation_screen",
    "rotor_label",
    "shared_ligand_pairs",
    "site_average",
    "structure_id",
    "symbol",
    "validate_structure",
]
