"""Validation rules: empty/degenerate/absurd cells, overlaps, split sites, site limit, species."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import StructureError
from mlkit.structures import require_species, validate_structure


def test_sane_structure_passes(nacl):
    # passes at the defaults and at limits just inside its 8 sites and 2.82 A Na-Cl distance,
    validate_structure(nacl, "nacl")
    validate_structure(nacl, "nacl", max_sites=8, min_distance_A=2.8)
    # so the checks are live and the pass above is not vacuous
    with pytest.raises(StructureError, match=r"overlapping atoms \(Na0-Cl\d+ at 2.82 A < 2.9 A\)"):
        validate_structure(nacl, "nacl", min_distance_A=2.9)


def test_empty_structure():
    with pytest.raises(StructureError, match="^x.cif: empty structure"):
        validate_structure(Structure(Lattice.cubic(4), [], []), "x.cif")


def test_too_many_sites(nacl):
    with pytest.raises(StructureError, match=r"too many sites \(8 > max_sites=4\)"):
        validate_structure(nacl, "nacl", max_sites=4)
    validate_structure(nacl, "nacl", max_sites=8)


def test_overlapping_atoms_named():
    s = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.04, 0, 0]])
    with pytest.raises(StructureError, match=r"overlapping atoms \(Na0-Cl1 at 0.20 A < 0.5 A\)"):
        validate_structure(s, "s")


def test_overlap_across_the_periodic_boundary():
    s = Structure(
        Lattice.cubic(5.0), ["Na", "Cl", "Cl"], [[0.01, 0, 0], [0.98, 0, 0], [0.5, 0.5, 0.5]]
    )
    with pytest.raises(StructureError, match="Na0-Cl1 at 0.15 A"):
        validate_structure(s, "s")


def test_split_partial_sites_may_be_close_but_not_overfull():
    lat = Lattice.cubic(5.0)
    split = Structure(
        lat, [{"Li": 0.5}, {"Li": 0.5}, "Cl"], [[0, 0, 0], [0.06, 0, 0], [0.5, 0.5, 0.5]]
    )
    validate_structure(split, "split")  # 0.30 A apart, 0.5 + 0.5 <= 1: never both occupied
    overfull = Structure(
        lat, [{"Li": 0.8}, {"Li": 0.8}, "Cl"], [[0, 0, 0], [0.06, 0, 0], [0.5] * 3]
    )
    with pytest.raises(StructureError, match="overlapping atoms"):
        validate_structure(overfull, "overfull")


def test_absurd_volume_per_atom():
    with pytest.raises(StructureError, match=r"volume per site 500 A\^3"):
        validate_structure(
            Structure(Lattice.cubic(10.0), ["Na", "Cl"], [[0] * 3, [0.5] * 3]), "big"
        )
    with pytest.raises(StructureError, match="volume per site 0.5 A"):
        validate_structure(
            Structure(Lattice.cubic(1.0), ["Na", "Cl"], [[0] * 3, [0.5] * 3]), "small"
        )


def test_degenerate_angle():
    lat = Lattice.from_parameters(5, 5, 5, 90, 90, 2.0)
    with pytest.raises(StructureError, match="degenerate cell"):
        validate_structure(Structure(lat, ["Na"], [[0, 0, 0]]), "flat")


def test_short_lattice_vector_is_self_overlap():
    lat = Lattice.from_parameters(0.4, 10, 10, 90, 90, 90)
    with pytest.raises(StructureError, match="periodic image"):
        validate_structure(Structure(lat, ["Na"], [[0, 0, 0]]), "thin")


def test_require_species(nacl, licl):
    require_species(nacl, "Na", "nacl")
    with pytest.raises(StructureError, match=r"^licl.cif: no Na in structure \(needed by vpa\)$"):
        require_species(licl, "Na", "licl.cif", purpose="vpa")
    require_species(licl, "Li", "licl")
