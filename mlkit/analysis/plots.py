"""PNG plots of analysis curves.

Each function takes arrays and an output path, writes one PNG and returns the path.
Figures are :class:`matplotlib.figure.Figure` objects (no pyplot state), so plotting
neither needs nor switches a matplotlib backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "plot_arrhenius",
    "plot_c_t",
    "plot_msd",
    "plot_orientation_density",
    "plot_spectra",
    "plot_trajectory_curves",
]


def _figure(figsize=(5.0, 3.6)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def plot_msd(
    lag_ps: np.ndarray,
    msd_A2: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    title: str = "",
    thresholds_A2: Mapping[str, float] | None = None,
) -> Path:
    """Total MSD per species against lag time.

    Parameters
    ----------
    lag_ps : array of shape (n_lags,)
    msd_A2 : mapping species -> array of shape (n_lags,) or (n_lags, 3)
        Per-direction arrays are summed.
    path : output PNG
    thresholds_A2 : mapping label -> value, optional
        Horizontal dashed lines (e.g. {"diffusion": 5, "melting": 2}).
    """
    fig, ax = _figure()
    for s, m in msd_A2.items():
        m = np.asarray(m)
        ax.plot(lag_ps, m.sum(axis=1) if m.ndim == 2 else m, label=s)
    for label, val in (thresholds_A2 or {}).items():
        ax.axhline(val, ls="--", lw=0.8, color="gray")
        ax.text(lag_ps[-1], val, label, ha="right", va="bottom", fontsize=7, color="gray")
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel(r"MSD ($\AA^2$)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_c_t(
    lag_ps: np.ndarray,
    c_t: np.ndarray,
    path: str | Path,
    *,
    threshold: float = 0.9,
    reference: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Reorientation autocorrelation C(t), with the rotation threshold.

    ``reference`` (same shape as ``c_t``) is drawn dashed, e.g. an analytic curve.
    """
    fig, ax = _figure()
    ax.plot(lag_ps, c_t, label="C(t)")
    if reference is not None:
        ax.plot(lag_ps, reference, "--", label="reference")
    ax.axhline(threshold, ls=":", color="r", lw=0.8, label=f"threshold {threshold}")
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("C(t)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_spectra(
    freq_THz: Mapping[str, np.ndarray] | np.ndarray,
    spectra: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    max_freq_THz: float = 20.0,
    title: str = "",
) -> Path:
    """Power spectra (each normalised to its maximum) against frequency in THz.

    ``freq_THz`` is one array shared by all spectra or a mapping with the same keys.
    """
    fig, ax = _figure()
    for name, s in spectra.items():
        f = freq_THz[name] if isinstance(freq_THz, Mapping) else freq_THz
        f, s = np.asarray(f), np.asarray(s)
        keep = f <= max_freq_THz
        peak = np.max(s[keep]) if keep.any() and np.max(s[keep]) > 0 else 1.0
        ax.plot(f[keep], s[keep] / peak, label=name)
    ax.set_xlabel("frequency (THz)")
    ax.set_ylabel("power (normalised)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_arrhenius(
    temperatures_K: Sequence[float] | np.ndarray,
    diffusivities_cm2_s: Sequence[float] | np.ndarray,
    path: str | Path,
    *,
    diffusivity_errs_cm2_s: Sequence[float] | np.ndarray | None = None,
    fit: Any | None = None,
    title: str = "",
    label: str = "MD",
) -> Path:
    """log10 D against 1000/T with an optional :class:`ArrheniusFit` line."""
    t = np.asarray(temperatures_K, dtype=float)
    d = np.asarray(diffusivities_cm2_s, dtype=float)
    fig, ax = _figure()
    yerr = None
    if diffusivity_errs_cm2_s is not None:
        e = np.asarray(diffusivity_errs_cm2_s, dtype=float)
        yerr = e / (d * np.log(10))
    ax.errorbar(1000.0 / t, np.log10(d), yerr=yerr, fmt="o", label=label)
    if fit is not None:
        tt = np.linspace(t.min() * 0.95, t.max() * 1.05, 50)
        dd = [fit.diffusivity(ti)[0] for ti in tt]
        ea, ea_err = fit.activation_energy_eV, fit.activation_energy_err_eV
        ax.plot(1000.0 / tt, np.log10(dd), "-", label=f"Ea = {ea:.3f} ± {ea_err:.3f} eV")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel(r"log$_{10}$ D (cm$^2$/s)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_orientation_density(
    rho_per_sr: np.ndarray,
    theta_edges_deg: np.ndarray,
    phi_edges_deg: np.ndarray,
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """Orientation density rho(theta, phi) (per steradian) as a colour map."""
    fig, ax = _figure((5.6, 3.6))
    mesh = ax.pcolormesh(phi_edges_deg, theta_edges_deg, rho_per_sr, shading="flat")
    fig.colorbar(mesh, ax=ax, label=r"$\rho$ (1/sr)")
    ax.set_xlabel(r"$\phi$ (deg)")
    ax.set_ylabel(r"$\theta$ (deg)")
    ax.invert_yaxis()
    ax.set_title(title)
    return _save(fig, path)


def plot_orientation_density_per_rotor(
    rho_per_rotor_per_sr: np.ndarray,
    theta_edges_deg: np.ndarray,
    phi_edges_deg: np.ndarray,
    path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    max_rotors: int = 8,
    title: str = "",
) -> Path:
    """rho(theta, phi) of each rotor (up to ``max_rotors`` panels): the spots pooling smears.

    ``rho_per_rotor_per_sr`` has shape (n_rotors, n_theta, n_phi).
    """
    import matplotlib.pyplot as plt

    rho = np.asarray(rho_per_rotor_per_sr)[:max_rotors]
    n = len(rho)
    cols = min(4, max(n, 1))
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    vmax = float(rho.max()) if n else 1.0
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.axis("off")
            continue
        mesh = ax.pcolormesh(phi_edges_deg, theta_edges_deg, rho[k], shading="flat",
                             vmin=0.0, vmax=vmax)
        ax.invert_yaxis()
        name = f"rotor {k}" + (f" ({labels[k]})" if labels is not None else "")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel(r"$\phi$ (deg)", fontsize=8)
        ax.set_ylabel(r"$\theta$ (deg)", fontsize=8)
    fig.colorbar(mesh, ax=axes.ravel().tolist(), label=r"$\rho$ (1/sr)")
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)


