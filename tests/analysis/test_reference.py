"""Criteria at the reference time: same decision whatever the run length, or undecided.

Synthetic processes with known rates:

- rotors that jump to a uniformly random orientation at Poisson rate k: every ligand
  vector decorrelates completely at a jump, so C(t) = exp(-k t) exactly and the
  paper's criterion C(60 ps) < 0.9 holds iff k > -ln(0.9) / 60 ps = 1.76e-3 / ps;
- ions hopping on a cubic lattice of spacing a at rate nu (plus vibration):
  MSD(t) = <u^2> + nu a^2 t, the criterion MSD(60 ps) > 5 A^2.

A 10 ps, 20 ps and 60 ps cut of the same run must give the true decision, or
"undecided" with an interval that contains the truth; never the wrong decision.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mlkit.analysis.hops import mobile_site_spacing_A, site_hops
from mlkit.analysis.msd import msd_fft
from mlkit.analysis.reference import (
    decide,
    diffusivity_floor_cm2_s,
    msd_at_reference,
    per_item_acf,
    poisson_interval,
    reorientation_at_reference,
)
from mlkit.errors import MlkitError

DT_PS = 0.05
OCTAHEDRON = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1.0]])


def jump_rotors(n_frames: int, n_rotors: int, rate_per_ps: float, seed: int,
                libration_rad: float = 0.05):
    """Unit ligand vectors (n_frames, 6 n_rotors, 3), rotor index, and jump count."""
    rng = np.random.default_rng(seed)
    u = np.empty((n_frames, n_rotors, 6, 3))
    n_jumps = 0
    for r in range(n_rotors):
        rot = Rotation.random(random_state=rng)
        for t in range(n_frames):
            if t and rng.random() < rate_per_ps * DT_PS:
                rot = Rotation.random(random_state=rng)
                n_jumps += 1
            wobble = Rotation.from_rotvec(rng.normal(scale=libration_rad, size=3))
            u[t, r] = (wobble * rot).apply(OCTAHEDRON)
    return u.reshape(n_frames, -1, 3), np.repeat(np.arange(n_rotors), 6), n_jumps


def count_jumps_before(u, rotor_index, n_frames):
    """Jumps in the first n_frames (a jump = a frame where the mean ligand cosine drops)."""
    cos = np.einsum("tvk,tvk->tv", u[1:n_frames], u[: n_frames - 1])
    per_rotor = np.stack([cos[:, rotor_index == r].mean(axis=1)
                          for r in range(rotor_index.max() + 1)], axis=1)
    return int((per_rotor < 0.8).sum())


def rotation_reference(u, rotor_index, n_frames):
    lag = np.arange(n_frames) * DT_PS
    acf = per_item_acf(u[:n_frames], rotor_index)
    return reorientation_at_reference(
        lag, acf, n_jumps=count_jumps_before(u, rotor_index, n_frames), n_boot=200)


def test_poisson_interval_matches_tables():
    lo, hi = poisson_interval(0)
    assert lo == 0 and hi == pytest.approx(3.689, abs=1e-3)
    lo, hi = poisson_interval(1)
    assert (lo, hi) == (pytest.approx(0.0253, abs=1e-4), pytest.approx(5.572, abs=1e-3))
    with pytest.raises(MlkitError):
        poisson_interval(-1)


def test_decide_three_ways():
    assert decide(0.1, 0.5, 0.9, above=False) == "yes"
    assert decide(0.92, 0.99, 0.9, above=False) == "no"
    assert decide(0.8, 0.95, 0.9, above=False) == "undecided"
    assert decide(6.0, 9.0, 5.0, above=True) == "yes"
    assert decide(1.0, 4.0, 5.0, above=True) == "no"
    assert decide(float("nan"), 4.0, 5.0, above=True) == "undecided"


@pytest.mark.parametrize(("rate", "n_rotors", "truth"), [
    (0.05, 8, "yes"),      # C(60) = 0.05: clearly rotating
    (0.004, 64, "yes"),    # C(60) = 0.79: rotating, but slow (~2.6 jumps in 10 ps)
    (0.0, 64, "no"),       # libration only: C(60) = plateau ~ 0.99
])
def test_rotation_decision_same_for_10_20_60_ps(rate, n_rotors, truth):
    n60 = int(60 / DT_PS) + 1
    u, idx, _ = jump_rotors(n60, n_rotors, rate, seed=11)
    true_c60 = float(np.exp(-rate * 60.0)) * 0.99 if rate else 0.99
    for t_ps in (10, 20, 60):
        ref = rotation_reference(u, idx, int(t_ps / DT_PS) + 1)
        assert ref.decision in (truth, "undecided"), (t_ps, ref)
        if ref.decision == "undecided":
            assert ref.low <= true_c60 <= ref.high + 0.02, (t_ps, ref)
    assert ref.decision == truth  # 60 ps of these many rotors is long enough


@pytest.mark.parametrize("seed", range(4))
def test_fast_few_rotors_stay_rotating_at_every_cut(seed):
    # 2 rotors at 3 jumps/ps (NaClO4 at 1300 K): C(t) falls to noise (+-0.1) within
    # 1 ps. A log fit over the noise gave rates < 0, C(60 ps) = 1 and "undecided" for
    # cuts of 6-16 ps of the same run; every cut must say "yes".
    n20 = int(20 / DT_PS) + 1
    u, idx, _ = jump_rotors(n20, 2, 3.0, seed=seed)
    for t_ps in (4, 6, 8, 10, 12, 16, 20):
        ref = rotation_reference(u, idx, int(t_ps / DT_PS) + 1)
        assert ref.decision == "yes", (t_ps, ref)
        assert ref.value < 0.01, (t_ps, ref)


def test_few_slow_rotors_stay_undecided_at_60_ps():
    # 8 rotors x 60 ps x 0.004 / ps ~ 2 jumps: counting cannot tell 0.79 from 0.9
    n60 = int(60 / DT_PS) + 1
    u, idx, _ = jump_rotors(n60, 8, 0.004, seed=11)
    ref = rotation_reference(u, idx, n60)
    assert ref.decision == "undecided" and ref.low < 0.79 < ref.high


def test_short_run_of_slow_rotor_is_not_called_non_rotating():
    # k = 0.004/ps: 8 rotors x 10 ps expect 0.3 jumps; the fitted decay is ~0
    n = int(10 / DT_PS) + 1
    for seed in range(4):
        u, idx, _ = jump_rotors(n, 8, 0.004, seed=seed)
        ref = rotation_reference(u, idx, n)
        assert ref.decision != "no", ref
        assert ref.low < 0.9


def test_no_jump_at_all_cannot_exclude_rotation_in_few_rotor_ps():
    # 4 rotors x 60 ps, no jump: a rate of 3.69 / 240 ps cannot be excluded
    n = int(60 / DT_PS) + 1
    u, idx, _ = jump_rotors(n, 4, 0.0, seed=3)
    ref = rotation_reference(u, idx, n)
    assert ref.n_events == 0 and ref.decision == "undecided"
    assert ref.rate_high == pytest.approx(3.689 / (4 * 60.0), rel=1e-3)


def hopping_ions(n_frames: int, n_ions: int, rate_per_ps: float, a_A: float, seed: int,
                 vib_A: float = 0.2):
    """Unwrapped positions (n_frames, n_ions, 3) of lattice hoppers, and their hop count."""
    rng = np.random.default_rng(seed)
    hops = rng.random((n_frames - 1, n_ions)) < rate_per_ps * DT_PS
    dirs = np.concatenate([np.eye(3), -np.eye(3)])[rng.integers(0, 6, hops.shape)]
    steps = np.where(hops[..., None], a_A * dirs, 0.0)
    sites = np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(steps, axis=0)])
    sites += a_A * np.arange(n_ions)[None, :, None] * np.array([1.0, 0.0, 0.0])
    return sites + rng.normal(scale=vib_A, size=sites.shape), int(hops.sum())


def diffusion_reference(x, n_frames, a_A):
    lag = np.arange(n_frames) * DT_PS
    msd = msd_fft(x[:n_frames]).sum(axis=-1)
    hops = site_hops(x[:n_frames], DT_PS * 1000, hop_distance_A=a_A)
    return msd_at_reference(lag, msd, n_hops=hops.n_hops, hop_distance_A=a_A, n_boot=200), hops


@pytest.mark.parametrize(("rate", "n_ions", "truth"), [
    (0.1, 16, "yes"),     # nu a^2 = 1.44 A^2/ps: MSD(60) ~ 87 A^2
    (0.0, 64, "no"),      # vibration only: MSD ~ 0.24 A^2
])
def test_diffusion_decision_same_for_10_20_60_ps(rate, n_ions, truth):
    a = 3.8
    n60 = int(60 / DT_PS) + 1
    x, _ = hopping_ions(n60, n_ions, rate, a, seed=5)
    true_msd60 = 3 * 0.2**2 * 2 + rate * a**2 * 60.0
    for t_ps in (10, 20, 60):
        ref, _ = diffusion_reference(x, int(t_ps / DT_PS) + 1, a)
        assert ref.decision in (truth, "undecided"), (t_ps, ref)
        if ref.decision == "undecided":
            assert ref.low <= true_msd60 <= ref.high, (t_ps, ref)
    assert ref.decision == truth


def test_site_hops_count_every_hop():
    x, n_true = hopping_ions(int(30 / DT_PS) + 1, 8, 0.05, 3.8, seed=2)
    hops = site_hops(x, DT_PS * 1000, hop_distance_A=3.8)
    # a hop straight back within the smoothing window can be missed; nothing is invented
    assert 0.8 * n_true <= hops.n_hops <= n_true
    assert hops.rate_per_ion_ps == pytest.approx(hops.n_hops / (8 * 30.0))


def test_site_spacing_and_floor_from_the_structure():
    cell = np.diag([7.6, 7.6, 7.6])
    pos = np.array([[0, 0, 0], [3.8, 0, 0], [0, 3.8, 0], [3.8, 3.8, 0.0]])
    assert mobile_site_spacing_A(pos, cell, np.arange(4)) == pytest.approx(3.8)
    # floor: no hop in the run -> a^2 q_hi(0) / (6 N T)
    floor = diffusivity_floor_cm2_s(3.8, 4, 60.0)
    assert floor == pytest.approx(3.8**2 * 3.689 / (6 * 4 * 60.0) * 1e-4, rel=1e-3)
    # the constraint paper's 10 ns runs with ~100 mobile ions: far below its 1e-8 cut
    assert diffusivity_floor_cm2_s(3.8, 100, 10_000.0) < 1e-8


def test_multi_centre_rotor_vectors_follow_the_rigid_rotation(synth):
    """A P2S6-like group (two P centres, six S): centroid->ligand vectors = R(t) v0."""
    from mlkit.analysis.reorientation import center_ligand_vectors, rotor_center_positions

    p = np.array([[0, 0, 1.1], [0, 0, -1.1]])
    ang = np.radians([0, 120, 240])
    s_top = np.stack([2.0 * np.cos(ang), 2.0 * np.sin(ang), np.full(3, 1.8)], axis=1)
    s_bot = s_top * np.array([1, 1, -1.0])
    body = np.concatenate([p, s_top, s_bot])  # (8, 3) about the centroid
    rots = synth.rigid_rotor_orientations(200, 1, 0.5, 0.01, 4)[:, 0]  # (T, 3, 3)
    cell = np.diag([20.0, 20.0, 20.0])
    origin = np.array([19.5, 10.0, 10.0])  # the group straddles the cell boundary
    x = origin + np.einsum("tij,nj->tni", rots, body)
    x = x - np.floor(x / 20.0) * 20.0  # wrapped, as a stored frame may be
    v, idx = center_ligand_vectors(x, [np.array([0, 1])], [np.arange(2, 8)], cell)
    want = np.einsum("tij,nj->tni", rots, body[2:])
    assert np.allclose(v, want, atol=1e-9) and idx.tolist() == [0] * 6
    c = rotor_center_positions(x, [[0, 1]], cell)
    d = c[:, 0] - origin
    assert np.allclose(d - 20.0 * np.round(d / 20.0), 0.0, atol=1e-9)


def test_per_rotor_density_and_paper_phi_axis(synth):
    from mlkit.analysis.reorientation import orientation_density

    u = np.array([[[1.0, 0, 0]], [[0, 1.0, 0]]])  # +x then +y, in the xy plane
    _, _, p_edges = orientation_density(u)
    rho_x, _, _ = orientation_density(u[:1])
    rho_y, _, _ = orientation_density(u[:1], phi_axis="y")
    centres = 0.5 * (p_edges[1:] + p_edges[:-1])
    # +x is phi = 0 from x, and phi = -90 deg from y (paper's Fig. 5 convention)
    assert abs(centres[rho_x.sum(axis=0).argmax()]) < 5
    assert abs(centres[rho_y.sum(axis=0).argmax()] + 90) < 5
    pos, sp, cell, c, lig = synth.rotor_crystal(300, n_rotors=3, seed=1, d_r_per_ps=0.0)
    from mlkit.analysis import analyze_trajectory

    row, curves = analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig, return_curves=True,
                                     rotor_labels=["NbCl6"] * 3)
    assert curves["rho_per_rotor_per_sr"].shape == (3, 36, 72)
    assert row["rotor_species"] == "NbCl6" and row["rotation_species"] == "NbCl6"


def test_phonon_paper_preset(synth):
    from mlkit.analysis import AnalysisSettings, analyze_trajectory

    s = AnalysisSettings.preset("phonon-paper")
    assert (s.diffusivity_fit, s.stability_msd_A2, s.stability_fraction) == (
        "zero_intercept", 1.0, 0.2)
    with pytest.raises(MlkitError, match="unknown analysis preset"):
        AnalysisSettings.preset("nope")
    pos, sp, cell, c, lig = synth.rotor_crystal(600, seed=2, na_d_A2_ps=0.2)
    row = analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig, settings=s)
    assert row["diffusivity_cm2_s"] == row["diffusivity_zero_intercept_cm2_s"]
    assert row["diffusivity_fit"] == "zero_intercept" and not row["excluded_unstable"]
    # a framework that flows over the last 20 % is dropped
    melt = pos.copy()
    nm = np.array([x != "Na" for x in sp])
    signs = np.where(np.arange(nm.sum()) % 2, 1.0, -1.0)  # half go +x, half -x: no net drift
    melt[480:, nm, 0] += np.linspace(0, 3.0, 120)[:, None] * signs[None]
    row = analyze_trajectory(melt, sp, cell, 10.0, 800.0, c, lig, settings=s)
    assert row["excluded_unstable"] and row["stability_msd_A2"] > 1.0


def test_one_hop_with_a_flat_msd_does_not_decide_no_diffusion():
    """24 caged ions, one hop that came back: the flat MSD cannot exclude a hop rate of
    q_hi(1) / (N T); the decision must stay undecided (Na3PO4-like, 12 ps)."""
    rng = np.random.default_rng(0)
    n, n_ions = int(12 / DT_PS) + 1, 24
    x = rng.normal(scale=0.2, size=(n, n_ions, 3)) + 10.0 * np.arange(n_ions)[None, :, None]
    x[100:140, 0, 0] += 2.85  # one hop there and back
    ref, hops = diffusion_reference(x, n, 2.85)
    assert hops.n_hops >= 1
    assert ref.decision == "undecided" and ref.high > 5.0
