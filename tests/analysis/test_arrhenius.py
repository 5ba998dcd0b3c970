from __future__ import annotations

import numpy as np
import pytest

from mlkit.analysis import fit_arrhenius, nernst_einstein_conductivity
from mlkit.analysis.arrhenius import KB_EV_K
from mlkit.errors import MlkitError


def test_exact_arrhenius_data_recovered():
    t = np.array([600.0, 800.0, 1000.0, 1200.0])
    ea, d0 = 0.24, 3e-3
    d = d0 * np.exp(-ea / (KB_EV_K * t))
    fit = fit_arrhenius(t, d)
    assert fit.activation_energy_eV == pytest.approx(ea, rel=1e-10)
    assert fit.d0_cm2_s == pytest.approx(d0, rel=1e-10)
    assert fit.activation_energy_err_eV == pytest.approx(0.0, abs=1e-10)
    d300, _ = fit.diffusivity(300.0)
    assert d300 == pytest.approx(d0 * np.exp(-ea / (KB_EV_K * 300)), rel=1e-9)


def test_noisy_arrhenius_errors_are_calibrated():
    """Relative D errors of 10 %: Ea error from the covariance matches the scatter."""
    rng = np.random.default_rng(0)
    t = np.array([500.0, 600.0, 700.0, 800.0, 900.0])
    ea, d0, rel = 0.30, 1e-3, 0.10
    d_true = d0 * np.exp(-ea / (KB_EV_K * t))
    eas, errs, zs, sig_z = [], [], [], []
    for _ in range(300):
        d = d_true * np.exp(rng.normal(scale=rel, size=t.size))
        fit = fit_arrhenius(t, d, diffusivity_errs_cm2_s=rel * d)
        assert fit.absolute_errors
        eas.append(fit.activation_energy_eV)
        errs.append(fit.activation_energy_err_eV)
        zs.append((fit.activation_energy_eV - ea) / fit.activation_energy_err_eV)
        # extrapolated sigma(300 K) with propagated error
        s, s_err = fit.conductivity(300.0, 16, 1500.0, 1.0)
        s_true = nernst_einstein_conductivity(d0 * np.exp(-ea / (KB_EV_K * 300)), 16, 1500.0,
                                              300.0)
        sig_z.append(np.log(s / s_true) / (s_err / s))
    eas, zs, sig_z = np.array(eas), np.array(zs), np.array(sig_z)
    assert abs(eas.mean() - ea) < 0.01
    assert np.std(zs) == pytest.approx(1.0, abs=0.15)
    assert np.std(sig_z) == pytest.approx(1.0, abs=0.15)
    # unweighted fit: residual-scaled covariance, also roughly calibrated
    d = d_true * np.exp(rng.normal(scale=rel, size=t.size))
    fit = fit_arrhenius(t, d)
    assert not fit.absolute_errors and fit.activation_energy_err_eV > 0


def test_arrhenius_bad_input():
    with pytest.raises(MlkitError, match="> 0"):
        fit_arrhenius([600, 800], [1e-5, 0.0])
    with pytest.raises(MlkitError, match=">= 2"):
        fit_arrhenius([600], [1e-5])
    with pytest.raises(MlkitError, match="distinct"):
        fit_arrhenius([600, 600], [1e-5, 2e-5])
    # two points: exact line, NaN uncertainty (not silently zero)
    fit = fit_arrhenius([600, 800], [1e-6, 1e-5])
    assert np.isnan(fit.activation_energy_err_eV)


def test_against_pymatgen_fit_arrhenius():
    from pymatgen.analysis.diffusion.analyzer import fit_arrhenius as pmg_fit

    rng = np.random.default_rng(1)
    t = np.array([600.0, 700.0, 800.0, 900.0, 1000.0])
    d = 2e-3 * np.exp(-0.25 / (KB_EV_K * t)) * np.exp(rng.normal(scale=0.1, size=5))
    ours = fit_arrhenius(t, d)
    ea, c, ea_std = pmg_fit(t, d)
    assert ours.activation_energy_eV == pytest.approx(ea, rel=1e-6)
    assert ours.d0_cm2_s == pytest.approx(c, rel=1e-6)
    assert ours.activation_energy_err_eV == pytest.approx(ea_std, rel=1e-3)


def test_arrhenius_summary_row_excludes_unmeasurable():
    from mlkit.analysis import arrhenius_summary

    t = np.array([500.0, 600.0, 800.0, 1000.0])
    d = 3e-3 * np.exp(-0.24 / (KB_EV_K * t))
    d[0] = 5e-9  # below 1e-8 cm^2/s: not measurable, left out
    row = arrhenius_summary(t, d, 0.1 * d, 16, 1500.0, 1.0)
    assert row["n_temperatures"] == 3 and row["n_excluded"] == 1
    assert row["activation_energy_eV"] == pytest.approx(0.24, rel=1e-9)
    d300 = 3e-3 * np.exp(-0.24 / (KB_EV_K * 300))
    assert row["diffusivity_300K_cm2_s"] == pytest.approx(d300, rel=1e-9)
    assert row["conductivity_300K_mS_cm"] == pytest.approx(
        nernst_einstein_conductivity(d300, 16, 1500.0, 300.0), rel=1e-9)
    assert row["conductivity_300K_err_mS_cm"] > 0
