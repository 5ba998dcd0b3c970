"""Named compounds from phonondb (Materials Project cells): polyanions, class, AAL and VPA.

Expected values are derived here independently of mlkit: the POSCAR is parsed with plain
numpy, centre-ligand distances come from a brute-force search over 5 x 5 x 5 cell images,
and the polyhedron is the k nearest ligand-element atoms (k = 4 or 6) after checking that
the gap to the (k+1)-th is large (unambiguous bonding).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from mlkit.structures import (
    anion_elements,
    classify_connectivity,
    find_polyanions,
    read_structure,
    resolve_disorder,
    validate_structure,
)

pytestmark = pytest.mark.shared


def parse_poscar(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Lattice (3, 3), species per atom, fractional coordinates (n, 3) of a VASP5 POSCAR."""
    lines = path.read_text().splitlines()
    scale = float(lines[1].split()[0])
    lattice = scale * np.array([[float(x) for x in lines[i].split()[:3]] for i in (2, 3, 4)])
    names = lines[5].split()
    counts = [int(x) for x in lines[6].split()]
    start = 8 if lines[7].strip()[0] in "Dd" else 9  # optional "Selective dynamics"
    n = sum(counts)
    frac = np.array([[float(x) for x in lines[start + i].split()[:3]] for i in range(n)])
    species = [el for el, c in zip(names, counts, strict=True) for _ in range(c)]
    return lattice, species, frac


def neighbour_distances(lattice, frac, i, targets) -> np.ndarray:
    """Sorted distances from atom i to every target atom in the 5x5x5 images (A)."""
    shifts = np.array(list(itertools.product(range(-2, 3), repeat=3)))
    d = frac[targets][:, None, :] + shifts[None, :, :] - frac[i]
    return np.sort(np.linalg.norm(d.reshape(-1, 3) @ lattice, axis=1))


def independent(path: Path, centre: str, ligand: str, k: int) -> dict:
    lattice, species, frac = parse_poscar(path)
    centres = [i for i, el in enumerate(species) if el == centre]
    ligands = [i for i, el in enumerate(species) if el == ligand]
    first_k = []
    for i in centres:
        d = neighbour_distances(lattice, frac, i, ligands)
        assert d[k] > 1.3 * d[k - 1], "bonding ambiguous: gap too small"
        first_k.append(d[:k])
    # a ligand atom bonded to two centres means sharing; count centres around every ligand
    cut = 1.15 * max(float(x[-1]) for x in first_k)
    bonded_centres = [
        int(np.sum(neighbour_distances(lattice, frac, j, centres) <= cut)) for j in ligands
    ]
    return {
        "aal_A": float(np.mean(first_k)),
        "vpa_A3": abs(np.linalg.det(lattice)) / len(species),
        "n_centres": len(centres),
        "max_centres_per_ligand": max(bonded_centres),
        "n_bridging": sum(1 for b in bonded_centres if b == 2),
    }


ISOLATED = [
    # id, formula, centre, ligand, shape, k, AAL (A), VPA (A^3) - the last two printed by
    # independent() and pinned so that drift in either side shows up
    ("mp-28178", "NaNbCl6", "Nb", "Cl", "octahedron", 6, 2.3731, 26.4898),
    ("mp-28679", "NaGaBr4", "Ga", "Br", "tetrahedron", 4, 2.3418, 31.6919),
    ("mp-23363", "NaAlCl4", "Al", "Cl", "tetrahedron", 4, 2.1535, 25.5593),
    ("mp-4223", "Na3PO4", "P", "O", "tetrahedron", 4, 1.5563, 12.3951),
    ("mp-30931", "Na4SiSe4", "Si", "Se", "tetrahedron", 4, 2.2859, 25.6706),
    ("mp-28782", "Na3PS4", "P", "S", "tetrahedron", 4, 2.0594, 20.8233),
]


def _load(mp_id: str):
    path = shared_path("phonondb_na", "structures") / f"{mp_id}_POSCAR-unitcell.vasp"
    structure = read_structure(path)
    validate_structure(structure, str(path))
    return path, structure


@pytest.mark.parametrize(
    ("mp_id", "formula", "centre", "ligand", "shape", "k", "aal_A", "vpa_A3"), ISOLATED
)
def test_isolated_polyanions(mp_id, formula, centre, ligand, shape, k, aal_A, vpa_A3):
    path, s = _load(mp_id)
    ref = independent(path, centre, ligand, k)
    assert ref["aal_A"] == pytest.approx(aal_A, abs=1e-4)
    assert ref["vpa_A3"] == pytest.approx(vpa_A3, abs=1e-4)
    assert ref["max_centres_per_ligand"] == 1  # independent check that they are isolated
    assert s.composition.reduced_formula == formula
    polys = find_polyanions(s)
    assert len(polys) == ref["n_centres"]
    assert {p.center_species for p in polys} == {centre}
    assert {p.shape for p in polys} == {shape}
    assert {p.coordination_number for p in polys} == {k}
    assert all(set(p.ligand_species) == {ligand} for p in polys)
    aal = float(np.mean([d for p in polys for d in p.distances_A]))
    assert aal == pytest.approx(ref["aal_A"], abs=1e-6)
    assert s.volume / len(s) == pytest.approx(ref["vpa_A3"], rel=1e-9)
    conn = classify_connectivity(s, polys)
    assert (conn.framework_class, conn.n_corner, conn.n_edge, conn.n_face) == ("isolated", 0, 0, 0)


