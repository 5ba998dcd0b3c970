"""Long-lived hop events h_i(t; a, dt, t_a) (Yang et al. 2024, eq. 5).

    h_i(t) = prod_{t' in [t_a/2 - dt, t_a/2]} theta(|r_i(t + t') - r_i(t - t')| - a)

h_i(t) = 1 when ion i sits, for a residence time dt before and after, at two
places more than ``a`` apart. One instantaneous hop at t0 gives h_i = 1 on the
interval |t - t0| < t_a/2 - dt; each contiguous run of h_i = 1 is one event
(runs closer than ``merge_gap_ps`` are merged: vibration makes h flicker at the
edges of a hop).

Units: positions A, times ps. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlkit.errors import MlkitError

__all__ = [
    "HopEvents",
    "SiteHops",
    "first_shell_radius_A",
    "hop_events",
    "mobile_site_spacing_A",
    "pair_distances_A",
    "site_hops",
    "wrap_positions_A",
]


@dataclass(frozen=True)
class HopEvents:
    """Hop events of a set of ions.

    Attributes
    ----------
    h : bool ndarray of shape (n_grid, n_ions)
        h_i(t) on the evaluation grid (``times_ps``).
    times_ps : ndarray of shape (n_grid,)
        Centres t where h is defined (t_a/2 <= t <= T - t_a/2).
    event_ions : int ndarray of shape (n_hops,)
    event_times_ps : ndarray of shape (n_hops,)
        Time in the event's h = 1 run where sum_{0<t'<=t_a/2} |r(t+t') - r(t-t')|^2 peaks.
    observable_ps : float
        Time span in which a hop can be detected, T - 2 dt (see docs/analysis.md).
    n_ions : int
    """

    h: np.ndarray
    times_ps: np.ndarray
    event_ions: np.ndarray
    event_times_ps: np.ndarray
    observable_ps: float
    n_ions: int

    @property
    def n_hops(self) -> int:
        return int(len(self.event_ions))

    @property
    def rate_per_ion_ps(self) -> float:
        """Hops per ion per ps (NaN when nothing is observable)."""
        if self.n_ions == 0 or self.observable_ps <= 0 or len(self.times_ps) == 0:
            return float("nan")
        return self.n_hops / (self.n_ions * self.observable_ps)


def hop_events(
    positions_A: np.ndarray,
    frame_interval_fs: float,
    *,
    a_A: float = 3.8,
    residence_ps: float = 3.0,
    window_ps: float = 9.0,
    resolution_ps: float = 0.1,
    merge_gap_ps: float | None = None,
) -> HopEvents:
    """Find long-lived hop events.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_ions, 3)
        Unwrapped positions of the ions to analyse.
    frame_interval_fs : float
    a_A : float
        Minimum hop distance a (3.8 A for NaNbCl6 in the paper).
    residence_ps : float
        Residence time dt before and after the hop (3 ps).
    window_ps : float
        Full window t_a (9 ps); needs ``window_ps >= 2 * residence_ps``.
    resolution_ps : float
        Time grid on which h is evaluated (frames are subsampled to it).
    merge_gap_ps : float, optional
        Runs of h_i = 1 of the same ion separated by less than this are one
        event (thermal vibration makes |r(t+t') - r(t-t')| flicker around a near
        the edges of a hop). Default ``window_ps - 2 * residence_ps``, the
        width of the h = 1 interval of a single hop.

    Returns
    -------
    HopEvents
        Empty (and ``rate_per_ion_ps`` NaN) when the run is shorter than t_a.
    """
    x = np.asarray(positions_A, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise MlkitError(f"hops: positions must be (n_frames, n_ions, 3), got {x.shape}")
    if not (a_A > 0 and residence_ps > 0 and window_ps >= 2 * residence_ps):
        raise MlkitError(
            f"hops: need a_A > 0, residence_ps > 0, window_ps >= 2*residence_ps "
            f"(got {a_A}, {residence_ps}, {window_ps})"
        )
    dt_ps = frame_interval_fs / 1000.0
    stride = max(1, int(round(resolution_ps / dt_ps)))
    xs = x[::stride]
    dtg = stride * dt_ps
    n_g, n_ions = xs.shape[0], xs.shape[1]
    k_max = int(round(window_ps / 2 / dtg))
    k_min = int(round((window_ps / 2 - residence_ps) / dtg))
    duration = (x.shape[0] - 1) * dt_ps
    observable = duration - 2 * residence_ps
    centres = np.arange(k_max, n_g - k_max)
    if len(centres) == 0 or k_max == 0:
        empty = np.zeros((0, n_ions), dtype=bool)
        return HopEvents(empty, np.zeros(0), np.zeros(0, int), np.zeros(0), observable, n_ions)
    a2 = a_A**2
    h = np.ones((len(centres), n_ions), dtype=bool)
    score = np.zeros((len(centres), n_ions))  # sum_k |d_k|^2: peaks at the hop time
    for k in range(1, k_max + 1):
        d = xs[centres + k] - xs[centres - k]
        d2 = np.einsum("tik,tik->ti", d, d)
        score += d2
        if k >= k_min:
            h &= d2 >= a2
    # contiguous runs of True per ion -> events at run centres
    padded = np.zeros((len(centres) + 2, n_ions), dtype=np.int8)
    padded[1:-1] = h
    edges = np.diff(padded, axis=0)
    starts_t, starts_i = np.nonzero(edges == 1)
    ends_t, ends_i = np.nonzero(edges == -1)
    o_s = np.lexsort((starts_t, starts_i))
    o_e = np.lexsort((ends_t, ends_i))
    s_i, s_t, e_t = starts_i[o_s], starts_t[o_s], ends_t[o_e] - 1  # inclusive run ends
    gap = (window_ps - 2 * residence_ps) if merge_gap_ps is None else merge_gap_ps
    gap_k = gap / dtg
    runs: list[list[int]] = []  # [ion, start, end] with merged flicker
    for j in range(len(s_i)):
        if runs and runs[-1][0] == s_i[j] and s_t[j] - runs[-1][2] <= gap_k:
            runs[-1][2] = int(e_t[j])
        else:
            runs.append([int(s_i[j]), int(s_t[j]), int(e_t[j])])
    ev_ions = [r[0] for r in runs]
    # event time: where the straddling displacement is largest inside the run
    ev_idx = [r[1] + int(np.argmax(score[r[1] : r[2] + 1, r[0]])) for r in runs]
    times = centres * dtg
    ev_times = times[np.asarray(ev_idx, dtype=int)] if runs else np.zeros(0)
    return HopEvents(h, times, np.asarray(ev_ions, dtype=int), ev_times, observable, n_ions)


@dataclass(frozen=True)
class SiteHops:
    """Every displacement of a mobile ion between sites (not only long-lived ones).

    Attributes
    ----------
    counts : int ndarray of shape (n_ions,)
        Hops of each ion.
    times_ps : ndarray of shape (n_hops,)
    ions : int ndarray of shape (n_hops,)
    duration_ps : float
    hop_distance_A : float
        The site spacing ``a`` the detection used.
    """

    counts: np.ndarray
    times_ps: np.ndarray
    ions: np.ndarray
    duration_ps: float
    hop_distance_A: float

    @property
    def n_hops(self) -> int:
        return int(self.counts.sum())

    @property
    def rate_per_ion_ps(self) -> float:
        """Hops per ion per ps (the constraint paper's cation hop frequency)."""
        n = len(self.counts)
        return self.n_hops / (n * self.duration_ps) if n and self.duration_ps > 0 else float("nan")


def site_hops(
    positions_A: np.ndarray,
    frame_interval_fs: float,
    *,
    hop_distance_A: float,
    threshold_fraction: float = 0.75,
    smoothing_fs: float = 300.0,
) -> SiteHops:
    """Count every hop of each ion: a move of ``threshold_fraction * a`` from its site.

    Each ion's position is averaged over a running window of ``smoothing_fs``
    (removes vibration); the ion's site is its smoothed position at the start. A hop is
    recorded when the smoothed position is further than ``threshold_fraction *
    hop_distance_A`` from the site; the smoothed position one window later becomes the
    new site (back-and-forth hops count twice, as in a hop frequency).

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_ions, 3)
        Unwrapped positions.
    frame_interval_fs : float
    hop_distance_A : float
        Site spacing ``a`` (:func:`mobile_site_spacing_A`).
    threshold_fraction : float
        0.75: three quarters of the way to the next site.
    smoothing_fs : float

    Returns
    -------
    SiteHops
    """
    from scipy.ndimage import uniform_filter1d

    x = np.asarray(positions_A, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise MlkitError(f"site_hops: positions must be (n_frames, n_ions, 3), got {x.shape}")
    if not (hop_distance_A > 0 and 0 < threshold_fraction <= 1.5):
        raise MlkitError(f"site_hops: need hop_distance_A > 0 and 0 < threshold_fraction "
                         f"<= 1.5, got {hop_distance_A}, {threshold_fraction}")
    n_frames, n_ions = x.shape[:2]
    dt_ps = frame_interval_fs / 1000.0
    w = max(1, int(round(smoothing_fs / frame_interval_fs)))
    xs = uniform_filter1d(x, size=w, axis=0, mode="nearest") if w > 1 else x
    r2 = (threshold_fraction * hop_distance_A) ** 2
    counts = np.zeros(n_ions, dtype=int)
    t_out, i_out = [], []
    for i in range(n_ions):
        site = xs[0, i].copy()
        f = 0
        while f < n_frames:
            d2 = ((xs[f:, i] - site) ** 2).sum(axis=-1)
            hit = np.nonzero(d2 > r2)[0]
            if not len(hit):
                break
            f += int(hit[0])
            counts[i] += 1
            t_out.append(f * dt_ps)
            i_out.append(i)
            f_post = min(f + w, n_frames - 1)
            site = xs[f_post, i].copy()
            f = f_post + 1
    order = np.argsort(t_out, kind="stable")
    return SiteHops(counts, np.asarray(t_out, dtype=float)[order],
                    np.asarray(i_out, dtype=int)[order], (n_frames - 1) * dt_ps,
                    float(hop_distance_A))


def _image_shifts(cell_A: np.ndarray, r_max_A: float) -> np.ndarray:
    """Lattice translations (n, 3) reaching every image within ``r_max_A``."""
    cell = np.asarray(cell_A, dtype=np.float64)
    inv = np.linalg.inv(cell)
    heights = 1.0 / np.linalg.norm(inv, axis=0)  # perpendicular widths
    n = np.ceil(r_max_A / heights).astype(int)
    g = np.mgrid[-n[0]:n[0] + 1, -n[1]:n[1] + 1, -n[2]:n[2] + 1].reshape(3, -1).T
    return g @ cell


def pair_distances_A(a_A: np.ndarray, b_A: np.ndarray, cell_A: np.ndarray,
                     r_max_A: float) -> np.ndarray:
    """All periodic distances ``<= r_max_A`` between points ``a`` (n, 3) and ``b`` (m, 3).

    Zero distances (a point and itself) are dropped. Returns a flat array.
    """
    shifts = _image_shifts(cell_A, r_max_A)
    d = np.asarray(b_A)[None, :, None, :] + shifts[None, None] - np.asarray(a_A)[:, None, None]
    r = np.linalg.norm(d, axis=-1).ravel()
    return r[(r > 1e-6) & (r <= r_max_A)]


def wrap_positions_A(positions_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Positions (..., 3) mapped into the cell (fractional coordinates in [0, 1))."""
    cell = np.asarray(cell_A, dtype=np.float64)
    frac = np.asarray(positions_A, dtype=np.float64) @ np.linalg.inv(cell)
    return (frac - np.floor(frac)) @ cell


def mobile_site_spacing_A(positions_A: np.ndarray, cell_A: np.ndarray,
                          mobile_indices: np.ndarray) -> float:
    """Hop distance ``a`` from the structure: median nearest mobile-ion neighbour distance.

    Parameters
    ----------
    positions_A : array of shape (n_atoms, 3)
        One frame (the initial structure).
    cell_A : array of shape (3, 3)
    mobile_indices : int array
        The mobile ions (their occupied sites approximate the site lattice).

    Returns
    -------
    float
        NaN without mobile ions.
    """
    p = wrap_positions_A(np.asarray(positions_A)[np.asarray(mobile_indices, dtype=int)], cell_A)
    if not len(p):
        return float("nan")
    r_max = float(np.max(np.linalg.norm(np.asarray(cell_A), axis=1)))
    nearest = []
    for k in range(len(p)):
        r = pair_distances_A(p[k:k + 1], p, cell_A, r_max)
        if len(r):
            nearest.append(r.min())
    return float(np.median(nearest)) if nearest else float("nan")


def first_shell_radius_A(
    center_positions_A: np.ndarray,
    mobile_positions_A: np.ndarray,
    cell_A: np.ndarray,
    *,
    r_max_A: float = 8.0,
    bin_A: float = 0.1,
    smooth_bins: int = 3,
) -> float:
    """First minimum of the centre-mobile-ion RDF after its first peak (A).

    Parameters
    ----------
    center_positions_A : array of shape (n_frames, n_centres, 3)
    mobile_positions_A : array of shape (n_frames, n_mobile, 3)
    cell_A : array of shape (3, 3)
    r_max_A, bin_A : float
        Histogram range and bin width.
    smooth_bins : int
        Running mean over this many bins before the extrema are searched.

    Returns
    -------
    float
        NaN when the RDF has no minimum after its first peak below ``r_max_A``.
    """
    c = wrap_positions_A(center_positions_A, cell_A)
    m = wrap_positions_A(mobile_positions_A, cell_A)
    if c.shape[1] == 0 or m.shape[1] == 0:
        return float("nan")
    edges = np.arange(0.0, r_max_A + bin_A, bin_A)
    hist = np.zeros(len(edges) - 1)
    for f in range(c.shape[0]):
        hist += np.histogram(pair_distances_A(c[f], m[f], cell_A, r_max_A), bins=edges)[0]
    r = 0.5 * (edges[1:] + edges[:-1])
    g = hist / (4.0 * np.pi * r**2 * bin_A)
    if smooth_bins > 1:
        g = np.convolve(g, np.ones(smooth_bins) / smooth_bins, mode="same")
    if not g.any():
        return float("nan")
    peak = int(np.argmax(g > 0.5 * g.max()))  # first region of the first peak
    while peak + 1 < len(g) and g[peak + 1] >= g[peak]:
        peak += 1
    k = peak
    while k + 1 < len(g) and g[k + 1] <= g[k]:
        k += 1
    return float(r[k]) if k + 1 < len(g) else float("nan")
