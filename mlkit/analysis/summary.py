"""One label row from one trajectory: :func:`analyze_trajectory`.

Array-based on purpose (no dependency on the MD store): the MD/labels layer
reads a trajectory and passes arrays. Units are in the keys of the returned dict.

The analysis runs as steps, each a small function over one prepared trajectory
(:class:`PreparedTrajectory`) and the :class:`AnalysisSettings`:

1. :func:`prepare_trajectory` -- check the arrays, find the mobile ions, drift-correct;
2. :func:`hops_step` -- hop distance ``a`` (from the structure unless given), site hops
   (every hop, for hop frequencies and counting bounds) and long-lived h_i events;
3. :func:`diffusion_step` -- MSD, D (OLS, GLS, zero intercept, block error), sigma, and
   the MSD at the reference time with its interval (:mod:`mlkit.analysis.reference`);
4. :func:`framework_step` -- framework melting and polyanion integrity (two flags);
5. :func:`reorientation_step` -- C(t) overall and per rotor species, C at the reference
   time with its interval, jumps, libration spectrum, rho(theta, phi) per rotor;
6. :func:`coupling_step` -- cation-anion coupling, first shell from the RDF minimum;
7. :func:`spectra_step` -- mobile-ion vibrational spectrum and its overlap with libration;
8. :func:`assemble_row` -- the label row: values, intervals, decisions, categories.

Categories are evaluated at ``AnalysisSettings.reference_time_ps`` (the paper's 60 ps)
whatever the run length: ``category`` from the point estimates, ``category_decision``
from the intervals ("1", "2", "3", "1|2", "undecided", "excluded").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlkit.analysis.coupling import CouplingResult, cation_anion_coupling
from mlkit.analysis.diffusion import (
    default_charge,
    diffusivity_block_average,
    diffusivity_from_msd,
    diffusivity_gls,
    nernst_einstein_conductivity,
)
from mlkit.analysis.framework import (
    FrameworkTest,
    category,
    category_decision,
    exclusion_reason,
    framework_cation_mask,
    framework_melting_test,
)
from mlkit.analysis.hops import (
    HopEvents,
    SiteHops,
    first_shell_radius_A,
    hop_events,
    mobile_site_spacing_A,
    site_hops,
)
from mlkit.analysis.msd import drift_correct, msd_fft, species_masses
from mlkit.analysis.reference import (
    ReferenceValue,
    diffusivity_floor_cm2_s,
    msd_at_reference,
    per_item_acf,
    reorientation_at_reference,
)
from mlkit.analysis.reorientation import (
    center_groups,
    center_ligand_vectors,
    orientation_density,
    reorientation_acf,
    reorientation_jumps,
    rotor_center_positions,
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

__all__ = [
    "AnalysisSettings",
    "PreparedTrajectory",
    "analyze_trajectory",
    "assemble_row",
    "coupling_step",
    "diffusion_step",
    "expected_end_acf",
    "framework_step",
    "hops_step",
    "prepare_trajectory",
    "reference_rows",
    "reorientation_step",
    "spectra_step",
    "spectral_overlap",
]

NAN = float("nan")


@dataclass(frozen=True)
class AnalysisSettings:
    """How a trajectory becomes labels (the paper's thresholds and windows by default).

    Parameters
    ----------
    melt_threshold_A2, diffusion_threshold_A2, rotation_threshold : float
        Paper thresholds: 2 A^2 (non-mobile cations), 5 A^2 (mobile ion), C(t_end) < 0.9.
    reference_time_ps : float
        Time at which the criteria are evaluated (the paper's thresholds hold at 60 ps).
    confidence : float
        Two-sided level of the intervals (0.95).
    n_bootstrap : int
        Bootstrap resamples over rotors / mobile ions.
    hop_a_A : float, optional
        Hop distance a; default None = the mobile-ion site spacing of the first frame
        (:func:`mlkit.analysis.hops.mobile_site_spacing_A`; the paper's 3.8 A is NaNbCl6's).
    hop_residence_ps, hop_window_ps : float
        h_i parameters dt = 3 ps, t_a = 9 ps.
    site_hop_fraction : float
        A site hop is a move of this fraction of ``a`` (:func:`mlkit.analysis.hops.site_hops`).
    jump_threshold_deg, jump_smoothing_fs : float
        Reorientation jumps (> 70 deg).
    fit_start_fraction, fit_end_fraction : float
        Lag window of the MSD/C(t) fits (fractions of the run).
    n_blocks : int
        Blocks for the block-averaging error of D (the regression error is used,
        ``diffusivity_err_method="ols"``, when the run has < 10 frames per block).
    framework_species : tuple of str, optional
        Override the species counted as non-mobile cations.
    coupling_shell_cutoff_A : float, optional
        First-shell radius for the coupling analysis; default None = the first minimum
        of the centre-mobile-ion RDF (fallback: mean centre-ligand distance + 2.5 A).
    orientation_phi_axis : {"x", "y"}
        Azimuth reference of rho(theta, phi); "y" is the rotation paper's convention.
    diffusivity_fit : {"ols", "zero_intercept"}
        Which fit gives ``diffusivity_cm2_s`` (both are reported); the phonon paper
        fits the MSD through the origin.
    stability_msd_A2 : float, optional
        Drop rule of the phonon paper: ``excluded_unstable`` when the non-mobile atoms'
        MSD over the last ``stability_fraction`` of the run exceeds this (1 A^2 there).
    stability_fraction : float
        0.2 (the last 20 % of the run).
    rotor_species : tuple of str, optional
        Rotor species to analyse ("PS4", or a centre element "P"); None = every
        tetrahedral/octahedral polyanion and cluster. Read by :mod:`mlkit.labels.md` when it
        finds the rotors of a stored run (:func:`mlkit.structures.find_rotors`); the kernels
        here take the rotors as arguments.
    spectrum_max_freq_THz : float
        Upper limit for the spectral overlap (8 THz).
    spectrum_max_lag_ps : float
        Autocorrelations are truncated at min(T/2, this) before the Fourier
        transform (smoother spectra, resolution ~ 1/lag).
    """

    melt_threshold_A2: float = 2.0
    diffusion_threshold_A2: float = 5.0
    rotation_threshold: float = 0.9
    reference_time_ps: float = 60.0
    confidence: float = 0.95
    n_bootstrap: int = 400
    hop_a_A: float | None = None
    hop_residence_ps: float = 3.0
    hop_window_ps: float = 9.0
    jump_threshold_deg: float = 70.0
    jump_smoothing_fs: float = 200.0
    fit_start_fraction: float = 0.1
    fit_end_fraction: float = 0.5
    n_blocks: int = 5
    framework_species: tuple[str, ...] | None = None
    coupling_shell_cutoff_A: float | None = None
    spectrum_max_freq_THz: float = 8.0
    spectrum_max_lag_ps: float = 5.0
    site_hop_fraction: float = 0.75
    orientation_phi_axis: str = "x"
    diffusivity_fit: str = "ols"
    stability_msd_A2: float | None = None
    stability_fraction: float = 0.2
    rotor_species: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("framework_species", "rotor_species"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple([value] if isinstance(value, str)
                                                     else value))
        if self.diffusivity_fit not in ("ols", "zero_intercept"):
            raise MlkitError(f"diffusivity_fit must be 'ols' or 'zero_intercept', "
                             f"got {self.diffusivity_fit!r}")
        if not 0.0 < self.confidence < 1.0:
            raise MlkitError(f"confidence must be in (0, 1), got {self.confidence}")
        if not self.reference_time_ps > 0:
            raise MlkitError(f"reference_time_ps must be > 0, got {self.reference_time_ps}")
        if self.orientation_phi_axis not in ("x", "y"):
            raise MlkitError(f"orientation_phi_axis must be 'x' or 'y', "
                             f"got {self.orientation_phi_axis!r}")

    @classmethod
    def preset(cls, name: str, **changes: Any) -> AnalysisSettings:
        """Named settings: ``"rotation-paper"`` (the default values: C(60 ps) < 0.9, MSD
        at 60 ps > 5 A^2) or ``"phonon-paper"`` (D from a zero-intercept MSD fit, runs whose
        non-mobile atoms exceed 1 A^2 over the last 20 % dropped), then ``changes``.
        """
        presets: dict[str, dict[str, Any]] = {
            "rotation-paper": {},
            "phonon-paper": {"diffusivity_fit": "zero_intercept", "stability_msd_A2": 1.0,
                             "stability_fraction": 0.2},
        }
        if name not in presets:
            raise MlkitError(f"unknown analysis preset {name!r}; choose {', '.join(presets)}")
        return cls(**presets[name]).replace(**changes)

    def replace(self, **changes: Any) -> AnalysisSettings:
        """A copy with ``changes`` applied; unknown names raise ``TypeError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown analysis setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    @property
    def fit_window(self) -> dict[str, float]:
        """``start_fraction``/``end_fraction`` keywords of the MSD and C(t) fits."""
        return {"start_fraction": self.fit_start_fraction, "end_fraction": self.fit_end_fraction}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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


@dataclass(frozen=True)
class PreparedTrajectory:
    """A checked trajectory and what every step needs from it (output of step 1).

    Attributes
    ----------
    x : ndarray of shape (n_frames, n_atoms, 3)
        Unwrapped positions, A.
    xc : ndarray of shape (n_frames, n_atoms, 3)
        Positions drift-corrected against the centre of mass of the non-mobile atoms.
    cell : ndarray of shape (3, 3) or (n_frames, 3, 3)
    velocities : ndarray or None
    species : ndarray of str, shape (n_atoms,)
    mobile : ndarray of int
        Indices of the mobile ions.
    centers : list of int ndarray
        Centre atom(s) of each rotor (one for PS4; two for P2S6).
    ligands : list of int ndarray
        Ligand atoms of each rotor.
    rotor_labels : tuple of str
        Species label of each rotor ("PS4", "P2S6"; default the centre element).
    masses : ndarray of shape (n_atoms,)
    lag_ps : ndarray of shape (n_frames,)
    frame_interval_fs, temperature_K, charge_e, volume_A3 : float
    mobile_ion : str
    """

    x: np.ndarray
    xc: np.ndarray
    cell: np.ndarray
    velocities: np.ndarray | None
    species: np.ndarray
    mobile: np.ndarray
    centers: list[np.ndarray]
    ligands: list[np.ndarray]
    rotor_labels: tuple[str, ...]
    masses: np.ndarray
    lag_ps: np.ndarray
    frame_interval_fs: float
    temperature_K: float
    charge_e: float
    volume_A3: float
    mobile_ion: str

    @property
    def n_frames(self) -> int:
        return int(self.x.shape[0])

    @property
    def duration_ps(self) -> float:
        return float(self.lag_ps[-1])

    @property
    def non_mobile(self) -> np.ndarray:
        """Boolean mask of every atom that is not a mobile ion."""
        return self.species != self.mobile_ion

    def spectrum_lag_fraction(self, settings: AnalysisSettings) -> float:
        """Fraction of the run kept in the autocorrelations before the Fourier transform."""
        duration = self.duration_ps
        return min(0.5, settings.spectrum_max_lag_ps / duration) if duration > 0 else 0.5


def prepare_trajectory(
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
    rotor_labels: Sequence[str] | None = None,
) -> PreparedTrajectory:
    """Step 1: check the arrays and drift-correct (arguments as :func:`analyze_trajectory`)."""
    x, cell, v = _check_inputs(positions_A, species, cell_A, frame_interval_fs,
                               temperature_K, velocities_A_fs)
    sp = np.asarray(species)
    mobile = np.nonzero(sp == mobile_ion)[0]
    if len(mobile) == 0:
        raise MlkitError(f"species: no {mobile_ion} atoms (mobile_ion={mobile_ion!r})")
    masses = species_masses(species)
    non_mobile = sp != mobile_ion
    centers = center_groups(rotor_centers)
    if len(centers) != len(rotor_ligands):
        raise MlkitError(f"rotors: {len(centers)} centres but {len(rotor_ligands)} ligand lists")
    if rotor_labels is None:
        rotor_labels = ["".join(dict.fromkeys(sp[c].tolist())) for c in centers]
    if len(rotor_labels) != len(centers):
        raise MlkitError(f"rotor_labels: {len(rotor_labels)} labels for {len(centers)} rotors")
    return PreparedTrajectory(
        x=x,
        xc=drift_correct(x, non_mobile, masses) if non_mobile.any() else x,
        cell=cell,
        velocities=v,
        species=sp,
        mobile=mobile,
        centers=centers,
        ligands=[np.asarray(lig, dtype=int).ravel() for lig in rotor_ligands],
        rotor_labels=tuple(str(label) for label in rotor_labels),
        masses=masses,
        lag_ps=np.arange(x.shape[0]) * (frame_interval_fs / 1000.0),
        frame_interval_fs=frame_interval_fs,
        temperature_K=temperature_K,
        charge_e=default_charge(mobile_ion) if charge_e is None else float(charge_e),
        volume_A3=float(np.mean(np.abs(np.linalg.det(cell)))),
        mobile_ion=mobile_ion,
    )


@dataclass(frozen=True)
class Hops:
    """Output of :func:`hops_step`: the hop distance, site hops and h_i events."""

    hop_distance_A: float
    hop_distance_source: str  # "structure" | "settings"
    site: SiteHops
    events: HopEvents


def hops_step(tr: PreparedTrajectory, settings: AnalysisSettings,
              site_positions_A: np.ndarray | None = None) -> Hops:
    """Step 2: hop distance ``a``, every site hop, and the long-lived h_i events.

    ``a`` is ``settings.hop_a_A`` when given, else the mobile-ion site spacing of
    ``site_positions_A`` (the relaxed structure, shape (n_atoms, 3)), else of the first
    frame.
    """
    if settings.hop_a_A is not None:
        a, source = float(settings.hop_a_A), "settings"
    else:
        cell0 = tr.cell if tr.cell.ndim == 2 else tr.cell[0]
        sites = tr.x[0] if site_positions_A is None else np.asarray(site_positions_A)
        a = mobile_site_spacing_A(sites, cell0, tr.mobile)
        source = "first frame" if site_positions_A is None else "structure"
        if not np.isfinite(a):
            a, source = 3.8, "default"
    site = site_hops(tr.xc[:, tr.mobile], tr.frame_interval_fs, hop_distance_A=a,
                     threshold_fraction=settings.site_hop_fraction)
    events = hop_events(tr.xc[:, tr.mobile], tr.frame_interval_fs, a_A=a,
                        residence_ps=settings.hop_residence_ps,
                        window_ps=settings.hop_window_ps)
    return Hops(a, source, site, events)


def _zero_intercept_fit(lag_ps: np.ndarray, msd_A2: np.ndarray,
                        settings: AnalysisSettings) -> float:
    """D (cm^2/s) of ``MSD = 6 D t`` through the origin over the fit window."""
    from mlkit.analysis.diffusion import A2_PS_TO_CM2_S, fit_window

    sl = fit_window(len(lag_ps), settings.fit_start_fraction, settings.fit_end_fraction)
    t, y = lag_ps[sl], msd_A2[sl]
    return float((t @ y) / (t @ t) / 6.0 * A2_PS_TO_CM2_S) if (t @ t) > 0 else NAN


def diffusion_step(tr: PreparedTrajectory, settings: AnalysisSettings,
                   hops: Hops | None = None) -> dict[str, Any]:
    """Step 3: MSD per species, D of the mobile ion, sigma, and MSD at the reference time.

    Returns the diffusion columns of the row plus ``msd_species`` (curves), ``d_ols``
    (the fit, for its window) and ``reference`` (:class:`ReferenceValue`).
    """
    sp, mobile, xc, lag = tr.species, tr.mobile, tr.xc, tr.lag_ps
    fit_kw = settings.fit_window
    per_atom = msd_fft(xc)
    msd_species = {s: per_atom[:, sp == s, :].mean(axis=1) for s in dict.fromkeys(sp.tolist())}
    msd_mob = msd_species[tr.mobile_ion].sum(axis=1)
    d_gls = diffusivity_gls(lag, msd_mob, len(mobile), **fit_kw)
    d_ols = diffusivity_from_msd(lag, msd_mob, **fit_kw)
    d_zero = _zero_intercept_fit(lag, msd_mob, settings)
    block_err = NAN
    if settings.n_blocks >= 2 and tr.n_frames // settings.n_blocks >= 10:
        block_err = diffusivity_block_average(
            xc[:, mobile], tr.frame_interval_fs, n_blocks=settings.n_blocks, **fit_kw
        )[0].diffusivity_err_cm2_s
    # Default D: OLS over the window with the block error (robust to a curved,
    # sub-diffusive MSD). GLS is reported alongside: more efficient for ideal
    # diffusion, but it leans on the short lags of the window.
    d_head = d_zero if settings.diffusivity_fit == "zero_intercept" else d_ols.diffusivity_cm2_s
    if np.isfinite(block_err):
        d_val, d_err, d_method = d_head, block_err, "block"
    else:
        d_val, d_err, d_method = d_head, d_ols.diffusivity_err_cm2_s, "ols"
    d_dir = [diffusivity_from_msd(lag, msd_species[tr.mobile_ion][:, k], dim=1, **fit_kw)
             for k in range(3)]
    n_mob = len(mobile)
    reference = msd_at_reference(
        lag, per_atom[:, mobile, :].sum(axis=-1), t_ref_ps=settings.reference_time_ps,
        threshold_A2=settings.diffusion_threshold_A2,
        n_hops=None if hops is None else hops.site.n_hops,
        hop_distance_A=None if hops is None else hops.hop_distance_A,
        confidence=settings.confidence, n_boot=settings.n_bootstrap,
        start_fraction=settings.fit_start_fraction, end_fraction=settings.fit_end_fraction)
    floor = (diffusivity_floor_cm2_s(hops.hop_distance_A, n_mob, tr.duration_ps,
                                     settings.confidence) if hops is not None else NAN)
    return {
        "msd_species": msd_species,
        "d_ols": d_ols,
        "reference": reference,
        # expected end-point MSD from the OLS line (same estimator as the framework test)
        "msd_mobile_A2": float(d_ols.msd_at(tr.duration_ps)),
        "msd_mobile_endpoint_A2": float(((xc[-1, mobile] - xc[0, mobile]) ** 2)
                                        .sum(axis=-1).mean()),
        "diffusivity_cm2_s": d_val,
        "diffusivity_err_cm2_s": d_err,
        "diffusivity_err_method": d_method,
        "diffusivity_fit": settings.diffusivity_fit,
        "diffusivity_gls_cm2_s": d_gls.diffusivity_cm2_s,
        "diffusivity_gls_err_cm2_s": d_gls.diffusivity_err_cm2_s,
        "diffusivity_ols_cm2_s": d_ols.diffusivity_cm2_s,
        "diffusivity_zero_intercept_cm2_s": d_zero,
        "diffusivity_block_err_cm2_s": block_err,
        "diffusivity_low_cm2_s": reference.rate_low,
        "diffusivity_high_cm2_s": reference.rate_high,
        "diffusivity_floor_cm2_s": floor,
        "diffusivity_measurable": bool(np.isfinite(floor) and d_val > floor),
        "diffusivity_x_cm2_s": d_dir[0].diffusivity_cm2_s,
        "diffusivity_y_cm2_s": d_dir[1].diffusivity_cm2_s,
        "diffusivity_z_cm2_s": d_dir[2].diffusivity_cm2_s,
        "conductivity_mS_cm": float(nernst_einstein_conductivity(
            d_val, n_mob, tr.volume_A3, tr.temperature_K, tr.charge_e)),
        "conductivity_err_mS_cm": float(nernst_einstein_conductivity(
            d_err, n_mob, tr.volume_A3, tr.temperature_K, tr.charge_e)),
    }


def framework_step(tr: PreparedTrajectory, settings: AnalysisSettings) -> FrameworkTest:
    """Step 4: framework melting (non-mobile cations) and polyanion integrity."""
    cmask = framework_cation_mask(tr.species.tolist(), tr.mobile_ion, tr.centers, tr.ligands,
                                  settings.framework_species)
    return framework_melting_test(
        tr.x, tr.frame_interval_fs, cmask, tr.cell, drift_mask=tr.non_mobile,
        drift_weights=tr.masses, rotor_centers=tr.centers, rotor_ligands=tr.ligands,
        melt_threshold_A2=settings.melt_threshold_A2, **settings.fit_window,
    )


def stability_msd_A2(tr: PreparedTrajectory, fraction: float) -> float:
    """Mean MSD of the non-mobile atoms over the last ``fraction`` of the run (A^2).

    Positions drift-corrected; the MSD between the start and the end of that stretch
    (the phonon paper's drop rule).
    """
    k0 = int(round((1.0 - fraction) * (tr.n_frames - 1)))
    nm = tr.non_mobile
    if not nm.any() or k0 >= tr.n_frames - 1:
        return NAN
    d = tr.xc[-1, nm] - tr.xc[k0, nm]
    return float((d**2).sum(axis=-1).mean())


def reference_rows(refs: dict[str, ReferenceValue], prefix: str) -> dict[str, Any]:
    """Columns ``<prefix>_<label>``, ``_low``, ``_high``, ``_decision`` of per-label values."""
    out: dict[str, Any] = {}
    for label, ref in refs.items():
        out[f"{prefix}_{label}"] = ref.value
        out[f"{prefix}_{label}_low"] = ref.low
        out[f"{prefix}_{label}_high"] = ref.high
        out[f"{prefix}_{label}_decision"] = ref.decision
    return out


def _combine_rotation(refs: dict[str, ReferenceValue]) -> tuple[str, ReferenceValue | None]:
    """A compound rotates when any species does; the reported species is the fastest."""
    if not refs:
        return "", None
    decisions = [r.decision for r in refs.values()]
    label = min(refs, key=lambda k: refs[k].value if np.isfinite(refs[k].value) else np.inf)
    ref = refs[label]
    decision = ("yes" if "yes" in decisions else
                "no" if all(d == "no" for d in decisions) else "undecided")
    return label, dataclasses.replace(ref, decision=decision)


def reorientation_step(tr: PreparedTrajectory,
                       settings: AnalysisSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """Step 5: polyanion C(t), C at the reference time, jumps, libration, rho (NaN without rotors).

    Returns the reorientation columns (with ``c_t_ref_<label>`` per rotor species) and the
    curves (``c_t``, ``c_t_by_label``, ``rho_per_sr`` pooled and ``rho_per_rotor_per_sr``).
    """
    cols: dict[str, Any] = {
        "c_t_end": NAN, "c_t_end_single_origin": NAN, "rotates": False,
        "c_t_ref": NAN, "c_t_ref_low": NAN, "c_t_ref_high": NAN,
        "rotation_decision": "no", "rotation_species": "",
        "rotation_decay_rate_per_ps": NAN, "rotation_decay_rate_low_per_ps": NAN,
        "rotation_decay_rate_high_per_ps": NAN,
        "n_reorientation_jumps": NAN, "rotation_rate_per_rotor_ps": NAN,
        "mean_jump_angle_deg": NAN, "libration_center_THz": NAN,
    }
    if not len(tr.centers):
        return cols, {}
    fit_kw, lag = settings.fit_window, tr.lag_ps
    vec, rotor_index = center_ligand_vectors(tr.x, tr.centers, tr.ligands, tr.cell)
    u = unit_vectors(vec)
    c_t = reorientation_acf(u)
    c_end = expected_end_acf(lag, c_t, **fit_kw)
    jumps = reorientation_jumps(u, rotor_index, tr.frame_interval_fs,
                                threshold_deg=settings.jump_threshold_deg,
                                smoothing_fs=settings.jump_smoothing_fs)
    acf_r = per_item_acf(u, rotor_index)  # (n_rotors, n_frames)
    labels = np.asarray(tr.rotor_labels)
    refs: dict[str, ReferenceValue] = {}
    c_by_label: dict[str, np.ndarray] = {}
    for label in dict.fromkeys(labels.tolist()):
        rot = np.nonzero(labels == label)[0]
        refs[label] = reorientation_at_reference(
            lag, acf_r[rot], t_ref_ps=settings.reference_time_ps,
            threshold=settings.rotation_threshold,
            n_jumps=int(np.isin(jumps.rotors, rot).sum()),
            confidence=settings.confidence, n_boot=settings.n_bootstrap, **fit_kw)
        c_by_label[label] = acf_r[rot].mean(axis=0)
    species_label, ref = _combine_rotation(refs)
    omega = angular_velocities(u, rotor_index, tr.frame_interval_fs)
    f_rot, s_rot = power_spectrum(autocorrelation_fft(omega), tr.frame_interval_fs,
                                  max_lag_fraction=tr.spectrum_lag_fraction(settings))
    rho, t_edges, p_edges = orientation_density(u, phi_axis=settings.orientation_phi_axis)
    rho_rotor = np.stack([orientation_density(u[:, rotor_index == r],
                                              phi_axis=settings.orientation_phi_axis)[0]
                          for r in range(len(tr.centers))])
    assert ref is not None
    cols.update(
        c_t_end=c_end,
        c_t_end_single_origin=float(np.mean(np.einsum("vk,vk->v", u[-1], u[0]))),
        # point estimate at the reference time; a compound rotates when any species does
        rotates=bool(min(r.value for r in refs.values()) < settings.rotation_threshold),
        c_t_ref=ref.value, c_t_ref_low=ref.low, c_t_ref_high=ref.high,
        rotation_decision=ref.decision, rotation_species=species_label,
        rotation_decay_rate_per_ps=ref.rate, rotation_decay_rate_low_per_ps=ref.rate_low,
        rotation_decay_rate_high_per_ps=ref.rate_high,
        n_reorientation_jumps=jumps.n_jumps,
        rotation_rate_per_rotor_ps=jumps.rate_per_rotor_ps,
        mean_jump_angle_deg=float(jumps.angles_deg.mean()) if jumps.n_jumps else NAN,
        libration_center_THz=spectral_center(f_rot, s_rot),
    )
    if len(refs) > 1:  # several polyanion species: each one's C(t_ref) and decision
        cols.update(reference_rows(refs, "c_t_ref"))
        cols.update({f"c_t_end_{k}": expected_end_acf(lag, c, **fit_kw)
                     for k, c in c_by_label.items()})
    curves = dict(c_t=c_t, c_t_by_label=c_by_label, freq_rot_THz=f_rot, spectrum_rot=s_rot,
                  rho_per_sr=rho, rho_per_rotor_per_sr=rho_rotor, rotor_labels=tr.rotor_labels,
                  theta_edges_deg=t_edges, phi_edges_deg=p_edges)
    return cols, curves


def coupling_step(tr: PreparedTrajectory, settings: AnalysisSettings) -> CouplingResult:
    """Step 6: correlation of mobile-ion hops with anion motion.

    The first-shell radius is the first minimum of the centre-mobile-ion RDF (over at
    most 200 frames) unless ``settings.coupling_shell_cutoff_A`` is given; without a clear
    minimum the coupling kernel's default (ligand distance + 2.5 A) is used.
    """
    cutoff = settings.coupling_shell_cutoff_A
    if cutoff is None and len(tr.centers):
        stride = max(1, tr.n_frames // 200)
        cell0 = tr.cell if tr.cell.ndim == 2 else tr.cell[0]
        cpos = rotor_center_positions(tr.x[::stride], tr.centers, tr.cell if tr.cell.ndim == 2
                                      else tr.cell[::stride])
        r_min = first_shell_radius_A(cpos, tr.x[::stride, tr.mobile], cell0)
        cutoff = r_min if np.isfinite(r_min) else None
    return cation_anion_coupling(tr.x, tr.cell, tr.centers, tr.ligands, tr.mobile,
                                 shell_cutoff_A=cutoff)


def spectra_step(tr: PreparedTrajectory, settings: AnalysisSettings,
                 spectrum_rot: np.ndarray | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Step 6: mobile-ion vibrational spectrum (MD velocities, else finite differences).

    ``spectrum_rot`` is the libration spectrum of step 4 (None without rotors).
    """
    if tr.velocities is None:
        vel = finite_difference_velocities(tr.xc[:, tr.mobile], tr.frame_interval_fs)
        vsource = "finite_difference"
    else:
        vel = tr.velocities[:, tr.mobile]
        vsource = "md"
    f_na, s_na = power_spectrum(autocorrelation_fft(vel), tr.frame_interval_fs,
                                max_lag_fraction=tr.spectrum_lag_fraction(settings))
    overlap = NAN
    if spectrum_rot is not None:
        overlap = spectral_overlap(f_na, s_na, spectrum_rot,
                                   max_freq_THz=settings.spectrum_max_freq_THz)
    cols = {"vdos_center_mobile_THz": spectral_center(f_na, s_na), "spectral_overlap": overlap,
            "velocity_source": vsource}
    return cols, {"freq_mobile_THz": f_na, "spectrum_mobile": s_na}


def assemble_row(tr: PreparedTrajectory, settings: AnalysisSettings, diff: dict[str, Any],
                 fw: FrameworkTest, rot: dict[str, Any], hops: Hops,
                 coup: CouplingResult, spec: dict[str, Any]) -> dict[str, Any]:
    """Step 8: one label row; thresholds at the reference time -> booleans, decisions, category."""
    ref: ReferenceValue = diff["reference"]
    diffuses = bool(ref.value > settings.diffusion_threshold_A2)
    d_ols = diff["d_ols"]
    stab = stability_msd_A2(tr, settings.stability_fraction)
    rot_decision = rot["rotation_decision"] if len(tr.centers) else "no"
    row: dict[str, Any] = {
        "mobile_ion": tr.mobile_ion,
        "temperature_K": float(tr.temperature_K),
        "n_frames": tr.n_frames,
        "frame_interval_fs": float(tr.frame_interval_fs),
        "duration_ps": tr.duration_ps,
        "n_atoms": int(tr.x.shape[1]),
        "n_mobile": int(len(tr.mobile)),
        "n_rotors": int(len(tr.centers)),
        "rotor_species": ",".join(dict.fromkeys(tr.rotor_labels)),
        "volume_A3": tr.volume_A3,
        "charge_e": tr.charge_e,
        "reference_time_ps": settings.reference_time_ps,
        "confidence": settings.confidence,
        "msd_mobile_A2": diff["msd_mobile_A2"],
        "msd_mobile_endpoint_A2": diff["msd_mobile_endpoint_A2"],
        "msd_mobile_ref_A2": ref.value,
        "msd_mobile_ref_low_A2": ref.low,
        "msd_mobile_ref_high_A2": ref.high,
        "diffusion_decision": ref.decision,
        "msd_framework_A2": fw.msd_framework_A2,
        "msd_framework_endpoint_A2": fw.msd_framework_endpoint_A2,
        **{k: diff[k] for k in (
            "diffusivity_cm2_s", "diffusivity_err_cm2_s", "diffusivity_err_method",
            "diffusivity_fit", "diffusivity_low_cm2_s", "diffusivity_high_cm2_s",
            "diffusivity_floor_cm2_s", "diffusivity_measurable",
            "diffusivity_gls_cm2_s", "diffusivity_gls_err_cm2_s", "diffusivity_ols_cm2_s",
            "diffusivity_zero_intercept_cm2_s", "diffusivity_block_err_cm2_s",
            "diffusivity_x_cm2_s", "diffusivity_y_cm2_s", "diffusivity_z_cm2_s")},
        "fit_start_ps": d_ols.fit_start_ps,
        "fit_end_ps": d_ols.fit_end_ps,
        "conductivity_mS_cm": diff["conductivity_mS_cm"],
        "conductivity_err_mS_cm": diff["conductivity_err_mS_cm"],
        **{k: rot[k] for k in (
            "c_t_end", "c_t_end_single_origin", "c_t_ref", "c_t_ref_low", "c_t_ref_high",
            "rotation_species", "rotation_decay_rate_per_ps",
            "rotation_decay_rate_low_per_ps", "rotation_decay_rate_high_per_ps")},
        "rotation_decision": rot_decision,
        "rotates": rot["rotates"],
        "diffuses": diffuses,
        "framework_melted": fw.framework_melted,
        "polyanions_intact": fw.polyanions_intact,
        "polyanion_intact_fraction": fw.polyanion_intact_fraction,
        "excluded_reason": exclusion_reason(fw.framework_melted, fw.polyanions_intact),
        "category": category(rot["rotates"], diffuses, fw.framework_melted,
                             fw.polyanions_intact),
        "category_decision": category_decision(rot_decision, ref.decision,
                                               fw.framework_melted, fw.polyanions_intact),
        "stability_msd_A2": stab,
        "excluded_unstable": bool(settings.stability_msd_A2 is not None and np.isfinite(stab)
                                  and stab > settings.stability_msd_A2),
        "hop_distance_A": hops.hop_distance_A,
        "hop_distance_source": hops.hop_distance_source,
        "n_site_hops": hops.site.n_hops,
        "site_hop_rate_per_ion_ps": hops.site.rate_per_ion_ps,
        "site_hops_per_ion": " ".join(str(int(c)) for c in hops.site.counts),
        "n_hops": hops.events.n_hops if len(hops.events.times_ps) > 0 else NAN,
        "hop_rate_per_ion_ps": hops.events.rate_per_ion_ps,
        "n_reorientation_jumps": rot["n_reorientation_jumps"],
        "rotation_rate_per_rotor_ps": rot["rotation_rate_per_rotor_ps"],
        "mean_jump_angle_deg": rot["mean_jump_angle_deg"],
        "coupling_pearson_mean": coup.mean,
        "coupling_n_events": coup.n_events,
        "coupling_shell_cutoff_A": coup.shell_cutoff_A,
        "vdos_center_mobile_THz": spec["vdos_center_mobile_THz"],
        "libration_center_THz": rot["libration_center_THz"],
        "spectral_overlap": spec["spectral_overlap"],
        "velocity_source": spec["velocity_source"],
    }
    row.update({k: v for k, v in rot.items() if k.startswith(("c_t_end_", "c_t_ref_"))
                and k not in row})
    return row


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
    rotor_labels: Sequence[str] | None = None,
    site_positions_A: np.ndarray | None = None,
    settings: AnalysisSettings | None = None,
    return_curves: bool = False,
    **overrides: Any,
) -> dict[str, Any] | tuple[dict[str, Any], dict[str, Any]]:
    """Turn one MD trajectory into one row of labels (steps 1-7 of the module docstring).

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
    rotor_centers : int array of shape (n_rotors,), or a sequence of int arrays
        Central atom(s) of each polyanion (may be empty: no rotation analysis); several
        for a multi-centre group (P2S6, B10H10).
    rotor_ligands : sequence of n_rotors int arrays
        Ligand atom indices per polyanion.
    mobile_ion : str
        Diffusing species ("Na").
    velocities_A_fs : array of shape (n_frames, n_atoms, 3), optional
        Stored velocities, A/fs; None = central differences of positions
        (spectra then valid only below 1/(2 frame interval)).
    charge_e : float, optional
        Mobile-ion charge; default from :data:`mlkit.analysis.diffusion.DEFAULT_CHARGES_E`.
    rotor_labels : sequence of str, optional
        Species label of each rotor ("PS4"); C(t) and its decision are reported per label.
    site_positions_A : array of shape (n_atoms, 3), optional
        Positions of the relaxed structure (same atom order); the hop distance ``a`` is
        its mobile-ion site spacing (default: that of the first frame).
    settings : AnalysisSettings, optional
        Thresholds, fit windows and spectra settings (default: the paper's).
    return_curves : bool
        Also return the curves (MSD, C(t), spectra, rho) for plotting.
    **overrides
        Fields of :class:`AnalysisSettings` replacing those of ``settings``
        (e.g. ``rotation_threshold=0.5``; the keywords of earlier versions).

    Returns
    -------
    row : dict
        Label columns with units in the names (see docs/analysis.md).
    curves : dict
        Only when ``return_curves``.
    """
    settings = (settings or AnalysisSettings()).replace(**overrides)
    tr = prepare_trajectory(positions_A, species, cell_A, frame_interval_fs, temperature_K,
                            rotor_centers, rotor_ligands, mobile_ion, velocities_A_fs, charge_e,
                            rotor_labels)
    hops = hops_step(tr, settings, site_positions_A)
    diff = diffusion_step(tr, settings, hops)
    fw = framework_step(tr, settings)
    rot, rot_curves = reorientation_step(tr, settings)
    coup = coupling_step(tr, settings)
    spec, spec_curves = spectra_step(tr, settings, rot_curves.get("spectrum_rot"))
    row = assemble_row(tr, settings, diff, fw, rot, hops, coup, spec)
    if not return_curves:
        return row
    curves = {"lag_ps": tr.lag_ps, "msd_A2": diff["msd_species"], **rot_curves, **spec_curves,
              "hop_h": hops.events.h, "hop_times_ps": hops.events.times_ps,
              "site_hop_counts": hops.site.counts, "coupling_pearson": coup.pearson}
    return row, curves