def plot_trajectory_curves(
    curves: Mapping[str, Any], out_dir: str | Path, prefix: str = ""
) -> list[Path]:
    """Write every plot available from ``analyze_trajectory(..., return_curves=True)``.

    Returns
    -------
    list of Path
        The PNGs written (msd, c_t, spectra, rho when rotors were given).
    """
    out = Path(out_dir)
    pre = f"{prefix}_" if prefix else ""
    paths = [plot_msd(curves["lag_ps"], curves["msd_A2"], out / f"{pre}msd.png", title=prefix)]
    spectra = {"mobile VACF": curves["spectrum_mobile"]}
    freqs = {"mobile VACF": curves["freq_mobile_THz"]}
    if "c_t" in curves:
        paths.append(plot_c_t(curves["lag_ps"], curves["c_t"], out / f"{pre}c_t.png",
                              title=prefix))
        paths.append(plot_orientation_density(curves["rho_per_sr"], curves["theta_edges_deg"],
                                              curves["phi_edges_deg"], out / f"{pre}rho.png",
                                              title=prefix))
        if "rho_per_rotor_per_sr" in curves:
            paths.append(plot_orientation_density_per_rotor(
                curves["rho_per_rotor_per_sr"], curves["theta_edges_deg"],
                curves["phi_edges_deg"], out / f"{pre}rho_per_rotor.png",
                labels=curves.get("rotor_labels"), title=prefix))
        spectra["polyanion angular velocity"] = curves["spectrum_rot"]
        freqs["polyanion angular velocity"] = curves["freq_rot_THz"]
    paths.append(plot_spectra(freqs, spectra, out / f"{pre}spectra.png", title=prefix))
    return paths
