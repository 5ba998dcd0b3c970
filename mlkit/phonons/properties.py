"""Descriptors of one structure from its force constants: meshes, band path, one row.

:func:`phonon_descriptors` samples phonopy's dynamical matrix on Gamma-centred meshes of
growing density until the mobile-ion MSD converges, and on a seekpath band path, and
reduces the modes with the kernels of :mod:`mlkit.phonons.descriptors` to one row of
numbers (THz, A^2). Column names do not contain the element: ``mobile`` is the mobile ion
named in the settings, ``host`` every other atom.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlkit.errors import MlkitError
from mlkit.phonons import descriptors as dk
from mlkit.phonons.force_constants import PhononModel
from mlkit.phonons.settings import PhononSettings

__all__ = ["ModeSample", "PhononDescriptors", "commensurate_qpoints", "gamma_centred_mesh",
           "mesh_numbers", "phonon_descriptors", "sample_modes"]


@dataclass
class ModeSample:
    """Modes at a set of q-points (see :mod:`mlkit.phonons.descriptors` for shapes)."""

    qpoints: np.ndarray
    frequencies_THz: np.ndarray
    eigenvectors: np.ndarray
    weights: np.ndarray
    gamma_mask: np.ndarray


@dataclass
class PhononDescriptors:
    """Result of :func:`phonon_descriptors`.

    Attributes
    ----------
    row : dict
        Scalar descriptors and their metadata (one label/feature row).
    mesh : ModeSample
        The converged mesh (for plots and further analysis).
    band : ModeSample or None
        The band path (None when seekpath is unavailable).
    band_labels : list
        ``(distance, label)`` ticks of the band path.
    band_distances : ndarray or None
        Path length of each band q-point (1/A, no 2 pi), for plotting.
    msd_ladder : list of tuple
        ``(mesh_length_A, n_q, mobile_msd_A2)`` for every mesh tried.
    mobile_mask : ndarray of bool
        Mobile-ion atoms of the primitive cell.
    """

    row: dict[str, Any]
    mesh: ModeSample
    band: ModeSample | None = None
    band_distances: np.ndarray | None = None
    band_labels: list[tuple[float, str]] = field(default_factory=list)
    msd_ladder: list[tuple[float, int, float]] = field(default_factory=list)
    mobile_mask: np.ndarray | None = None


def mesh_numbers(reciprocal_lattice_inv_A: np.ndarray, length_A: float) -> np.ndarray:
    """Phonopy's mesh from a length: ``n_i = max(1, round(L |b_i|))`` (``b`` without 2 pi)."""
    b = np.linalg.norm(np.asarray(reciprocal_lattice_inv_A, dtype=float), axis=1)
    return np.maximum(1, np.rint(length_A * b)).astype(int)


