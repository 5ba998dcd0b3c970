"""Tracer diffusivity from the MSD, its uncertainty, and Nernst-Einstein conductivity.

Units: time in ps, MSD in A^2, diffusivity in cm^2/s (1 A^2/ps = 1e-4 cm^2/s),
volume in A^3, temperature in K, charge in elementary charges e, conductivity in mS/cm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlkit.analysis.msd import msd_fft
from mlkit.errors import MlkitError

__all__ = [
    "DEFAULT_CHARGES_E",
    "DiffusivityFit",
    "default_charge",
    "diffusivity_block_average",
    "diffusivity_from_msd",
    "diffusivity_gls",
    "random_walk_msd_covariance",
    "fit_window",
    "nernst_einstein_conductivity",
]

A2_PS_TO_CM2_S = 1e-4
KB_J_K = 1.380649e-23
E_C = 1.602176634e-19

#: Formal charge (e) of common mobile ions; override with ``charge_e``.
DEFAULT_CHARGES_E: dict[str, float] = {
    "H": 1, "Li": 1, "Na": 1, "K": 1, "Rb": 1, "Cs": 1, "Ag": 1, "Cu": 1, "Tl": 1,
    "Mg": 2, "Ca": 2, "Zn": 2, "Sr": 2, "Ba": 2, "Al": 3,
    "F": -1, "Cl": -1, "Br": -1, "I": -1, "O": -2, "S": -2,
}


def default_charge(mobile_ion: str) -> float:
    """Formal charge (e) of a mobile ion from :data:`DEFAULT_CHARGES_E`.

    Raises
    ------
    MlkitError
        When the ion is not in the table (pass ``charge_e`` explicitly).
    """
    try:
        return float(DEFAULT_CHARGES_E[mobile_ion])
    except KeyError:
        raise MlkitError(
            f"mobile_ion {mobile_ion!r}: no default charge; pass charge_e explicitly"
        ) from None


@dataclass(frozen=True)
class DiffusivityFit:
    """Result of a linear fit MSD(t) = slope * t + intercept.

    Attributes
    ----------
    diffusivity_cm2_s : float
        slope / (2 d), converted to cm^2/s.
    diffusivity_err_cm2_s : float
        One standard error (method in ``err_method``).
    slope_A2_ps, intercept_A2 : float
    fit_start_ps, fit_end_ps : float
        Lag window used.
    err_method : str
        "ols" (regression standard error, ignores the correlation of MSD points:
        an underestimate) or "block" (block averaging).
    """

    diffusivity_cm2_s: float
    diffusivity_err_cm2_s: float
    slope_A2_ps: float
    intercept_A2: float
    fit_start_ps: float
    fit_end_ps: float
    err_method: str = "ols"

    def msd_at(self, time_ps: float) -> float:
        """Fitted MSD (A^2) at ``time_ps``."""
        return self.slope_A2_ps * time_ps + self.intercept_A2


def fit_window(n_lags: int, start_fraction: float, end_fraction: float) -> slice:
    """Slice of lag indices ``[start_fraction, end_fraction] * (n_lags - 1)``.

    At least 3 points; raises MlkitError when the window is invalid.
    """
    if not 0.0 <= start_fraction < end_fraction <= 1.0:
        raise MlkitError(
            f"fit window: need 0 <= start_fraction < end_fraction <= 1, "
            f"got {start_fraction}, {end_fraction}"
        )
    last = n_lags - 1
    i0 = int(round(start_fraction * last))
    i1 = int(round(end_fraction * last)) + 1
    if i1 - i0 < 3:
        raise MlkitError(f"fit window: only {i1 - i0} MSD points in the window (need >= 3)")
    return slice(i0, i1)


def diffusivity_from_msd(
    lag_ps: np.ndarray,
    msd_A2: np.ndarray,
    *,
    dim: int = 3,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
    weighting: str = "none",
    window: slice | None = None,
) -> DiffusivityFit:
    """Diffusivity from the linear regime of a total MSD curve.

    D = slope / (2 d); the fit skips the ballistic/vibrational start
    (``start_fraction`` of the lags) and stops at ``end_fraction`` of the run
    (lags beyond half the run average over few time origins).

    Parameters
    ----------
    lag_ps : array of shape (n_lags,)
    msd_A2 : array of shape (n_lags,)
        Total (sum over the ``dim`` directions) MSD, A^2.
    dim : int
        Dimensionality d of the MSD (3 for total, 1 for one direction).
    start_fraction, end_fraction : float
        Fit window as fractions of the longest lag.
    weighting : {"none", "inverse_time"}
        Ordinary least squares, or weights 1/t (DiffusionAnalyzer's
        ``smoothed="max"`` choice: the variance of a multi-origin MSD grows with t).
    window : slice, optional
        Explicit lag-index window (overrides the fractions).

    Returns
    -------
    DiffusivityFit
        With the regression standard error (``err_method="ols"``).
    """
    t = np.asarray(lag_ps, dtype=np.float64)
    y = np.asarray(msd_A2, dtype=np.float64)
    if t.shape != y.shape or t.ndim != 1:
        raise MlkitError(f"msd: lag_ps {t.shape} and msd_A2 {y.shape} must be equal 1-D shapes")
    if weighting not in ("none", "inverse_time"):
        raise MlkitError(f"weighting must be 'none' or 'inverse_time', got {weighting!r}")
    sl = window if window is not None else fit_window(len(t), start_fraction, end_fraction)
    tw, yw = t[sl], y[sl]
    if len(tw) < 3:
        raise MlkitError(f"fit window: only {len(tw)} MSD points (need >= 3)")
    a = np.stack([tw, np.ones_like(tw)], axis=1)
    if weighting == "inverse_time":
        if np.any(tw <= 0):
            raise MlkitError("weighting='inverse_time' needs a window that excludes lag 0")
        w = 1.0 / np.sqrt(tw)
        a_w, y_w = a * w[:, None], yw * w
    else:
        a_w, y_w = a, yw
    coef, res, _, _ = np.linalg.lstsq(a_w, y_w, rcond=None)
    slope, intercept = float(coef[0]), float(coef[1])
    n = len(tw)
    resid = y_w - a_w @ coef
    s2 = float(resid @ resid) / (n - 2)
    cov = s2 * np.linalg.inv(a_w.T @ a_w)
    slope_err = float(np.sqrt(max(cov[0, 0], 0.0)))
    conv = A2_PS_TO_CM2_S / (2.0 * dim)
    return DiffusivityFit(
        diffusivity_cm2_s=slope * conv,
        diffusivity_err_cm2_s=slope_err * conv,
        slope_A2_ps=slope,
        intercept_A2=intercept,
        fit_start_ps=float(tw[0]),
        fit_end_ps=float(tw[-1]),
        err_method="ols",
    )


def diffusivity_block_average(
    positions_A: np.ndarray,
    frame_interval_fs: float,
    *,
    n_blocks: int = 5,
    dim: int = 3,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
    weighting: str = "none",
) -> tuple[DiffusivityFit, np.ndarray]:
    """Diffusivity of a set of atoms with a block-averaging uncertainty.

    The run is cut into ``n_blocks`` contiguous blocks; D_b is fitted on each
    block's own time-origin-averaged MSD with the same *fractional* lag window.
    The reported D is the fit on the whole run. Its uncertainty is the spread of
    the block estimates, ``std(D_b, ddof=1)`` (not divided by sqrt(n_blocks)):
    with a fit window that is a fixed fraction of the run, the number of
    independent windows is the same for a block and for the whole run, so the
    whole-run estimate is about as uncertain as one block estimate (exact for a
    random walk by scale invariance; tests/analysis checks the calibration over
    40 seeds). ``std(D_b)/sqrt(n)`` is the error of the *mean of the blocks*, a
    different estimator that only uses lags up to the block length.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
        Unwrapped (and already drift-corrected) positions of the diffusing atoms.
    frame_interval_fs : float
    n_blocks : int
        >= 2; each block needs >= 10 frames.

    Returns
    -------
    fit : DiffusivityFit
        Whole-run fit with ``err_method="block"``.
    d_blocks_cm2_s : ndarray of shape (n_blocks,)
    """
    x = np.asarray(positions_A, dtype=np.float64)
    n = x.shape[0]
    if n_blocks < 2 or n // n_blocks < 10:
        raise MlkitError(
            f"block averaging: {n} frames cannot make {n_blocks} blocks of >= 10 frames"
        )
    dt_ps = frame_interval_fs / 1000.0
    full = msd_fft(x).mean(axis=1).sum(axis=1)
    lag = np.arange(n) * dt_ps
    fit = diffusivity_from_msd(lag, full, dim=dim, start_fraction=start_fraction,
                               end_fraction=end_fraction, weighting=weighting)
    m = n // n_blocks
    d_blocks = np.empty(n_blocks)
    for b in range(n_blocks):
        xb = x[b * m : (b + 1) * m]
        msd_b = msd_fft(xb).mean(axis=1).sum(axis=1)
        d_blocks[b] = diffusivity_from_msd(
            lag[:m], msd_b, dim=dim, start_fraction=start_fraction,
            end_fraction=end_fraction, weighting=weighting,
        ).diffusivity_cm2_s
    err = float(np.std(d_blocks, ddof=1))
    out = DiffusivityFit(
        diffusivity_cm2_s=fit.diffusivity_cm2_s,
        diffusivity_err_cm2_s=err,
        slope_A2_ps=fit.slope_A2_ps,
        intercept_A2=fit.intercept_A2,
        fit_start_ps=fit.fit_start_ps,
        fit_end_ps=fit.fit_end_ps,
        err_method="block",
    )
    return out, d_blocks


def random_walk_msd_covariance(lags_frames: np.ndarray, n_frames: int) -> np.ndarray:
    """Correlation structure of a time-origin-averaged 1-D random-walk MSD.

    For Gaussian steps of variance s^2 and lags n <= m (in frames) much shorter
    than the run, Cov[MSD(n), MSD(m)] ~= 2 s^4 n^2 (3m - n) / (3 N)
    (sum over time-origin pairs of 2 * overlap^2 of the two displacement
    intervals; Qian, Sheetz & Elson, Biophys. J. 60, 910 (1991)). The finite run
    enters as 1/sqrt((N - n)(N - m)) instead of 1/N (a congruence transform, so
    the matrix stays positive definite, with the exact 1/(N - n) on the
    diagonal). Returned without the 2 s^4 factor.

    Parameters
    ----------
    lags_frames : array of shape (k,)
        Increasing lags (frames), all >= 1 and < n_frames.
    n_frames : int

    Returns
    -------
    ndarray of shape (k, k)
    """
    n = np.asarray(lags_frames, dtype=np.float64)
    lo = np.minimum(n[:, None], n[None, :])
    hi = np.maximum(n[:, None], n[None, :])
    w = 1.0 / np.sqrt(n_frames - n)
    return lo**2 * (3 * hi - lo) / 3 * w[:, None] * w[None, :]


def diffusivity_gls(
    lag_ps: np.ndarray,
    msd_A2: np.ndarray,
    n_atoms: int,
    *,
    dim: int = 3,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
    n_points: int = 200,
) -> DiffusivityFit:
    """Diffusivity by generalised least squares with a random-walk MSD covariance.

    The idea of kinisi (McCluskey et al., J. Chem. Phys. 2024) without the MCMC:
    the points of a time-origin-averaged MSD are strongly correlated and their
    variance grows with lag, so OLS is inefficient and its error meaningless.
    Here the covariance of the total MSD of ``n_atoms`` independent walkers is
    modelled as ``dim / n_atoms * 2 s^4 * R`` with R from
    :func:`random_walk_msd_covariance` and s^2 = slope * dt / dim; the line is
    fitted by GLS on up to ``n_points`` lags of the window (the estimate does
    not depend on the scale), and the slope variance ``(A^T C^-1 A)^-1`` is
    multiplied by chi^2/dof when the whitened residuals exceed the model
    (non-ideal diffusion, or no diffusion at all: then the error is residual-based).
    On ideal random walks the GLS slope scatters ~40 % less than the OLS one and
    the error is conservative (z-score spread 0.6-0.85; tests/analysis).

    Parameters
    ----------
    lag_ps, msd_A2 : arrays of shape (n_lags,)
        Lags 0..n_frames-1 (equally spaced) and the total MSD averaged over atoms.
    n_atoms : int
        Number of diffusing atoms averaged into ``msd_A2``.
    dim : int
    start_fraction, end_fraction : float
    n_points : int
        Lags used (evenly strided through the window).

    Returns
    -------
    DiffusivityFit
        ``err_method="gls"``.
    """
    t = np.asarray(lag_ps, dtype=np.float64)
    y = np.asarray(msd_A2, dtype=np.float64)
    n_frames = len(t)
    sl = fit_window(n_frames, max(start_fraction, 1.0 / max(n_frames - 1, 1)), end_fraction)
    idx = np.arange(sl.start, sl.stop)
    idx = idx[idx >= 1]
    if len(idx) > n_points:
        idx = np.unique(np.linspace(idx[0], idx[-1], n_points).round().astype(int))
    ols = diffusivity_from_msd(t, y, dim=dim, window=slice(idx[0], idx[-1] + 1))
    dt_ps = t[1] - t[0]
    a = np.stack([t[idx], np.ones(len(idx))], axis=1)
    r = random_walk_msd_covariance(idx, n_frames)
    chol = np.linalg.cholesky(r + 1e-12 * np.trace(r) / len(idx) * np.eye(len(idx)))
    aw = np.linalg.solve(chol, a)
    yw = np.linalg.solve(chol, y[idx])
    # GLS point estimate does not depend on the covariance scale
    coef, _, _, _ = np.linalg.lstsq(aw, yw, rcond=None)
    # scale: dim / n_atoms * 2 s^4 with s^2 = slope * dt / dim from the GLS slope
    s2 = max(float(coef[0]), abs(ols.slope_A2_ps) * 1e-6, 1e-12) * dt_ps / dim
    scale = (dim / n_atoms) * 2 * s2**2
    resid = yw - aw @ coef
    dof = max(len(idx) - 2, 1)
    chi2 = float(resid @ resid) / dof / scale
    beta_cov = np.linalg.inv(aw.T @ aw) * scale * max(1.0, chi2)
    conv = A2_PS_TO_CM2_S / (2.0 * dim)
    return DiffusivityFit(
        diffusivity_cm2_s=float(coef[0]) * conv,
        diffusivity_err_cm2_s=float(np.sqrt(beta_cov[0, 0])) * conv,
        slope_A2_ps=float(coef[0]),
        intercept_A2=float(coef[1]),
        fit_start_ps=float(t[idx[0]]),
        fit_end_ps=float(t[idx[-1]]),
        err_method="gls",
    )


def nernst_einstein_conductivity(
    diffusivity_cm2_s: float | np.ndarray,
    n_ions: int,
    volume_A3: float,
    temperature_K: float,
    charge_e: float = 1.0,
) -> float | np.ndarray:
    """Nernst-Einstein conductivity sigma = n q^2 D / (k_B T), in mS/cm.

    Parameters
    ----------
    diffusivity_cm2_s : float or array
        Tracer diffusivity D, cm^2/s (errors propagate linearly: pass D_err).
    n_ions : int
        Mobile ions in the cell.
    volume_A3 : float
        Cell volume, A^3 (n = n_ions / V is the number density).
    temperature_K : float
    charge_e : float
        Ion charge in e.

    Returns
    -------
    float or ndarray
        sigma in mS/cm (Haven ratio 1, no cross-correlations).
    """
    if not temperature_K > 0:
        raise MlkitError(f"temperature_K must be > 0, got {temperature_K}")
    if not volume_A3 > 0:
        raise MlkitError(f"volume_A3 must be > 0, got {volume_A3}")
    n_cm3 = n_ions / (volume_A3 * 1e-24)
    q = charge_e * E_C
    sigma_s_cm = n_cm3 * q**2 * np.asarray(diffusivity_cm2_s) / (KB_J_K * temperature_K)
    out = 1000.0 * sigma_s_cm
    return float(out) if np.ndim(out) == 0 else out
