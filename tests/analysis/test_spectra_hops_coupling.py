from __future__ import annotations

import numpy as np
import pytest

from mlkit.analysis import (
    angular_velocities,
    cation_anion_coupling,
    finite_difference_velocities,
    hop_events,
    power_spectrum,
    spectral_center,
    unit_vectors,
    vacf,
)
from mlkit.analysis.coupling import pearson
from mlkit.errors import MlkitError


def _rz(angle):
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1] = c, -s, s, c
    out[..., 2, 2] = 1.0
    return out


def test_harmonic_oscillator_vacf_peak():
    f0 = 5.0  # THz
    dt_fs = 2.0
    t_ps = np.arange(4000) * dt_fs / 1000
    rng = np.random.default_rng(0)
    phase = rng.uniform(0, 2 * np.pi, size=(1, 50, 3))
    amp = rng.uniform(0.05, 0.2, size=(1, 50, 3))
    x = amp * np.cos(2 * np.pi * f0 * t_ps[:, None, None] + phase)
    v = -amp * 2 * np.pi * f0 * np.sin(2 * np.pi * f0 * t_ps[:, None, None] + phase) / 1000
    c = vacf(v)
    assert c[0] == pytest.approx(1.0)
    # the VACF of a harmonic oscillator is cos(2 pi f0 t)
    assert np.allclose(c[:500], np.cos(2 * np.pi * f0 * t_ps[:500]), atol=0.05)
    freq, spec = power_spectrum(c, dt_fs)
    peak = freq[np.argmax(spec)]
    assert abs(peak - f0) < 0.05, peak
    assert spectral_center(freq, spec, max_freq_THz=20) == pytest.approx(f0, rel=0.03)
    # finite-difference velocities give the same peak (far below Nyquist)
    fd = finite_difference_velocities(x, dt_fs)
    f2, s2 = power_spectrum(vacf(fd), dt_fs)
    assert abs(f2[np.argmax(s2)] - f0) < 0.05


def test_libration_angular_velocity_spectrum(synth):
    """An octahedron librating about z at 1.5 THz: omega recovered exactly, peak at 1.5 THz."""
    f_lib, dt_fs, n = 1.5, 5.0, 4000
    t_ps = np.arange(n) * dt_fs / 1000
    theta0 = 0.2
    theta = theta0 * np.sin(2 * np.pi * f_lib * t_ps)
    u = np.einsum("tij,lj->tli", _rz(theta), synth.octahedron)
    omega = angular_velocities(u, np.zeros(6, int), dt_fs)
    expected = theta0 * 2 * np.pi * f_lib * np.cos(2 * np.pi * f_lib * t_ps)
    assert np.allclose(omega[1:-1, 0, 2], expected[1:-1], rtol=0, atol=0.01 * expected.max())
    assert np.abs(omega[:, 0, :2]).max() < 1e-6
    from mlkit.analysis.reorientation import autocorrelation_fft

    f, s = power_spectrum(autocorrelation_fft(omega), dt_fs)
    assert abs(f[np.argmax(s)] - f_lib) < 0.05


def _hop_traj():
    rng = np.random.default_rng(5)
    dt_fs, n = 50.0, 600  # 30 ps
    t = np.arange(n) * dt_fs / 1000
    x = rng.normal(scale=0.3, size=(n, 4, 3))
    x[t >= 20.0, 0, 0] += 4.5          # ion 0: one long-lived hop at 20 ps
    x[t >= 12.0, 1, 1] += 2.0          # ion 1: a 2 A shift, below a = 3.8 A
    x[(t >= 10.0) & (t < 11.0), 2, 2] += 4.5  # ion 2: excursion of 1 ps, not long-lived
    return x, dt_fs                     # ion 3: vibrates only


