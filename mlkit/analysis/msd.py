"""Mean-squared displacements by FFT (O(T log T)) with framework drift correction.

Units: positions in angstrom (A), times in picoseconds (ps), MSD in A^2.
All functions are pure numpy: no I/O, no structure objects.

The time-origin-averaged MSD of one coordinate x(t), t = 0..N-1, at lag m is

    MSD(m) = 1/(N-m) * sum_{t=0}^{N-m-1} (x(t+m) - x(t))^2
           = S1(m) - 2 S2(m),

with S2(m) = 1/(N-m) sum_t x(t) x(t+m) (an autocorrelation, computed by FFT with
zero padding to >= 2N) and S1(m) = 1/(N-m) sum_t [x(t)^2 + x(t+m)^2] (prefix sums).
This is the algorithm of Calandrini et al., Collection SFN 12, 201 (2011) and Kneller
et al., Comput. Phys. Commun. 91, 191 (1995), as in MDAnalysis' ``EinsteinMSD(fft=True)``
and pymatgen-analysis-diffusion's ``_msd_from_positions_fft``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from mlkit.errors import MlkitError

__all__ = [
    "MSDResult",
    "drift_correct",
    "msd_fft",
    "msd_single_origin",
    "msd_by_species",
    "species_masses",
]


def _check_positions(positions_A: np.ndarray) -> np.ndarray:
    x = np.asarray(positions_A, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise MlkitError(f"positions: expected shape (n_frames, n_atoms, 3), got {x.shape}")
    if x.shape[0] < 2:
        raise MlkitError(f"positions: need at least 2 frames, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        raise MlkitError("positions: contain NaN or inf")
    return x


def msd_fft(positions_A: np.ndarray, *, block_atoms: int | None = None) -> np.ndarray:
    """Time-origin-averaged MSD per atom and per Cartesian direction (FFT).

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
        Unwrapped Cartesian positions in A (any trailing dimension d works).
    block_atoms : int, optional
        Atoms transformed at once (bounds the transient memory). Default: all
        atoms when the block is under ~256 MB.

    Returns
    -------
    ndarray of shape (n_frames, n_atoms, 3)
        ``msd[m, i, k]`` = mean over time origins t of
        ``(x[t+m, i, k] - x[t, i, k])**2`` in A^2; lag m in frames.
    """
    x = np.asarray(positions_A, dtype=np.float64)
    n = x.shape[0]
    n_fft = next_fast_len(2 * n, real=True)
    lags = np.arange(n)
    norm = (n - lags)[:, None, None]
    n_atoms = x.shape[1]
    if block_atoms is None:
        per_atom = x.shape[2] * 8 * (3 * n_fft + 4 * n)
        block_atoms = max(1, min(n_atoms, 256_000_000 // max(per_atom, 1)))
    out = np.empty_like(x)
    for start in range(0, n_atoms, block_atoms):
        xb = x[:, start : start + block_atoms, :]
        f = rfft(xb, n=n_fft, axis=0)
        s2 = irfft(f * np.conjugate(f), n=n_fft, axis=0)[:n] / norm
        sq = xb**2
        prefix = np.concatenate([np.zeros((1,) + sq.shape[1:]), np.cumsum(sq, axis=0)], axis=0)
        total = prefix[-1:]
        # sum_{t=0}^{N-m-1} x(t)^2 = prefix[N-m]; sum_{t=m}^{N-1} x(t)^2 = total - prefix[m]
        s1 = (prefix[n - lags] + (total - prefix[lags])) / norm
        out[:, start : start + block_atoms, :] = s1 - 2.0 * s2
    np.maximum(out, 0.0, out=out)  # round-off at lag 0 and tiny lags
    out[0] = 0.0
    return out


def msd_single_origin(positions_A: np.ndarray) -> np.ndarray:
    """MSD from the first frame only (no time-origin averaging).

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)

    Returns
    -------
    ndarray of shape (n_frames, n_atoms, 3)
        ``(x[t] - x[0])**2`` in A^2 (what DiffusionAnalyzer computes with
        ``smoothed=False`` and what a naive "end-point MSD" reads at t_end).
    """
    x = np.asarray(positions_A, dtype=np.float64)
    return (x - x[:1]) ** 2


def drift_correct(
    positions_A: np.ndarray,
    framework_mask: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Subtract the framework centre-of-mass displacement from every atom.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
    framework_mask : bool array of shape (n_atoms,)
        Atoms whose (weighted) mean displacement defines the drift.
    weights : array of shape (n_atoms,), optional
        Masses (amu) for a centre-of-mass drift; None = equal weights
        (what DiffusionAnalyzer does).

    Returns
    -------
    ndarray of shape (n_frames, n_atoms, 3)
        Positions minus (framework COM(t) - framework COM(0)).
    """
    x = np.asarray(positions_A, dtype=np.float64)
    mask = np.asarray(framework_mask, dtype=bool)
    if not mask.any():
        return x.copy()
    w = np.ones(x.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    wf = w[mask] / w[mask].sum()
    com = np.einsum("tik,i->tk", x[:, mask, :], wf)
    return x - (com - com[:1])[:, None, :]


def species_masses(species: Sequence[str]) -> np.ndarray:
    """Atomic masses (amu) for element symbols, from pymatgen's periodic table.

    Parameters
    ----------
    species : sequence of str of length n_atoms

    Returns
    -------
    ndarray of shape (n_atoms,)
    """
    from pymatgen.core import Element

    cache: dict[str, float] = {}
    out = np.empty(len(species))
    for i, s in enumerate(species):
        if s not in cache:
            try:
                cache[s] = float(Element(s).atomic_mass)
            except ValueError as exc:
                raise MlkitError(f"species: unknown element symbol {s!r}") from exc
        out[i] = cache[s]
    return out


@dataclass(frozen=True)
class MSDResult:
    """MSD per species and direction.

    Attributes
    ----------
    lag_ps : ndarray of shape (n_frames,)
        Lag times in ps.
    msd_A2 : dict[str, ndarray of shape (n_frames, 3)]
        Per-direction (x, y, z) MSD averaged over the atoms of each species;
        the total MSD is ``msd_A2[s].sum(axis=1)``.
    n_atoms : dict[str, int]
        Atoms per species.
    """

    lag_ps: np.ndarray
    msd_A2: dict[str, np.ndarray]
    n_atoms: dict[str, int]

    def total(self, species: str) -> np.ndarray:
        """Total (x+y+z) MSD of one species, shape (n_frames,), A^2."""
        return self.msd_A2[species].sum(axis=1)


def msd_by_species(
    positions_A: np.ndarray,
    species: Sequence[str],
    frame_interval_fs: float,
    *,
    framework_mask: np.ndarray | None = None,
    drift_weights: str = "mass",
    time_origin_average: bool = True,
) -> MSDResult:
    """MSD of every species, per direction, drift-corrected against the framework.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
        Unwrapped Cartesian positions, A.
    species : sequence of str of length n_atoms
    frame_interval_fs : float
        Time between stored frames, fs.
    framework_mask : bool array of shape (n_atoms,), optional
        Framework atoms for the drift correction; None = no drift correction.
    drift_weights : {"mass", "equal"}
        Centre of mass (default) or plain mean of framework positions.
    time_origin_average : bool
        True: FFT multi-origin MSD; False: single origin (frame 0).

    Returns
    -------
    MSDResult
    """
    x = _check_positions(positions_A)
    if len(species) != x.shape[1]:
        raise MlkitError(f"species: {len(species)} symbols for {x.shape[1]} atoms")
    if not frame_interval_fs > 0:
        raise MlkitError(f"frame_interval_fs must be > 0, got {frame_interval_fs}")
    if drift_weights not in ("mass", "equal"):
        raise MlkitError(f"drift_weights must be 'mass' or 'equal', got {drift_weights!r}")
    if framework_mask is not None:
        w = species_masses(species) if drift_weights == "mass" else None
        x = drift_correct(x, framework_mask, w)
    per_atom = msd_fft(x) if time_origin_average else msd_single_origin(x)
    sp = np.asarray(species)
    msd: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for s in dict.fromkeys(species):
        sel = sp == s
        msd[s] = per_atom[:, sel, :].mean(axis=1)
        counts[s] = int(sel.sum())
    lag_ps = np.arange(x.shape[0]) * frame_interval_fs / 1000.0
    return MSDResult(lag_ps=lag_ps, msd_A2=msd, n_atoms=counts)