CORNER = [
    # id, formula, centres, ligand, k per centre
    ("mp-8351", "NaAlSiO4", ("Al", "Si"), "O", 4),  # stuffed-tridymite-type framework
    ("mp-6475", "NaZr2(PO4)3", ("Zr", "P"), "O", None),  # NASICON
    ("mp-3136", "NaNbO3", ("Nb",), "O", 6),  # cubic perovskite
]


@pytest.mark.parametrize(("mp_id", "formula", "centres", "ligand", "k"), CORNER)
def test_corner_sharing_frameworks(mp_id, formula, centres, ligand, k):
    path, s = _load(mp_id)
    assert s.composition.reduced_formula == formula
    polys = find_polyanions(s)
    assert {p.center_species for p in polys} == set(centres)
    conn = classify_connectivity(s, polys)
    assert conn.framework_class == "corner"
    # independent count: every O bridging exactly two cations is one corner-sharing pair
    lattice, species, frac = parse_poscar(path)
    cents = [i for i, el in enumerate(species) if el in centres]
    ligs = [i for i, el in enumerate(species) if el == ligand]
    n_bridging = sum(
        int(np.sum(neighbour_distances(lattice, frac, j, cents) <= 2.4) == 2) for j in ligs
    )
    assert conn.n_corner == n_bridging


@pytest.mark.parametrize(
    ("mp_id", "formula", "centre"), [("mp-7914", "NaScO2", "Sc"), ("mp-5175", "NaInO2", "In")]
)
def test_edge_sharing_layers(mp_id, formula, centre):
    # alpha-NaFeO2 type (R-3m, NaCoO2-like O3 layers): MO6 octahedra share edges with six
    # in-layer neighbours; 3 M per hexagonal cell -> 3 * 6 / 2 = 9 edge pairs
    path, s = _load(mp_id)
    assert s.composition.reduced_formula == formula
    polys = find_polyanions(s)
    assert [p.shape for p in polys] == ["octahedron"] * 3
    assert {p.center_species for p in polys} == {centre}
    lattice, species, frac = parse_poscar(path)
    cents = [i for i, el in enumerate(species) if el == centre]
    # independent: nearest M-M distance is the in-layer one, 6 neighbours each
    d = neighbour_distances(lattice, frac, cents[0], cents)
    d = d[d > 1e-6]
    assert np.sum(np.isclose(d, d[0], atol=1e-3)) == 6
    conn = classify_connectivity(s, polys)
    assert (conn.framework_class, conn.n_corner, conn.n_edge, conn.n_face) == ("edge", 0, 9, 0)


@pytest.mark.parametrize("strategy", ["average", "majority"])
def test_obelix_argyrodite_with_li_as_mobile_ion(strategy):
    # Li6PS5Cl (OBELiX "122", 56 partial sites): isolated PS4 tetrahedra once Li is mobile;
    # with the default Na, Li is an ordinary cation whose polyhedra share S with PS4
    path = shared_path("obelix", "cifs_train") / "122.cif"
    s = read_structure(path)
    validate_structure(s, str(path))
    s, note = resolve_disorder(s, strategy, str(path))
    assert note.startswith(f"{strategy}:56 partial sites")
    polys = find_polyanions(s, mobile_ion="Li")
    assert len(polys) == 4
    assert {(p.center_species, p.shape) for p in polys} == {("P", "tetrahedron")}
    assert classify_connectivity(s, polys).framework_class == "isolated"
    with_li = find_polyanions(s)
    assert "Li" in {p.center_species for p in with_li}
    assert classify_connectivity(s, with_li).framework_class != "isolated"


@pytest.mark.parametrize(("mp_id", "anion"), [("mp-28478", "Te"), ("mp-29657", "Ge")])
def test_mobile_ion_is_never_a_ligand(mp_id, anion):
    """NaTe3/NaGe (Zintl phases) have no charge-balanced oxidation states; whatever the
    fallback guesses, Na (the mobile ion) is never an anion, so never a ligand, and with no
    other cation there is no polyhedron at all."""
    path = shared_path("phonondb_na", "structures", f"{mp_id}_POSCAR-unitcell.vasp")
    structure = read_structure(path)
    assert anion_elements(structure, mobile_ion="Na") == {anion}
    polyanions = find_polyanions(structure, mobile_ion="Na")
    assert polyanions == []
    assert classify_connectivity(structure, polyanions).framework_class == "none"
