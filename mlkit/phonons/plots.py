"""Phonon plots: DOS with the mobile-ion projection; bands coloured by mobile-ion MSD.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, no backend
switch): ``fig.savefig(path)`` works under any backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlkit.phonons import descriptors as dk

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mlkit.phonons.force_constants import PhononModel
    from mlkit.phonons.properties import PhononDescriptors
    from mlkit.phonons.settings import PhononSettings

__all__ = ["gaussian_dos", "plot_band_structure", "plot_dos"]


def gaussian_dos(frequencies_THz: np.ndarray, weights: np.ndarray, grid_THz: np.ndarray,
                 sigma_THz: float = 0.1) -> np.ndarray:
    """Gaussian-smeared density of states on ``grid_THz`` (integrates to ``weights.sum()``)."""
    f = np.asarray(frequencies_THz, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    g = np.asarray(grid_THz, dtype=float)
    out = np.zeros_like(g)
    for start in range(0, len(f), 20000):
        d = (g[None, :] - f[start:start + 20000, None]) / sigma_THz
        out += (w[start:start + 20000, None] * np.exp(-0.5 * d**2)).sum(axis=0)
    return out / (sigma_THz * np.sqrt(2 * np.pi))


def plot_dos(result: PhononDescriptors, mobile_ion: str = "Na", sigma_THz: float = 0.1) -> Figure:
    """Total DOS and the mobile ion's partial DOS (per primitive cell, states/THz)."""
    from matplotlib.figure import Figure

    mesh = result.mesh
    nu = mesh.frequencies_THz
    qw = np.broadcast_to(mesh.weights[:, None], nu.shape)
    symbols_mask = result.mobile_mask
    grid = np.linspace(min(0.0, nu.min()) - 0.5, nu.max() + 0.5, 600)
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    ax.plot(grid, gaussian_dos(nu, qw, grid, sigma_THz), color="0.3", lw=1.2, label="total")
    if symbols_mask is not None:
        w = dk.projected_weights(mesh.eigenvectors, symbols_mask) * qw
        ax.fill_between(grid, gaussian_dos(nu, w, grid, sigma_THz), color="tab:orange",
                        alpha=0.6, label=f"{mobile_ion} partial")
    cut = result.row.get("ph_acoustic_cutoff_THz")
    if cut is not None:
        ax.axvline(cut, color="tab:blue", ls="--", lw=1, label="acoustic cutoff")
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("frequency (THz)")
    ax.set_ylabel("DOS (states / THz / cell)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plot_band_structure(result: PhononDescriptors, model: PhononModel,
                        settings: PhononSettings) -> Figure:
    """Bands along the seekpath path, points coloured by each mode's mobile-ion MSD."""
    from matplotlib.figure import Figure

    band = result.band
    if band is None or result.band_distances is None:
        raise ValueError("no band path in this result")
    masses = np.asarray(model.phonon.primitive.masses, dtype=float)
    mask = np.array([s == settings.mobile_ion for s in model.phonon.primitive.symbols])
    sel = dk.select_modes(band.frequencies_THz, band.gamma_mask, settings.freq_min_THz,
                          settings.imaginary_tolerance_THz)
    msd = dk.mode_msd_A2(band.frequencies_THz, band.eigenvectors, masses, mask,
                         settings.temperatures_K[0], sel.included)
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    x = np.repeat(result.band_distances[:, None], band.frequencies_THz.shape[1], axis=1)
    from matplotlib.colors import LogNorm

    order = np.argsort(msd.ravel())
    top = max(float(np.percentile(msd, 99)), 1e-12)
    # the acoustic modes near Gamma diverge as 1/nu: a log scale keeps the rest visible
    sc = ax.scatter(x.ravel()[order], band.frequencies_THz.ravel()[order],
                    c=np.clip(msd.ravel()[order], top * 1e-3, None), s=3, cmap="viridis",
                    norm=LogNorm(vmin=top * 1e-3, vmax=top))
    fig.colorbar(sc, ax=ax, label=f"{settings.mobile_ion} MSD per mode at "
                                  f"{settings.temperatures_K[0]:g} K (A$^2$)")
    for d, _ in result.band_labels:
        ax.axvline(d, color="0.7", lw=0.5)
    ax.set_xticks([d for d, _ in result.band_labels])
    ax.set_xticklabels([("$\\Gamma$" if lab == "GAMMA" else lab) for _, lab in result.band_labels],
                       fontsize=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlim(0, result.band_distances.max())
    ax.set_ylabel("frequency (THz)")
    fig.tight_layout()
    return fig
