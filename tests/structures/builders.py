"""Hand-built structures shared by the structures tests (importable as ``structures.builders``)."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure

P_O_A = 1.54  # P-O bond length used in the hand-built phosphate (A)
TETRA_DIRS = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)


def isolated_phosphate(mobile_ion: str = "Na", a_A: float = 8.0) -> Structure:
    """Cubic cell with one regular PO4 tetrahedron (P-O 1.54 A) and three mobile ions."""
    centre = np.array([0.5, 0.5, 0.5]) * a_A
    species = ["P"] + ["O"] * 4 + [mobile_ion] * 3
    coords = [centre, *(centre + P_O_A * TETRA_DIRS)]
    coords += [np.array(f) * a_A for f in ([0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0])]
    return Structure(Lattice.cubic(a_A), species, coords, coords_are_cartesian=True)


# -- rotors and the rotation screen -----------------------------------------------------
OCTA_DIRS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
P_S_A = 2.05  # P-S (A)
P_P_A = 2.2  # P-P in P2S6 (A)
SN_S_A = 2.40  # Sn-S (A)
NB_CL_A = 2.37  # Nb-Cl (A)
B_B_A = 1.8  # B-B in the hand-built B10H10 / B12H12 (A)
B_H_A = 1.2  # B-H (A)


def _with_mobile_ions(
    a_A: float, species: list[str], coords: list, n_ions: int, ion: str = "Na",
    min_distance_A: float = 3.0,
) -> Structure:
    """Cubic cell holding ``species`` at Cartesian ``coords`` plus ``n_ions`` ions put on a
    grid (deterministic) at least ``min_distance_A`` from every atom and each other.
    """
    lattice = Lattice.cubic(a_A)
    placed = Structure(lattice, species, coords, coords_are_cartesian=True)
    grid = np.linspace(0.0, 1.0, 8, endpoint=False)
    ions: list[np.ndarray] = []
    for f in (np.array([x, y, z]) for x in grid for y in grid for z in grid):
        if len(ions) == n_ions:
            break
        others = list(placed.frac_coords) + ions
        d = lattice.get_all_distances([f], others)[0]
        if d.min() >= min_distance_A:
            ions.append(f)
    if len(ions) < n_ions:
        raise ValueError(f"no room for {n_ions} {ion} in a {a_A} A cell")
    for f in ions:
        placed.append(ion, f)
    return placed


def _rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix turning unit vector ``a`` onto unit vector ``b`` (Rodrigues)."""
    v, c = np.cross(a, b), float(np.dot(a, b))
    if np.isclose(c, -1.0):
        return -np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def na3ps4_box(a_A: float = 12.0) -> Structure:
    """One PS4 tetrahedron (P-S 2.05 A) and three Na in a cube (Na3PS4, Z = 1)."""
    c = np.full(3, a_A / 2)
    return _with_mobile_ions(a_A, ["P"] + ["S"] * 4, [c, *(c + P_S_A * TETRA_DIRS)], 3)


def nanbcl6_box(a_A: float = 12.0) -> Structure:
    """One NbCl6 octahedron (Nb-Cl 2.37 A) and one Na (NaNbCl6, Z = 1)."""
    c = np.full(3, a_A / 2)
    return _with_mobile_ions(a_A, ["Nb"] + ["Cl"] * 6, [c, *(c + NB_CL_A * OCTA_DIRS)], 1)


def kna2ps4_box(a_A: float = 12.0) -> Structure:
    """KNa2PS4: a PS4 tetrahedron with K capping one S3 face (K-S 3.33 A, three S)."""
    c = np.full(3, a_A / 2)
    coords = [c, *(c + P_S_A * TETRA_DIRS), c - 3.4 * TETRA_DIRS[0]]
    return _with_mobile_ions(a_A, ["P"] + ["S"] * 4 + ["K"], coords, 2)


def na4p2s6_box(a_A: float = 14.0) -> Structure:
    """One staggered P2S6 group (P-P 2.2 A along z, 3 S per P at 2.05 A, P-P-S 105 deg)
    and four Na (Na4P2S6, Z = 1). Sites 0-1 are P, 2-7 S.
    """
    c = np.full(3, a_A / 2)
    theta = np.radians(75.0)  # S direction from +z for the upper P (P-P-S = 105 deg)
    p_up, p_down = c + [0, 0, P_P_A / 2], c - [0, 0, P_P_A / 2]
    sulphur = []
    for p, sign, phase in ((p_up, 1, 0.0), (p_down, -1, 60.0)):
        for k in range(3):
            phi = np.radians(phase + 120.0 * k)
            u = [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), sign * np.cos(theta)]
            sulphur.append(p + P_S_A * np.array(u))
    return _with_mobile_ions(a_A, ["P", "P"] + ["S"] * 6, [p_up, p_down, *sulphur], 4)


def na4p2s7_box(a_A: float = 14.0) -> Structure:
    """Corner-sharing P2S7 (two PS4 sharing one bridging S, P-S-P 120 deg) and four Na."""
    c = np.full(3, a_A / 2)
    half = np.radians(60.0)
    p1 = c + 2.10 * np.array([np.sin(half), 0.0, -np.cos(half)])
    p2 = c + 2.10 * np.array([-np.sin(half), 0.0, -np.cos(half)])
    coords, species = [p1, p2, c], ["P", "P", "S"]
    for p in (p1, p2):
        bridge = (c - p) / np.linalg.norm(c - p)
        rot = _rotation(TETRA_DIRS[0], bridge)
        coords += [p + P_S_A * rot @ d for d in TETRA_DIRS[1:]]
        species += ["S"] * 3
    return _with_mobile_ions(a_A, species, coords, 4)


