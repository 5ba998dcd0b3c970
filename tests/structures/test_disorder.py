"""Disorder strategies on small disordered structures and on OBELiX CIFs."""

from __future__ import annotations

import pytest
from conftest import shared_path
from pymatgen.core import Lattice, Structure

from mlkit.errors import StructureError
from mlkit.structures import (
    DISORDER_STRATEGIES,
    majority_element,
    read_structure,
    resolve_disorder,
    site_average,
    validate_structure,
)


@pytest.fixture
def disordered() -> Structure:
    """Rock-salt-like cell: a Na/K site, a Na site 30 % occupied, a split Li pair, Cl."""
    return Structure(
        Lattice.cubic(6.0),
        [{"Na": 0.75, "K": 0.25}, {"Na": 0.3}, {"Li": 0.5}, {"Li": 0.5}, "Cl", "Cl"],
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0.55, 0, 0.5], [0.5, 0.5, 0.5], [0, 0, 0.5]],
    )


def test_ordered_structure_is_untouched(nacl):
    for strategy in DISORDER_STRATEGIES:
        out, note = resolve_disorder(nacl, strategy, "nacl")
        assert note == "ordered" and out == nacl and out is not nacl


def test_average_keeps_the_disordered_structure(disordered):
    out, note = resolve_disorder(disordered, "average", "d")
    assert note == "average:4 partial sites"
    assert out == disordered
    assert majority_element(out[0]) == "Na"
    mass = site_average(out[0], lambda el: float(el.atomic_mass))
    assert mass == pytest.approx(0.75 * 22.98977 + 0.25 * 39.0983, rel=1e-5)


def test_majority_orders_drops_vacancies_and_merges_split_sites(disordered):
    out, note = resolve_disorder(disordered, "majority", "d")
    assert out.is_ordered
    # site 0 -> Na; site 1 (70 % vacancy) dropped; Li split pair (0.3 A apart) merged into one
    assert [sp.symbol for sp in out.species] == ["Na", "Li", "Cl", "Cl"]
    assert note == "majority:4 partial sites, 1 dropped (vacancy), 1 merged, formula " + (
        f"{disordered.composition.reduced_formula}->{out.composition.reduced_formula}"
    )


def test_refuse_and_unknown_strategy(disordered):
    with pytest.raises(StructureError, match=r"^d.cif: disordered \(4 partially occupied sites\)"):
        resolve_disorder(disordered, "refuse", "d.cif")
    with pytest.raises(ValueError, match="unknown disorder strategy"):
        resolve_disorder(disordered, "random", "d.cif")


def test_obelix_cifs_under_every_strategy():
    cifs = sorted(shared_path("obelix", "cifs_train").glob("*.cif"))[:12]
    n_disordered = 0
    for path in cifs:
        s = read_structure(path)
        validate_structure(s, str(path))
        disordered = not s.is_ordered
        n_disordered += disordered
        avg, note = resolve_disorder(s, "average", str(path))
        assert note.startswith("average:") == disordered
        maj, note = resolve_disorder(s, "majority", str(path))
        assert maj.is_ordered
        validate_structure(maj, str(path))
        if disordered:
            with pytest.raises(StructureError, match="refuse"):
                resolve_disorder(s, "refuse", str(path))
    assert n_disordered > 0
