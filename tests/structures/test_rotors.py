"""find_rotors: polyanion rotors, spectators, multi-centre clusters, species selection."""

from __future__ import annotations

import pytest
from structures import builders as b

from mlkit.errors import MlkitError
from mlkit.structures import (
    Rotor,
    can_centre_polyanion,
    covalent_radius_A,
    element_roles,
    find_polyanions,
    find_rotors,
    forms_centre_bonds,
    rotor_label,
)


def test_single_tetrahedron_and_octahedron():
    (ps4,) = find_rotors(b.na3ps4_box())
    assert ps4 == Rotor((0,), (1, 2, 3, 4), "PS4", "tetrahedron", "P")
    assert ps4.atom_indices == (0, 1, 2, 3, 4) and ps4.n_centers == 1
    (nbcl6,) = find_rotors(b.nanbcl6_box())
    assert (nbcl6.label, nbcl6.shape, nbcl6.center_species) == ("NbCl6", "octahedron", "Nb")
    assert nbcl6.ligand_indices == (1, 2, 3, 4, 5, 6)


def test_label_counts_ligand_atoms_not_sites(perovskite):
    # cubic NaNbO3: each of the 3 O sites appears twice around Nb (two images)
    (nbo6,) = find_rotors(perovskite)
    assert nbo6.label == "NbO6" and nbo6.ligand_indices == (2, 3, 4)
    assert rotor_label(["P", "P"], ["S"] * 6) == "P2S6"
    assert rotor_label(["P"], ["O", "O", "O", "F"]) == "PFO3"


def test_spectator_cation_is_no_rotor():
    s = b.kna2ps4_box()
    assert {p.center_species for p in find_polyanions(s)} == {"P", "K"}
    assert [r.label for r in find_rotors(s, shapes=("tetrahedron", "triangle"))] == ["PS4"]
    # on request (criteria of find_polyanions) the K polyhedron comes back
    with_k = find_rotors(s, shapes=("tetrahedron", "triangle"), counter_cations=True)
    assert [r.label for r in with_k] == ["PS4", "KS3"]
    assert [p.center_species for p in find_polyanions(s, counter_cations=False)] == ["P"]


def test_which_elements_centre_a_polyanion():
    assert not any(can_centre_polyanion(el) for el in ("H", "Li", "Na", "K", "Cs", "Mg", "Ca",
                                                       "Ba"))
    assert all(can_centre_polyanion(el) for el in ("Be", "B", "P", "S", "Nb", "Al", "La"))
    assert forms_centre_bonds("P") and forms_centre_bonds("B") and not forms_centre_bonds("Cu")
    assert covalent_radius_A("P") == pytest.approx(1.07)


def test_p2s6_is_one_group_of_eight_atoms():
    s = b.na4p2s6_box()
    (p2s6,) = find_rotors(s)
    assert p2s6.label == "P2S6" and p2s6.shape == "cluster" and p2s6.center_species == "P"
    assert p2s6.center_indices == (0, 1) and p2s6.ligand_indices == (2, 3, 4, 5, 6, 7)
    assert p2s6.atom_indices == tuple(range(8))
    # without clustering: two PS3 triangles, not tetrahedra/octahedra
    assert find_rotors(s, clusters=False) == []
    pairs = find_rotors(s, clusters=False, shapes=("triangle",))
    assert [(r.label, r.shape) for r in pairs] == [("PS3", "triangle")] * 2
    # a tighter bond criterion (1.0 x (1.07 + 1.07) = 2.14 A < 2.2 A) splits the group
    assert find_rotors(s, cluster_tol=0.0) == []


@pytest.mark.parametrize(("builder", "n"), [(b.na2b10h10_box, 10), (b.na2b12h12_box, 12)])
@pytest.mark.parametrize("shift", [0.5, 0.0])
def test_closo_borane_clusters(builder, n, shift):
    s = builder(shift_frac=shift)  # shift 0.0: the cluster straddles the cell corner
    roles = element_roles(s)
    assert roles["B"] > 0 and roles["H"] < 0  # B centres, H ligands (fallback roles)
    (cluster,) = find_rotors(s)
    assert cluster.label == f"B{n}H{n}" and cluster.shape == "cluster"
    assert cluster.center_indices == tuple(range(n))
    assert cluster.ligand_indices == tuple(range(n, 2 * n))
    assert len(cluster.atom_indices) == 2 * n
    # each B has one H: not a polyhedron on its own (min_coordination 2)
    assert find_polyanions(s) == []
    assert find_rotors(s, clusters=False) == []


def test_species_selection_in_na11sn2ps12():
    s = b.na11sn2ps12_box()
    everything = find_rotors(s)
    assert [(r.label, r.center_indices) for r in everything] == [
        ("SnS4", (0,)), ("SnS4", (5,)), ("PS4", (10,))]
    (ps4,) = find_rotors(s, species=["PS4"])
    assert ps4.center_indices == (10,) and ps4.ligand_indices == (11, 12, 13, 14)
    assert find_rotors(s, species="P") == [ps4]
    assert find_rotors(s, species=["Sn", "PS4"]) == everything


def test_unknown_species_is_one_line_error():
    with pytest.raises(MlkitError) as info:
        find_rotors(b.na3ps4_box(), species=["PS4", "P2S6", "Xe"])
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("species P2S6, Xe match no rotor in Na3PS4; rotors present: PS4")
    # a group excluded by shape is named as such
    with pytest.raises(MlkitError, match=r"rotors present: none; not kept by shapes: PS3 \(tri"):
        find_rotors(b.na4p2s6_box(), species=["PS3"], clusters=False)


def test_corner_sharing_dimer_is_not_merged():
    rotors = find_rotors(b.na4p2s7_box())
    assert [(r.label, r.center_indices) for r in rotors] == [("PS4", (0,)), ("PS4", (1,))]
    assert set(rotors[0].ligand_indices) & set(rotors[1].ligand_indices) == {2}


def test_infinite_chain_of_bonded_centres_is_no_cluster():
    s = b.naps2_chain()  # P-P 2.2 A along x, through the periodic boundary
    rotors = find_rotors(s, shapes=("linear", "other", "triangle"))
    assert [(r.label, r.shape) for r in rotors] == [("PS2", "other")] * 2


def test_deterministic_order_and_mobile_ion():
    s = b.na11sn2ps12_box()
    assert find_rotors(s) == find_rotors(s.copy())
    li = b.na3ps4_box()
    li.replace_species({"Na": "Li"})
    assert [r.label for r in find_rotors(li, mobile_ion="Li")] == ["PS4"]
