"""Harmonic-phonon descriptor kernels: pure numpy, units in names, no phonopy.

Every kernel takes phonon modes sampled on q-points:

* ``frequencies_THz`` of shape ``(n_q, n_modes)``; phonopy's convention, where an
  imaginary frequency is stored as a negative number;
* ``eigenvectors`` of shape ``(n_q, 3 * n_atoms, n_modes)``, complex, columns normalised
  eigenvectors of the dynamical matrix (phonopy's layout: row ``3 j + a`` is atom ``j``,
  Cartesian direction ``a``);
* ``masses_amu`` of shape ``(n_atoms,)``;
* ``weights`` of shape ``(n_q,)``, q-point weights summing to 1 (uniform on a mesh).

Formulas follow the phonon paper (``../shared/SCIENCE.md`` section 3). The thermal mean
squared displacement of atom ``j`` along ``a`` at temperature ``T`` is

    <u_a^2(j)> = sum_q w_q sum_s hbar / (2 m_j w_qs) |e_a(j; q s)|^2 coth(hbar w_qs / 2 k_B T)
               = 0.505379 / m_j sum_q w_q sum_s |e_a|^2 coth(47.9924 nu / 2 T) / nu    [A^2]

with ``nu`` in THz and ``m_j`` in amu (high-T limit ``k_B T / (m omega^2)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "HBAR_OVER_2_AMU_THZ_A2",
    "H_OVER_KB_K_PER_THZ",
    "ModeSelection",
    "acoustic_cutoff_THz",
    "coupling_factors",
    "distribution_moments",
    "mode_msd_A2",
    "participation_ratios",
    "projected_weights",
    "select_modes",
    "thermal_displacement_tensors_A2",
]

#: hbar / (2 * amu * 2 pi * 1 THz) in A^2: <u^2> = this / (m nu) * coth(...)
HBAR_OVER_2_AMU_THZ_A2 = 1.054571817e-34 / (2 * 1.66053906660e-27 * 2 * np.pi * 1e12) * 1e20
#: h * 1 THz / k_B in K: hbar omega / k_B T = this * nu / T
H_OVER_KB_K_PER_THZ = 6.62607015e-34 * 1e12 / 1.380649e-23


@dataclass(frozen=True)
class ModeSelection:
    """Which modes enter the thermal sums, and how many were left out and why.

    Attributes
    ----------
    included : ndarray of bool, shape (n_q, n_modes)
    n_gamma_acoustic : int
        Acoustic modes at Gamma excluded (the three smallest ``|nu|`` at each Gamma point).
    n_imaginary : int
        Modes with ``nu < -imaginary_tolerance_THz`` (excluded; the structure is unstable).
    n_soft : int
        Other modes with ``nu <= freq_min_THz`` (near-zero or slightly imaginary; excluded).
    """

    included: np.ndarray
    n_gamma_acoustic: int
    n_imaginary: int
    n_soft: int


def select_modes(
    frequencies_THz: np.ndarray,
    gamma_mask: np.ndarray,
    freq_min_THz: float = 0.0,
    imaginary_tolerance_THz: float = 0.1,
) -> ModeSelection:
    """Modes that enter harmonic thermal sums, with counts of everything left out.

    Parameters
    ----------
    frequencies_THz : ndarray, shape (n_q, n_modes)
    gamma_mask : ndarray of bool, shape (n_q,)
        True for q-points equivalent to Gamma.
    freq_min_THz : float
        Modes at or below this frequency are excluded (imaginary ones always are).
    imaginary_tolerance_THz : float
        A mode counts as imaginary when ``nu < -imaginary_tolerance_THz``.
    """
    nu = np.asarray(frequencies_THz, dtype=float)
    if nu.ndim != 2:
        raise ValueError(f"frequencies_THz must be (n_q, n_modes), got shape {nu.shape}")
    if freq_min_THz < 0:
        raise ValueError(f"freq_min_THz must be >= 0, got {freq_min_THz}")
    gamma_acoustic = np.zeros(nu.shape, dtype=bool)
    for iq in np.flatnonzero(np.asarray(gamma_mask, dtype=bool)):
        gamma_acoustic[iq, np.argsort(np.abs(nu[iq]))[:3]] = True
    imaginary = (nu < -abs(imaginary_tolerance_THz)) & ~gamma_acoustic
    soft = (nu <= freq_min_THz) & ~gamma_acoustic & ~imaginary
    included = ~(gamma_acoustic | imaginary | soft)
    return ModeSelection(
        included=included,
        n_gamma_acoustic=int(gamma_acoustic.sum()),
        n_imaginary=int(imaginary.sum()),
        n_soft=int(soft.sum()),
    )


def _occupation_factor(frequencies_THz: np.ndarray, temperature_K: float) -> np.ndarray:
    """coth(h nu / 2 k_B T) / nu, the Bose-Einstein factor (2 n + 1) / nu (1/THz)."""
    nu = np.asarray(frequencies_THz, dtype=float)
    if temperature_K < 0:
        raise ValueError(f"temperature_K must be >= 0, got {temperature_K}")
    if temperature_K == 0:
        return 1.0 / nu
    x = H_OVER_KB_K_PER_THZ * nu / (2.0 * temperature_K)
    return 1.0 / (np.tanh(x) * nu)


def thermal_displacement_tensors_A2(
    frequencies_THz: np.ndarray,
    eigenvectors: np.ndarray,
    masses_amu: np.ndarray,
    temperature_K: float,
    included: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Thermal displacement tensors U_ab(j) = <u_a(j) u_b(j)> in A^2.

    Parameters
    ----------
    frequencies_THz : ndarray, shape (n_q, n_modes)
    eigenvectors : ndarray of complex, shape (n_q, 3 n_atoms, n_modes)
    masses_amu : ndarray, shape (n_atoms,)
    temperature_K : float
    included : ndarray of bool, shape (n_q, n_modes)
        Modes to sum (from :func:`select_modes`).
    weights : ndarray, shape (n_q,), optional
        q-point weights summing to 1 (default uniform).

    Returns
    -------
    ndarray, shape (n_atoms, 3, 3)
        Symmetric, real. Its diagonal is the per-direction MSD; its trace the total MSD.
    """
    nu = np.asarray(frequencies_THz, dtype=float)
    e = np.asarray(eigenvectors)
    m = np.asarray(masses_amu, dtype=float)
    n_q, n_modes = nu.shape
    n_atoms = len(m)
    if e.shape != (n_q, 3 * n_atoms, n_modes):
        raise ValueError(f"eigenvectors shape {e.shape} != {(n_q, 3 * n_atoms, n_modes)}")
    w = np.full(n_q, 1.0 / n_q) if weights is None else np.asarray(weights, dtype=float)
    factor = np.zeros_like(nu)
    inc = np.asarray(included, dtype=bool)
    factor[inc] = _occupation_factor(nu[inc], temperature_K)
    factor *= w[:, None]
    # U_ab(j) = sum_{q,s} factor_qs Re(e_a e_b^*): one (3 x n_q n_modes) product per atom
    y = e.reshape(n_q, n_atoms, 3, n_modes) * np.sqrt(factor)[:, None, None, :]
    y = np.ascontiguousarray(y.transpose(1, 2, 0, 3)).reshape(n_atoms, 3, n_q * n_modes)
    u = np.matmul(y, y.conj().transpose(0, 2, 1)).real
    return HBAR_OVER_2_AMU_THZ_A2 * u / m[:, None, None]


