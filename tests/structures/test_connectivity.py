"""Connectivity classes and share counts, with periodic images, on hand-built cases."""

from __future__ import annotations

import pytest

from mlkit.structures import (
    CONNECTIVITY_CLASSES,
    Connectivity,
    Polyanion,
    classify_connectivity,
    find_polyanions,
    shared_ligand_pairs,
)


def _poly(center: int, ligands: list[tuple[int, tuple[int, int, int]]]) -> Polyanion:
    return Polyanion(
        center_index=center,
        center_species="X",
        ligand_indices=tuple(j for j, _ in ligands),
        ligand_species=("O",) * len(ligands),
        ligand_images=tuple(img for _, img in ligands),
        distances_A=(2.0,) * len(ligands),
        shape="other",
    )


Z = (0, 0, 0)


@pytest.mark.parametrize(
    ("n_shared", "expected"),
    [(0, "isolated"), (1, "corner"), (2, "edge"), (3, "face"), (4, "face")],
)
def test_share_count_decides_the_kind(n_shared, expected):
    a = _poly(0, [(10, Z), (11, Z), (12, Z), (13, Z)])
    shared = [(10, Z), (11, Z), (12, Z), (13, Z)][:n_shared]
    b = _poly(1, [*shared, (20, Z), (21, Z), (22, Z), (23, Z)][:4])
    conn = classify_connectivity(None, [a, b])
    assert conn.framework_class == expected
    counts = {"corner": conn.n_corner, "edge": conn.n_edge, "face": conn.n_face}
    assert sum(counts.values()) == (n_shared > 0)
    if n_shared:
        assert counts[expected] == 1


def test_images_distinguish_atoms():
    # same ligand site, different images: not the same atom -> no share between a and b ...
    a = _poly(0, [(10, Z), (11, Z)])
    b = _poly(1, [(10, (1, 0, 0)), (12, Z)])
    pairs = shared_ligand_pairs([a, b])
    # ... with b in the home cell, but a shares atom 10 with b translated by -a1
    assert pairs == {(0, 1, (-1, 0, 0)): 1}


def test_mixed_and_none():
    a = _poly(0, [(10, Z), (11, Z), (12, Z)])
    b = _poly(1, [(10, Z), (13, Z), (14, Z)])  # corner with a
    c = _poly(2, [(11, Z), (12, Z), (15, Z)])  # edge with a
    assert classify_connectivity(None, [a, b, c]) == Connectivity("mixed", 1, 1, 0)
    assert classify_connectivity(None, []) == Connectivity("none", 0, 0, 0)
    assert set(CONNECTIVITY_CLASSES) == {"isolated", "corner", "edge", "face", "mixed", "none"}


def test_self_image_sharing_counted_once_per_pair():
    # one polyhedron holding site 10 in two images differing by a1: it shares one corner with
    # its own image; the pair {p, p + a1} is the same as {p - a1, p}: one pair per cell
    p = _poly(0, [(10, Z), (10, (1, 0, 0)), (11, Z)])
    assert shared_ligand_pairs([p]) == {(0, 0, (1, 0, 0)): 1}
    assert classify_connectivity(None, [p]) == Connectivity("corner", 1, 0, 0)


def test_perovskite_corner_sharing_with_own_images(perovskite):
    # one NbO6 per cell, 6 corner-sharing neighbours, each pair shared by two octahedra: 3 pairs
    conn = classify_connectivity(perovskite, find_polyanions(perovskite))
    assert conn == Connectivity("corner", 3, 0, 0)


def test_layered_edge_sharing(layered_natis2):
    # CdI2 layer: 6 edge-sharing neighbours in the layer, none across the Na layer: 6/2 pairs
    polys = find_polyanions(layered_natis2)
    assert [p.shape for p in polys] == ["octahedron"]
    assert classify_connectivity(layered_natis2, polys) == Connectivity("edge", 0, 3, 0)


def test_rocksalt_octahedra_share_edges_and_corners(rocksalt_mgo, nacl):
    # Mg in rock salt: 12 edge-sharing neighbours (a/sqrt2 away) and 6 corner-sharing ones
    # (a away, Mg-O-Mg 180 deg); 4 Mg per cell -> 4 * 12 / 2 = 24 edge and 4 * 6 / 2 = 12 corner
    conn = classify_connectivity(rocksalt_mgo, find_polyanions(rocksalt_mgo))
    assert conn == Connectivity("mixed", 12, 24, 0)
    assert classify_connectivity(nacl, find_polyanions(nacl)).framework_class == "none"


def test_face_sharing_chains(banio3):
    # BaNiO3: NiO6 face-sharing chains along c, 2 Ni per cell, 2 neighbours each -> 2 pairs
    polys = find_polyanions(banio3, mobile_ion="Ba")
    assert [p.shape for p in polys] == ["octahedron", "octahedron"]
    assert classify_connectivity(banio3, polys) == Connectivity("face", 0, 0, 2)


def test_isolated_phosphate(phosphate):
    assert (
        classify_connectivity(phosphate, find_polyanions(phosphate)).framework_class == "isolated"
    )


def test_indices_must_belong_to_structure(phosphate):
    with pytest.raises(ValueError, match="do not belong"):
        classify_connectivity(phosphate, [_poly(0, [(99, Z)])])
