"""Phonon descriptor kernels against analytic lattices and against phonopy's own API."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.phonons import descriptors as dk
from mlkit.phonons.properties import gamma_centred_mesh, sample_modes

pytest.importorskip("phonopy")

KB_EV_K = 8.617333262e-5
THZ_PER_SQRT_EV_A2_AMU = 15.633302
#: Watson's integral for the simple cubic lattice, <1 / (3 - sum_i cos t_i)> over the zone
WATSON_SC = 0.505462019717326


def spring_lattice(k_eV_A2: float = 2.0, mass_amu: float = 23.0, a_A: float = 3.0, n: int = 4):
    """Monatomic simple-cubic lattice with scalar nearest-neighbour springs.

    Force constants Phi(i, i) = 6 k I, Phi(i, nn) = -k I give three degenerate branches
    nu(q) = sqrt(2 k / m (3 - sum_i cos 2 pi q_i)) / (2 pi) in phonopy's units.
    """
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    cell = PhonopyAtoms(symbols=["Na"], cell=np.eye(3) * a_A, scaled_positions=[[0, 0, 0]],
                        masses=[mass_amu])
    ph = Phonopy(cell, supercell_matrix=np.eye(3, dtype=int) * n, primitive_matrix=None,
                 log_level=0)
    sc = ph.supercell
    frac = sc.scaled_positions * n  # integer grid coordinates
    natom = len(sc)
    fc = np.zeros((natom, natom, 3, 3))
    for i in range(natom):
        fc[i, i] = 6 * k_eV_A2 * np.eye(3)
        for j in range(natom):
            d = (frac[j] - frac[i] + n / 2) % n - n / 2
            if np.isclose(np.abs(d).sum(), 1.0):
                fc[i, j] = -k_eV_A2 * np.eye(3)
    ph.force_constants = fc
    return ph


def analytic_nu_THz(q: np.ndarray, k: float, m: float) -> np.ndarray:
    s = 3 - np.cos(2 * np.pi * q).sum(axis=-1)
    return THZ_PER_SQRT_EV_A2_AMU * np.sqrt(2 * k / m * s)


def test_spring_lattice_dispersion_is_analytic():
    k, m = 2.0, 23.0
    ph = spring_lattice(k, m)
    q = np.random.default_rng(0).uniform(-0.5, 0.5, size=(50, 3))
    s = sample_modes(ph, q)
    expected = analytic_nu_THz(q, k, m)
    np.testing.assert_allclose(s.frequencies_THz, np.repeat(expected[:, None], 3, axis=1),
                               rtol=1e-6)


@pytest.mark.parametrize("temperature_K", [10.0, 300.0, 800.0])
def test_spring_lattice_msd_equals_formula_on_the_same_mesh(temperature_K):
    k, m = 2.0, 23.0
    ph = spring_lattice(k, m)
    q, w = gamma_centred_mesh(np.array([8, 8, 8]))
    s = sample_modes(ph, q, w)
    sel = dk.select_modes(s.frequencies_THz, s.gamma_mask)
    u = dk.thermal_displacement_tensors_A2(s.frequencies_THz, s.eigenvectors, [m],
                                           temperature_K, sel.included, s.weights)
    # independent evaluation of <u_x^2> = sum_q w_q hbar / (2 m omega) coth(hbar omega / 2 kT)
    nu = analytic_nu_THz(q, k, m)
    ok = nu > 1e-9
    hbar_eVs, amu_kg, ev_J = 6.582119569e-16, 1.66053906660e-27, 1.602176634e-19
    omega = 2 * np.pi * nu[ok] * 1e12
    x = hbar_eVs * omega / (2 * KB_EV_K * temperature_K)
    u2 = hbar_eVs * ev_J / (2 * m * amu_kg * omega) / np.tanh(x) * 1e20  # A^2
    expected = (w[ok] * u2).sum()
    np.testing.assert_allclose(np.diag(u[0]), expected, rtol=1e-6)
    np.testing.assert_allclose(u[0] - np.diag(np.diag(u[0])), 0, atol=1e-12 * expected)
    assert sel.n_gamma_acoustic == 3 and sel.n_imaginary == 0


def test_spring_lattice_high_temperature_limit_is_watson_integral():
    """<u_x^2> -> k_B T / (2 k) * W_sc as T grows and the mesh converges (error ~ 1/L)."""
    k, m, temperature_K = 2.0, 23.0, 5000.0
    ph = spring_lattice(k, m)
    expected = KB_EV_K * temperature_K / (2 * k) * WATSON_SC
    values = {}
    for n in (12, 24):
        q, w = gamma_centred_mesh(np.array([n, n, n]))
        s = sample_modes(ph, q, w)
        sel = dk.select_modes(s.frequencies_THz, s.gamma_mask)
        u = dk.thermal_displacement_tensors_A2(s.frequencies_THz, s.eigenvectors, [m],
                                               temperature_K, sel.included, s.weights)
        values[n] = u[0, 0, 0]
    # the Gamma cell missing from the sum makes the error fall as 1 / n
    err12, err24 = expected - values[12], expected - values[24]
    assert 0 < err24 < err12
    assert err12 / err24 == pytest.approx(2.0, rel=0.1)
    # Richardson extrapolation of the 1 / n error recovers the integral
    assert 2 * values[24] - values[12] == pytest.approx(expected, rel=2e-3)


def test_time_reversal_mesh_weights():
    mesh = np.array([4, 3, 5])
    q, w = gamma_centred_mesh(mesh)
    assert w.sum() == pytest.approx(1.0)
    # 60 points, 2 of them their own partner (Gamma and (1/2, 0, 0)): 2 + 58 / 2 kept
    assert len(q) == 31
    grid = {tuple(g) for g in np.round(q * mesh).astype(int) % mesh}
    assert len(grid) == 31
    for g, weight in zip(np.round(q * mesh).astype(int) % mesh, w, strict=True):
        minus = tuple(-g % mesh)
        if minus == tuple(g):  # self-conjugate: single weight
            assert weight == pytest.approx(1 / 60)
        else:  # one of the pair q, -q kept, with double weight
            assert minus not in grid and weight == pytest.approx(2 / 60)
    # the kept points and their partners cover the whole mesh
    covered = grid | {tuple(-np.array(g) % mesh) for g in grid}
    assert len(covered) == 60


def _chain_modes():
    """Two-atom model modes: atom 0 mobile, atom 1 host."""
    e_inphase = np.array([1, 0, 0, 1, 0, 0], dtype=complex) / np.sqrt(2)
    e_anti = np.array([1, 0, 0, -1, 0, 0], dtype=complex) / np.sqrt(2)
    e_local = np.array([1, 0, 0, 0, 0, 0], dtype=complex)
    ev = np.stack([e_inphase, e_anti, e_local], axis=1)[None]  # (1, 6, 3)
    return ev


def test_coupling_factor_signs_and_phase_invariance():
    ev = _chain_modes()
    cf = dk.coupling_factors(ev, np.array([True, False]))
    np.testing.assert_allclose(cf[0], [1.0, -1.0, 0.0])
    np.testing.assert_allclose(dk.coupling_factors(ev * np.exp(0.7j), np.array([True, False])),
                               cf)


def test_participation_ratio_limits():
    ev = _chain_modes()
    pr = dk.participation_ratios(ev, np.array([1.0, 1.0]), mass_weighted=False)
    np.testing.assert_allclose(pr[0], [1.0, 1.0, 0.5])  # 1/N for one atom of N = 2
    pr_m = dk.participation_ratios(ev, np.array([1.0, 4.0]), mass_weighted=True)
    # amplitudes 1/2 and 1/8 -> (5/8)^2 / (2 * (1/4 + 1/64))
    assert pr_m[0, 0] == pytest.approx((5 / 8) ** 2 / (2 * (1 / 4 + 1 / 64)))


def test_moments_of_known_distribution():
    x = np.array([1.0, 2.0, 3.0])
    m = dk.distribution_moments(x, np.array([1.0, 2.0, 1.0]))
    assert m["centre"] == pytest.approx(2.0)
    assert m["width"] == pytest.approx(np.sqrt(0.5))
    assert m["skewness"] == pytest.approx(0.0)
    assert m["kurtosis_excess"] == pytest.approx(0.5 / 0.25 - 3)


def test_select_modes_counts_what_it_leaves_out():
    nu = np.array([[0.001, -0.002, 0.003, 5.0], [-0.5, -0.05, 1.0, 2.0]])
    sel = dk.select_modes(nu, np.array([True, False]), freq_min_THz=0.0,
                          imaginary_tolerance_THz=0.1)
    assert sel.n_gamma_acoustic == 3
    assert sel.n_imaginary == 1  # -0.5 THz
    assert sel.n_soft == 1  # -0.05 THz, inside the tolerance but not positive
    assert sel.included.tolist() == [[False, False, False, True], [False, False, True, True]]


def test_acoustic_cutoff_is_top_of_three_lowest_bands():
    nu = np.array([[0, 0, 0, 3.0], [1.0, 1.5, 2.0, 4.0], [1.2, 2.5, 2.2, 4.5]])
    assert dk.acoustic_cutoff_THz(nu) == pytest.approx(2.5)


def test_kernels_validate_shapes():
    with pytest.raises(ValueError, match="eigenvectors shape"):
        dk.thermal_displacement_tensors_A2(np.ones((2, 3)), np.ones((2, 6, 3)), [1.0], 300,
                                           np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="temperature_K"):
        dk.thermal_displacement_tensors_A2(np.ones((1, 3)), np.ones((1, 3, 3)), [1.0], -1,
                                           np.ones((1, 3), bool))


def test_commensurate_points_of_the_spring_lattice():
    from mlkit.phonons.properties import commensurate_qpoints

    ph = spring_lattice(n=4)
    q = commensurate_qpoints(ph)
    assert len(q) == 64
    assert np.allclose(np.sort(np.unique(np.round(q[:, 0] % 1, 6))), [0, 0.25, 0.5, 0.75])
    # the force constants reproduce the analytic dispersion exactly there
    s = sample_modes(ph, q)
    np.testing.assert_allclose(s.frequencies_THz[:, 0], analytic_nu_THz(q, 2.0, 23.0),
                               atol=1e-6)
