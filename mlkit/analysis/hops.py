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

__all__ = ["HopEvents", "hop_events"]


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
