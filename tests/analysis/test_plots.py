"""Analysis plots draw on Figure objects: PNGs written, the user's backend left alone."""

from __future__ import annotations

import matplotlib
import numpy as np

from mlkit.analysis.plots import plot_arrhenius, plot_msd, plot_orientation_density


def test_plots_write_png_without_switching_backend(tmp_path):
    lag = np.linspace(0.0, 10.0, 50)
    original = matplotlib.get_backend()
    matplotlib.use("svg")  # a user's choice that is not Agg
    try:
        paths = [
            plot_msd(lag, {"Na": 0.5 * lag, "Cl": np.c_[lag, lag, lag] * 0.01},
                     tmp_path / "msd.png", thresholds_A2={"diffusion": 5.0}),
            plot_orientation_density(np.random.default_rng(0).random((18, 36)),
                                     np.linspace(0, 180, 19), np.linspace(-180, 180, 37),
                                     tmp_path / "rho.png"),
            plot_arrhenius(np.array([600.0, 800.0, 1000.0]), np.array([1e-6, 1e-5, 4e-5]),
                           tmp_path / "arr.png"),
        ]
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(original)
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000
