"""The rotation paper's automatic MD temperature rule.

Yang et al. (2024) run the MD diagnosis at 800 K when the anion framework is
monovalent (F, Cl, Br, I) and at 1300 K when it is divalent (O, S, Se). We extend it
to Te (divalent) and make the other cases explicit:

- anions = elements with a negative oxidation state in pymatgen's most likely
  charge-balanced guess (fallback: the most electronegative element);
- all anions monovalent halides -> 800 K; all divalent chalcogenides -> 1300 K;
- mixed halide + chalcogenide -> 1300 K (the divalent sub-lattice is the stiffer one);
- any other anion (N, H, C, P, As, ...; e.g. hydrides, borohydrides, nitrides) is outside
  the paper's rule: a :class:`~mlkit.errors.MlkitError` asks for an explicit temperature.
"""

from __future__ import annotations

from mlkit.errors import MlkitError

MONOVALENT_ANIONS = frozenset({"F", "Cl", "Br", "I"})
DIVALENT_ANIONS = frozenset({"O", "S", "Se", "Te"})
MONOVALENT_TEMPERATURE_K = 800.0
DIVALENT_TEMPERATURE_K = 1300.0


def anion_species(structure) -> list[str]:
    """Anion elements of a structure (sorted).

    Parameters
    ----------
    structure : pymatgen.core.Structure

    Returns
    -------
    list of str
        Elements with a negative oxidation state in the most likely guess; the most
        electronegative element when no charge-balanced guess exists.
    """
    comp = structure.composition.element_composition
    guesses = comp.oxi_state_guesses(max_sites=-50)
    if guesses:
        return sorted(el for el, ox in guesses[0].items() if ox < 0)
    most = max(comp.elements, key=lambda el: el.X if el.X == el.X else 0.0)
    return [most.symbol]


def auto_temperature_K(structure, source: str = "") -> float:
    """Temperature of the MD diagnosis from the anion framework (see module doc).

    Parameters
    ----------
    structure : pymatgen.core.Structure
    source : str
        Name used in the error message.

    Returns
    -------
    float
        800.0 (monovalent halide framework) or 1300.0 (divalent chalcogenide).

    Raises
    ------
    MlkitError
        When the anions are outside F, Cl, Br, I, O, S, Se, Te.
    """
    anions = set(anion_species(structure))
    name = source or structure.composition.reduced_formula
    if not anions:
        raise MlkitError(f"{name}: no anion found; pass --temperature-K explicitly")
    other = anions - MONOVALENT_ANIONS - DIVALENT_ANIONS
    if other:
        raise MlkitError(
            f"{name}: anion(s) {', '.join(sorted(other))} are outside the auto temperature rule "
            "(F, Cl, Br, I -> 800 K; O, S, Se, Te -> 1300 K); pass --temperature-K explicitly"
        )
    if anions & DIVALENT_ANIONS:
        return DIVALENT_TEMPERATURE_K
    return MONOVALENT_TEMPERATURE_K
