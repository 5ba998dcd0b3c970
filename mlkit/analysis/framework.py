"""Framework melting, polyanion integrity, and the rotation paper's categories.

The paper's rule (Yang, Guan, Ouyang, Zhu, Chem. Mater. 2024): a framework
melted when the total MSD of the non-mobile cations exceeds 2 A^2 at the end of
the run. With only 4-8 heavy cations in a cell, one end-point value (a single
time origin, no drift removal) is noisy: the whole cell wanders under a
thermostat and a handful of vibrating atoms can cross 2 A^2 at one instant.
The robust test here uses

1. drift correction: positions relative to the centre of mass of all non-mobile atoms;
2. time-origin averaging: MSD(tau) averaged over every origin (FFT);
3. the *expected* end-point value: a straight line fitted to that MSD over the
   lag window [start_fraction, end_fraction] * T, evaluated at t_end = T
   (a plateau for a vibrating solid, ~6 D T for a liquid);
4. an explicit polyanion-integrity check: every centre-ligand distance, as the
   median over the final ``final_fraction`` of the run, stays below
   ``stretch_tolerance`` times its median over the first ``final_fraction``.

framework_melted = expected end MSD > threshold. Polyanion integrity is a flag of its
own (``polyanions_intact``): a decomposed polyanion is not a melted framework, and
:func:`category` excludes either with its own reason.

Units: A, A^2, ps. Pure numpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from mlkit.analysis.diffusion import diffusivity_from_msd
from mlkit.analysis.reorientation import center_groups, center_ligand_vectors
from mlkit.errors import MlkitError

__all__ = [
    "FrameworkTest",
    "category",
    "category_decision",
    "exclusion_reason",
    "expected_end_msd",
    "framework_cation_mask",
    "framework_melting_test",
    "polyanion_integrity",
]

def framework_cation_mask(
    species: Sequence[str],
    mobile_ion: str,
    rotor_centers: Sequence[int] | np.ndarray = (),
    rotor_ligands: Sequence[Sequence[int] | np.ndarray] = (),
    framework_species: Sequence[str] | None = None,
    *,
    anion_elements: Collection[str] | None = None,
) -> np.ndarray:
    """Atoms counted as "non-mobile cations" for the melting test.

    Default: every atom that is neither the mobile ion, nor an anion, nor of a ligand
    species of the given polyanions; rotor centres are always included.

    Parameters
    ----------
    species : sequence of str, shape (n_atoms,)
    mobile_ion : str
    rotor_centers, rotor_ligands
        As in :func:`mlkit.analysis.reorientation.center_ligand_vectors`.
    framework_species : sequence of str, optional
        Exactly these species are the framework (overrides the default).
    anion_elements : collection of str, optional
        The anions; default: the roles of the composition of ``species``
        (:func:`mlkit.structures.chemistry.composition_roles`, the answer the features,
        the polyanion detector and the MD temperature rule use).

    Returns
    -------
    bool ndarray of shape (n_atoms,)
    """
    sp = np.asarray(species)
    if framework_species is not None:
        mask = np.isin(sp, list(framework_species))
    else:
        if anion_elements is None:
            # lazy: pymatgen is needed only here; the kernels of this module are numpy
            from mlkit.structures.chemistry import composition_roles

            roles = composition_roles(Counter(sp.tolist()), mobile_ion)
            anion_elements = [el for el, v in roles.items() if v < 0]
        excluded = set(anion_elements) | {mobile_ion}
        ligs = [np.asarray(lig, dtype=int) for lig in rotor_ligands]
        if ligs:
            excluded |= set(sp[np.concatenate(ligs)].tolist())
        mask = ~np.isin(sp, list(excluded))
    centers = center_groups(rotor_centers)
    if len(centers):
        mask[np.concatenate(centers)] = True
    mask &= sp != mobile_ion
    return mask


def expected_end_msd(
    lag_ps: np.ndarray,
    msd_A2: np.ndarray,
    *,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
) -> float:
    """Expected MSD at the last lag from a line fitted to the time-origin-averaged MSD.

    Parameters
    ----------
    lag_ps, msd_A2 : arrays of shape (n_lags,)
        Time-origin-averaged total MSD.

    Returns
    -------
    float
        slope * lag_ps[-1] + intercept, A^2.
    """
    fit = diffusivity_from_msd(lag_ps, msd_A2, start_fraction=start_fraction,
                               end_fraction=end_fraction)
    return float(fit.msd_at(float(lag_ps[-1])))


def polyanion_integrity(
    positions_A: np.ndarray,
    cell_A: np.ndarray,
    rotor_centers: Sequence[int] | np.ndarray,
    rotor_ligands: Sequence[Sequence[int] | np.ndarray],
    *,
    stretch_tolerance: float = 1.25,
    final_fraction: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each polyanion keeps its ligands bonded.

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
    cell_A : array of shape (3, 3) or (n_frames, 3, 3)
    rotor_centers, rotor_ligands
        As in :func:`mlkit.analysis.reorientation.center_ligand_vectors`.
    stretch_tolerance : float
        Largest allowed ratio of late to early median bond length.
    final_fraction : float
        Fraction of the run used for the early and the late medians.

    Returns
    -------
    intact : bool ndarray of shape (n_rotors,)
    max_stretch : ndarray of shape (n_rotors,)
        Largest late/early median bond-length ratio over the rotor's ligands.
    """
    v, rotor_index = center_ligand_vectors(positions_A, rotor_centers, rotor_ligands, cell_A)
    n_rotors = len(center_groups(rotor_centers))
    if n_rotors == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    d = np.linalg.norm(v, axis=-1)
    n = d.shape[0]
    k = max(1, int(round(final_fraction * n)))
    ratio = np.median(d[-k:], axis=0) / np.median(d[:k], axis=0)
    max_stretch = np.full(n_rotors, -np.inf)
    np.maximum.at(max_stretch, rotor_index, ratio)
    return max_stretch < stretch_tolerance, max_stretch


