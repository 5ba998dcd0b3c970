"""Constrained-anion MD of NaNbCl6 (mp-28178, 800 K, CHGNet): UC / RC / RTC / RTVC.

The constraint paper (Li et al. 2025) splits the conductivity into the contributions of
anion rotation, translation and vibration by freezing each in turn. Here the rotors are
the NbCl6 octahedra (``find_rotors``); the cell is the 32-atom conventional cell of the
rotation-paper runs (``experiments/md_real_runs.py``), whose seed-0 60 ps run is the UC
reference (analysed over the same length as the constrained runs).

Usage (resumable: rerun after a kill)::

    nohup .venv/bin/python experiments/constrained_md.py run --time-ps 20 > cmd.log 2>&1 &
    .venv/bin/python experiments/constrained_md.py analyze

Trajectories go to experiments/results/md/traj/ (git-ignored); the table and the plot to
experiments/results/md/constrained_*.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "phonondb_na" / "structures"
RESULTS = ROOT / "experiments" / "results" / "md"
TRAJ = RESULTS / "traj"
MP_ID, NAME, TEMPERATURE_K = "mp-28178", "NaNbCl6", 800.0
TAG = f"{MP_ID}_{NAME}_conventional"
MODES = ("rc", "rtc", "rtvc")


def _settings(constraint: str, time_ps: float, threads: int, equilibration_ps: float):
    from mlkit.md import MDSettings

    return MDSettings(
        temperature_K=TEMPERATURE_K, time_ps=time_ps, timestep_fs=2.0,
        equilibration_ps=equilibration_ps,
        ensemble="nvt-nose-hoover", supercell_min_length_A=0.0, potential="chgnet",
        threads=threads, seed=0, save_every=5, checkpoint_every=20, constraint=constraint)


def run(args: argparse.Namespace) -> None:
    from mlkit.md import MDRun, run_dir_for
    from mlkit.structures import read_structure

    with open(RESULTS / "real_runs_command.txt", "a") as fh:
        fh.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime())
                 + ".venv/bin/python experiments/constrained_md.py " + " ".join(sys.argv[1:])
                 + "\n")
    structure = read_structure(DATA / f"{MP_ID}_POSCAR-unitcell.vasp")
    for mode in args.modes:
        settings = _settings(mode, args.time_ps, args.threads, args.equilibration_ps)
        run_dir = run_dir_for(TRAJ, TAG, TEMPERATURE_K, mode)
        t0 = time.time()
        result = MDRun(structure, run_dir, settings, source=f"{MP_ID}_{NAME}",
                       progress=True).run()
        print(json.dumps({"mode": mode, "status": result.status, "message": result.message,
                          "n_frames": result.n_frames, "ms_per_step": result.ms_per_step,
                          "wall_s": time.time() - t0}), flush=True)


def _cut_row(run_dir: Path, cut_ps: float) -> dict:
    """Label row of the first ``cut_ps`` of a run (all modes analysed over the same length)."""
    from mlkit.analysis import analyze_trajectory
    from mlkit.labels.md import rotor_groups
    from mlkit.md import TrajectoryStore

    store = TrajectoryStore(run_dir)
    traj, meta = store.read(), store.read_meta()
    k = min(len(traj["step"]), int(round(cut_ps * 1000 / meta["frame_interval_fs"])) + 1)
    initial = store.read_initial()
    centers, ligands, labels = rotor_groups(initial, meta["mobile_ion"])
    row = analyze_trajectory(
        traj["positions_A"][:k], traj["species"], traj["cell_A"][0], meta["frame_interval_fs"],
        meta["temperature_K"], centers, ligands, mobile_ion=meta["mobile_ion"],
        velocities_A_fs=traj["velocities_A_fs"][:k], rotor_labels=labels,
        site_positions_A=initial.cart_coords)
    row["status"] = store.status
    row.update(_run_diagnostics(traj, meta, k))
    return row


def _run_diagnostics(traj: dict, meta: dict, k: int) -> dict:
    """Conserved-energy drift, largest pin angle and pressure when the run stored them."""
    import numpy as np

    out: dict = {"wall_s": meta.get("wall_s", float("nan"))}
    t_ps = np.asarray(traj["time_fs"][:k], dtype=float) / 1000.0
    n_atoms = traj["positions_A"].shape[1]
    if "conserved_energy_eV" in traj:
        e = np.asarray(traj["conserved_energy_eV"][:k], dtype=float)
        slope = np.polyfit(t_ps - t_ps[0], e, 1)[0]
        out["energy_drift_meV_atom_ps"] = float(1000.0 * slope / n_atoms)
        out["energy_max_dev_meV_atom"] = float(1000.0 * np.max(np.abs(e - e[0])) / n_atoms)
    if "pin_angle_deg" in traj:
        out["max_pin_angle_deg"] = float(np.nanmax(traj["pin_angle_deg"][:k]))
    if "pressure_GPa" in traj:
        p = np.asarray(traj["pressure_GPa"][:k], dtype=float)
        out["pressure_GPa"] = float(np.mean(p))
    return out


def analyze(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from mlkit.analysis import contribution_intervals
    from mlkit.md import run_dir_for

    dirs = {"uc": run_dir_for(TRAJ, TAG, TEMPERATURE_K)}
    dirs.update({m: run_dir_for(TRAJ, TAG, TEMPERATURE_K, m) for m in MODES})
    rows = {}
    for mode, d in dirs.items():
        if not (d / "meta.json").exists():
            print(f"{mode}: no run at {d}")
            continue
        rows[mode] = _cut_row(d, args.cut_ps)
    if not rows:
        raise SystemExit("nothing to analyse")
    cols = ["status", "duration_ps", "n_rotors", "diffusivity_cm2_s", "diffusivity_low_cm2_s",
            "diffusivity_high_cm2_s", "diffusivity_floor_cm2_s", "conductivity_mS_cm",
            "msd_mobile_A2", "n_site_hops", "c_t_end", "n_reorientation_jumps",
            "energy_drift_meV_atom_ps", "energy_max_dev_meV_atom", "max_pin_angle_deg",
            "pressure_GPa"]
    table = pd.DataFrame({m: {c: r.get(c) for c in cols} for m, r in rows.items()}).T
    table.index.name = "mode"
    table.to_csv(RESULTS / "constrained_NaNbCl6_800K.csv")
    text = ["# Constrained-anion MD: NaNbCl6 (mp-28178), 800 K, CHGNet, conventional cell\n",
            f"Each mode analysed over its first min({args.cut_ps:g} ps, run length) (UC = the "
            "seed-0 run of md_real_runs.py); a shorter run has a higher diffusivity floor. "
            "Rotors: NbCl6 (find_rotors). D intervals: 95 %, bootstrap over Na ions widened "
            "by hop counting (docs/analysis.md).\n",
            table.to_markdown(floatfmt=".3g"), ""]
    if len(rows) == 4:
        d = {m: (r["diffusivity_cm2_s"], r["diffusivity_low_cm2_s"],
                 r["diffusivity_high_cm2_s"]) for m, r in rows.items()}
        floors = {m: r["diffusivity_floor_cm2_s"] for m, r in rows.items()}
        contrib = contribution_intervals(d, floor_by_mode=floors)
        lines = ["| mode | Delta (decades) | 95 % | r_mode | 95 % | status |",
                 "|---|---|---|---|---|---|"]
        def fmt(x: float) -> str:
            return "-" if not np.isfinite(x) else f"{x:.2f}"

        for name in ("rot", "trs", "vib"):
            c = {k: contrib[f"{k}_{name}"] for k in ("delta", "r")}
            c.update({f"{k}_{b}": contrib[f"{k}_{name}_{b}"] for k in ("delta", "r")
                      for b in ("low", "high")})
            lines.append(
                f"| {name} | {fmt(c['delta'])} | [{fmt(c['delta_low'])}, {fmt(c['delta_high'])}]"
                f" | {fmt(c['r'])} | [{fmt(c['r_low'])}, {fmt(c['r_high'])}] | "
                f"{contrib[f'status_{name}']} |")
        text += ["## Contributions (Li et al. 2025 definitions)\n", "\n".join(lines),
                 "\nStatus: lower_bound = the subtracted mode is below its floor (the true "
                 "Delta is larger); undetermined = both modes below their floors (no value); "
                 "r_mode only when all four modes are measured.", ""]
        (RESULTS / "constrained_NaNbCl6_contributions.json").write_text(
            json.dumps(contrib, indent=1, default=float))
        fig, ax = plt.subplots(figsize=(5, 3.5))
        modes = list(rows)
        y = np.array([rows[m]["diffusivity_cm2_s"] for m in modes], dtype=float)
        lo = np.array([rows[m]["diffusivity_low_cm2_s"] for m in modes], dtype=float)
        hi = np.array([rows[m]["diffusivity_high_cm2_s"] for m in modes], dtype=float)
        fl = np.array([rows[m]["diffusivity_floor_cm2_s"] for m in modes], dtype=float)
        shown = np.maximum(y, fl)  # a D below its floor is drawn at the floor
        err = [shown - np.maximum(lo, fl * 0.5), np.maximum(hi, fl) - shown]
        ax.errorbar(range(len(modes)), shown, yerr=err, marker="o", capsize=4, ls="none")
        ax.plot(range(len(modes)), fl, "k_", ms=20, label="floor (no hop seen)")
        ax.set_xticks(range(len(modes)), [m.upper() for m in modes])
        ax.set_yscale("log")
        ax.set_ylabel("Na tracer D (cm$^2$/s)")
        ax.set_title(f"NaNbCl6 800 K, first <= {args.cut_ps:g} ps of each mode")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(RESULTS / "constrained_NaNbCl6_D.png", dpi=130)
    (RESULTS / "constrained_NaNbCl6_800K.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("--time-ps", type=float, default=20.0)
    p.add_argument("--equilibration-ps", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.set_defaults(func=run)
    a = sub.add_parser("analyze")
    a.add_argument("--cut-ps", type=float, default=10.0)
    a.set_defaults(func=analyze)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