def mode_msd_A2(
    frequencies_THz: np.ndarray,
    eigenvectors: np.ndarray,
    masses_amu: np.ndarray,
    atom_mask: np.ndarray,
    temperature_K: float,
    included: np.ndarray,
) -> np.ndarray:
    """Mode-resolved MSD of a set of atoms: each mode's share of their mean <u^2> (A^2).

    The returned array times the q-point weights, summed over q and modes, gives the mean
    over the selected atoms of the total (x + y + z) MSD.

    Parameters
    ----------
    frequencies_THz : ndarray, shape (n_q, n_modes)
    eigenvectors : ndarray of complex, shape (n_q, 3 n_atoms, n_modes)
    masses_amu : ndarray, shape (n_atoms,)
    atom_mask : ndarray of bool, shape (n_atoms,)
    temperature_K : float
    included : ndarray of bool, shape (n_q, n_modes)

    Returns
    -------
    ndarray, shape (n_q, n_modes)
        Zero for excluded modes.
    """
    nu = np.asarray(frequencies_THz, dtype=float)
    mask = np.asarray(atom_mask, dtype=bool)
    if not mask.any():
        raise ValueError("atom_mask selects no atom")
    m = np.asarray(masses_amu, dtype=float)
    n_q, n_modes = nu.shape
    ev = np.asarray(eigenvectors).reshape(n_q, len(m), 3, n_modes)
    amp = (np.abs(ev[:, mask]) ** 2).sum(axis=2) / m[mask][None, :, None]  # (q, j, s)
    out = np.zeros_like(nu)
    inc = np.asarray(included, dtype=bool)
    out[inc] = _occupation_factor(nu[inc], temperature_K)
    return HBAR_OVER_2_AMU_THZ_A2 * out * amp.mean(axis=1)


