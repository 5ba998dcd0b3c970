"""Seeded synthetic trajectories with known physics for the analysis tests."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


def random_walk(n_frames: int, n_walkers: int, d_A2_ps: float, dt_ps: float,
                seed: int = 0) -> np.ndarray:
    """3-D Gaussian random walk with diffusivity D (A^2/ps): (n_frames, n_walkers, 3)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=np.sqrt(2 * d_A2_ps * dt_ps), size=(n_frames - 1, n_walkers, 3))
    return np.concatenate([np.zeros((1, n_walkers, 3)), np.cumsum(steps, axis=0)])


def rotate(u: np.ndarray, rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues rotation of vectors u (..., 3) by rotation vectors (..., 3)."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    n = rotvec / np.where(angle > 0, angle, 1.0)
    cos, sin = np.cos(angle), np.sin(angle)
    return u * cos + np.cross(n, u) * sin + n * np.sum(n * u, axis=-1, keepdims=True) * (1 - cos)


def brownian_rotation(n_frames: int, n_vectors: int, d_r_per_ps: float, dt_ps: float,
                      seed: int = 0) -> np.ndarray:
    """Isotropic rotational diffusion of unit vectors: (n_frames, n_vectors, 3)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n_vectors, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    out = np.empty((n_frames, n_vectors, 3))
    out[0] = u
    sigma = np.sqrt(2 * d_r_per_ps * dt_ps)
    for t in range(1, n_frames):
        u = rotate(u, rng.normal(scale=sigma, size=(n_vectors, 3)))
        out[t] = u
    return out


def rigid_rotor_orientations(n_frames: int, n_rotors: int, d_r_per_ps: float, dt_ps: float,
                             seed: int = 0) -> np.ndarray:
    """Rotation matrices of rigid bodies under rotational Brownian motion: (T, R, 3, 3)."""
    rng = np.random.default_rng(seed)
    eye = np.broadcast_to(np.eye(3), (n_rotors, 3, 3)).copy()
    out = np.empty((n_frames, n_rotors, 3, 3))
    out[0] = eye
    sigma = np.sqrt(2 * d_r_per_ps * dt_ps)
    cur = eye
    for t in range(1, n_frames):
        w = rng.normal(scale=sigma, size=(n_rotors, 3))
        # rotate each column (body axis) by the same small rotation
        cur = np.stack([rotate(cur[:, :, k], w) for k in range(3)], axis=-1)
        out[t] = cur
    return out


OCTAHEDRON = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
                      dtype=float)


def rotor_crystal(n_frames: int, *, dt_ps: float = 0.01, a_A: float = 10.0,
                  d_r_per_ps: float = 0.0, libration_rad: float = 0.0,
                  na_d_A2_ps: float = 0.0, center_vib_A: float = 0.05,
                  n_na: int = 8, bond_A: float = 2.4, seed: int = 0, n_rotors: int = 8,
                  center_d_A2_ps: float = 0.0, drift_A2_ps: float = 0.0):
    """Cubic cell with 8 octahedral 'NbCl6' rotors on a 2x2x2 grid and n_na Na.

    Rotors rotate by Brownian rotation (d_r) and/or librate (random +-libration);
    Na random-walk with na_d (A^2/ps) around interstitial sites plus 0.1 A noise.
    ``center_d_A2_ps`` makes the rotor centres random-walk (a melt) and
    ``drift_A2_ps`` moves the whole cell as one random walk (thermostat drift).
    Returns positions (T, N, 3), species, cell, centers, ligands.
    """
    rng = np.random.default_rng(seed)
    grid = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float)
    centers0 = (grid[:n_rotors] + 0.25) * a_A / 2
    n_rot = len(centers0)
    rots = rigid_rotor_orientations(n_frames, n_rot, d_r_per_ps, dt_ps, seed) if d_r_per_ps \
        else np.broadcast_to(np.eye(3), (n_frames, n_rot, 3, 3))
    lib = rng.normal(scale=libration_rad, size=(n_frames, n_rot, 3)) if libration_rad else None
    pos_c = centers0[None] + rng.normal(scale=center_vib_A, size=(n_frames, n_rot, 3))
    if center_d_A2_ps:
        pos_c = pos_c + random_walk(n_frames, n_rot, center_d_A2_ps, dt_ps, seed + 2)
    lig = np.einsum("trij,lj->trli", rots, OCTAHEDRON) * bond_A  # (T, R, 6, 3)
    if lib is not None:
        lig = rotate(lig, np.broadcast_to(lib[:, :, None, :], lig.shape))
    pos_l = pos_c[:, :, None, :] + lig + rng.normal(scale=0.03, size=lig.shape)
    sites = (grid[:n_na] + 0.75) * a_A / 2
    na = sites[None] + rng.normal(scale=0.1, size=(n_frames, n_na, 3))
    if na_d_A2_ps:
        na = na + random_walk(n_frames, n_na, na_d_A2_ps, dt_ps, seed + 1)
    positions = np.concatenate([pos_c, pos_l.reshape(n_frames, -1, 3), na], axis=1)
    if drift_A2_ps:
        positions = positions + random_walk(n_frames, 1, drift_A2_ps, dt_ps, seed + 3)
    species = ["Nb"] * n_rot + ["Cl"] * (6 * n_rot) + ["Na"] * n_na
    centers = np.arange(n_rot)
    ligands = [n_rot + 6 * r + np.arange(6) for r in range(n_rot)]
    return positions, species, np.eye(3) * a_A, centers, ligands


@pytest.fixture
def synth() -> SimpleNamespace:
    """The generators above, as one fixture (test modules cannot import this conftest)."""
    return SimpleNamespace(
        random_walk=random_walk,
        rotate=rotate,
        brownian_rotation=brownian_rotation,
        rigid_rotor_orientations=rigid_rotor_orientations,
        rotor_crystal=rotor_crystal,
        octahedron=OCTAHEDRON,
    )
