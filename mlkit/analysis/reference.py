"""The paper's criteria at a reference time, with intervals and a three-way decision.

The rotation paper's thresholds hold at 60 ps: a polyanion species rotates when
C(60 ps) < 0.9, the mobile ion diffuses when its MSD(60 ps) > 5 A^2. A run of another
length, or a cell with few rotors or ions, measures the same process with another
precision. This module evaluates both criteria at a reference time ``t_ref`` (default
60 ps) from the fitted decay / the fitted diffusion, with an interval from the data,
and turns value + interval into ``"yes"``, ``"no"`` or ``"undecided"``.

Rotation
    Each rotor's C_r(t) is fitted, over the lag window, by ``ln C = ln A - Gamma t``
    (libration plateau ``A``, decay rate ``Gamma``; exact for an exponential decay and
    for a plateau) and ``C(t_ref) = A exp(-Gamma t_ref)``, capped at 1 (C <= 1 by
    Cauchy-Schwarz). The interval is the percentile bootstrap over rotors (resample rotors,
    average their C_r, refit), widened by counting statistics: the decay is carried by
    ``n`` reorientation jumps over ``N_rot`` rotors and ``T`` ps, so the rate is known
    to the relative Poisson error ``q(n) / n`` (Garwood interval), applied to
    ``max(Gamma, n (1 - <cos>) / (N_rot T))``; with no jump seen, a rate up to
    ``q_hi(0) (1 - <cos>) / (N_rot T)`` cannot be excluded (``1 - <cos>``, the
    decorrelation of a ligand vector by one jump, is 1 unless measured). A short run of a
    slow rotor therefore comes out ``undecided``, never "no rotation" with false
    confidence.

Diffusion
    ``MSD(t_ref) = intercept + 6 D t_ref`` from the OLS line over the window, with the
    percentile bootstrap over mobile ions (resample ions, average their MSD, refit); the
    lower end is at least 0 (an extrapolated line can go below, an MSD cannot).
    Widened by counting as above with the ``n`` site hops: relative error ``q(n) / n``
    on the measured slope (correlated back-and-forth hops lower the slope, not the
    relative error); with fewer than :data:`MIN_HOPS_FOR_CORRELATION` hops their
    correlation cannot be estimated and the slope is taken as at least ``n a^2 / (N T)``
    (uncorrelated hops); with no hop seen, ``6 D`` up to ``a^2 q_hi(0) / (N T)`` (hop length
    ``a``, ``N`` ions) cannot be excluded. The diffusivity floor -- the smallest D the
    run can tell from zero -- is the zero-hop upper bound ``a^2 q_hi(0) / (6 N T)``: it
    follows from the run length and the number of ions (the constraint paper's 1e-8
    cm^2/s belongs to its 10 ns runs of ~1,000 atoms).

Units in names; times in ps; pure numpy + scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlkit.analysis.diffusion import A2_PS_TO_CM2_S, fit_window
from mlkit.errors import MlkitError

__all__ = [
    "DECISIONS",
    "ReferenceValue",
    "acf_decay_fit",
    "counting_interval",
    "decide",
    "diffusivity_floor_cm2_s",
    "msd_at_reference",
    "per_item_acf",
    "poisson_interval",
    "reorientation_at_reference",
]

DECISIONS = ("yes", "no", "undecided")
#: below this many hops their correlation (back-and-forth hops that cancel) cannot be
#: estimated: the counting bound then takes them as uncorrelated (each adds a^2)
MIN_HOPS_FOR_CORRELATION = 10


@dataclass(frozen=True)
class ReferenceValue:
    """A criterion evaluated at the reference time.

    Attributes
    ----------
    value : float
        Point estimate at ``t_ref_ps``.
    low, high : float
        Interval at ``confidence`` (bootstrap, widened by the counting bound).
    t_ref_ps, run_ps, confidence : float
    decision : {"yes", "no", "undecided"}
        Whether the criterion holds at ``t_ref_ps``.
    rate : float
        Fitted rate: decay rate Gamma (1/ps) for C(t), D (cm^2/s) for the MSD.
    rate_low, rate_high : float
        Its interval.
    n_events : int
        Jumps (rotation) or hops (diffusion) counted; -1 when not counted.
    """

    value: float
    low: float
    high: float
    t_ref_ps: float
    run_ps: float
    confidence: float
    decision: str
    rate: float
    rate_low: float
    rate_high: float
    n_events: int = -1


def poisson_interval(n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Garwood interval of a Poisson mean from ``n`` observed counts.

    ``n = 0`` gives ``(0, -ln((1 - confidence) / 2))`` (3.69 at 95 %).
    """
    from scipy.stats import chi2

    if n < 0:
        raise MlkitError(f"poisson_interval: count must be >= 0, got {n}")
    if not 0.0 < confidence < 1.0:
        raise MlkitError(f"confidence must be in (0, 1), got {confidence}")
    alpha = 1.0 - confidence
    lo = 0.0 if n == 0 else 0.5 * chi2.ppf(alpha / 2.0, 2 * n)
    hi = 0.5 * chi2.ppf(1.0 - alpha / 2.0, 2 * n + 2)
    return float(lo), float(hi)


