"""Cation-anion coupling: Pearson correlation of C-Na and C-A angular displacements.

After Yang et al. (2024): for every mobile ion that stays within the first shell
of a polyanion (centre C) during the whole run, take A = the ligand closest to
it (smallest mean distance), form the angular displacements
theta_CNa(t) = angle(v_CNa(t), v_CNa(0)) and theta_CA(t) = angle(v_CA(t), v_CA(0)),
and compute their Pearson correlation. The mean over events measures coupling
(> 0.5 strong).

Units: positions A, angles radians internally. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlkit.analysis.reorientation import center_groups, minimum_image, rotor_center_positions
from mlkit.errors import MlkitError

__all__ = ["CouplingResult", "angular_displacement", "cation_anion_coupling", "pearson"]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D series (NaN if either is constant)."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    den = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / den) if den > 0 else float("nan")


def angular_displacement(v: np.ndarray, lag_frames: int | None = None) -> np.ndarray:
    """Angle (rad) of vectors relative to their start, or over a fixed lag.

    Parameters
    ----------
    v : array of shape (n_frames, 3)
    lag_frames : int, optional
        None: angle between v(t) and v(0) (the paper's definition);
        k: angle between v(t) and v(t + k), length n_frames - k.

    Returns
    -------
    ndarray of shape (n_frames,) or (n_frames - lag_frames,)
    """
    u = v / np.linalg.norm(v, axis=-1, keepdims=True)
    if lag_frames is None:
        c = u @ u[0]
    else:
        c = np.einsum("tk,tk->t", u[:-lag_frames], u[lag_frames:])
    return np.arccos(np.clip(c, -1.0, 1.0))


@dataclass(frozen=True)
class CouplingResult:
    """Coupling events and their Pearson coefficients.

    Attributes
    ----------
    pearson : ndarray of shape (n_events,)
    rotors, ions, ligands : int ndarrays of shape (n_events,)
        Rotor index, mobile-ion atom index and closest-ligand atom index per event.
    shell_cutoff_A : float
    """

    pearson: np.ndarray
    rotors: np.ndarray
    ions: np.ndarray
    ligands: np.ndarray
    shell_cutoff_A: float

    @property
    def n_events(self) -> int:
        return int(np.sum(np.isfinite(self.pearson)))

    @property
    def mean(self) -> float:
        ok = np.isfinite(self.pearson)
        return float(self.pearson[ok].mean()) if ok.any() else float("nan")


def cation_anion_coupling(
    positions_A: np.ndarray,
    cell_A: np.ndarray,
    rotor_centers: Sequence[int] | np.ndarray,
    rotor_ligands: Sequence[Sequence[int] | np.ndarray],
    mobile_indices: Sequence[int] | np.ndarray,
    *,
    shell_cutoff_A: float | None = None,
    shell_margin_A: float = 2.5,
    lag_frames: int | None = None,
) -> CouplingResult:
    """Pearson coupling between mobile-ion and ligand angular displacements.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
    cell_A : array of shape (3, 3) or (n_frames, 3, 3)
    rotor_centers : int array of shape (n_rotors,)
    rotor_ligands : sequence of int arrays
    mobile_indices : int array of shape (n_mobile,)
    shell_cutoff_A : float, optional
        C-ion distance defining the first shell. Default: mean C-ligand
        distance (frame 0) + ``shell_margin_A``.
    shell_margin_A : float
        2.5 A: a ligand-ion contact beyond the ligand.
    lag_frames : int, optional
        See :func:`angular_displacement` (None = paper's definition).

    Returns
    -------
    CouplingResult
        One event per (rotor, ion) pair with the ion inside the shell in every frame.
    """
    x = np.asarray(positions_A, dtype=np.float64)
    centers = center_groups(rotor_centers)
    mobile = np.asarray(mobile_indices, dtype=int).ravel()
    if len(centers) != len(rotor_ligands):
        raise MlkitError(f"coupling: {len(centers)} centres but {len(rotor_ligands)} ligand lists")
    empty = CouplingResult(np.zeros(0), np.zeros(0, int), np.zeros(0, int), np.zeros(0, int),
                           float("nan"))
    if len(centers) == 0 or len(mobile) == 0:
        return empty
    cpos = rotor_center_positions(x, centers, cell_A)  # (T, n_rotors, 3)
    if shell_cutoff_A is None:
        d0 = []
        for r, ligs in enumerate(rotor_ligands):
            ligs = np.asarray(ligs, dtype=int)
            v = minimum_image(x[:1, ligs] - cpos[:1, [r]], cell_A if np.ndim(cell_A) == 2
                              else np.asarray(cell_A)[:1])
            d0.extend(np.linalg.norm(v[0], axis=-1).tolist())
        shell_cutoff_A = float(np.mean(d0)) + shell_margin_A
    p_out, r_out, i_out, l_out = [], [], [], []
    for r, ligs in enumerate(rotor_ligands):
        ligs = np.asarray(ligs, dtype=int)
        c = cpos[:, [r]]
        v_na = minimum_image(x[:, mobile] - c, cell_A)  # (T, n_mobile, 3)
        dist = np.linalg.norm(v_na, axis=-1)
        inside = np.all(dist < shell_cutoff_A, axis=0)
        if not inside.any():
            continue
        v_l = minimum_image(x[:, ligs] - c, cell_A)  # (T, n_lig, 3)
        for j in np.nonzero(inside)[0]:
            dl = np.linalg.norm(v_l - v_na[:, j : j + 1], axis=-1).mean(axis=0)
            a = int(np.argmin(dl))
            th_na = angular_displacement(v_na[:, j], lag_frames)
            th_a = angular_displacement(v_l[:, a], lag_frames)
            p_out.append(pearson(th_na, th_a))
            r_out.append(r)
            i_out.append(int(mobile[j]))
            l_out.append(int(ligs[a]))
    return CouplingResult(
        pearson=np.asarray(p_out, dtype=float),
        rotors=np.asarray(r_out, dtype=int),
        ions=np.asarray(i_out, dtype=int),
        ligands=np.asarray(l_out, dtype=int),
        shell_cutoff_A=float(shell_cutoff_A),
    )
