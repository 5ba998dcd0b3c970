"""Velocity / angular-velocity autocorrelations and their power spectra.

Units: velocities A/fs in, angular velocities rad/ps, time ps, frequency THz
(1/ps; ordinary frequency nu, not angular omega). Pure numpy.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import next_fast_len, rfft, rfftfreq

from mlkit.analysis.reorientation import autocorrelation_fft
from mlkit.errors import MlkitError

__all__ = [
    "angular_velocities",
    "finite_difference_velocities",
    "power_spectrum",
    "spectral_center",
    "vacf",
]


def finite_difference_velocities(positions_A: np.ndarray, frame_interval_fs: float) -> np.ndarray:
    """Central-difference velocities (A/fs) from unwrapped positions.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
    frame_interval_fs : float

    Returns
    -------
    ndarray of shape (n_frames, n_atoms, 3)
        Only meaningful below the Nyquist frequency 1/(2 frame interval).
    """
    return np.gradient(np.asarray(positions_A, dtype=np.float64), frame_interval_fs, axis=0)


def vacf(velocities: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """Velocity autocorrelation <v(t0) . v(t0 + t)>, averaged over origins and atoms.

    Parameters
    ----------
    velocities : array of shape (n_frames, n_atoms, 3)
    normalize : bool
        Divide by the lag-0 value.

    Returns
    -------
    ndarray of shape (n_frames,)
    """
    c = autocorrelation_fft(velocities)
    if normalize:
        if not c[0] > 0:
            raise MlkitError("vacf: zero velocities")
        c = c / c[0]
    return c


def power_spectrum(
    acf: np.ndarray,
    frame_interval_fs: float,
    *,
    max_lag_fraction: float = 0.5,
    window: str = "hann",
    pad_factor: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectrum of an autocorrelation function.

    S(nu) = 2 * integral_0^tau_max C(tau) w(tau) cos(2 pi nu tau) d tau,
    with C truncated at ``max_lag_fraction`` of the run (the tail has few time
    origins), a half-Hann taper w (or none), and zero padding.

    Parameters
    ----------
    acf : array of shape (n_lags,)
    frame_interval_fs : float
    max_lag_fraction : float
    window : {"hann", "none"}
    pad_factor : int
        Zero padding (finer frequency grid, same resolution).

    Returns
    -------
    freq_THz : ndarray of shape (n_freq,)
    spectrum : ndarray of shape (n_freq,)
        Units of acf * ps; normalise as needed.
    """
    c = np.asarray(acf, dtype=np.float64)
    m = max(2, int(round(max_lag_fraction * len(c))))
    c = c[:m]
    if window == "hann":
        c = c * 0.5 * (1.0 + np.cos(np.pi * np.arange(m) / m))
    elif window != "none":
        raise MlkitError(f"power_spectrum: window must be 'hann' or 'none', got {window!r}")
    sym = np.concatenate([c, c[-1:0:-1]])  # even extension, length 2m - 1
    n_fft = next_fast_len(max(len(sym), pad_factor * len(sym)), real=True)
    # place the even function with its centre at index 0 (wrap-around) for a real FT
    buf = np.zeros(n_fft)
    buf[:m] = c
    buf[n_fft - m + 1 :] = c[-1:0:-1]
    dt_ps = frame_interval_fs / 1000.0
    spec = rfft(buf).real * dt_ps
    freq = rfftfreq(n_fft, dt_ps)
    return freq, spec


def spectral_center(
    freq_THz: np.ndarray, spectrum: np.ndarray, *, max_freq_THz: float | None = None
) -> float:
    """First moment int nu S(nu) d nu / int S(nu) d nu (negative ripples clipped to 0).

    Parameters
    ----------
    freq_THz, spectrum : arrays of shape (n_freq,)
    max_freq_THz : float, optional
        Upper integration limit.

    Returns
    -------
    float
        Centre frequency in THz.
    """
    f = np.asarray(freq_THz)
    s = np.clip(np.asarray(spectrum), 0.0, None)
    if max_freq_THz is not None:
        keep = f <= max_freq_THz
        f, s = f[keep], s[keep]
    tot = s.sum()
    return float((f * s).sum() / tot) if tot > 0 else float("nan")


def angular_velocities(
    u: np.ndarray, rotor_index: np.ndarray, frame_interval_fs: float
) -> np.ndarray:
    """Rigid-body angular velocity of each polyanion (rad/ps) from its ligand vectors.

    For a rigid rotor, u_l x du_l/dt = omega - (omega . u_l) u_l, and for ligand
    sets with sum_l u_l u_l^T = (n/3) I (tetrahedra, octahedra...) the sum over
    the n ligands gives (2n/3) omega; hence
    omega = 3/(2n) sum_l u_l x du_l/dt (exact for such symmetric rotors,
    an isotropic approximation otherwise).

    Parameters
    ----------
    u : array of shape (n_frames, n_vectors, 3)
        Unit centre->ligand vectors.
    rotor_index : int array of shape (n_vectors,)
    frame_interval_fs : float

    Returns
    -------
    ndarray of shape (n_frames, n_rotors, 3)
    """
    u = np.asarray(u, dtype=np.float64)
    rotor_index = np.asarray(rotor_index, dtype=int)
    dt_ps = frame_interval_fs / 1000.0
    du = np.gradient(u, dt_ps, axis=0)
    cross = np.cross(u, du)
    n_rotors = int(rotor_index.max()) + 1 if len(rotor_index) else 0
    out = np.zeros((u.shape[0], n_rotors, 3))
    counts = np.bincount(rotor_index, minlength=n_rotors)
    for r in range(n_rotors):
        out[:, r] = 1.5 / counts[r] * cross[:, rotor_index == r].sum(axis=1)
    return out
