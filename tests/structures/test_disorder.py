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
    # Na: 0.75 (Na/K site) + 0.3 = 1.05 -> one Na, the 0.75 site; the 0.3 site is dropped;
    # Li: split pair 0.5 + 0.5 (0.3 A apart) -> one Li; K (minority) is lost
    assert [sp.symbol for sp in out.species] == ["Na", "Li", "Cl", "Cl"]
    assert out[0].frac_coords.tolist() == [0, 0, 0]
    assert note == "majority:4 partial sites, 2 dropped, formula K0.25Na1.05Li1Cl2->NaLiCl2"


def test_majority_keeps_the_element_count_and_spreads_half_sites():
    # four half-occupied Li sites on a line along a: 2 Li kept, the two farthest apart
    # (0.0 and 0.5), never neighbours at 0.25 a
    lat = Lattice.orthorhombic(12.0, 6.0, 6.0)
    s = Structure(
        lat,
        [{"Li": 0.5}] * 4 + ["Cl", "Cl"],
        [[0, 0, 0], [0.25, 0, 0], [0.5, 0, 0], [0.75, 0, 0], [0, 0.5, 0.5], [0.5, 0.5, 0.5]],
    )
    out, note = resolve_disorder(s, "majority", "s")
    assert out.composition.reduced_formula == "LiCl"
    li = sorted(site.frac_coords[0] for site in out if site.specie.symbol == "Li")
    assert li == [0.0, 0.5]
    assert note == "majority:4 partial sites, 2 dropped"


def test_majority_never_keeps_split_partners_even_if_overfull():
    # 0.8 + 0.8 at 0.3 A: the occupancies ask for 2 atoms (round 1.6) but split partners
    # are never kept together (SPLIT_EXCLUSION_A = 1 A)
    s = Structure(
        Lattice.cubic(6.0),
        [{"Li": 0.8}, {"Li": 0.8}, "Cl"],
        [[0, 0, 0], [0.05, 0, 0], [0.5, 0.5, 0.5]],
    )
    out, _ = resolve_disorder(s, "majority", "s")
    assert out.composition.reduced_formula == "LiCl"


def test_refuse_and_unknown_strategy(disordered):
    with pytest.raises(StructureError, match=r"^d.cif: disordered \(4 partially occupied sites\)"):
        resolve_disorder(disordered, "refuse", "d.cif")
    with pytest.raises(ValueError, match="unknown disorder strategy"):
        resolve_disorder(disordered, "random", "d.cif")


@pytest.mark.shared
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


def test_majority_keeps_fully_occupied_mixed_sites():
    """Na0.6K0.4Cl rock salt: every cation site is full, so every site stays (as Na)."""
    from pymatgen.core import Lattice, Structure

    from mlkit.structures import resolve_disorder

    mixed = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.8), [{"Na": 0.6, "K": 0.4}, "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    ordered, note = resolve_disorder(mixed, "majority")
    assert ordered.composition.as_dict() == {"Na": 4.0, "Cl": 4.0}
    assert "dropped" not in note and "K1.6Na2.4Cl4->NaCl" in note
