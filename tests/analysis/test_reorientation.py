from __future__ import annotations

import numpy as np
import pytest

from mlkit.analysis import (
    center_ligand_vectors,
    orientation_density,
    reorientation_acf,
    reorientation_jumps,
    unit_vectors,
)
from mlkit.analysis.reorientation import minimum_image
from mlkit.errors import MlkitError


def test_isotropic_rotational_diffusion_c_t(synth):
    d_r, dt = 0.5, 0.01  # 1/ps, ps
    u = synth.brownian_rotation(800, 400, d_r, dt, seed=7)
    c = reorientation_acf(u)
    t = np.arange(len(c)) * dt
    assert c[0] == pytest.approx(1.0)
    sel = t <= 1.5  # C down to ~0.22
    assert np.max(np.abs(c[sel] - np.exp(-2 * d_r * t[sel]))) < 0.02
    slope = np.polyfit(t[sel], np.log(c[sel]), 1)[0]
    d_r_est = -slope / 2
    assert abs(d_r_est / d_r - 1) < 0.03, d_r_est


def test_minimum_image_vectors_across_boundary():
    cell = np.diag([10.0, 10.0, 10.0])
    # centre near x=9.9, ligand wrapped to x=2.2 (true vector +2.3 in x)
    pos = np.array([[[9.9, 5.0, 5.0], [2.2, 5.0, 5.0]]])
    v, ridx = center_ligand_vectors(pos, [0], [[1]], cell)
    assert np.allclose(v[0, 0], [2.3, 0, 0])
    assert ridx.tolist() == [0]
    # triclinic cell with per-frame cells
    tri = np.array([[10.0, 0, 0], [3.0, 9.0, 0], [1.0, 2.0, 8.0]])
    d = np.array([[[0.5, -0.4, 0.3]]]) + tri[1]  # vector + one lattice translation
    assert np.allclose(minimum_image(d, tri[None]), [[[0.5, -0.4, 0.3]]])


def test_orientation_density_normalisation_and_isotropy():
    rng = np.random.default_rng(0)
    u = unit_vectors(rng.normal(size=(200_000, 3)))
    rho, te, pe = orientation_density(u, n_theta=18, n_phi=36)
    d_omega = ((np.cos(np.radians(te[:-1])) - np.cos(np.radians(te[1:])))[:, None]
               * np.radians(np.diff(pe))[None, :])
    assert (rho * d_omega).sum() == pytest.approx(1.0)
    assert np.median(rho) == pytest.approx(1 / (4 * np.pi), rel=0.05)
    # vectors along +z concentrate in the first theta row
    rho_z, _, _ = orientation_density(np.tile([0.0, 0.0, 1.0], (100, 1)), 18, 36)
    assert rho_z[0].sum() > 0 and rho_z[1:].sum() == 0


def test_reorientation_jumps_above_70_degrees(synth):
    """Rotor 0 turns 90 deg about z twice; rotor 1 only librates by ~10 deg."""
    rng = np.random.default_rng(3)
    n, dt_fs = 3000, 10.0  # 30 ps
    base = synth.octahedron
    u = np.empty((n, 12, 3))
    for t in range(n):
        angle = np.pi / 2 * ((t >= 1000) + (t >= 2000))
        rz = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                       [0, 0, 1]])
        u[t, :6] = base @ rz.T
        u[t, 6:] = base
    u[:, 6:] = synth.rotate(u[:, 6:], rng.normal(scale=0.1, size=(n, 1, 3)) * np.ones((1, 6, 1)))
    u = unit_vectors(u + rng.normal(scale=0.05, size=u.shape))
    ridx = np.repeat([0, 1], 6)
    jumps = reorientation_jumps(u, ridx, dt_fs, threshold_deg=70.0, smoothing_fs=200.0)
    assert jumps.n_jumps == 2
    assert jumps.rotors.tolist() == [0, 0]
    assert np.allclose(jumps.times_ps, [10.0, 20.0], atol=0.3)
    assert np.all((jumps.angles_deg > 80) & (jumps.angles_deg < 100))
    assert jumps.rate_per_rotor_ps == pytest.approx(2 / (2 * 29.99), rel=1e-3)
    # a 60-degree turn stays below the 70-degree threshold
    u60 = np.empty((n, 6, 3))
    for t in range(n):
        a = np.pi / 3 * (t >= 1500)
        rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        u60[t] = base @ rz.T
    assert reorientation_jumps(u60, np.zeros(6, int), dt_fs).n_jumps == 0


def test_rotor_input_errors():
    pos = np.zeros((5, 3, 3))
    with pytest.raises(MlkitError, match="centres"):
        center_ligand_vectors(pos, [0, 1], [[1]], np.eye(3) * 5)
    with pytest.raises(MlkitError, match="out of range"):
        center_ligand_vectors(pos, [0], [[7]], np.eye(3) * 5)
    with pytest.raises(MlkitError, match="cell_A"):
        center_ligand_vectors(pos, [0], [[1]], np.eye(2))
    with pytest.raises(MlkitError, match="zero-length"):
        unit_vectors(np.zeros((2, 3)))
