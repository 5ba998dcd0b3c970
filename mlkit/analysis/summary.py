"""One label row from one trajectory: :func:`analyze_trajectory`.

Array-based on purpose (no dependency on the MD store): the MD/labels layer
reads a trajectory and passes arrays. Units are in the keys of the returned dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlkit.analysis.coupling import cation_anion_coupling
from mlkit.analysis.diffusion import (
    default_charge,
    diffusivity_block_average,
    diffusivity_from_msd,
    diffusivity_gls,
    nernst_einstein_conductivity,
)
from mlkit.analysis.framework import category, framework_cation_mask, framework_melting_test
from mlkit.analysis.hops import hop_events
from mlkit.analysis.msd import drift_correct, msd_fft, species_masses
from mlkit.analysis.reorientation import (
    center_ligand_vectors,
    orientation_density,
    reorientation_acf,
    reorientation_jumps,
    unit_vectors,
)
from mlkit.analysis.spectra import (
    angular_velocities,
    autocorrelation_fft,
    finite_difference_velocities,
    power_spectrum,
    spectral_center,
)
from mlkit.errors import MlkitError

__all__ = ["analyze_trajectory", "expected_end_acf", "spectral_overlap"]


def expected_end_acf(
    lag_ps: np.ndarray,
    acf: np.ndarray,
    *,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
    floor: float = 0.05,
) -> float:
    """Expected C(t_end) from a line fitted to ln C over a lag window.

    Exact for an exponential decay and for a plateau; uses the time-origin
    averaged C(t) only where it is well sampled (lags <= end_fraction * T).
    Points with C <= ``floor`` are left out of the log fit; if fewer than 3
    remain, C has decayed already and the window-end value is returned.

    Parameters
    ----------
    lag_ps, acf : arrays of shape (n_lags,)

    Returns
    -------
    float
    """
    n = len(acf)
    i0 = int(round(start_fraction * (n - 1)))
    i1 = int(round(end_fraction * (n - 1))) + 1
    t, c = np.asarray(lag_ps)[i0:i1], np.asarray(acf)[i0:i1]
    ok = c > floor
    if ok.sum() < 3:
        return float(c[-1]) if len(c) else float("nan")
    slope, intercept = np.polyfit(t[ok], np.log(c[ok]), 1)
    return float(np.exp(slope * lag_ps[-1] + intercept))


def spectral_overlap(
    freq_THz: np.ndarray, s1: np.ndarray, s2: np.ndarray, *, max_freq_THz: float = 8.0
) -> float:
    """Overlap integral of two spectra, each normalised to unit area on [0, max_freq].

    Returns int min(s1_n, s2_n) d nu in [0, 1] (1 = identical shapes).
    """
    keep = np.asarray(freq_THz) <= max_freq_THz
    a = np.clip(np.asarray(s1)[keep], 0, None)
    b = np.clip(np.asarray(s2)[keep], 0, None)
    if a.sum() <= 0 or b.sum() <= 0:
        return float("nan")
    a, b = a / a.sum(), b / b.sum()
    return float(np.minimum(a, b).sum())


def _check_inputs(positions_A, species, cell_A, frame_interval_fs, temperature_K,
                  velocities_A_fs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(positions_A, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise MlkitError(f"positions_A: expected (n_frames, n_atoms, 3), got {x.shape}")
    if x.shape[0] < 20:
        raise MlkitError(f"positions_A: {x.shape[0]} frames, need >= 20 for an MSD fit")
    if not np.all(np.isfinite(x)):
        raise MlkitError("positions_A: contains NaN or inf")
    if len(species) != x.shape[1]:
        raise MlkitError(f"species: {len(species)} symbols for {x.shape[1]} atoms")
    if not (np.isfinite(frame_interval_fs) and frame_interval_fs > 0):
        raise MlkitError(f"frame_interval_fs must be > 0, got {frame_interval_fs}")
    if not (np.isfinite(temperature_K) and temperature_K > 0):
        raise MlkitError(f"temperature_K must be > 0, got {temperature_K}")
    cell = np.asarray(cell_A, dtype=np.float64)
    if cell.shape not in ((3, 3), (x.shape[0], 3, 3)):
        raise MlkitError(f"cell_A: expected (3, 3) or ({x.shape[0]}, 3, 3), got {cell.shape}")
    vols = np.abs(np.linalg.det(cell))
    if np.any(vols <= 1e-6):
        raise MlkitError("cell_A: singular cell (zero volume)")
    # wrapped input (atoms jumping by a lattice vector) would silently ruin every MSD
    inv = np.linalg.inv(cell if cell.ndim == 3 else cell[None])
    frac_step = np.einsum("tnk,tkj->tnj", np.diff(x, axis=0),
                          np.broadcast_to(inv[-1:] if len(inv) == 1 else inv[1:],
                                          (x.shape[0] - 1, 3, 3)))
    big = np.abs(frac_step) > 0.5
    if big.any():
        t, i, _ = np.argwhere(big)[0]
        raise MlkitError(
            f"positions_A: atom {i} jumps by more than half a cell between frames {t} and "
            f"{t + 1}; positions look wrapped, pass unwrapped positions"
        )
    v = None
    if velocities_A_fs is not None:
        v = np.asarray(velocities_A_fs, dtype=np.float64)
        if v.shape != x.shape:
            raise MlkitError(f"velocities_A_fs: shape {v.shape} differs from positions {x.shape}")
    return x, cell, v


def analyze_trajectory(
    positions_A: np.ndarray,
    species: Sequence[str],
    cell_A: np.ndarray,
    frame_interval_fs: float,
    temperature_K: float,
    rotor_centers: Sequence[int] | np.ndarray = (),
    rotor_ligands: Sequence[Sequence[int] | np.ndarray] = (),
    mobile_ion: str = "Na",
    velocities_A_fs: np.ndarray | None = None,
    charge_e: float | None = None,
    *,
    melt_threshold_A2: float = 2.0,
    diffusion_threshold_A2: float = 5.0,
    rotation_threshold: float = 0.9,
    hop_a_A: float = 3.8,
    hop_residence_ps: float = 3.0,
    hop_window_ps: float = 9.0,
    jump_threshold_deg: float = 70.0,
    jump_smoothing_fs: float = 200.0,
    fit_start_fraction: float = 0.1,
    fit_end_fraction: float = 0.5,
    n_blocks: int = 5,
    framework_species: Sequence[str] | None = None,
    coupling_shell_cutoff_A: float | None = None,
    spectrum_max_freq_THz: float = 8.0,
    spectrum_max_lag_ps: float = 5.0,
    return_curves: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], dict[str, Any]]:
    """Turn one MD trajectory into one row of labels.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
        UNWRAPPED Cartesian positions, A.
    species : sequence of str of length n_atoms
    cell_A : array of shape (3, 3) or (n_frames, 3, 3)
        Lattice vectors as rows, A.
    frame_interval_fs : float
        Time between stored frames, fs.
    temperature_K : float
    rotor_centers : int array of shape (n_rotors,)
        Central atom of each polyanion (may be empty: no rotation analysis).
    rotor_ligands : sequence of n_rotors int arrays
        Ligand atom indices per polyanion.
    mobile_ion : str
        Diffusing species ("Na").
    velocities_A_fs : array of shape (n_frames, n_atoms, 3), optional
        Stored velocities, A/fs; None = central differences of positions
        (spectra then valid only below 1/(2 frame interval)).
    charge_e : float, optional
        Mobile-ion charge; default from :data:`mlkit.analysis.diffusion.DEFAULT_CHARGES_E`.
    melt_threshold_A2, diffusion_threshold_A2, rotation_threshold : float
        Paper thresholds: 2 A^2 (non-mobile cations), 5 A^2 (mobile ion), C(t_end) < 0.9.
    hop_a_A, hop_residence_ps, hop_window_ps : float
        h_i parameters a = 3.8 A, dt = 3 ps, t_a = 9 ps.
    jump_threshold_deg, jump_smoothing_fs : float
        Reorientation jumps (> 70 deg).
    fit_start_fraction, fit_end_fraction : float
        Lag window of the MSD/C(t) fits (fractions of the run).
    n_blocks : int
        Blocks for the block-averaging error of D (the regression error is used,
        ``diffusivity_err_method="ols"``, when the run has < 10 frames per block).
    framework_species : sequence of str, optional
        Override the species counted as non-mobile cations.
    coupling_shell_cutoff_A : float, optional
        First-shell radius for the coupling analysis.
    spectrum_max_freq_THz : float
        Upper limit for the spectral overlap (8 THz).
    spectrum_max_lag_ps : float
        Autocorrelations are truncated at min(T/2, this) before the Fourier
        transform (smoother spectra, resolution ~ 1/lag).
    return_curves : bool
        Also return the curves (MSD, C(t), spectra, rho) for plotting.

    Returns
    -------
    row : dict
        Label columns with units in the names (see docs/analysis.md).
    curves : dict
        Only when ``return_curves``.
    """
    x, cell, v = _check_inputs(positions_A, species, cell_A, frame_interval_fs,
                               temperature_K, velocities_A_fs)
    sp = np.asarray(species)
    mobile = np.nonzero(sp == mobile_ion)[0]
    if len(mobile) == 0:
        raise MlkitError(f"species: no {mobile_ion} atoms (mobile_ion={mobile_ion!r})")
    q = default_charge(mobile_ion) if charge_e is None else float(charge_e)
    centers = np.asarray(rotor_centers, dtype=int).ravel()
    ligands = [np.asarray(lig, dtype=int).ravel() for lig in rotor_ligands]
    n_frames = x.shape[0]
    dt_ps = frame_interval_fs / 1000.0
    lag = np.arange(n_frames) * dt_ps
    duration = float(lag[-1])
    volume = float(np.mean(np.abs(np.linalg.det(cell))))
    masses = species_masses(species)

    # --- MSD (drift-corrected against the centre of mass of all non-mobile atoms)
    non_mobile = sp != mobile_ion
    xc = drift_correct(x, non_mobile, masses) if non_mobile.any() else x
    per_atom = msd_fft(xc)
    msd_species = {s: per_atom[:, sp == s, :].mean(axis=1) for s in dict.fromkeys(species)}
    msd_mob = msd_species[mobile_ion].sum(axis=1)
    fit_kw = dict(start_fraction=fit_start_fraction, end_fraction=fit_end_fraction)
    d_gls = diffusivity_gls(lag, msd_mob, len(mobile), **fit_kw)
    d_ols = diffusivity_from_msd(lag, msd_mob, **fit_kw)
    block_err = float("nan")
    if n_blocks >= 2 and n_frames // n_blocks >= 10:
        block_err = diffusivity_block_average(xc[:, mobile], frame_interval_fs,
                                              n_blocks=n_blocks, **fit_kw)[0].diffusivity_err_cm2_s
    # Default D: OLS over the window with the block error (robust to a curved,
    # sub-diffusive MSD). GLS is reported alongside: more efficient for ideal
    # diffusion, but it leans on the short lags of the window.
    if np.isfinite(block_err):
        d_val, d_err, d_method = d_ols.diffusivity_cm2_s, block_err, "block"
    else:
        d_val, d_err, d_method = d_ols.diffusivity_cm2_s, d_ols.diffusivity_err_cm2_s, "ols"
    d_dir = [diffusivity_from_msd(lag, msd_species[mobile_ion][:, k], dim=1, **fit_kw)
             for k in range(3)]
    # expected end-point MSD from the OLS line (same estimator as the framework test)
    msd_mob_end = float(d_ols.msd_at(duration))
    msd_mob_endpoint = float(((xc[-1, mobile] - xc[0, mobile]) ** 2).sum(axis=-1).mean())
    sigma = nernst_einstein_conductivity(d_val, len(mobile), volume,
                                         temperature_K, q)
    sigma_err = nernst_einstein_conductivity(d_err, len(mobile), volume,
                                             temperature_K, q)

    # --- framework melting + polyanion integrity
    cmask = framework_cation_mask(species, mobile_ion, centers, ligands, framework_species)
    fw = framework_melting_test(
        x, frame_interval_fs, cmask, cell, drift_mask=non_mobile, drift_weights=masses,
        rotor_centers=centers, rotor_ligands=ligands, melt_threshold_A2=melt_threshold_A2,
        **fit_kw,
    )

    # --- reorientation
    nan = float("nan")
    lag_frac = min(0.5, spectrum_max_lag_ps / duration) if duration > 0 else 0.5
    curves: dict[str, Any] = {"lag_ps": lag, "msd_A2": msd_species}
    c_end = c_end_single = jump_rate = mean_jump = lib_center = overlap = nan
    n_jumps: int | float = nan
    rotates = False
    per_species: dict[str, float] = {}
    if len(centers):
        vec, rotor_index = center_ligand_vectors(x, centers, ligands, cell)
        u = unit_vectors(vec)
        c_t = reorientation_acf(u)
        c_end = expected_end_acf(lag, c_t, **fit_kw)
        centre_sp = sp[centers]
        if len(set(centre_sp.tolist())) > 1:  # several polyanion species: C(t) of each
            for csp in dict.fromkeys(centre_sp.tolist()):
                sel = np.isin(rotor_index, np.nonzero(centre_sp == csp)[0])
                per_species[f"c_t_end_{csp}"] = expected_end_acf(
                    lag, reorientation_acf(u[:, sel]), **fit_kw)
        c_end_single = float(np.mean(np.einsum("vk,vk->v", u[-1], u[0])))
        # a compound rotates when any of its polyanion species does
        rotates = bool(min([c_end, *per_species.values()]) < rotation_threshold)
        jumps = reorientation_jumps(u, rotor_index, frame_interval_fs,
                                    threshold_deg=jump_threshold_deg,
                                    smoothing_fs=jump_smoothing_fs)
        n_jumps = jumps.n_jumps
        jump_rate = jumps.rate_per_rotor_ps
        mean_jump = float(jumps.angles_deg.mean()) if jumps.n_jumps else nan
        omega = angular_velocities(u, rotor_index, frame_interval_fs)
        f_rot, s_rot = power_spectrum(autocorrelation_fft(omega), frame_interval_fs,
                                      max_lag_fraction=lag_frac)
        lib_center = spectral_center(f_rot, s_rot)
        rho, t_edges, p_edges = orientation_density(u)
        curves.update(c_t=c_t, freq_rot_THz=f_rot, spectrum_rot=s_rot, rho_per_sr=rho,
                      theta_edges_deg=t_edges, phi_edges_deg=p_edges)

    # --- hops
    hops = hop_events(xc[:, mobile], frame_interval_fs, a_A=hop_a_A,
                      residence_ps=hop_residence_ps, window_ps=hop_window_ps)
    hops_ok = len(hops.times_ps) > 0

    # --- coupling
    coup = cation_anion_coupling(x, cell, centers, ligands, mobile,
                                 shell_cutoff_A=coupling_shell_cutoff_A)

    # --- spectra of the mobile ion
    if v is None:
        vel = finite_difference_velocities(xc[:, mobile], frame_interval_fs)
        vsource = "finite_difference"
    else:
        vel = v[:, mobile]
        vsource = "md"
    f_na, s_na = power_spectrum(autocorrelation_fft(vel), frame_interval_fs,
                                max_lag_fraction=lag_frac)
    vdos_center = spectral_center(f_na, s_na)
    if len(centers):
        overlap = spectral_overlap(f_na, s_na, curves["spectrum_rot"],
                                   max_freq_THz=spectrum_max_freq_THz)
    curves.update(freq_mobile_THz=f_na, spectrum_mobile=s_na)

    diffuses = bool(msd_mob_end > diffusion_threshold_A2)
    row: dict[str, Any] = {
        "mobile_ion": mobile_ion,
        "temperature_K": float(temperature_K),
        "n_frames": int(n_frames),
        "frame_interval_fs": float(frame_interval_fs),
        "duration_ps": duration,
        "n_atoms": int(x.shape[1]),
        "n_mobile": int(len(mobile)),
        "n_rotors": int(len(centers)),
        "volume_A3": volume,
        "charge_e": q,
        "msd_mobile_A2": msd_mob_end,
        "msd_mobile_endpoint_A2": msd_mob_endpoint,
        "msd_framework_A2": fw.msd_framework_A2,
        "msd_framework_endpoint_A2": fw.msd_framework_endpoint_A2,
        "diffusivity_cm2_s": d_val,
        "diffusivity_err_cm2_s": d_err,
        "diffusivity_err_method": d_method,
        "diffusivity_gls_cm2_s": d_gls.diffusivity_cm2_s,
        "diffusivity_gls_err_cm2_s": d_gls.diffusivity_err_cm2_s,
        "diffusivity_ols_cm2_s": d_ols.diffusivity_cm2_s,
        "diffusivity_block_err_cm2_s": block_err,
        "diffusivity_x_cm2_s": d_dir[0].diffusivity_cm2_s,
        "diffusivity_y_cm2_s": d_dir[1].diffusivity_cm2_s,
        "diffusivity_z_cm2_s": d_dir[2].diffusivity_cm2_s,
        "fit_start_ps": d_ols.fit_start_ps,
        "fit_end_ps": d_ols.fit_end_ps,
        "conductivity_mS_cm": float(sigma),
        "conductivity_err_mS_cm": float(sigma_err),
        "c_t_end": c_end,
        "c_t_end_single_origin": c_end_single,
        "rotates": rotates,
        "diffuses": diffuses,
        "framework_melted": fw.framework_melted,
        "polyanions_intact": fw.polyanions_intact,
        "polyanion_intact_fraction": fw.polyanion_intact_fraction,
        "category": category(rotates, diffuses, fw.framework_melted),
        "n_hops": hops.n_hops if hops_ok else nan,
        "hop_rate_per_ion_ps": hops.rate_per_ion_ps,
        "n_reorientation_jumps": n_jumps,
        "rotation_rate_per_rotor_ps": jump_rate,
        "mean_jump_angle_deg": mean_jump,
        "coupling_pearson_mean": coup.mean,
        "coupling_n_events": coup.n_events,
        "vdos_center_mobile_THz": vdos_center,
        "libration_center_THz": lib_center,
        "spectral_overlap": overlap,
        "velocity_source": vsource,
    }
    row.update(per_species)
    if return_curves:
        curves["hop_h"] = hops.h
        curves["hop_times_ps"] = hops.times_ps
        curves["coupling_pearson"] = coup.pearson
        return row, curves
    return row