def decide(low: float, high: float, threshold: float, *, above: bool) -> str:
    """``"yes"`` when the whole interval is on the criterion's side of ``threshold``.

    ``above=True``: the criterion is ``value > threshold``; ``False``: ``value < threshold``.
    NaN bounds give ``"undecided"``.
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return "undecided"
    if above:
        return "yes" if low > threshold else ("no" if high <= threshold else "undecided")
    return "yes" if high < threshold else ("no" if low >= threshold else "undecided")


def per_item_acf(u: np.ndarray, item_index: np.ndarray) -> np.ndarray:
    """Time-origin-averaged C(t) of each item (rotor), averaged over its vectors.

    Parameters
    ----------
    u : array of shape (n_frames, n_vectors, 3)
        Unit centre->ligand vectors.
    item_index : int array of shape (n_vectors,)
        Rotor of each vector (0..n_items-1).

    Returns
    -------
    ndarray of shape (n_items, n_frames)
    """
    from mlkit.analysis.reorientation import autocorrelation_fft

    item_index = np.asarray(item_index, dtype=int)
    n_items = int(item_index.max()) + 1 if len(item_index) else 0
    return np.stack([autocorrelation_fft(u[:, item_index == r]) for r in range(n_items)]) \
        if n_items else np.zeros((0, u.shape[0]))


def acf_decay_fit(lag_ps: np.ndarray, acf: np.ndarray, *, start_fraction: float = 0.1,
                  end_fraction: float = 0.5, floor: float = 0.05) -> tuple[float, float]:
    """Plateau ``A`` and decay rate ``Gamma`` (1/ps) of ``ln C = ln A - Gamma t`` over the window.

    When C falls to ``floor`` at some lag up to the window's end, C has decayed within
    the run: past that lag it is noise about zero (a few rotors give +-0.1, one rotor
    more), and a log fit over noise gives any rate, negative ones included. Then
    ``A = 1`` and ``Gamma = -ln(floor) / t_cross`` are returned, ``t_cross`` being the
    first lag with ``C <= floor``: a lower bound of the true rate, since
    C(t_cross) <= floor with A <= 1. Otherwise the window is fitted.

    Parameters
    ----------
    lag_ps, acf : arrays of shape (n_lags,)

    Returns
    -------
    (A, Gamma_per_ps) : tuple of float
    """
    lag_ps, acf = np.asarray(lag_ps), np.asarray(acf)
    sl = fit_window(len(acf), start_fraction, end_fraction)
    below = np.flatnonzero(~(acf[: sl.stop] > floor))
    if len(below):
        t_cross = float(lag_ps[below[0]])
        return 1.0, float(-np.log(floor) / t_cross) if t_cross > 0 else np.nan
    slope, intercept = np.polyfit(lag_ps[sl], np.log(acf[sl]), 1)
    return float(np.exp(intercept)), float(-slope)


def counting_interval(rate: float, n: int, confidence: float,
                      zero_high: float) -> tuple[float, float]:
    """Interval of a rate measured from ``n`` counted events (Poisson, relative).

    ``n > 0``: ``rate * (q_lo(n) / n, q_hi(n) / n)``; the measured rate carries the
    correlation of the events (back-and-forth hops), the count its relative error.
    ``n = 0``: ``(0, zero_high)``, the rate of ``q_hi(0)`` events in the run.
    """
    k_lo, k_hi = poisson_interval(n, confidence)
    if n == 0:
        return 0.0, float(zero_high)
    return float(rate * k_lo / n), float(rate * k_hi / n)


def _bootstrap_over_items(n_items: int, estimate, point: tuple[float, float], *,
                          n_boot: int, seed: int, confidence: float,
                          ) -> tuple[float, float, float, float]:
    """Percentile bootstrap over items (rotors, ions) of a (value, rate) estimate.

    ``estimate(pick)`` maps resampled item indices to ``(value, rate)``. With a single
    item there is nothing to resample and the ``point`` estimate is returned as both
    ends. Returns ``(value_low, value_high, rate_low, rate_high)``; the value interval
    always contains the point value.
    """
    value, rate = point
    if n_items < 2:
        return value, value, rate, rate
    rng = np.random.default_rng(seed)
    boot = np.array([estimate(rng.integers(0, n_items, n_items)) for _ in range(n_boot)])
    q = [50 * (1 - confidence), 50 * (1 + confidence)]
    lo, hi = np.percentile(boot[:, 0], q)
    r_lo, r_hi = np.percentile(boot[:, 1], q)
    return float(min(lo, value)), float(max(hi, value)), float(r_lo), float(r_hi)


def _c_at(a: float, gamma: float, t: float) -> float:
    return float(min(1.0, a * np.exp(-gamma * t)))


def reorientation_at_reference(
    lag_ps: np.ndarray,
    acf_per_rotor: np.ndarray,
    *,
    t_ref_ps: float = 60.0,
    threshold: float = 0.9,
    n_jumps: int | None = None,
    decorrelation_per_jump: float = 1.0,
    confidence: float = 0.95,
    n_boot: int = 400,
    seed: int = 0,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
) -> ReferenceValue:
    """C(t_ref) with its interval and the decision ``C(t_ref) < threshold``.

    Parameters
    ----------
    lag_ps : array of shape (n_frames,)
    acf_per_rotor : array of shape (n_rotors, n_frames)
        C_r(t) of each rotor (:func:`per_item_acf`).
    t_ref_ps : float
        Reference time (the paper: 60 ps).
    threshold : float
        0.9 (the paper).
    n_jumps : int, optional
        Reorientation jumps counted in the run; enables the counting bound.
    decorrelation_per_jump : float
        ``1 - <cos>`` of a ligand vector over one jump (1 unless measured).
    confidence : float
        Two-sided level of the interval.
    n_boot : int
        Bootstrap resamples over rotors.
    seed : int
    start_fraction, end_fraction : float
        Lag window of the fit.

    Returns
    -------
    ReferenceValue
        ``value`` = C(t_ref); ``rate`` = Gamma (1/ps); decision "yes" = rotates.
    """
    c = np.asarray(acf_per_rotor, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != len(lag_ps):
        raise MlkitError(f"acf_per_rotor: expected (n_rotors, {len(lag_ps)}), got {c.shape}")
    n_rot = c.shape[0]
    run_ps = float(lag_ps[-1])
    nan = float("nan")
    if n_rot == 0:
        return ReferenceValue(nan, nan, nan, t_ref_ps, run_ps, confidence, "undecided",
                              nan, nan, nan, -1 if n_jumps is None else int(n_jumps))
    kw = {"start_fraction": start_fraction, "end_fraction": end_fraction}
    a0, g0 = acf_decay_fit(lag_ps, c.mean(axis=0), **kw)
    value = _c_at(a0, g0, t_ref_ps)

    def resampled(pick: np.ndarray) -> tuple[float, float]:
        a, g = acf_decay_fit(lag_ps, c[pick].mean(axis=0), **kw)
        return _c_at(a, g, t_ref_ps), g

    lo, hi, g_lo, g_hi = _bootstrap_over_items(n_rot, resampled, (value, g0), n_boot=n_boot,
                                               seed=seed, confidence=confidence)
    if n_jumps is not None and run_ps > 0:
        base = max(g0, int(n_jumps) * decorrelation_per_jump / (n_rot * run_ps))
        gc_lo, gc_hi = counting_interval(
            base, int(n_jumps), confidence,
            zero_high=poisson_interval(0, confidence)[1] * decorrelation_per_jump
            / (n_rot * run_ps))
        lo = min(lo, _c_at(a0, gc_hi, t_ref_ps))
        hi = max(hi, _c_at(a0, gc_lo, t_ref_ps))
        g_lo, g_hi = min(g_lo, gc_lo), max(g_hi, gc_hi)
    return ReferenceValue(value, float(lo), float(hi), t_ref_ps, run_ps, confidence,
                          decide(lo, hi, threshold, above=False), g0, float(g_lo),
                          float(g_hi), -1 if n_jumps is None else int(n_jumps))


def diffusivity_floor_cm2_s(hop_distance_A: float, n_ions: int, run_ps: float,
                            confidence: float = 0.95) -> float:
    """Smallest D a run can tell from zero: no hop seen, ``a^2 q_hi(0) / (6 N T)``."""
    if n_ions < 1 or run_ps <= 0 or not hop_distance_A > 0:
        return float("nan")
    _, k_hi = poisson_interval(0, confidence)
    return float(hop_distance_A**2 * k_hi / (6.0 * n_ions * run_ps) * A2_PS_TO_CM2_S)


def msd_at_reference(
    lag_ps: np.ndarray,
    msd_per_ion_A2: np.ndarray,
    *,
    t_ref_ps: float = 60.0,
    threshold_A2: float = 5.0,
    n_hops: int | None = None,
    hop_distance_A: float | None = None,
    confidence: float = 0.95,
    n_boot: int = 400,
    seed: int = 0,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
) -> ReferenceValue:
    """MSD(t_ref) of the mobile ions with its interval and the decision ``MSD > threshold``.

    Parameters
    ----------
    lag_ps : array of shape (n_frames,)
    msd_per_ion_A2 : array of shape (n_frames, n_ions)
        Time-origin-averaged total MSD of each ion.
    t_ref_ps, threshold_A2 : float
        60 ps and 5 A^2 (the paper).
    n_hops : int, optional
        Site hops counted in the run (with ``hop_distance_A``: the counting bound).
    hop_distance_A : float, optional
        Hop length ``a``.
    confidence, n_boot, seed, start_fraction, end_fraction
        As in :func:`reorientation_at_reference`.

    Returns
    -------
    ReferenceValue
        ``value`` = MSD(t_ref) (A^2); ``rate`` = D (cm^2/s); decision "yes" = diffuses.
    """
    m = np.asarray(msd_per_ion_A2, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != len(lag_ps) or m.shape[1] == 0:
        raise MlkitError(f"msd_per_ion_A2: expected ({len(lag_ps)}, n_ions >= 1), got {m.shape}")
    t = np.asarray(lag_ps, dtype=np.float64)
    sl = fit_window(len(t), start_fraction, end_fraction)
    design = np.stack([t[sl], np.ones(len(t[sl]))], axis=1)
    pinv = np.linalg.pinv(design)

    def fit(curve: np.ndarray) -> tuple[float, float]:
        slope, intercept = pinv @ curve[sl]
        return float(slope), float(intercept)

    n_ions = m.shape[1]
    run_ps = float(t[-1])
    slope0, icpt0 = fit(m.mean(axis=1))
    value = icpt0 + slope0 * t_ref_ps
    conv = A2_PS_TO_CM2_S / 6.0

    def resampled(pick: np.ndarray) -> tuple[float, float]:
        slope, intercept = fit(m[:, pick].mean(axis=1))
        return intercept + slope * t_ref_ps, slope * conv

    lo, hi, d_lo, d_hi = _bootstrap_over_items(n_ions, resampled, (value, slope0 * conv),
                                               n_boot=n_boot, seed=seed, confidence=confidence)
    if n_hops is not None and hop_distance_A and run_ps > 0:
        base = max(slope0, 0.0)
        if n_hops < MIN_HOPS_FOR_CORRELATION:  # too few hops to know they cancel
            base = max(base, n_hops * hop_distance_A**2 / (n_ions * run_ps))
        s_lo, s_hi = counting_interval(  # bounds on 6 D, A^2/ps
            base, int(n_hops), confidence,
            zero_high=hop_distance_A**2 * poisson_interval(0, confidence)[1]
            / (n_ions * run_ps))
        lo = min(lo, icpt0 + s_lo * t_ref_ps)
        hi = max(hi, icpt0 + s_hi * t_ref_ps)
        d_lo, d_hi = min(d_lo, s_lo * conv), max(d_hi, s_hi * conv)
    lo = max(lo, 0.0)  # an MSD is not negative (the extrapolated line can be)
    return ReferenceValue(float(value), float(lo), float(hi), t_ref_ps, run_ps, confidence,
                          decide(lo, hi, threshold_A2, above=True), slope0 * conv,
                          float(d_lo), float(d_hi), -1 if n_hops is None else int(n_hops))
