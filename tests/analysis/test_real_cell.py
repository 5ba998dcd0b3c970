"""analyze_trajectory on the real NaNbCl6 cell (mp-28178, monoclinic) with known rotor motion.

The structure and its NbCl6 polyanions come from ../shared data and mlkit.structures;
the motion is synthetic (rigid Brownian rotation of every NbCl6 about its Nb, Na random
walk), so the expected C(t) is known exactly. Ligands stay in the periodic image the
POSCAR puts them in, so a raw centre->ligand difference can span the cell: the
minimum-image convention must be applied.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from mlkit.analysis import analyze_trajectory, center_ligand_vectors, reorientation_acf

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def nanbcl6_traj():
    from mlkit.structures import find_polyanions, read_structure

    path = shared_path("phonondb_na", "structures", "mp-28178_POSCAR-unitcell.vasp")
    s = read_structure(path)
    polys = find_polyanions(s, mobile_ion="Na")
    assert len(polys) == 4 and all(p.center_species == "Nb" for p in polys)
    return s, polys


def _rotations(n, n_rot, d_r, dt, seed):
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    cur = [Rotation.identity() for _ in range(n_rot)]
    out = np.empty((n, n_rot, 3, 3))
    for t in range(n):
        for r in range(n_rot):
            if t:
                cur[r] = Rotation.from_rotvec(rng.normal(scale=np.sqrt(2 * d_r * dt), size=3)) \
                    * cur[r]
            out[t, r] = cur[r].as_matrix()
    return out


def test_real_cell_minimum_image_and_categories(nanbcl6_traj):
    s, polys = nanbcl6_traj
    n, dt_fs = 1200, 10.0
    x0 = s.cart_coords
    cell = s.lattice.matrix
    centers = [p.center_index for p in polys]
    ligands = [list(p.ligand_indices) for p in polys]
    v0, _ = center_ligand_vectors(x0[None], centers, ligands, cell)
    raw = np.concatenate([x0[lig] - x0[c] for c, lig in zip(centers, ligands, strict=True)])
    assert np.linalg.norm(raw, axis=1).max() > 4.0  # some ligands sit in another image
    assert np.linalg.norm(v0[0], axis=1).max() < 2.6  # minimum image: Nb-Cl bonds

    rots = _rotations(n, len(polys), 0.3, dt_fs / 1000, seed=1)
    x = np.repeat(x0[None], n, axis=0)
    k = 0
    for r, lig in enumerate(ligands):
        for j, li in enumerate(lig):
            v = v0[0, k + j]
            x[:, li] = x0[li] + np.einsum("tij,j->ti", rots[:, r], v) - v
        k += len(lig)
    na = [i for i, sp in enumerate(s.species) if sp.symbol == "Na"]
    rng = np.random.default_rng(2)
    steps = rng.normal(scale=np.sqrt(2 * 0.3 * dt_fs / 1000), size=(n - 1, len(na), 3))
    x[1:, na] += np.cumsum(steps, axis=0)
    species = [sp.symbol for sp in s.species]

    # C(t) from the trajectory equals C(t) from the known rotations
    vec, _ = center_ligand_vectors(x, centers, ligands, cell)
    u = vec / np.linalg.norm(vec, axis=-1, keepdims=True)
    u_true = np.concatenate(
        [np.einsum("tij,lj->tli", rots[:, r], v0[0, 6 * r : 6 * r + 6]
                   / np.linalg.norm(v0[0, 6 * r : 6 * r + 6], axis=-1, keepdims=True))
         for r in range(len(polys))], axis=1)
    assert np.allclose(reorientation_acf(u), reorientation_acf(u_true), atol=1e-10)

    row = analyze_trajectory(x, species, cell, dt_fs, 800.0, centers, ligands)
    assert row["polyanions_intact"] and not row["framework_melted"]
    assert row["rotates"] and row["diffuses"] and row["category"] == 1
    assert row["volume_A3"] == pytest.approx(s.volume)
    assert row["n_mobile"] == 4
    # a frozen copy: no rotation, no diffusion -> category 3
    frozen = np.repeat(x0[None], 200, axis=0) + rng.normal(scale=0.05, size=(200, len(s), 3))
    row3 = analyze_trajectory(frozen, species, cell, dt_fs, 800.0, centers, ligands)
    assert row3["category"] == 3 and row3["c_t_end"] > 0.99