@dataclass(frozen=True)
class FrameworkTest:
    """Outcome of the robust framework-melting test.

    Attributes
    ----------
    msd_framework_A2 : float
        Expected end-point total MSD of the non-mobile cations (robust estimator).
    msd_framework_endpoint_A2 : float
        Naive single-origin end-point value without drift correction (the
        paper's literal rule), reported for comparison.
    polyanion_intact_fraction : float
        Fraction of polyanions that passed the integrity check (NaN without rotors).
    polyanions_intact : bool
    framework_melted : bool
    """

    msd_framework_A2: float
    msd_framework_endpoint_A2: float
    polyanion_intact_fraction: float
    polyanions_intact: bool
    framework_melted: bool


def framework_melting_test(
    positions_A: np.ndarray,
    frame_interval_fs: float,
    cation_mask: np.ndarray,
    cell_A: np.ndarray,
    *,
    drift_mask: np.ndarray | None = None,
    drift_weights: np.ndarray | None = None,
    rotor_centers: Sequence[int] | np.ndarray = (),
    rotor_ligands: Sequence[Sequence[int] | np.ndarray] = (),
    melt_threshold_A2: float = 2.0,
    start_fraction: float = 0.1,
    end_fraction: float = 0.5,
    stretch_tolerance: float = 1.25,
    final_fraction: float = 0.2,
) -> FrameworkTest:
    """Robust framework-melting test (see the module docstring).

    Parameters
    ----------
    positions_A : array of shape (n_frames, n_atoms, 3)
        Unwrapped positions.
    frame_interval_fs : float
    cation_mask : bool array of shape (n_atoms,)
        Non-mobile cations (see :func:`framework_cation_mask`).
    cell_A : array of shape (3, 3) or (n_frames, 3, 3)
    drift_mask : bool array of shape (n_atoms,), optional
        Atoms defining the drift (default: the cation mask).
    drift_weights : array of shape (n_atoms,), optional
        Masses for the centre of mass (None = equal weights).
    melt_threshold_A2 : float
        2 A^2 (paper).

    Returns
    -------
    FrameworkTest
    """
    from mlkit.analysis.msd import drift_correct, msd_fft

    x = np.asarray(positions_A, dtype=np.float64)
    cm = np.asarray(cation_mask, dtype=bool)
    if cm.shape != (x.shape[1],):
        raise MlkitError(f"cation_mask: expected shape ({x.shape[1]},), got {cm.shape}")
    if not cm.any():
        msd_robust = msd_end = float("nan")
    else:
        raw = x[:, cm, :]
        msd_end = float(((raw[-1] - raw[0]) ** 2).sum(axis=-1).mean())
        xc = drift_correct(x, cm if drift_mask is None else drift_mask, drift_weights)
        msd = msd_fft(xc[:, cm, :]).mean(axis=1).sum(axis=1)
        lag = np.arange(x.shape[0]) * frame_interval_fs / 1000.0
        msd_robust = expected_end_msd(lag, msd, start_fraction=start_fraction,
                                      end_fraction=end_fraction)
    intact, _ = polyanion_integrity(x, cell_A, rotor_centers, rotor_ligands,
                                    stretch_tolerance=stretch_tolerance,
                                    final_fraction=final_fraction)
    frac = float(intact.mean()) if len(intact) else float("nan")
    all_intact = bool(intact.all()) if len(intact) else True
    melted = bool(np.isfinite(msd_robust) and msd_robust > melt_threshold_A2)
    return FrameworkTest(
        msd_framework_A2=msd_robust,
        msd_framework_endpoint_A2=msd_end,
        polyanion_intact_fraction=frac,
        polyanions_intact=all_intact,
        framework_melted=melted,
    )


def category(rotates: bool, diffuses: bool, framework_melted: bool,
             polyanions_intact: bool = True) -> int | None:
    """Rotation-paper category: 1 rotation+diffusion, 2 rotation only, 3 no rotation.

    Returns None (NA) when the framework melted or a polyanion decomposed
    (:func:`exclusion_reason` says which).
    """
    if framework_melted or not polyanions_intact:
        return None
    if rotates:
        return 1 if diffuses else 2
    return 3


def exclusion_reason(framework_melted: bool, polyanions_intact: bool) -> str:
    """Why a run has no category: "framework melted", "polyanions decomposed", or ""."""
    reasons = [r for r, bad in (("framework melted", framework_melted),
                                ("polyanions decomposed", not polyanions_intact)) if bad]
    return "; ".join(reasons)


def category_decision(rotation: str, diffusion: str, framework_melted: bool,
                      polyanions_intact: bool = True) -> str:
    """The category the decisions allow: "1", "2", "3", "1|2", "undecided" or "excluded".

    ``rotation`` and ``diffusion`` are "yes" / "no" / "undecided"
    (:func:`mlkit.analysis.reference.decide`). No rotation decides category 3 whatever
    the diffusion; rotation with undecided diffusion is "1|2".
    """
    if framework_melted or not polyanions_intact:
        return "excluded"
    if rotation == "no":
        return "3"
    if rotation == "yes":
        return {"yes": "1", "no": "2"}.get(diffusion, "1|2")
    return "undecided"
