from __future__ import annotations

import numpy as np
import pytest

from mlkit.analysis import (
    diffusivity_block_average,
    diffusivity_from_msd,
    drift_correct,
    msd_by_species,
    msd_fft,
    msd_single_origin,
    nernst_einstein_conductivity,
)
from mlkit.errors import MlkitError


def test_msd_fft_equals_brute_force():
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(size=(57, 4, 3)), axis=0)
    fast = msd_fft(x)
    n = len(x)
    brute = np.stack([((x[m:] - x[: n - m]) ** 2).mean(axis=0) for m in range(n)])
    assert np.allclose(fast, brute, atol=1e-9)
    # block processing gives the same
    assert np.allclose(msd_fft(x, block_atoms=1), brute, atol=1e-9)


def test_msd_fft_matches_pymatgen_kernel():
    from pymatgen.analysis.diffusion.analyzer import _msd_from_positions_fft

    rng = np.random.default_rng(2)
    x = np.cumsum(rng.normal(size=(200, 5, 3)), axis=0)
    theirs = _msd_from_positions_fft(np.transpose(x, (1, 0, 2)))  # (atoms, frames, 3)
    assert np.allclose(msd_fft(x), np.transpose(theirs, (1, 0, 2)), atol=1e-8)


def test_random_walk_recovers_known_d(synth):
    d_true = 0.05  # A^2/ps = 5e-6 cm^2/s
    dt_ps = 0.05
    x = synth.random_walk(2000, 1000, d_true, dt_ps, seed=3)
    res = msd_by_species(x, ["Na"] * 1000, dt_ps * 1000)
    fit = diffusivity_from_msd(res.lag_ps, res.total("Na"))
    d_est = fit.diffusivity_cm2_s / 1e-4
    assert abs(d_est / d_true - 1) < 0.04, d_est
    # per-direction fits (d = 1) also recover D
    for k in range(3):
        dk = diffusivity_from_msd(res.lag_ps, res.msd_A2["Na"][:, k], dim=1).diffusivity_cm2_s
        assert abs(dk / 1e-4 / d_true - 1) < 0.06


def test_block_average_error_is_calibrated(synth):
    """Over many seeds, the block error should match the scatter of D estimates."""
    d_true, dt_ps = 0.1, 0.1
    ests, errs = [], []
    for seed in range(40):
        x = synth.random_walk(1000, 8, d_true, dt_ps, seed=100 + seed)
        fit, blocks = diffusivity_block_average(x, dt_ps * 1000, n_blocks=5)
        assert blocks.shape == (5,)
        assert fit.err_method == "block"
        ests.append(fit.diffusivity_cm2_s / 1e-4)
        errs.append(fit.diffusivity_err_cm2_s / 1e-4)
    ests, errs = np.array(ests), np.array(errs)
    assert abs(ests.mean() / d_true - 1) < 0.05
    ratio = np.median(errs) / ests.std(ddof=1)
    assert 0.5 < ratio < 2.0, ratio
    z = np.abs(ests - d_true) / errs
    assert np.mean(z < 2) > 0.75