def projected_weights(eigenvectors: np.ndarray, atom_mask: np.ndarray) -> np.ndarray:
    """Weight of a set of atoms in each mode, sum_{j in set, a} |e_a(j)|^2, shape (n_q, n_modes).

    Summed over all atoms it is 1 for every mode (eigenvectors are normalised), so this is
    the projection used for a partial density of states.
    """
    e = np.asarray(eigenvectors)
    mask = np.asarray(atom_mask, dtype=bool)
    n_q, n3, n_modes = e.shape
    ev = e.reshape(n_q, n3 // 3, 3, n_modes)
    return (np.abs(ev[:, mask]) ** 2).sum(axis=(1, 2))


def participation_ratios(
    eigenvectors: np.ndarray, masses_amu: np.ndarray, mass_weighted: bool = True
) -> np.ndarray:
    """Mode participation ratio P = (sum_j a_j)^2 / (N sum_j a_j^2), shape (n_q, n_modes).

    ``a_j = sum_a |e_a(j)|^2 / m_j`` (the squared displacement amplitude of atom j) when
    ``mass_weighted``, else ``sum_a |e_a(j)|^2``. P is 1 when every atom moves equally and
    ``1 / N`` when one atom carries the mode.
    """
    e = np.asarray(eigenvectors)
    m = np.asarray(masses_amu, dtype=float)
    n_q, n3, n_modes = e.shape
    a = (np.abs(e.reshape(n_q, n3 // 3, 3, n_modes)) ** 2).sum(axis=2)  # (q, j, s)
    if mass_weighted:
        a = a / m[None, :, None]
    return a.sum(axis=1) ** 2 / (len(m) * (a**2).sum(axis=1))


def coupling_factors(eigenvectors: np.ndarray, mobile_mask: np.ndarray) -> np.ndarray:
    """Mobile-ion-host coupling factor of each mode, in [-1, 1], shape (n_q, n_modes).

    ``Re(E_mob . conj(E_host)) / (|E_mob| |E_host|)`` with ``E_X = sum_{j in X} e(j)``
    (3-vectors, complex): +1 for in-phase, -1 for out-of-phase motion of the two
    sublattices, 0 for uncorrelated motion. The real part of the Hermitian product is
    invariant to the arbitrary global phase of each eigenvector; at q != 0 it depends on the
    Bloch-phase convention of the dynamical matrix (phonopy's, with atomic positions in the
    phase). A mode where either sublattice is still (|E| below 1e-12) gets 0.
    """
    e = np.asarray(eigenvectors)
    mask = np.asarray(mobile_mask, dtype=bool)
    if mask.all() or not mask.any():
        raise ValueError("coupling needs both mobile-ion and host atoms")
    n_q, n3, n_modes = e.shape
    ev = e.reshape(n_q, n3 // 3, 3, n_modes)
    e_mob = ev[:, mask].sum(axis=1)  # (q, 3, s)
    e_host = ev[:, ~mask].sum(axis=1)
    num = (e_mob * e_host.conj()).sum(axis=1).real
    den = np.linalg.norm(e_mob, axis=1) * np.linalg.norm(e_host, axis=1)
    out = np.zeros_like(num)
    ok = den > 1e-12
    out[ok] = num[ok] / den[ok]
    return out


def acoustic_cutoff_THz(frequencies_THz: np.ndarray) -> float:
    """Maximum over q of the third-lowest frequency (the top of the acoustic branches).

    Branches are identified by energy order, not by eigenvector continuity: where an optical
    branch dips below an acoustic one, the sorted third band is the optical mode, so the
    value is the top of the three lowest bands, a lower bound of the connected acoustic
    branches' maximum.

    Parameters
    ----------
    frequencies_THz : ndarray, shape (n_q, n_modes)
        Sampled frequencies (mesh and/or band path), n_modes >= 3.
    """
    nu = np.sort(np.asarray(frequencies_THz, dtype=float), axis=1)
    if nu.shape[1] < 3:
        raise ValueError("need at least 3 modes")
    return float(nu[:, 2].max())


def distribution_moments(values: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Weighted mean, standard deviation, skewness and excess kurtosis of a distribution.

    Used for densities of states from the modes themselves (no smearing): ``values`` are
    mode frequencies, ``weights`` their projected weight times the q-point weight. The
    kurtosis is the excess kurtosis (0 for a Gaussian).

    Returns
    -------
    dict with keys ``centre``, ``width``, ``skewness``, ``kurtosis_excess``
    """
    x = np.asarray(values, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    if x.shape != w.shape:
        raise ValueError("values and weights must have the same shape")
    total = w.sum()
    if total <= 0:
        nan = float("nan")
        return {"centre": nan, "width": nan, "skewness": nan, "kurtosis_excess": nan}
    mean = float((w * x).sum() / total)
    d = x - mean
    var = float((w * d**2).sum() / total)
    sd = np.sqrt(var)
    if sd == 0:
        return {"centre": mean, "width": 0.0, "skewness": 0.0, "kurtosis_excess": float("nan")}
    skew = float((w * d**3).sum() / total / sd**3)
    kurt = float((w * d**4).sum() / total / var**2) - 3.0
    return {"centre": mean, "width": float(sd), "skewness": skew, "kurtosis_excess": kurt}
