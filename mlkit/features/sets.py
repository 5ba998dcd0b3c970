"""Named feature sets: curated columns of the default groups, for a paper's learning step.

A feature set is a choice of *columns* of the feature table (the featurizer groups still
compute everything). ``mlkit train --feature-set rotation-paper`` and ``mlkit subsets
--feature-set rotation-paper`` select them before the |r| filter.

``rotation-paper``
    Yang et al. (Chem. Mater. 2024) use 23 candidate features in four groups
    (structural, local geometrical, electrostatic, elemental; their Table S2, not in the
    text) and keep 19 after dropping one of each pair with |Pearson r| > 0.9. The 23
    below are mlkit's closest counterparts, grouped the same way; VPA and AAL, the
    paper's top two, are included as defined there (volume per atom; mean centre-ligand
    distance of the polyanions). Which four of them the |r| filter drops depends on the
    data (reported by the filter).
"""

from __future__ import annotations

from collections.abc import Sequence

from mlkit.errors import MlkitError

__all__ = ["FEATURE_SETS", "feature_set_columns", "feature_set_groups"]

#: name -> {group -> columns}
FEATURE_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "rotation-paper": {
        "structural": (
            "vpa", "density_g_cm3", "packing_fraction", "free_volume_per_atom_A3",
            "lattice_anisotropy", "mobile_ion_fraction", "mobile_ion_density_per_nm3",
        ),
        "local geometrical": (
            "aal", "polyanion_distortion", "polyanion_cn_mean", "polyanions_per_formula_unit",
            "mobile_cn", "mobile_anion_distance_A", "mobile_center_min_distance_A",
        ),
        "electrostatic": (
            "ewald_energy_per_atom_eV", "madelung_potential_mobile_V", "bvs_mobile",
            "global_instability_index", "polyanion_charge",
        ),
        "elemental": (
            "center_mass_amu", "ligand_mass_amu", "center_electronegativity",
            "ligand_electronegativity",
        ),
    },
}


def feature_set_groups(name: str) -> dict[str, tuple[str, ...]]:
    """The groups of a named set (``{group: columns}``)."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise MlkitError(f"unknown feature set {name!r}; known: "
                         f"{', '.join(sorted(FEATURE_SETS))}") from None


def feature_set_columns(spec: str | Sequence[str] | None) -> list[str] | None:
    """Columns of a feature set.

    Parameters
    ----------
    spec : str, sequence of str or None
        A name in :data:`FEATURE_SETS`, a comma-separated list of columns (one column:
        ``"vpa,"``), or a list of columns; ``None`` or ``""`` means every column
        (returns ``None``).

    Returns
    -------
    list of str or None
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    if isinstance(spec, str):
        if spec in FEATURE_SETS:
            return [c for cols in FEATURE_SETS[spec].values() for c in cols]
        if "," not in spec:
            feature_set_groups(spec)  # not a set name: raises with the known names
        return [c.strip() for c in spec.split(",") if c.strip()]
    columns = [str(c) for c in spec]
    if not columns:
        raise MlkitError("an empty feature set selects no column")
    return columns

