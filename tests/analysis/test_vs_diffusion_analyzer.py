"""mlkit's MSD/D/sigma against pymatgen-analysis-diffusion's DiffusionAnalyzer (oracle).

Same trajectory for both: Na random walk (known D) in a real rock-salt NaCl 3x3x3
supercell whose Cl vibrate and whose whole cell drifts. DiffusionAnalyzer gets
wrapped pymatgen Structures (``from_structures``, it unwraps them itself);
mlkit gets the unwrapped Cartesian positions.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.analysis import diffusivity_from_msd, msd_by_species, nernst_einstein_conductivity

TIME_STEP_FS, STEP_SKIP = 2, 10
DT_FS = TIME_STEP_FS * STEP_SKIP
TEMPERATURE_K = 800.0


@pytest.fixture(scope="module")
def trajectory():
    rng = np.random.default_rng(11)
    prim = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    s0 = prim * (3, 3, 3)
    n_frames, n_atoms = 600, len(s0)
    is_na = np.array([sp.symbol == "Na" for sp in s0.species])
    d_true = 0.1  # A^2/ps
    steps = np.zeros((n_frames - 1, n_atoms, 3))
    steps[:, is_na] = rng.normal(scale=np.sqrt(2 * d_true * DT_FS / 1000),
                                 size=(n_frames - 1, is_na.sum(), 3))
    x = s0.cart_coords[None] + np.concatenate([np.zeros((1, n_atoms, 3)),
                                               np.cumsum(steps, axis=0)])
    x[:, ~is_na] += rng.normal(scale=0.1, size=(n_frames, (~is_na).sum(), 3))
    x += np.cumsum(rng.normal(scale=0.02, size=(n_frames, 1, 3)), axis=0)  # cell drift
    structures = [Structure(s0.lattice, s0.species, xt, coords_are_cartesian=True,
                            to_unit_cell=True) for xt in x]
    species = [sp.symbol for sp in s0.species]
    return x, species, structures, s0


def _analyzer(structures, smoothed):
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer

    return DiffusionAnalyzer.from_structures(structures, "Na", TEMPERATURE_K, TIME_STEP_FS,
                                             STEP_SKIP, smoothed=smoothed)


def test_matches_smoothed_false(trajectory):
    """Single time origin, OLS over all frames, equal-weight framework drift."""
    x, species, structures, s0 = trajectory
    da = _analyzer(structures, False)
    mask = np.array([s != "Na" for s in species])
    res = msd_by_species(x, species, DT_FS, framework_mask=mask, drift_weights="equal",
                         time_origin_average=False)
    msd = res.total("Na")
    assert np.allclose(msd, da.msd, rtol=1e-8, atol=1e-10)
    fit = diffusivity_from_msd(res.lag_ps, msd, window=slice(0, len(msd)))
    assert fit.diffusivity_cm2_s == pytest.approx(da.diffusivity, rel=1e-8)
    assert fit.diffusivity_err_cm2_s == pytest.approx(da.diffusivity_std_dev, rel=1e-6)
    sigma = nernst_einstein_conductivity(fit.diffusivity_cm2_s, int(mask.size - mask.sum()),
                                         s0.volume, TEMPERATURE_K, 1.0)
    assert sigma == pytest.approx(da.conductivity, rel=1e-6)


def test_matches_smoothed_max(trajectory):
    """Time-origin-averaged (FFT) MSD, DiffusionAnalyzer's lag grid and 1/t weights."""
    x, species, structures, _ = trajectory
    da = _analyzer(structures, "max")
    mask = np.array([s != "Na" for s in species])
    res = msd_by_species(x, species, DT_FS, framework_mask=mask, drift_weights="equal")
    n, n_na = len(x), int((~mask).sum())
    min_dt = int(1000 / DT_FS)
    max_dt = min(n_na * n // 30, n)
    window = slice(min_dt, max_dt, max(int((max_dt - min_dt) / 200), 1))
    assert np.allclose(res.total("Na")[window], da.msd, rtol=1e-8)
    fit = diffusivity_from_msd(res.lag_ps, res.total("Na"), window=window,
                               weighting="inverse_time")
    assert fit.diffusivity_cm2_s == pytest.approx(da.diffusivity, rel=1e-8)


def test_default_fits_agree_within_uncertainty(trajectory):
    """mlkit's default window [0.1, 0.5] T (OLS) vs DiffusionAnalyzer's default ("max").

    Different lag windows and weights see different noise, so on one finite run
    the two defaults agree only within the statistical error (block estimate);
    the exact agreement is shown above with matched choices.
    """
    from mlkit.analysis import diffusivity_block_average, drift_correct

    x, species, structures, _ = trajectory
    da = _analyzer(structures, "max")
    mask = np.array([s != "Na" for s in species])
    xc = drift_correct(x, mask)
    fit, _ = diffusivity_block_average(xc[:, ~mask], DT_FS)
    rel_err = fit.diffusivity_err_cm2_s / fit.diffusivity_cm2_s
    assert 0 < rel_err < 0.1
    assert abs(fit.diffusivity_cm2_s / da.diffusivity - 1) < 3 * rel_err
    assert abs(fit.diffusivity_cm2_s / 1e-5 - 1) < 3 * rel_err  # true D = 1e-5 cm^2/s
