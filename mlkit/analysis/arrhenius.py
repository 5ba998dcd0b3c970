"""Arrhenius fit D = D0 exp(-Ea / (k_B T)) and extrapolation to room temperature.

Units: temperature K, diffusivity cm^2/s, Ea eV, conductivity mS/cm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlkit.analysis.diffusion import nernst_einstein_conductivity
from mlkit.errors import MlkitError

__all__ = ["ArrheniusFit", "arrhenius_summary", "fit_arrhenius"]

KB_EV_K = 8.617333262e-5


@dataclass(frozen=True)
class ArrheniusFit:
    """Weighted linear fit of ln D against 1/T.

    ln D = ln D0 - (Ea / k_B) (1/T). ``cov`` is the 2x2 covariance of
    (slope, intercept) = (-Ea/k_B [K], ln D0).

    Attributes
    ----------
    activation_energy_eV, activation_energy_err_eV : float
    d0_cm2_s, d0_err_cm2_s : float
        Prefactor and its first-order error D0 * sd(ln D0).
    cov : ndarray of shape (2, 2)
    n_points : int
    absolute_errors : bool
        True when the covariance comes from the given D errors alone; False when
        it is scaled by the residual variance (no errors given; NaN for 2 points).
    """

    activation_energy_eV: float
    activation_energy_err_eV: float
    d0_cm2_s: float
    d0_err_cm2_s: float
    cov: np.ndarray
    n_points: int
    absolute_errors: bool

    def ln_diffusivity(self, temperature_K: float) -> tuple[float, float]:
        """Natural log of D(T) and its standard error from the covariance."""
        g = np.array([1.0 / temperature_K, 1.0])
        slope = -self.activation_energy_eV / KB_EV_K
        val = slope * g[0] + np.log(self.d0_cm2_s)
        var = float(g @ self.cov @ g)
        return float(val), float(np.sqrt(var)) if var >= 0 else float("nan")

    def diffusivity(self, temperature_K: float) -> tuple[float, float]:
        """Extrapolated D(T) (cm^2/s) and its first-order error D * sd(ln D)."""
        ln_d, ln_err = self.ln_diffusivity(temperature_K)
        d = float(np.exp(ln_d))
        return d, d * ln_err

    def conductivity(
        self,
        temperature_K: float,
        n_ions: int,
        volume_A3: float,
        charge_e: float = 1.0,
    ) -> tuple[float, float]:
        """Extrapolated Nernst-Einstein sigma(T) and its error, mS/cm.

        The volume is taken as the same at T (no thermal expansion).
        """
        d, d_err = self.diffusivity(temperature_K)
        sigma = nernst_einstein_conductivity(d, n_ions, volume_A3, temperature_K, charge_e)
        sigma_err = nernst_einstein_conductivity(d_err, n_ions, volume_A3, temperature_K, charge_e)
        return float(sigma), float(sigma_err)


def fit_arrhenius(
    temperatures_K: Sequence[float] | np.ndarray,
    diffusivities_cm2_s: Sequence[float] | np.ndarray,
    diffusivity_errs_cm2_s: Sequence[float] | np.ndarray | None = None,
) -> ArrheniusFit:
    """Fit D = D0 exp(-Ea / k_B T) by (weighted) least squares on ln D vs 1/T.

    Parameters
    ----------
    temperatures_K : array of shape (n,)
    diffusivities_cm2_s : array of shape (n,)
        Must be > 0 (non-diffusing temperatures must be left out, not clamped).
    diffusivity_errs_cm2_s : array of shape (n,), optional
        Standard errors of D; weights 1/sd(ln D)^2 with sd(ln D) = err/D, and
        the covariance is absolute (not rescaled by the residuals).

    Returns
    -------
    ArrheniusFit
    """
    t = np.asarray(temperatures_K, dtype=np.float64)
    d = np.asarray(diffusivities_cm2_s, dtype=np.float64)
    if t.shape != d.shape or t.ndim != 1:
        raise MlkitError(f"arrhenius: temperatures {t.shape} and diffusivities {d.shape} differ")
    if len(t) < 2:
        raise MlkitError(f"arrhenius: need >= 2 temperatures, got {len(t)}")
    if np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise MlkitError("arrhenius: temperatures must be finite and > 0 K")
    if np.any(~np.isfinite(d)) or np.any(d <= 0):
        raise MlkitError("arrhenius: diffusivities must be finite and > 0 (drop non-diffusing T)")
    if len(np.unique(t)) < 2:
        raise MlkitError("arrhenius: need >= 2 distinct temperatures")
    x = 1.0 / t
    y = np.log(d)
    a = np.stack([x, np.ones_like(x)], axis=1)
    if diffusivity_errs_cm2_s is not None:
        err = np.asarray(diffusivity_errs_cm2_s, dtype=np.float64)
        if err.shape != d.shape or np.any(~np.isfinite(err)) or np.any(err <= 0):
            raise MlkitError("arrhenius: diffusivity errors must be finite, > 0, one per point")
        w = (d / err) ** 2
        ata = a.T @ (a * w[:, None])
        coef = np.linalg.solve(ata, a.T @ (w * y))
        cov = np.linalg.inv(ata)
        absolute = True
    else:
        coef, _, _, _ = np.linalg.lstsq(a, y, rcond=None)
        n = len(t)
        if n > 2:
            resid = y - a @ coef
            cov = float(resid @ resid) / (n - 2) * np.linalg.inv(a.T @ a)
        else:
            cov = np.full((2, 2), np.nan)
        absolute = False
    slope, intercept = float(coef[0]), float(coef[1])
    ea = -slope * KB_EV_K
    ea_err = float(np.sqrt(cov[0, 0])) * KB_EV_K
    d0 = float(np.exp(intercept))
    d0_err = d0 * float(np.sqrt(cov[1, 1]))
    return ArrheniusFit(
        activation_energy_eV=ea,
        activation_energy_err_eV=ea_err,
        d0_cm2_s=d0,
        d0_err_cm2_s=d0_err,
        cov=cov,
        n_points=len(t),
        absolute_errors=absolute,
    )


def arrhenius_summary(
    temperatures_K: Sequence[float] | np.ndarray,
    diffusivities_cm2_s: Sequence[float] | np.ndarray,
    diffusivity_errs_cm2_s: Sequence[float] | np.ndarray | None,
    n_ions: int,
    volume_A3: float,
    charge_e: float = 1.0,
    *,
    temperature_eval_K: float = 300.0,
    min_diffusivity_cm2_s: float = 1e-8,
) -> dict[str, float]:
    """Arrhenius fit of several MD temperatures as one table row.

    Temperatures with D below ``min_diffusivity_cm2_s`` (not measurable; Li et
    al. 2025 use 1e-8 cm^2/s) are left out and counted in ``n_excluded``.

    Parameters
    ----------
    temperatures_K, diffusivities_cm2_s : arrays of shape (n,)
    diffusivity_errs_cm2_s : array of shape (n,) or None
    n_ions, volume_A3, charge_e
        For the extrapolated Nernst-Einstein conductivity.
    temperature_eval_K : float
        Extrapolation temperature (300 K).

    Returns
    -------
    dict
        activation_energy_eV, activation_energy_err_eV, d0_cm2_s, d0_err_cm2_s,
        diffusivity_<T>K_cm2_s (+ _err), conductivity_<T>K_mS_cm (+ _err),
        n_temperatures, n_excluded.
    """
    t = np.asarray(temperatures_K, dtype=np.float64)
    d = np.asarray(diffusivities_cm2_s, dtype=np.float64)
    keep = np.isfinite(d) & (d >= min_diffusivity_cm2_s)
    err = None
    if diffusivity_errs_cm2_s is not None:
        err = np.asarray(diffusivity_errs_cm2_s, dtype=np.float64)[keep]
    fit = fit_arrhenius(t[keep], d[keep], err)
    tag = f"{temperature_eval_K:g}K"
    d_eval, d_eval_err = fit.diffusivity(temperature_eval_K)
    s_eval, s_eval_err = fit.conductivity(temperature_eval_K, n_ions, volume_A3, charge_e)
    return {
        "activation_energy_eV": fit.activation_energy_eV,
        "activation_energy_err_eV": fit.activation_energy_err_eV,
        "d0_cm2_s": fit.d0_cm2_s,
        "d0_err_cm2_s": fit.d0_err_cm2_s,
        f"diffusivity_{tag}_cm2_s": d_eval,
        f"diffusivity_{tag}_err_cm2_s": d_eval_err,
        f"conductivity_{tag}_mS_cm": s_eval,
        f"conductivity_{tag}_err_mS_cm": s_eval_err,
        "n_temperatures": int(keep.sum()),
        "n_excluded": int((~keep).sum()),
    }
