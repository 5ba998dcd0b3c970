"""Polyanion reorientation: centre->ligand unit vectors, C(t), rho(theta, phi), jumps.

Units: positions A, cell A (rows are lattice vectors, as in ASE/pymatgen),
times ps, angles degrees. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.ndimage import uniform_filter1d

from mlkit.errors import MlkitError

__all__ = [
    "ReorientationJumps",
    "autocorrelation_fft",
    "center_groups",
    "center_ligand_vectors",
    "minimum_image",
    "orientation_density",
    "reorientation_acf",
    "reorientation_jumps",
    "rotor_center_positions",
    "unit_vectors",
]


def _cells(cell_A: np.ndarray, n_frames: int) -> np.ndarray:
    cell = np.asarray(cell_A, dtype=np.float64)
    if cell.shape == (3, 3):
        return cell[None]
    if cell.shape == (n_frames, 3, 3):
        return cell
    raise MlkitError(f"cell_A: expected shape (3, 3) or ({n_frames}, 3, 3), got {cell.shape}")


def minimum_image(d_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Minimum-image Cartesian difference vectors.

    Parameters
    ----------
    d_A : array of shape (n_frames, n, 3)
        Cartesian differences (A).
    cell_A : array of shape (3, 3) or (n_frames, 3, 3)
        Lattice vectors as rows.

    Returns
    -------
    ndarray of shape (n_frames, n, 3)
        ``d`` shifted by lattice vectors so that fractional components lie in
        [-0.5, 0.5) (exact minimum image for vectors shorter than half the
        smallest cell height).
    """
    d = np.asarray(d_A, dtype=np.float64)
    cells = _cells(cell_A, d.shape[0])
    inv = np.linalg.inv(cells)
    frac = np.einsum("tnk,tkj->tnj", d, np.broadcast_to(inv, (d.shape[0], 3, 3)))
    frac -= np.round(frac)
    return np.einsum("tnk,tkj->tnj", frac, np.broadcast_to(cells, (d.shape[0], 3, 3)))


def center_groups(rotor_centers) -> list[np.ndarray]:
    """Each rotor's centre atoms as an int array (an int -> one atom; P2S6 -> two P)."""
    if isinstance(rotor_centers, np.ndarray) and rotor_centers.dtype != object:
        if rotor_centers.ndim > 1:
            return [row.astype(int) for row in rotor_centers.reshape(len(rotor_centers), -1)]
        return [np.array([int(c)]) for c in rotor_centers.ravel()]
    return [np.atleast_1d(np.asarray(c, dtype=int)).ravel() for c in rotor_centers]


def rotor_center_positions(positions_A: np.ndarray, rotor_centers,
                           cell_A: np.ndarray) -> np.ndarray:
    """Position of each rotor's centre: its atom, or the mean of its centre atoms.

    Several centre atoms (a P2S6 or B10H10 cluster) are unwrapped by the minimum image
    around the first one before averaging.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
    rotor_centers : sequence of int or of int arrays (n_rotors)
    cell_A : array of shape (3, 3) or (n_frames, 3, 3)

    Returns
    -------
    ndarray of shape (n_frames, n_rotors, 3)
    """
    x = np.asarray(positions_A, dtype=np.float64)
    groups = center_groups(rotor_centers)
    out = np.empty((x.shape[0], len(groups), 3))
    for r, g in enumerate(groups):
        if len(g) == 0:
            raise MlkitError(f"rotor {r}: no centre atoms")
        if g.max() >= x.shape[1] or g.min() < 0:
            raise MlkitError(f"rotors: atom index out of range for {x.shape[1]} atoms")
        first = x[:, g[:1]]
        if len(g) == 1:
            out[:, r] = first[:, 0]
        else:
            out[:, r] = first[:, 0] + minimum_image(x[:, g] - first, cell_A).mean(axis=1)
    return out


