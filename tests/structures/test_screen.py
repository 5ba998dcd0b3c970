"""rotation_screen: the paper's structural screen on hand-built and real structures."""

from __future__ import annotations

import pytest
from conftest import shared_path
from structures import builders as b

from mlkit.structures import (
    ScreenResult,
    find_polyanions,
    read_structure,
    rotation_screen,
)


@pytest.mark.parametrize(
    ("builder", "shapes"),
    [(b.na3ps4_box, ("tetrahedron",)), (b.nanbcl6_box, ("octahedron",)),
     (b.na11sn2ps12_box, ("tetrahedron",))],
)
def test_isolated_tetrahedra_and_octahedra_pass(builder, shapes):
    res = rotation_screen(builder())
    assert res == ScreenResult(True, "", "isolated", shapes)
    assert res


def test_corner_sharing_frameworks_fail(perovskite):
    res = rotation_screen(perovskite)
    assert not res.passed and res.reason == "framework is corner-sharing"
    assert res.connectivity == "corner" and res.shapes == ("octahedron",)
    assert rotation_screen(b.na4p2s7_box()).reason == "framework is corner-sharing"


def test_edge_and_face_sharing_fail(layered_natis2, banio3):
    assert rotation_screen(layered_natis2).reason == "framework is edge-sharing"
    res = rotation_screen(banio3, mobile_ion="Ba")  # BaNiO3 with Ba as the "mobile" ion
    assert res.reason == "framework is face-sharing"


@pytest.mark.parametrize(
    ("builder", "reason"),
    [
        (b.na2sbcl5_box, "polyhedron at site 0 (Sb) is other (CN 5)"),
        (b.nanbcl6_prism_box, "polyhedron at site 0 (Nb) is other (CN 6)"),
        (b.na4p2s6_box, "polyhedron at site 0 (P) is triangle (CN 3)"),
    ],
)
def test_other_shapes_fail(builder, reason):
    res = rotation_screen(builder())
    assert (res.passed, res.reason, res.connectivity) == (False, reason, "isolated")


def test_no_polyanions_and_no_mobile_ion(nacl):
    assert rotation_screen(nacl).reason == "no polyanions"
    assert rotation_screen(b.na2b12h12_box()).reason == "no polyanions"  # B has CN 1
    assert rotation_screen(b.isolated_phosphate("Li")).reason == "contains no Na"
    assert rotation_screen(b.isolated_phosphate("Li"), mobile_ion="Li").passed


def test_spectator_polyhedra_count_unless_asked():
    s = b.kna2ps4_box()  # K caps a face of PS4
    res = rotation_screen(s)
    assert res.reason == "framework is face-sharing"
    assert res.shapes == ("tetrahedron", "triangle")
    assert rotation_screen(s, counter_cations=False) == ScreenResult(
        True, "", "isolated", ("tetrahedron",))
    # precomputed polyanions give the same verdicts
    polys = find_polyanions(s)
    assert rotation_screen(s, polyanions=polys) == res
    assert rotation_screen(s, polyanions=polys, counter_cations=False).passed


@pytest.mark.shared
@pytest.mark.parametrize(("mp_id", "shapes"), [("mp-28178", ("octahedron",)),
                                                ("mp-4223", ("tetrahedron",))])
def test_phonondb_nanbcl6_and_na3po4_pass(mp_id, shapes):
    path = shared_path("phonondb_na", "structures") / f"{mp_id}_POSCAR-unitcell.vasp"
    assert rotation_screen(read_structure(path)) == ScreenResult(True, "", "isolated", shapes)
