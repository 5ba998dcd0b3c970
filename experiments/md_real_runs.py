"""Real CHGNet MD of NaNbCl6 (mp-28178, 800 K) and Na3PO4 (mp-4223, 1300 K).

The rotation paper (Yang et al. 2024) finds both polyanion frameworks rotating at
these temperatures. Usage (resumable: rerun the same command after a kill)::

    nohup /work/venv/bin/python experiments/md_real_runs.py run --time-ps 15 > run.log 2>&1 &
    /work/venv/bin/python experiments/md_real_runs.py analyze   # works on partial runs too

Trajectories go to experiments/results/md/traj/ (git-ignored); the labels CSV, the
plots and the command line go to experiments/results/md/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "phonondb_na" / "structures"
RESULTS = ROOT / "experiments" / "results" / "md"
TRAJ = RESULTS / "traj"
#: id -> (formula, paper temperature K, supercell min length A, run-directory tag)
#: NaNbCl6: 2x2x1 supercell of the 32-atom conventional cell (128 atoms, >= 8 A).
#: Na3PO4: the 64-atom conventional cell itself (c = 6.75 A < 8 A). The paper's MD diagnosis
#: uses the conventional cell; the 128-atom 1x1x2 supercell ran at ~3 s/step on this shared
#: machine (load ~9 on 2 cores), too slow for >= 10 ps in the session, so it was stopped.
SYSTEMS = {
    "mp-28178": ("NaNbCl6", 800.0, 8.0, ""),
    "mp-4223": ("Na3PO4", 1300.0, 0.0, "_conventional"),
}


def run_tag(mp_id: str, cell: str, seed: int, potential: str, npt_ps: float = 0.0) -> str:
    """Run-directory name: ``<id>_<formula>[_conventional][_seed<k>][_<potential>][_npt]``."""
    name, _, _, default_tag = SYSTEMS[mp_id]
    tag = {"conventional": "_conventional", "supercell": ""}.get(cell, default_tag)
    tag += f"_seed{seed}" if seed else ""
    tag += "" if potential == "chgnet" else f"_{potential}"
    tag += "_npt" if npt_ps > 0 else ""
    return f"{mp_id}_{name}{tag}"


def _run_one(mp_id: str, time_ps: float, equilibration_ps: float, threads: int,
             cell: str = "default", seed: int = 0, potential: str = "chgnet",
             npt_ps: float = 0.0) -> dict:
    from mlkit.md import MDRun, MDSettings, run_dir_for
    from mlkit.structures import read_structure

    name, temperature_K, min_length_A, _ = SYSTEMS[mp_id]
    if cell == "conventional":
        min_length_A = 0.0
    elif cell == "supercell":
        min_length_A = 8.0
    structure = read_structure(DATA / f"{mp_id}_POSCAR-unitcell.vasp")
    settings = MDSettings(
        temperature_K=temperature_K, time_ps=time_ps, timestep_fs=2.0,
        equilibration_ps=equilibration_ps, ensemble="nvt-nose-hoover",
        supercell_min_length_A=min_length_A, potential=potential, threads=threads, seed=seed,
        save_every=5, checkpoint_every=20, npt_equilibration_ps=npt_ps, pressure_GPa=0.0,
    )
    run_dir = run_dir_for(TRAJ, run_tag(mp_id, cell, seed, potential, npt_ps), temperature_K)
    result = MDRun(structure, run_dir, settings, source=f"{mp_id}_{name}", progress=True).run()
    return {"id": mp_id, "status": result.status, "message": result.message,
            "n_frames": result.n_frames, "ms_per_step": result.ms_per_step}


def run(args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "real_runs_command.txt", "a") as fh:  # every invocation, in order
        fh.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime())
                 + "/work/venv/bin/python experiments/md_real_runs.py "
                 + " ".join(sys.argv[1:]) + "\n")
    t0 = time.time()
    ids = args.only or list(SYSTEMS)
    with ProcessPoolExecutor(max_workers=len(ids)) as pool:
        futures = [pool.submit(_run_one, mp, args.time_ps, args.equilibration_ps, args.threads,
                               args.cell, args.seed, args.potential, args.npt_ps)
                   for mp in ids]
        for fut in futures:
            print(json.dumps(fut.result()), flush=True)
    print(f"total {time.time() - t0:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("--time-ps", type=float, default=15.0)
    p.add_argument("--equilibration-ps", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="+", default=None, help="subset of ids (mp-28178 mp-4223)")
    p.add_argument("--cell", choices=["default", "conventional", "supercell"], default="default",
                   help="conventional cell (the paper's diagnosis) or >= 8 A supercell")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--potential", default="chgnet")
    p.add_argument("--npt-ps", type=float, default=0.0,
                   help="NPT stage (0 GPa, Berendsen) before NVT: the potential's own cell at T")
    p.set_defaults(func=run)
    a = sub.add_parser("analyze")
    a.add_argument("--pressure-samples", type=int, default=60,
                   help="frames re-evaluated for the pressure when it is not stored")
    a.set_defaults(func=lambda args: analyze(args))
    args = parser.parse_args()
    args.func(args)


#: the paper's diagnosis (Yang et al. 2024): both among the 12 category-1 candidates
#: (polyanion rotation and Na diffusion) at 800 K (chloride) / 1300 K (oxide).
PAPER = {"mp-28178": {"paper_category": 1, "paper_rotates": True},
         "mp-4223": {"paper_category": 1, "paper_rotates": True}}
#: cuts of every run analysed as if the run had stopped there (run-length independence)
CUTS_PS = (4.0, 10.0, 20.0, 40.0, 60.0)  # 4 ps: the campaign survey length
CUT_COLUMNS = ["run", "cut_ps", "n_rotors", "n_mobile", "c_t_end", "c_t_ref", "c_t_ref_low",
               "c_t_ref_high", "n_reorientation_jumps", "rotation_decision", "msd_mobile_A2",
               "msd_mobile_ref_A2", "msd_mobile_ref_low_A2", "msd_mobile_ref_high_A2",
               "n_site_hops", "diffusion_decision", "diffusivity_cm2_s",
               "diffusivity_floor_cm2_s", "category", "category_decision"]


def _run_dirs() -> list:
    """Unconstrained runs only (the constrained ones belong to experiments/constrained_md.py)."""
    from mlkit.labels.md import find_run_dirs

    dirs = find_run_dirs(TRAJ) if TRAJ.exists() else []
    return [d for d in dirs if json.loads((d / "meta.json").read_text())
            .get("constraint", "none") == "none"]


def analyze(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from mlkit.analysis.plots import plot_trajectory_curves
    from mlkit.labels.md import analyze_run, pressure_from_frames
    from mlkit.md import TrajectoryStore

    rows, cut_rows, curves_by = [], [], {}
    for run_dir in _run_dirs():
        tag = run_dir.parent.name
        mp_id = tag.split("_")[0]
        store = TrajectoryStore(run_dir)
        traj, meta = store.read(), store.read_meta()
        n = len(traj["step"])
        if n < 101:
            print(f"{run_dir}: only {n} production frames so far")
            continue
        # the label row mlkit produces, and its curves
        row, curves = analyze_run(run_dir, include_partial=True, return_curves=True)
        if "pressure_GPa" not in row or not np.isfinite(row.get("pressure_GPa", np.nan)):
            row.update(pressure_from_frames(run_dir, n_samples=args.pressure_samples))
        interval_ps = meta["frame_interval_fs"] / 1000.0
        for cut in CUTS_PS:
            if int(round(cut / interval_ps)) + 1 > n:
                break
            cut_row = analyze_run(run_dir, include_partial=True, production_ps=cut)
            cut_rows.append({"run": tag, "cut_ps": cut,
                             **{c: cut_row.get(c) for c in CUT_COLUMNS[2:]}})
        plot_trajectory_curves(curves, RESULTS, prefix=tag)
        curves_by[f"{tag} {meta['temperature_K']:g} K"] = curves
        rows.append({"run": tag, "formula": SYSTEMS[mp_id][0], **PAPER[mp_id],
                     **{k: v for k, v in row.items() if k != "id"}})
    if not rows:
        raise SystemExit("nothing to analyse yet")
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "real_runs_labels.csv", index=False)
    cuts = pd.DataFrame(cut_rows, columns=CUT_COLUMNS)
    cuts.to_csv(RESULTS / "real_runs_cuts.csv", index=False)
    cols = ["run", "temperature_K", "status", "potential", "seed", "supercell", "n_atoms",
            "production_ps", "n_rotors", "rotor_species", "c_t_end", "c_t_ref", "c_t_ref_low",
            "c_t_ref_high", "rotation_decision", "msd_mobile_A2", "msd_mobile_ref_A2",
            "msd_mobile_ref_low_A2", "msd_mobile_ref_high_A2", "diffusion_decision",
            "diffusivity_cm2_s", "diffusivity_low_cm2_s", "diffusivity_high_cm2_s",
            "diffusivity_floor_cm2_s", "pressure_GPa", "pressure_sem_GPa", "msd_framework_A2",
            "framework_melted", "polyanions_intact", "category", "category_decision",
            "paper_category", "n_reorientation_jumps", "rotation_rate_per_rotor_ps",
            "n_site_hops", "site_hop_rate_per_ion_ps", "hop_distance_A", "n_hops",
            "coupling_shell_cutoff_A", "coupling_pearson_mean"]
    table = df[[c for c in cols if c in df.columns]]
    header = (
        "# Real CHGNet MD runs vs the rotation paper\n\n"
        "Generated by `experiments/md_real_runs.py analyze` (commands: real_runs_command.txt).\n"
        "NVT Nose-Hoover (ASE NoseHooverChainNVT, tdamp 200 fs), 2 fs, CHGNet, a frame every\n"
        "10 fs. Paper (Yang et al. 2024, AIMD 60 ps, conventional cell): both category 1.\n"
        "Criteria at the reference time 60 ps with 95 % intervals (bootstrap over rotors /\n"
        "ions, widened by counting statistics of jumps / hops): rotation C(60 ps) < 0.9,\n"
        "diffusion Na MSD(60 ps) > 5 A^2. status 'partial' = run still going. Pressure\n"
        "re-evaluated with the run's potential on evenly spaced stored frames (kinetic\n"
        "term included) when the frames do not store it.\n\n"
    )
    cut_md = cuts.to_markdown(index=False, floatfmt=".3g")
    (RESULTS / "real_runs_summary.md").write_text(
        header + table.T.to_markdown(floatfmt=".4g") + "\n\n## The same runs cut at "
        "10 / 20 / 40 / 60 ps\n\nEach cut analysed as if the run had stopped there "
        "(decisions at 60 ps from the cut's data).\n\n" + cut_md + "\n")
    print(table.T.to_string())
    print(cuts.to_string(index=False))

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, curves in curves_by.items():
        lag = np.asarray(curves["lag_ps"])
        if "c_t" in curves:
            axes[0].plot(lag, curves["c_t"], label=label)
        na = np.asarray(curves["msd_A2"]["Na"])  # (n_lags, 3): x, y, z
        axes[1].plot(lag, na.sum(axis=1), label=label)
    axes[0].axhline(0.9, color="k", ls=":", lw=1, label="rotation threshold 0.9")
    axes[0].set(xlabel="t (ps)", ylabel="C(t)", title="polyanion reorientation")
    axes[1].axhline(5.0, color="k", ls=":", lw=1, label="diffusion threshold 5 A$^2$")
    axes[1].set(xlabel="t (ps)", ylabel="Na MSD (A$^2$)", title="Na MSD (time-origin averaged)")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "real_runs_c_t_msd.png", dpi=130)
    _plot_cuts(cuts, RESULTS / "real_runs_cuts.png")
    print(f"wrote {RESULTS / 'real_runs_labels.csv'}, real_runs_cuts.csv and PNGs")


def _plot_cuts(cuts, path) -> None:
    """C(60 ps) and MSD(60 ps) with intervals against the cut length, per run."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, (run, g) in enumerate(cuts.groupby("run")):
        x = g["cut_ps"].to_numpy() + 0.6 * k
        for ax, (v, lo, hi) in zip(axes, (("c_t_ref", "c_t_ref_low", "c_t_ref_high"),
                                          ("msd_mobile_ref_A2", "msd_mobile_ref_low_A2",
                                           "msd_mobile_ref_high_A2")), strict=True):
            y = g[v].to_numpy(dtype=float)
            # a point estimate may sit outside its interval (an MSD line extrapolated
            # below 0 has the interval [0, hi]): bars from the interval, never negative
            err = np.clip([y - g[lo].to_numpy(dtype=float),
                           g[hi].to_numpy(dtype=float) - y], 0.0, None)
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=run)
    axes[0].axhline(0.9, color="k", ls=":", lw=1)
    axes[0].set(xlabel="run length used (ps)", ylabel="C(60 ps)", ylim=(-0.05, 1.05),
                title="rotation criterion at 60 ps")
    axes[1].axhline(5.0, color="k", ls=":", lw=1)
    axes[1].set(xlabel="run length used (ps)", ylabel="Na MSD(60 ps) (A$^2$)", yscale="log",
                title="diffusion criterion at 60 ps")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


if __name__ == "__main__":
    main()