def test_drift_correction_removes_common_translation(synth):
    rng = np.random.default_rng(4)
    n = 500
    drift = np.cumsum(rng.normal(scale=0.3, size=(n, 1, 3)), axis=0)
    framework = rng.normal(scale=0.1, size=(n, 6, 3)) + drift
    mobile = synth.random_walk(n, 4, 0.1, 0.01, seed=5) + drift
    x = np.concatenate([framework, mobile], axis=1)
    species = ["Cl"] * 6 + ["Na"] * 4
    mask = np.array([True] * 6 + [False] * 4)
    xc = drift_correct(x, mask)
    fm = framework.mean(axis=1, keepdims=True)
    assert np.allclose(xc[:, 6:], mobile - (fm - fm[:1]), atol=1e-9)
    # the common drift is gone up to the framework's own vibrational noise
    assert np.abs(xc[:, 6:] - (mobile - drift + drift[:1])).max() < 0.3
    raw = msd_by_species(x, species, 10.0)
    corr = msd_by_species(x, species, 10.0, framework_mask=mask)
    assert raw.total("Cl")[-50] > 10 * corr.total("Cl")[-50]
    assert corr.total("Cl")[n // 2] < 0.1


def test_single_origin_msd():
    x = np.arange(10, dtype=float)[:, None, None] * np.ones((1, 2, 3))
    m = msd_single_origin(x)
    assert np.allclose(m[:, 0, 0], np.arange(10) ** 2)


def test_nernst_einstein_units():
    # n = 1 ion / 1000 A^3 = 1e21 cm^-3, D = 1e-5 cm^2/s, T = 300 K, q = e
    sigma = nernst_einstein_conductivity(1e-5, 1, 1000.0, 300.0, 1.0)
    expected = 1e21 * (1.602176634e-19) ** 2 * 1e-5 / (1.380649e-23 * 300) * 1000
    assert sigma == pytest.approx(expected, rel=1e-12)
    assert sigma == pytest.approx(61.98, rel=1e-3)  # mS/cm
    # charge enters squared
    assert nernst_einstein_conductivity(1e-5, 1, 1000.0, 300.0, 2.0) == pytest.approx(4 * sigma)


def test_bad_inputs_raise_one_line_errors():
    with pytest.raises(MlkitError, match="positions"):
        msd_by_species(np.zeros((10, 3)), ["Na"] * 3, 1.0)
    with pytest.raises(MlkitError, match="species"):
        msd_by_species(np.zeros((10, 3, 3)), ["Na"] * 2, 1.0)
    with pytest.raises(MlkitError, match="NaN"):
        msd_by_species(np.full((10, 1, 3), np.nan), ["Na"], 1.0)
    with pytest.raises(MlkitError, match="fit window"):
        diffusivity_from_msd(np.arange(10.0), np.arange(10.0), start_fraction=0.6,
                             end_fraction=0.5)
    with pytest.raises(MlkitError, match="temperature_K"):
        nernst_einstein_conductivity(1e-5, 1, 100.0, -5.0)


def test_random_walk_msd_covariance_model():
    """The GLS covariance model against the empirical covariance of 1-D walks."""
    from mlkit.analysis.diffusion import random_walk_msd_covariance

    rng = np.random.default_rng(8)
    n, reps = 200, 6000
    x = np.cumsum(rng.normal(size=(n, reps, 1)), axis=0)  # s^2 = 1
    msd = msd_fft(x)[:, :, 0]  # (lags, reps)
    lags = np.array([5, 10, 20, 40])
    emp = np.cov(msd[lags])
    model = 2 * random_walk_msd_covariance(lags, n)
    assert np.allclose(np.diag(emp) / np.diag(model), 1.0, atol=0.15)
    assert np.allclose(emp / model, 1.0, atol=0.2)


def test_gls_more_precise_than_ols_and_calibrated(synth):
    from mlkit.analysis import diffusivity_gls

    d_true, dt_ps, n_w = 0.1, 0.1, 16
    ols, gls, z = [], [], []
    for seed in range(30):
        x = synth.random_walk(1000, n_w, d_true, dt_ps, seed=300 + seed)
        m = msd_fft(x).mean(axis=1).sum(axis=1)
        lag = np.arange(1000) * dt_ps
        ols.append(diffusivity_from_msd(lag, m).diffusivity_cm2_s / 1e-4)
        g = diffusivity_gls(lag, m, n_w)
        assert g.err_method == "gls"
        gls.append(g.diffusivity_cm2_s / 1e-4)
        z.append((g.diffusivity_cm2_s / 1e-4 - d_true) / (g.diffusivity_err_cm2_s / 1e-4))
    ols, gls, z = np.array(ols), np.array(gls), np.array(z)
    assert abs(gls.mean() / d_true - 1) < 0.04
    assert gls.std() < 0.8 * ols.std()  # GLS is the more efficient estimator
    assert 0.4 < z.std() < 1.3  # errors calibrated or conservative
    assert np.mean(np.abs(z) < 2) > 0.85
    # a non-diffusing (vibrating) set of atoms: slope ~ 0 within a residual-based error
    vib = np.random.default_rng(1).normal(scale=0.3, size=(1000, n_w, 3))
    mv = msd_fft(vib).mean(axis=1).sum(axis=1)
    gv = diffusivity_gls(np.arange(1000) * dt_ps, mv, n_w)
    assert abs(gv.diffusivity_cm2_s) < 3 * gv.diffusivity_err_cm2_s + 1e-9