def test_hop_events_on_known_jump():
    x, dt_fs = _hop_traj()
    hops = hop_events(x, dt_fs, a_A=3.8, residence_ps=3.0, window_ps=9.0)
    assert hops.n_hops == 1
    assert hops.event_ions.tolist() == [0]
    assert hops.event_times_ps[0] == pytest.approx(20.0, abs=0.15)
    # without vibration, h is 1 exactly on t0 - 1.5 <= t < t0 + 1.5 (t_a/2 - dt = 1.5 ps)
    clean = np.zeros_like(x)
    clean[400:, 0, 0] = 4.5
    h0 = hop_events(clean, dt_fs, resolution_ps=0.05)
    on = h0.times_ps[h0.h[:, 0]]
    assert on.min() == pytest.approx(18.5, abs=1e-6) and on.max() == pytest.approx(21.45, abs=1e-6)
    assert h0.n_hops == 1 and h0.event_times_ps[0] == pytest.approx(20.0, abs=0.06)
    assert hops.rate_per_ion_ps == pytest.approx(1 / (4 * (29.95 - 6.0)), rel=1e-3)
    # a run shorter than t_a: no centres, rate NaN
    short = hop_events(x[:100], dt_fs)
    assert short.n_hops == 0 and np.isnan(short.rate_per_ion_ps)
    with pytest.raises(MlkitError, match="window_ps"):
        hop_events(x, dt_fs, residence_ps=5.0, window_ps=9.0)


def _coupled_system(synth, co_rotating: bool, n: int = 3000, seed: int = 0):
    """One octahedral rotor at the cell centre and one Na in its first shell."""
    rng = np.random.default_rng(seed)
    dt_ps = 0.01
    a = 12.0
    c = np.array([6.0, 6.0, 6.0])
    if co_rotating:
        rots = synth.rigid_rotor_orientations(n, 1, 0.2, dt_ps, seed)[:, 0]
    else:  # independent librations of the rotor and of the Na
        rots = np.einsum("tij->tij", _rz(0.3 * np.sin(np.cumsum(rng.normal(0, 0.05, n)))))
    lig = c + 2.4 * np.einsum("tij,lj->tli", rots, synth.octahedron)
    if co_rotating:
        na = c + 5.0 * np.einsum("tij,j->ti", rots, synth.octahedron[0] + [0, 0.2, 0])
    else:
        w = synth.rotate(np.tile([1.0, 0.04, 0.0], (n, 1)),
                         np.stack([np.zeros(n), np.zeros(n),
                                   0.3 * np.sin(np.cumsum(rng.normal(0, 0.05, n)))], axis=1))
        na = c + 5.0 * w
    pos = np.concatenate([c[None, None].repeat(n, 0), lig, na[:, None]], axis=1)
    pos = pos + rng.normal(scale=0.01, size=pos.shape)
    return pos, np.eye(3) * a


def test_coupling_pearson_co_rotating_vs_independent(synth):
    pos, cell = _coupled_system(synth, co_rotating=True)
    res = cation_anion_coupling(pos, cell, [0], [np.arange(1, 7)], [7], shell_cutoff_A=6.0)
    assert res.n_events == 1
    assert res.ligands.tolist() == [1]  # ligand along +x is closest to the Na
    assert res.mean > 0.95
    corr = []
    for seed in range(5):
        pos, cell = _coupled_system(synth, co_rotating=False, seed=seed)
        corr.append(cation_anion_coupling(pos, cell, [0], [np.arange(1, 7)], [7],
                                          shell_cutoff_A=6.0).mean)
    assert abs(np.mean(corr)) < 0.2, corr
    # an ion outside the shell gives no event
    res_out = cation_anion_coupling(pos, cell, [0], [np.arange(1, 7)], [7], shell_cutoff_A=4.0)
    assert res_out.n_events == 0 and np.isnan(res_out.mean)


def test_pearson_helper():
    a = np.arange(10.0)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)
    assert pearson(a, -a) == pytest.approx(-1.0)
    assert np.isnan(pearson(a, np.ones(10)))
    u = unit_vectors(np.array([[1.0, 0, 0]]))
    assert u.shape == (1, 3)