def _closo_cluster(vertices: np.ndarray, a_A: float, shift_frac: float) -> tuple[list, list]:
    """B at ``vertices`` (about the origin), one H 1.2 A outward from each, centred at
    ``shift_frac`` of the cell (0.5: the middle; 0.0: across the cell corner).
    """
    c = np.full(3, a_A * shift_frac)
    units = vertices / np.linalg.norm(vertices, axis=1, keepdims=True)
    coords = [c + v for v in vertices] + [c + v + B_H_A * u for v, u in zip(vertices, units,
                                                                           strict=True)]
    return ["B"] * len(vertices) + ["H"] * len(vertices), coords


def b10_vertices() -> np.ndarray:
    """Bicapped square antiprism with every B-B edge 1.8 A (two apices, two squares)."""
    r = B_B_A / np.sqrt(2.0)  # square: side = r sqrt(2)
    h = np.sqrt((B_B_A**2 - r**2 * (2 - 2 * np.cos(np.pi / 4))) / 4)  # ring-ring edge
    apex = h + np.sqrt(B_B_A**2 - r**2)  # apex-ring edge
    ring = [[r * np.cos(k * np.pi / 2), r * np.sin(k * np.pi / 2), h] for k in range(4)]
    ring += [[r * np.cos(k * np.pi / 2 + np.pi / 4), r * np.sin(k * np.pi / 2 + np.pi / 4), -h]
             for k in range(4)]
    return np.array([[0, 0, apex], *ring, [0, 0, -apex]])


def b12_vertices() -> np.ndarray:
    """Regular icosahedron with edge 1.8 A."""
    g = (1 + np.sqrt(5.0)) / 2
    base = []
    for s1 in (1, -1):
        for s2 in (1, -1):
            base += [[0, s1, s2 * g], [s1, s2 * g, 0], [s2 * g, 0, s1]]
    return np.array(base) * B_B_A / 2  # the edge of (0, +-1, +-g) is 2


def na2b10h10_box(a_A: float = 14.0, shift_frac: float = 0.5) -> Structure:
    """One closo-B10H10 cluster (sites 0-9 B, 10-19 H) and two Na."""
    species, coords = _closo_cluster(b10_vertices(), a_A, shift_frac)
    return _with_mobile_ions(a_A, species, coords, 2)


def na2b12h12_box(a_A: float = 14.0, shift_frac: float = 0.5) -> Structure:
    """One closo-B12H12 icosahedron (sites 0-11 B, 12-23 H) and two Na."""
    species, coords = _closo_cluster(b12_vertices(), a_A, shift_frac)
    return _with_mobile_ions(a_A, species, coords, 2)


def na11sn2ps12_box(a_A: float = 16.0) -> Structure:
    """Two SnS4 (Sn-S 2.40 A) and one PS4 tetrahedra, eleven Na (Na11Sn2PS12, Z = 1).
    Sites: 0 Sn, 1-4 S, 5 Sn, 6-9 S, 10 P, 11-14 S.
    """
    species, coords = [], []
    for el, d, frac in (("Sn", SN_S_A, (0.25, 0.25, 0.25)), ("Sn", SN_S_A, (0.75, 0.75, 0.25)),
                        ("P", P_S_A, (0.25, 0.75, 0.75))):
        c = np.array(frac) * a_A
        species += [el] + ["S"] * 4
        coords += [c, *(c + d * TETRA_DIRS)]
    return _with_mobile_ions(a_A, species, coords, 11)


def na2sbcl5_box(a_A: float = 12.0) -> Structure:
    """Square-pyramidal SbCl5 (CN 5, Sb-Cl 2.5 A) and two Na."""
    c = np.full(3, a_A / 2)
    dirs = OCTA_DIRS[:5]
    return _with_mobile_ions(a_A, ["Sb"] + ["Cl"] * 5, [c, *(c + 2.5 * dirs)], 2)


def nanbcl6_prism_box(a_A: float = 12.0) -> Structure:
    """NbCl6 trigonal prism (Nb-Cl 2.37 A, eclipsed triangles) and one Na."""
    c = np.full(3, a_A / 2)
    theta = np.radians(49.0)  # polar angle of the prism corners
    dirs = []
    for sign in (1, -1):
        for k in range(3):
            phi = 2 * np.pi * k / 3
            dirs.append([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi),
                         sign * np.cos(theta)])
    return _with_mobile_ions(a_A, ["Nb"] + ["Cl"] * 6, [c, *(c + NB_CL_A * np.array(dirs))], 1)


def naps2_chain(a_A: float = 4.4) -> Structure:
    """Infinite -P-P- chain along x (P-P 2.2 A), two S per P, one Na per P (NaPS2)."""
    lattice = Lattice.orthorhombic(a_A, 10.0, 10.0)
    coords = [[0.0, 5.0, 5.0], [a_A / 2, 5.0, 5.0]]
    species = ["P", "P"]
    for x, sign in ((0.0, 1), (a_A / 2, -1)):
        coords += [[x, 5.0 + sign * 1.6, 5.0 + 1.28], [x, 5.0 + sign * 1.6, 5.0 - 1.28]]
        species += ["S", "S"]
    coords += [[0.0, 0.5, 0.5], [a_A / 2, 0.5, 0.5]]
    species += ["Na", "Na"]
    return Structure(lattice, species, coords, coords_are_cartesian=True)