def center_ligand_vectors(
    positions_A: np.ndarray,
    rotor_centers,
    rotor_ligands: Sequence[Sequence[int] | np.ndarray],
    cell_A: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-image centre->ligand vectors of every polyanion.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
    rotor_centers : int array of shape (n_rotors,), or a sequence of int arrays
        Each polyanion's central atom, or its centre atoms (P2S6: both P; the centre is
        then their mean, :func:`rotor_center_positions`).
    rotor_ligands : sequence of n_rotors int arrays
        Ligand atom indices of each polyanion.
    cell_A : array of shape (3, 3) or (n_frames, 3, 3)

    Returns
    -------
    vectors_A : ndarray of shape (n_frames, n_vectors, 3)
        n_vectors = total number of ligands.
    rotor_index : int ndarray of shape (n_vectors,)
        Rotor each vector belongs to.
    """
    x = np.asarray(positions_A, dtype=np.float64)
    groups = center_groups(rotor_centers)
    if len(groups) != len(rotor_ligands):
        raise MlkitError(
            f"rotors: {len(groups)} centres but {len(rotor_ligands)} ligand lists"
        )
    if len(groups) == 0:
        return np.zeros((x.shape[0], 0, 3)), np.zeros(0, dtype=int)
    l_idx, r_idx = [], []
    for r, ligs in enumerate(rotor_ligands):
        ligs = np.asarray(ligs, dtype=int).ravel()
        if len(ligs) == 0:
            raise MlkitError(f"rotor {r} (atoms {groups[r].tolist()}): no ligands")
        l_idx.extend(ligs.tolist())
        r_idx.extend([r] * len(ligs))
    l_idx, r_arr = np.asarray(l_idx), np.asarray(r_idx, dtype=int)
    n_atoms = x.shape[1]
    if l_idx.max() >= n_atoms or l_idx.min() < 0:
        raise MlkitError(f"rotors: atom index out of range for {n_atoms} atoms")
    centres = rotor_center_positions(x, groups, cell_A)
    v = minimum_image(x[:, l_idx, :] - centres[:, r_arr, :], cell_A)
    return v, r_arr


def unit_vectors(v: np.ndarray) -> np.ndarray:
    """Normalise vectors along the last axis (raises on zero length)."""
    v = np.asarray(v, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise MlkitError("zero-length centre->ligand vector (centre and ligand coincide)")
    return v / norm


def autocorrelation_fft(x: np.ndarray) -> np.ndarray:
    """Time-origin-averaged autocorrelation, summed over components, averaged over items.

    Parameters
    ----------
    x : array of shape (n_frames, n_items, n_components)

    Returns
    -------
    ndarray of shape (n_frames,)
        ``c[m] = mean_items sum_k 1/(N-m) sum_t x[t, i, k] x[t+m, i, k]``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if x.shape[1] == 0:
        return np.full(n, np.nan)
    n_fft = next_fast_len(2 * n, real=True)
    acc = np.zeros(n)
    block = max(1, int(128_000_000 // (8 * 3 * n_fft * x.shape[2])))
    for start in range(0, x.shape[1], block):
        f = rfft(x[:, start : start + block, :], n=n_fft, axis=0)
        acc += irfft(f * np.conjugate(f), n=n_fft, axis=0)[:n].sum(axis=(1, 2))
    return acc / (n - np.arange(n)) / x.shape[1]


def reorientation_acf(u: np.ndarray) -> np.ndarray:
    """Reorientation autocorrelation C(t) = <u(t0 + t) . u(t0)>.

    Averaged over time origins t0 (FFT) and over all vectors.

    Parameters
    ----------
    u : array of shape (n_frames, n_vectors, 3)
        Unit vectors.

    Returns
    -------
    ndarray of shape (n_frames,)
        C at lags 0..n_frames-1 (C[0] = 1).
    """
    return autocorrelation_fft(u)


def orientation_density(
    u: np.ndarray, n_theta: int = 36, n_phi: int = 72, *, phi_axis: str = "x"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orientation density rho(theta, phi) of unit vectors on the sphere.

    theta is the polar angle from +z (0..180 deg), phi the azimuth from +x
    (-180..180 deg); ``phi_axis="y"`` measures phi from +y instead, the rotation
    paper's convention (its Fig. 5: "angle between the y-axis and the projection").
    rho is a probability density per steradian:
    ``sum(rho * dOmega) = 1``; an isotropic distribution has rho = 1/(4 pi).

    Parameters
    ----------
    u : array of shape (..., 3)
    n_theta, n_phi : int
        Bins.

    Returns
    -------
    rho_per_sr : ndarray of shape (n_theta, n_phi)
    theta_edges_deg : ndarray of shape (n_theta + 1,)
    phi_edges_deg : ndarray of shape (n_phi + 1,)
    """
    if phi_axis not in ("x", "y"):
        raise MlkitError(f"phi_axis must be 'x' or 'y', got {phi_axis!r}")
    v = unit_vectors(np.asarray(u).reshape(-1, 3))
    theta = np.degrees(np.arccos(np.clip(v[:, 2], -1.0, 1.0)))
    # from +y: the angle of (y, -x) in the usual atan2 sense, so +y -> 0 and +x -> -90
    phi = np.degrees(np.arctan2(v[:, 1], v[:, 0]) if phi_axis == "x"
                     else np.arctan2(-v[:, 0], v[:, 1]))
    t_edges = np.linspace(0.0, 180.0, n_theta + 1)
    p_edges = np.linspace(-180.0, 180.0, n_phi + 1)
    hist, _, _ = np.histogram2d(theta, phi, bins=[t_edges, p_edges])
    d_omega = (
        (np.cos(np.radians(t_edges[:-1])) - np.cos(np.radians(t_edges[1:])))[:, None]
        * np.radians(np.diff(p_edges))[None, :]
    )
    rho = hist / max(len(v), 1) / d_omega
    return rho, t_edges, p_edges


@dataclass(frozen=True)
class ReorientationJumps:
    """Large-angle reorientation events of rigid polyanions.

    Attributes
    ----------
    times_ps : ndarray of shape (n_jumps,)
        Time at which the jump was detected.
    rotors : int ndarray of shape (n_jumps,)
    angles_deg : ndarray of shape (n_jumps,)
        Largest ligand angle between the orientation before and after the jump.
    n_rotors : int
    duration_ps : float
    """

    times_ps: np.ndarray
    rotors: np.ndarray
    angles_deg: np.ndarray
    n_rotors: int
    duration_ps: float

    @property
    def n_jumps(self) -> int:
        return int(len(self.times_ps))

    @property
    def rate_per_rotor_ps(self) -> float:
        """Jumps per rotor per ps (NaN without rotors)."""
        if self.n_rotors == 0 or self.duration_ps <= 0:
            return float("nan")
        return self.n_jumps / (self.n_rotors * self.duration_ps)


def reorientation_jumps(
    u: np.ndarray,
    rotor_index: np.ndarray,
    frame_interval_fs: float,
    *,
    threshold_deg: float = 70.0,
    smoothing_fs: float = 200.0,
) -> ReorientationJumps:
    """Count reorientation jumps larger than ``threshold_deg`` per rotor.

    Each ligand unit vector is first averaged over a running window of
    ``smoothing_fs`` (removes libration/vibration) and renormalised. Each rotor
    keeps a reference orientation (its smoothed ligand vectors at the last
    jump). A jump is recorded when any ligand of the rotor has turned by more
    than ``threshold_deg`` from the reference; the orientation one smoothing
    window later becomes the new reference, and the angle reported is the
    largest ligand angle between the old and the new reference.

    Parameters
    ----------
    u : array of shape (n_frames, n_vectors, 3)
        Unit centre->ligand vectors.
    rotor_index : int array of shape (n_vectors,)
    frame_interval_fs : float
    threshold_deg : float
        70 deg after Li et al. (2025).
    smoothing_fs : float
        Running-average window (>= one frame).

    Returns
    -------
    ReorientationJumps
    """
    u = np.asarray(u, dtype=np.float64)
    rotor_index = np.asarray(rotor_index, dtype=int)
    n_frames = u.shape[0]
    dt_ps = frame_interval_fs / 1000.0
    n_rotors = int(rotor_index.max()) + 1 if len(rotor_index) else 0
    duration = (n_frames - 1) * dt_ps
    if n_rotors == 0:
        return ReorientationJumps(np.zeros(0), np.zeros(0, int), np.zeros(0), 0, duration)
    w = max(1, int(round(smoothing_fs / frame_interval_fs)))
    us = uniform_filter1d(u, size=w, axis=0, mode="nearest") if w > 1 else u
    us = us / np.maximum(np.linalg.norm(us, axis=-1, keepdims=True), 1e-12)
    stride = max(1, w // 2)
    grid = np.arange(0, n_frames, stride)
    cos_thr = np.cos(np.radians(threshold_deg))
    ref = us[0].copy()
    t_out, r_out, a_out = [], [], []
    # per-rotor state: index on the grid from which detection may resume
    resume = np.zeros(n_rotors, dtype=int)
    for gi, f in enumerate(grid):
        cosang = np.einsum("vk,vk->v", us[f], ref)
        # min cosine (max angle) per rotor
        min_cos = np.full(n_rotors, 2.0)
        np.minimum.at(min_cos, rotor_index, cosang)
        hit = np.nonzero((min_cos < cos_thr) & (resume <= gi))[0]
        for r in hit:
            sel = rotor_index == r
            f_post = min(f + w, n_frames - 1)
            new = us[f_post, sel]
            ang = np.degrees(np.arccos(np.clip(np.einsum("vk,vk->v", new, ref[sel]), -1, 1)))
            t_out.append(f * dt_ps)
            r_out.append(r)
            a_out.append(float(ang.max()))
            ref[sel] = new
            resume[r] = gi + max(1, int(np.ceil(w / stride)))
    return ReorientationJumps(
        times_ps=np.asarray(t_out, dtype=float),
        rotors=np.asarray(r_out, dtype=int),
        angles_deg=np.asarray(a_out, dtype=float),
        n_rotors=n_rotors,
        duration_ps=duration,
    )