def gamma_centred_mesh(mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gamma-centred mesh reduced by time reversal, with weights summing to 1.

    ``q`` and ``-q`` have equal frequencies and complex-conjugate eigenvectors, so every
    quantity here (squared moduli, real parts of Hermitian products) is equal at both;
    one of each pair is kept with double weight.

    Returns
    -------
    qpoints : ndarray, shape (n_kept, 3)
    weights : ndarray, shape (n_kept,)
    """
    mesh = np.asarray(mesh, dtype=int)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in mesh], indexing="ij"), -1).reshape(-1, 3)
    partner = (-grid) % mesh
    index = np.ravel_multi_index(grid.T, mesh)
    partner_index = np.ravel_multi_index(partner.T, mesh)
    keep = index <= partner_index
    weights = np.where(index[keep] == partner_index[keep], 1.0, 2.0) / len(grid)
    q = grid[keep] / mesh
    return np.where(q > 0.5 + 1e-12, q - 1.0, q), weights


def commensurate_qpoints(phonon: Any) -> np.ndarray:
    """q-points of the primitive cell commensurate with the supercell, shape (n, 3).

    Only there are the frequencies exact consequences of the computed forces; elsewhere
    they are Fourier interpolations, which a small supercell can make imaginary.
    """
    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

    pmat = np.asarray(phonon.primitive_matrix, dtype=float)
    smat = np.linalg.inv(pmat) @ np.asarray(phonon.supercell_matrix, dtype=float)
    return get_commensurate_points(np.rint(smat).astype(int))


def sample_modes(phonon: Any, qpoints: np.ndarray, weights: np.ndarray | None = None,
                 chunk: int = 2000) -> ModeSample:
    """Frequencies (THz) and eigenvectors of ``phonon`` at ``qpoints`` (reduced, primitive)."""
    q = np.asarray(qpoints, dtype=float).reshape(-1, 3)
    freqs, vecs = [], []
    for start in range(0, len(q), chunk):
        phonon.run_qpoints(q[start:start + chunk], with_eigenvectors=True)
        freqs.append(np.asarray(phonon.qpoints.frequencies))
        vecs.append(np.asarray(phonon.qpoints.eigenvectors))
    w = np.full(len(q), 1.0 / len(q)) if weights is None else np.asarray(weights, dtype=float)
    gamma = np.all(np.abs(q - np.rint(q)) < 1e-8, axis=1)
    return ModeSample(q, np.concatenate(freqs), np.concatenate(vecs), w, gamma)


def _band_path(phonon: Any, npoints: int) -> tuple[ModeSample, np.ndarray, list] | None:
    try:
        from phonopy.phonon.band_structure import get_band_qpoints_by_seekpath
    except ImportError:
        return None
    try:
        bands, labels, connections = get_band_qpoints_by_seekpath(phonon.primitive, npoints)
    except Exception:  # noqa: BLE001 - seekpath missing or failing: no band path
        return None
    q = np.concatenate(bands)
    sample = sample_modes(phonon, q, weights=np.full(len(q), 1.0 / len(q)))
    rec = np.linalg.inv(phonon.primitive.cell).T  # rows: b_i without 2 pi
    dist, ticks, total = [], [], 0.0
    label_iter = iter(labels)
    for i, seg in enumerate(bands):
        cart = np.asarray(seg) @ rec
        steps = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(cart, axis=0), axis=1))]
        if i == 0 or not connections[i - 1]:
            ticks.append((total, next(label_iter, "")))
        dist.append(total + steps)
        total += steps[-1]
        ticks.append((total, next(label_iter, "")))
    return sample, np.concatenate(dist), ticks


def phonon_descriptors(model: PhononModel, settings: PhononSettings | None = None,
                       with_band: bool = True) -> PhononDescriptors:
    """Stability, mobile-ion MSD, DOS moments, acoustic cutoff, participation, coupling.

    Parameters
    ----------
    model : PhononModel
        Force constants (from a potential or from DFT force sets).
    settings : PhononSettings
        Temperatures, mesh ladder, tolerances, mobile ion.
    with_band : bool
        Also sample the seekpath band path (stability along lines, band plot).

    Returns
    -------
    PhononDescriptors
        ``row`` holds (``T`` is each temperature, e.g. ``800K``):

        - ``ph_stable`` (1/0), ``ph_min_freq_mesh_THz``, ``ph_min_freq_path_THz``,
          ``ph_stable_commensurate`` and ``ph_min_freq_commensurate_THz`` (the same verdict
          on the supercell's commensurate q-points only, where no interpolation enters),
          ``ph_n_imaginary_mesh``, ``ph_n_imaginary_path``, ``ph_imaginary_mode_fraction``;
        - ``ph_mobile_msd_mean_A2_T`` (mean over mobile ions and directions),
          ``ph_mobile_msd_max_A2_T`` (max over mobile ions and directions),
          ``ph_mobile_msd_eigmax_A2_T`` (largest eigenvalue of the 3x3 tensors),
          ``ph_host_msd_mean_A2_T``;
        - ``ph_acoustic_cutoff_THz``; ``ph_mobile_pdos_centre_THz``, ``_width_THz``,
          ``_skewness``, ``_kurtosis_excess``; ``ph_total_dos_centre_THz``;
        - ``ph_pr_low_mean``, ``ph_pr_low_min``, ``ph_pr_mean`` (participation ratios);
          ``ph_coupling_low_mean`` (mobile-weighted mean coupling of low-frequency modes),
          ``ph_mobile_msd_low_fraction`` (share of the mobile MSD carried by them);
        - metadata: ``ph_mesh``, ``ph_n_qpoints``, ``ph_mesh_converged``,
          ``ph_msd_mesh_rel_change``, excluded-mode counts, ``ph_descriptors_s``.
    """
    settings = settings or PhononSettings()
    t0 = time.perf_counter()
    phonon = model.phonon
    if phonon.force_constants is None:
        raise MlkitError("phonon model has no force constants")
    symbols = list(phonon.primitive.symbols)
    mobile = np.array([s == settings.mobile_ion for s in symbols])
    if not mobile.any():
        raise MlkitError(f"no {settings.mobile_ion} in the structure ({sorted(set(symbols))})")
    masses = np.asarray(phonon.primitive.masses, dtype=float)
    rec = np.linalg.inv(phonon.primitive.cell).T
    t_ref = settings.temperatures_K[0]

    def tensors(sample: ModeSample) -> tuple[dict[float, np.ndarray], dk.ModeSelection]:
        sel = dk.select_modes(sample.frequencies_THz, sample.gamma_mask,
                              settings.freq_min_THz, settings.imaginary_tolerance_THz)
        u = {t: dk.thermal_displacement_tensors_A2(sample.frequencies_THz, sample.eigenvectors,
                                                   masses, t, sel.included, sample.weights)
             for t in settings.temperatures_K}
        return u, sel

    def mobile_mean(u: np.ndarray) -> float:
        return float(np.trace(u[mobile], axis1=1, axis2=2).mean() / 3)

    # Mesh ladder. The Gamma cell is missing from a Gamma-centred mesh sum and the acoustic
    # 1/omega^2 integrand makes that error fall as 1/n (n = mesh points per direction), so
    # consecutive meshes are Richardson-extrapolated, U = (n2 U2 - n1 U1) / (n2 - n1), and
    # the ladder stops when two successive extrapolations agree within mesh_tolerance.
    ladder: list[tuple[float, int, float]] = []
    last: list[tuple[float, dict[float, np.ndarray]]] = []
    sample: ModeSample | None = None
    sel: dk.ModeSelection | None = None
    mesh_used: np.ndarray | None = None
    estimate: dict[float, np.ndarray] = {}
    prev_estimate = float("nan")
    rel_change = float("nan")
    stop = "ladder_end"
    unstable = False
    no_extrapolation = False
    for length in settings.mesh_lengths_A:
        mesh = mesh_numbers(rec, length)
        if mesh_used is not None and np.array_equal(mesh, mesh_used):
            continue
        if sample is not None and np.prod(mesh) * len(symbols) > settings.max_mesh_atom_points:
            stop = "max_points"
            break
        sample = sample_modes(phonon, *gamma_centred_mesh(mesh))
        u, sel = tensors(sample)
        mesh_used = mesh
        n_eff = float(np.prod(mesh)) ** (1 / 3)
        ladder.append((float(length), len(sample.qpoints), mobile_mean(u[t_ref])))
        last = (last + [(n_eff, u)])[-2:]
        if settings.extrapolate_mesh and len(last) == 2:
            (n1, u1), (n2, u2) = last
            estimate = {t: (n2 * u2[t] - n1 * u1[t]) / (n2 - n1) for t in u}
            diag = np.diagonal(estimate[t_ref], axis1=1, axis2=2)
            if (diag <= 0).any():
                # far from the 1/n regime (soft modes near an instability): no extrapolation
                estimate = u
                no_extrapolation = True
        else:
            estimate = u
        unstable |= sel.n_imaginary > 0
        if unstable:
            # imaginary modes (on this or an earlier mesh): the harmonic MSD is not defined;
            # report the real modes' raw sum on the third mesh (no extrapolation) and stop
            estimate = u
            if len(ladder) >= 3:
                stop = "unstable"
                break
            continue
        value = mobile_mean(estimate[t_ref])
        ready = len(ladder) >= (3 if settings.extrapolate_mesh else 2)
        if ready:
            rel_change = abs(value - prev_estimate) / abs(value) if value else float("inf")
            if rel_change < settings.mesh_tolerance:
                stop = "converged"
                break
        if len(last) == 2 or not settings.extrapolate_mesh:
            prev_estimate = value
    assert sample is not None and sel is not None and mesh_used is not None

    row: dict[str, Any] = {}
    raw = last[-1][1]
    for temperature in settings.temperatures_K:
        u = estimate[temperature]
        diag = np.diagonal(u, axis1=1, axis2=2)  # (n_atoms, 3)
        tag = f"{temperature:g}K"
        row[f"ph_mobile_msd_mean_A2_{tag}"] = float(diag[mobile].mean())
        row[f"ph_mobile_msd_max_A2_{tag}"] = float(diag[mobile].max())
        row[f"ph_mobile_msd_eigmax_A2_{tag}"] = float(np.linalg.eigvalsh(u[mobile]).max())
        row[f"ph_host_msd_mean_A2_{tag}"] = (
            float(diag[~mobile].mean()) if (~mobile).any() else float("nan"))
    if no_extrapolation and stop != "converged":
        # a ladder that ever failed to extrapolate and did not converge reports the raw sum
        estimate = raw
    row["ph_msd_extrapolation"] = mobile_mean(estimate[t_ref]) / mobile_mean(raw[t_ref]) - 1

    comm = sample_modes(phonon, commensurate_qpoints(phonon))
    csel = dk.select_modes(comm.frequencies_THz, comm.gamma_mask, settings.freq_min_THz,
                           settings.imaginary_tolerance_THz)
    row.update(ph_stable_commensurate=float(csel.n_imaginary == 0),
               ph_min_freq_commensurate_THz=float(comm.frequencies_THz.min()))

    band = _band_path(phonon, settings.band_points) if with_band else None
    nu = sample.frequencies_THz
    n_imag_path, min_path = 0, float("nan")
    all_freqs = nu
    if band is not None:
        bsel = dk.select_modes(band[0].frequencies_THz, band[0].gamma_mask,
                               settings.freq_min_THz, settings.imaginary_tolerance_THz)
        n_imag_path = bsel.n_imaginary
        min_path = float(band[0].frequencies_THz.min())
        all_freqs = np.vstack([nu, band[0].frequencies_THz])
    row.update(
        ph_stable=float(sel.n_imaginary == 0 and n_imag_path == 0),
        ph_min_freq_mesh_THz=float(nu.min()),
        ph_min_freq_path_THz=min_path,
        ph_n_imaginary_mesh=sel.n_imaginary,
        ph_n_imaginary_path=n_imag_path,
        ph_imaginary_mode_fraction=sel.n_imaginary / nu.size,
        ph_n_soft_excluded=sel.n_soft,
        ph_n_gamma_acoustic_excluded=sel.n_gamma_acoustic,
    )
    cutoff = dk.acoustic_cutoff_THz(all_freqs)
    row["ph_acoustic_cutoff_THz"] = cutoff

    positive = nu > 0
    qw = np.broadcast_to(sample.weights[:, None], nu.shape)
    w_mob = dk.projected_weights(sample.eigenvectors, mobile)
    mob = dk.distribution_moments(nu[positive], (w_mob * qw)[positive])
    row.update({f"ph_mobile_pdos_{k}{'_THz' if k in ('centre', 'width') else ''}": v
                for k, v in mob.items()})
    row["ph_total_dos_centre_THz"] = dk.distribution_moments(nu[positive], qw[positive])["centre"]

    low_edge = settings.low_frequency_THz if settings.low_frequency_THz is not None else cutoff
    low = sel.included & (nu <= low_edge)
    pr = dk.participation_ratios(sample.eigenvectors, masses, settings.mass_weighted_participation)
    row["ph_pr_mean"] = float((pr * qw)[sel.included].sum() / qw[sel.included].sum())
    row["ph_pr_low_mean"] = float(pr[low].mean()) if low.any() else float("nan")
    row["ph_pr_low_min"] = float(pr[low].min()) if low.any() else float("nan")
    if (~mobile).any():
        cf = dk.coupling_factors(sample.eigenvectors, mobile)
        wl = (w_mob * qw)[low]
        row["ph_coupling_low_mean"] = float((cf[low] * wl).sum() / wl.sum()) if low.any() \
            else float("nan")
    else:
        row["ph_coupling_low_mean"] = float("nan")
    mode_msd = dk.mode_msd_A2(nu, sample.eigenvectors, masses, mobile, t_ref, sel.included)
    weighted = mode_msd * qw
    row["ph_mobile_msd_low_fraction"] = float(weighted[low].sum() / weighted.sum())
    row.update(
        ph_low_frequency_THz=float(low_edge),
        ph_mesh="x".join(str(int(n)) for n in mesh_used),
        ph_n_qpoints=len(sample.qpoints),
        ph_mesh_converged=stop == "converged",
        ph_mesh_stop=stop,
        ph_msd_mesh_rel_change=rel_change,
        ph_n_primitive_atoms=len(symbols),
        ph_descriptors_s=time.perf_counter() - t0,
    )
    out = PhononDescriptors(row=row, mesh=sample, msd_ladder=ladder, mobile_mask=mobile)
    if band is not None:
        out.band, out.band_distances, out.band_labels = band
    return out
