"""The rotation paper's automatic MD temperature rule.

Yang, Guan, Ouyang and Zhu (Chem. Mater. 2024) run the MD diagnosis at 800 K when the
anion framework is monovalent (F, Cl, Br, I) and at 1300 K when it is divalent (O, S,
Se). We extend it to Te (divalent) and make the other cases explicit:

- anions = :func:`mlkit.structures.chemistry.anion_elements` (the roles the features and
  the polyanion detector use; the mobile ion is never an anion);
- all anions monovalent halides -> 800 K; all divalent chalcogenides -> 1300 K;
- mixed halide + chalcogenide -> 1300 K (the divalent sub-lattice is the stiffer one);
- any other anion (N, H, C, P, As, ...; e.g. hydrides, borohydrides, nitrides) is outside
  the paper's rule: a :class:`~mlkit.errors.MlkitError` asks for an explicit temperature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlkit.errors import MlkitError
from mlkit.structures.chemistry import CHALCOGENS, HALIDES, anion_elements

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["DIVALENT_TEMPERATURE_K", "MONOVALENT_TEMPERATURE_K", "auto_temperature_K"]

MONOVALENT_TEMPERATURE_K = 800.0
DIVALENT_TEMPERATURE_K = 1300.0


def auto_temperature_K(structure: Structure, source: str = "", mobile_ion: str = "Na") -> float:
    """Temperature of the MD diagnosis from the anion framework (see module doc).

    Parameters
    ----------
    structure : pymatgen.core.Structure
    source : str
        Name used in the error message.
    mobile_ion : str, default "Na"
        Never counted as an anion.

    Returns
    -------
    float
        800.0 (monovalent halide framework) or 1300.0 (divalent chalcogenide).

    Raises
    ------
    MlkitError
        When the anions are outside F, Cl, Br, I, O, S, Se, Te.
    """
    anions = anion_elements(structure, mobile_ion)
    name = source or structure.composition.reduced_formula
    if not anions:
        raise MlkitError(f"{name}: no anion found; pass --temperature-K explicitly")
    other = anions - HALIDES - CHALCOGENS
    if other:
        raise MlkitError(
            f"{name}: anion(s) {', '.join(sorted(other))} are outside the auto temperature rule "
            "(F, Cl, Br, I -> 800 K; O, S, Se, Te -> 1300 K); pass --temperature-K explicitly"
        )
    if anions & CHALCOGENS:
        return DIVALENT_TEMPERATURE_K
    return MONOVALENT_TEMPERATURE_K
