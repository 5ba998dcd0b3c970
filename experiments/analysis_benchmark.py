"""Trajectory-analysis benchmark: speed and accuracy of mlkit.analysis.

Speed: mlkit's FFT MSD + diffusivity fit against pymatgen-analysis-diffusion's
DiffusionAnalyzer (default smoothed="max") on the SAME long trajectory
(default 20,000 frames x 100 atoms, a random walk of 50 Na in a real rock-salt
NaCl lattice), and against a direct O(T^2) windowed-MSD loop (shorter run).
Accuracy: the analytic cases (random walk D, rotational diffusion D_r,
harmonic-oscillator peak, Arrhenius recovery) and DiffusionAnalyzer agreement.

Run:  /work/venv/bin/python experiments/analysis_benchmark.py [--frames 20000] [--atoms 100]
Writes experiments/results/analysis/{benchmark.json, benchmark.csv, *.png}.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from mlkit.analysis import (
    diffusivity_block_average,
    diffusivity_from_msd,
    diffusivity_gls,
    drift_correct,
    fit_arrhenius,
    msd_by_species,
    msd_fft,
    orientation_density,
    power_spectrum,
    reorientation_acf,
    vacf,
)
from mlkit.analysis.arrhenius import KB_EV_K
from mlkit.analysis.plots import (
    plot_arrhenius,
    plot_c_t,
    plot_msd,
    plot_orientation_density,
    plot_spectra,
)

OUT = Path(__file__).resolve().parent / "results" / "analysis"
TIME_STEP_FS, STEP_SKIP = 2, 10
DT_FS = TIME_STEP_FS * STEP_SKIP
D_TRUE_A2_PS = 0.1  # 1e-5 cm^2/s


def _timeit(fn, repeat: int = 3):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def make_trajectory(n_frames: int, n_atoms: int, seed: int = 0):
    """Na random walk (known D) in a rock-salt lattice; Cl vibrate; the whole cell drifts."""
    from pymatgen.core import Lattice, Structure

    prim = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    n_cells = max(1, n_atoms // 2)
    # factor n_cells into a near-cubic supercell
    dims = [1, 1, 1]
    for f in _factor(n_cells):
        dims[int(np.argmin(dims))] *= f
    s0 = prim * dims
    rng = np.random.default_rng(seed)
    is_na = np.array([sp.symbol == "Na" for sp in s0.species])
    steps = np.zeros((n_frames - 1, len(s0), 3))
    steps[:, is_na] = rng.normal(scale=np.sqrt(2 * D_TRUE_A2_PS * DT_FS / 1000),
                                 size=(n_frames - 1, is_na.sum(), 3))
    x = s0.cart_coords[None] + np.concatenate([np.zeros((1, len(s0), 3)),
                                               np.cumsum(steps, axis=0)])
    x[:, ~is_na] += rng.normal(scale=0.1, size=(n_frames, (~is_na).sum(), 3))
    x += np.cumsum(rng.normal(scale=0.02, size=(n_frames, 1, 3)), axis=0)
    return s0, x, [sp.symbol for sp in s0.species]


def _factor(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return sorted(out, reverse=True)


def mlkit_d(x, species):
    mask = np.array([s != "Na" for s in species])
    res = msd_by_species(x, species, DT_FS, framework_mask=mask, drift_weights="equal")
    fit = diffusivity_from_msd(res.lag_ps, res.total("Na"))
    return fit, res


def direct_windowed_msd(x: np.ndarray) -> np.ndarray:
    """O(T^2) reference: explicit loop over lags (what FFT replaces)."""
    n = len(x)
    out = np.empty(n)
    for m in range(n):
        d = x[m:] - x[: n - m]
        out[m] = np.einsum("tik,tik->", d, d) / ((n - m) * x.shape[1])
    return out


def analyzer(s0, x, smoothed):
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer

    disp = np.transpose(x - x[:1], (1, 0, 2))  # (atoms, frames, 3), same input as mlkit
    return DiffusionAnalyzer(s0, disp, "Na", 800.0, TIME_STEP_FS, STEP_SKIP, smoothed=smoothed)


def rotational_diffusion(d_r: float = 0.5, dt_ps: float = 0.01, n: int = 1000,
                         n_vec: int = 500, seed: int = 0):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n_vec, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    out = np.empty((n, n_vec, 3))
    out[0] = u
    sigma = np.sqrt(2 * d_r * dt_ps)
    for t in range(1, n):
        w = rng.normal(scale=sigma, size=(n_vec, 3))
        ang = np.linalg.norm(w, axis=1, keepdims=True)
        k = w / ang
        ku = np.sum(k * u, 1, keepdims=True)
        u = u * np.cos(ang) + np.cross(k, u) * np.sin(ang) + k * ku * (1 - np.cos(ang))
        out[t] = u
    return out


def _rotor_crystal(n: int, dt_ps: float, seed: int = 0):
    """8 octahedral rotors (Brownian rotation, D_r = 0.3/ps) + 8 Na random-walking
    (D = 0.2 A^2/ps) with harmonic vibration in a 10 A cubic cell."""
    rng = np.random.default_rng(seed)
    grid = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float)
    centres = (grid + 0.25) * 5.0
    octa = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1.0]])
    from scipy.spatial.transform import Rotation

    rots = np.empty((n, 8, 3, 3))
    cur = Rotation.identity(8)
    for t in range(n):
        if t:
            cur = Rotation.from_rotvec(rng.normal(scale=np.sqrt(2 * 0.3 * dt_ps),
                                                  size=(8, 3))) * cur
        rots[t] = cur.as_matrix()
    f0 = 3.0  # THz vibration of Na in its cage
    tt = np.arange(n) * dt_ps
    na = ((grid + 0.75) * 5.0)[None] + 0.1 * np.cos(2 * np.pi * f0 * tt[:, None, None]
                                                    + rng.uniform(0, 6.3, (1, 8, 3)))
    na = na + np.concatenate([np.zeros((1, 8, 3)), np.cumsum(
        rng.normal(scale=np.sqrt(2 * 0.2 * dt_ps), size=(n - 1, 8, 3)), axis=0)])
    cpos = centres[None] + rng.normal(scale=0.05, size=(n, 8, 3))
    lig = cpos[:, :, None] + 2.4 * np.einsum("trij,lj->trli", rots, octa)
    pos = np.concatenate([cpos, lig.reshape(n, 48, 3), na], axis=1)
    species = ["Nb"] * 8 + ["Cl"] * 48 + ["Na"] * 8
    return (pos, species, np.eye(3) * 10.0, np.arange(8),
            [8 + 6 * r + np.arange(6) for r in range(8)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--atoms", type=int, default=100)
    ap.add_argument("--direct-frames", type=int, default=4000,
                    help="frames for the O(T^2) direct-loop baseline")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": platform.platform(), "python": sys.version.split()[0]}

    # ---------------- speed: FFT MSD vs DiffusionAnalyzer on the same trajectory
    s0, x, species = make_trajectory(args.frames, args.atoms)
    n_na = sum(s == "Na" for s in species)
    print(f"trajectory: {args.frames} frames x {len(species)} atoms ({n_na} Na), dt {DT_FS} fs")
    t_ml, (fit_ml, res) = _timeit(lambda: mlkit_d(x, species))
    t_da, da = _timeit(lambda: analyzer(s0, x, "max"), repeat=2)
    speed = {
        "frames": args.frames, "atoms": len(species),
        "mlkit_fft_msd_fit_s": t_ml, "diffusion_analyzer_max_s": t_da,
        "ratio_da_over_mlkit": t_da / t_ml,
    }
    xs = x[: args.direct_frames]
    t_fft_small, msd_small = _timeit(lambda: msd_fft(xs).mean(axis=1).sum(axis=1))
    t_direct, msd_direct = _timeit(lambda: direct_windowed_msd(xs), repeat=1)
    speed.update(direct_frames=args.direct_frames, direct_loop_s=t_direct,
                 fft_same_input_s=t_fft_small, ratio_direct_over_fft=t_direct / t_fft_small,
                 direct_vs_fft_max_abs_diff_A2=float(np.max(np.abs(msd_small - msd_direct))))
    results["speed"] = speed
    print(f"mlkit FFT MSD + fit: {t_ml:.3f} s   DiffusionAnalyzer(max): {t_da:.3f} s   "
          f"ratio DA/mlkit = {t_da / t_ml:.2f}")
    print(f"direct O(T^2) loop ({args.direct_frames} frames): {t_direct:.2f} s vs FFT "
          f"{t_fft_small:.4f} s -> ratio {t_direct / t_fft_small:.0f}")

    # ---------------- accuracy vs DiffusionAnalyzer
    mask = np.array([s != "Na" for s in species])
    n = len(x)
    min_dt = int(1000 / DT_FS)
    max_dt = min(n_na * n // 30, n)
    window = slice(min_dt, max_dt, max(int((max_dt - min_dt) / 200), 1))
    matched = diffusivity_from_msd(res.lag_ps, res.total("Na"), window=window,
                                   weighting="inverse_time")
    xc = drift_correct(x, mask)
    block, _ = diffusivity_block_average(xc[:, ~mask], DT_FS)
    gls = diffusivity_gls(res.lag_ps, res.total("Na"), n_na)
    nf = 3000
    da_false = analyzer(s0, x[:nf], False)
    res_f = msd_by_species(x[:nf], species, DT_FS, framework_mask=mask, drift_weights="equal",
                           time_origin_average=False)
    fit_f = diffusivity_from_msd(res_f.lag_ps, res_f.total("Na"), window=slice(0, nf))
    da_acc = {
        "d_true_cm2_s": D_TRUE_A2_PS * 1e-4,
        "da_max_cm2_s": float(da.diffusivity),
        "mlkit_matched_max_cm2_s": matched.diffusivity_cm2_s,
        "matched_max_rel_diff": matched.diffusivity_cm2_s / da.diffusivity - 1,
        "da_false_cm2_s": float(da_false.diffusivity),
        "mlkit_matched_false_cm2_s": fit_f.diffusivity_cm2_s,
        "matched_false_rel_diff": fit_f.diffusivity_cm2_s / da_false.diffusivity - 1,
        "mlkit_ols_window_cm2_s": fit_ml.diffusivity_cm2_s,
        "mlkit_ols_block_err_cm2_s": block.diffusivity_err_cm2_s,
        "ols_vs_da_max_rel_diff": fit_ml.diffusivity_cm2_s / da.diffusivity - 1,
        "mlkit_gls_cm2_s": gls.diffusivity_cm2_s,
        "mlkit_gls_err_cm2_s": gls.diffusivity_err_cm2_s,
        "gls_vs_da_max_rel_diff": gls.diffusivity_cm2_s / da.diffusivity - 1,
        "gls_vs_true_rel_diff": gls.diffusivity_cm2_s / (D_TRUE_A2_PS * 1e-4) - 1,
        "mlkit_ols_vs_true_rel_diff": fit_ml.diffusivity_cm2_s / (D_TRUE_A2_PS * 1e-4) - 1,
    }
    results["vs_diffusion_analyzer"] = da_acc
    print("vs DiffusionAnalyzer:", json.dumps(da_acc, indent=1))
    plot_msd(res.lag_ps, {"Na": res.msd_A2["Na"], "Cl": res.msd_A2["Cl"]},
             OUT / "msd_random_walk.png", title="random walk, D = 1e-5 cm^2/s")

    # ---------------- analytic cases
    rng = np.random.default_rng(1)
    steps = rng.normal(scale=np.sqrt(2 * 0.05 * 0.05), size=(1999, 1000, 3))
    rw = np.concatenate([np.zeros((1, 1000, 3)), np.cumsum(steps, axis=0)])
    r = msd_by_species(rw, ["Na"] * 1000, 50.0)
    d_rw = diffusivity_from_msd(r.lag_ps, r.total("Na")).diffusivity_cm2_s / 1e-4
    d_r, dt_r = 0.5, 0.01
    u = rotational_diffusion(d_r, dt_r)
    c = reorientation_acf(u)
    t = np.arange(len(c)) * dt_r
    sel = t <= 1.5
    d_r_est = -np.polyfit(t[sel], np.log(c[sel]), 1)[0] / 2
    plot_c_t(t, c, OUT / "c_t_rotational_diffusion.png", reference=np.exp(-2 * d_r * t),
             title="Brownian rotation, D_r = 0.5 /ps")
    rho, te, pe = orientation_density(u)
    plot_orientation_density(rho, te, pe, OUT / "rho_rotational_diffusion.png",
                             title="isotropic: rho = 1/(4 pi)")
    f0, dt_fs = 5.0, 2.0
    tt = np.arange(4000) * dt_fs / 1000
    ph = rng.uniform(0, 2 * np.pi, size=(1, 50, 3))
    v = -np.sin(2 * np.pi * f0 * tt[:, None, None] + ph)
    freq, spec = power_spectrum(vacf(v), dt_fs)
    peak = float(freq[np.argmax(spec)])
    plot_spectra(freq, {"harmonic oscillator VACF": spec}, OUT / "spectrum_harmonic.png",
                 title="f0 = 5 THz")
    temps = np.array([600.0, 700.0, 800.0, 900.0, 1000.0])
    d_true = 3e-3 * np.exp(-0.24 / (KB_EV_K * temps))
    d_noisy = d_true * np.exp(rng.normal(scale=0.1, size=5))
    afit = fit_arrhenius(temps, d_noisy, 0.1 * d_noisy)
    sig300, sig300_err = afit.conductivity(300.0, 16, 1500.0)
    plot_arrhenius(temps, d_noisy, OUT / "arrhenius_synthetic.png",
                   diffusivity_errs_cm2_s=0.1 * d_noisy, fit=afit,
                   title="synthetic, true Ea = 0.24 eV", label="synthetic D (10 % noise)")
    results["analytic"] = {
        "random_walk_d_true_A2_ps": 0.05, "random_walk_d_est_A2_ps": d_rw,
        "random_walk_rel_err": d_rw / 0.05 - 1,
        "rot_diffusion_d_r_true_per_ps": d_r, "rot_diffusion_d_r_est_per_ps": float(d_r_est),
        "rot_diffusion_rel_err": float(d_r_est / d_r - 1),
        "harmonic_f0_THz": f0, "harmonic_peak_THz": peak,
        "harmonic_resolution_THz": float(freq[1] - freq[0]),
        "arrhenius_ea_true_eV": 0.24, "arrhenius_ea_eV": afit.activation_energy_eV,
        "arrhenius_ea_err_eV": afit.activation_energy_err_eV,
        "arrhenius_sigma300_mS_cm": sig300, "arrhenius_sigma300_err_mS_cm": sig300_err,
    }
    print("analytic:", json.dumps(results["analytic"], indent=1))

    # ---------------- one full label row on a synthetic rotor crystal (example plots)
    from mlkit.analysis import analyze_trajectory
    from mlkit.analysis.plots import plot_trajectory_curves

    pos, sp, cell, cen, lig = _rotor_crystal(3000, dt_ps=0.01)
    row, curves = analyze_trajectory(pos, sp, cell, 10.0, 800.0, cen, lig, return_curves=True)
    plot_trajectory_curves(curves, OUT, prefix="synthetic_rotor_crystal")
    results["synthetic_rotor_crystal_row"] = {k: row[k] for k in (
        "category", "c_t_end", "msd_mobile_A2", "diffusivity_cm2_s", "diffusivity_err_cm2_s",
        "diffusivity_gls_cm2_s", "conductivity_mS_cm", "n_reorientation_jumps",
        "rotation_rate_per_rotor_ps", "mean_jump_angle_deg", "vdos_center_mobile_THz")}
    print("synthetic rotor crystal row:", results["synthetic_rotor_crystal_row"])

    (OUT / "benchmark.json").write_text(json.dumps(results, indent=2, default=float))
    rows = [("section", "quantity", "value")]
    for sec in ("speed", "vs_diffusion_analyzer", "analytic", "synthetic_rotor_crystal_row"):
        rows += [(sec, k, str(v)) for k, v in results[sec].items()]
    (OUT / "benchmark.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
