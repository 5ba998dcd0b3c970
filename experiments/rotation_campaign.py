"""The rotation paper's MD diagnosis over every structure that passes its screen.

A resumable, multi-session campaign driven by mlkit's public command line:

1. the structures are the ``passed`` rows of the screen
   (``experiments/results/screen/phonondb_screen.csv``, made by
   ``experiments/rotation_screen_phonondb.py`` with :func:`mlkit.structures.rotation_screen`
   over ../shared/datasets/phonondb_na), in ascending atom count;
2. each one is labelled by ``mlkit label md`` (CHGNet, the paper's temperature rule,
   conventional cell = the phonondb unit cell, an NPT stage at 0 GPa first because the
   phonondb cells are PBEsol-relaxed, then NVT Nose-Hoover at 2 fs);
3. as soon as a structure is finished, its label row
   (``results/campaign/<stage>/rows/<id>.csv``) and decimated curves (C(t) per rotor
   species and the mobile-ion MSD, ``.../curves/<id>.csv``) are written atomically and
   committed to git; trajectories stay in ``.../work/`` (git-ignored).

Killing the script loses only the runs in flight, and those resume from their MD
checkpoints when the same command is run again on the same machine; a finished row is
never recomputed. Shards (``--shard 0/2``, ``--shard 1/2``) split the list for two
processes with one torch thread each.

Usage::

    python experiments/rotation_campaign.py run --stage survey --shard 0/2
    python experiments/rotation_campaign.py status --stage survey
    python experiments/rotation_campaign.py collect --stage survey
    python experiments/rotation_campaign.py compare --stage long

Stages fix the MD protocol (``STAGES``); a longer stage over a subset shows the effect of
the run length on the labels.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "phonondb_na" / "structures"
SCREEN = ROOT / "experiments" / "results" / "screen" / "phonondb_screen.csv"
OUT = ROOT / "experiments" / "results" / "campaign"

#: MD protocol per stage: passed whole to ``mlkit label md``.
STAGES: dict[str, dict[str, float | int | str]] = {  # passed whole to ``label_command``
    # 4 ps production: fits ~80 % of the screened structures in one 2-core session
    "survey": {"time_ps": 4.0, "equilibration_ps": 0.5, "npt_ps": 1.0, "seed": 0},
    # the run-length check on a subset: continues the survey's trajectory when it is on
    # this machine (the first 4 ps identical); otherwise it starts afresh with the same
    # seed, and on another machine MD's chaos makes the survey row an independent sample
    "long": {"time_ps": 20.0, "equilibration_ps": 0.5, "npt_ps": 1.0, "seed": 0,
             "extends": "survey"},
}
#: Points kept of each curve (log-spaced lags).
N_CURVE_POINTS = 60


def screened() -> pd.DataFrame:
    """Passed structures with their atom counts, smallest first."""
    from pymatgen.core import Structure

    df = pd.read_csv(SCREEN)
    df = df[df["passed"]].copy()
    df["path"] = [str(DATA / f"{i}_POSCAR-unitcell.vasp") for i in df["id"]]
    df["n_atoms"] = [len(Structure.from_file(p)) for p in df["path"]]
    return df.sort_values(["n_atoms", "id"]).reset_index(drop=True)


def stage_dirs(stage: str) -> tuple[Path, Path, Path]:
    base = OUT / stage
    rows, curves, work = base / "rows", base / "curves", base / "work"
    for d in (rows, curves, work):
        d.mkdir(parents=True, exist_ok=True)
    ignore = work / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return rows, curves, work


def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def label_command(path: str, work: Path, protocol: dict) -> list[str]:
    """The public ``mlkit label md`` invocation of one structure."""
    return [
        str(Path(sys.executable).parent / "mlkit"), "label", "md", path,
        "--temperature-K", "auto", "--supercell-min-length-A", "0",
        "--time-ps", str(protocol["time_ps"]),
        "--equilibration-ps", str(protocol["equilibration_ps"]),
        "--npt-equilibration-ps", str(protocol["npt_ps"]), "--pressure-GPa", "0",
        "--timestep-fs", "2", "--ensemble", "nvt-nose-hoover", "--potential", "chgnet",
        "--threads", "1", "--seed", str(protocol["seed"]), "--no-progress",
        "-o", str(work / "labels.csv"), "--md-dir", str(work / "md"),
    ]


def decimated_curves(md_dir: Path) -> pd.DataFrame:
    """C(t) per rotor species and the mobile-ion MSD at ~N_CURVE_POINTS log-spaced lags."""
    from mlkit.labels.md import analyze_run, find_run_dirs

    row, curves = analyze_run(find_run_dirs(md_dir)[0], include_partial=True,
                              return_curves=True)
    if not curves:
        raise RuntimeError(f"{md_dir}: no curves: {row.get('error')}")
    lag = np.asarray(curves["lag_ps"])
    keep = np.unique(np.geomspace(1, len(lag) - 1, N_CURVE_POINTS).astype(int))
    keep = np.concatenate([[0], keep])
    out = {"lag_ps": lag[keep]}
    msd = curves["msd_A2"]
    if isinstance(msd, dict):
        for sp, values in msd.items():  # (n_lags, 3) per axis -> total
            values = np.asarray(values)
            out[f"msd_{sp}_A2"] = (values.sum(axis=1) if values.ndim == 2 else values)[keep]
    for label, values in (curves.get("c_t_by_label") or {}).items():
        out[f"c_t_{label}"] = np.asarray(values)[keep]
    return pd.DataFrame(out)


def git_commit(paths: list[Path], message: str, attempts: int = 20) -> bool:
    """Commit ``paths`` only (other staged work is left alone); retries while git is busy."""
    rel = [str(p.relative_to(ROOT)) for p in paths]
    for k in range(attempts):
        add = subprocess.run(["git", "-C", str(ROOT), "add", "--", *rel], capture_output=True)
        com = subprocess.run(["git", "-C", str(ROOT), "commit", "-q", "-m", message, "--", *rel],
                             capture_output=True, text=True)
        if add.returncode == 0 and com.returncode == 0:
            return True
        if "nothing to commit" in com.stdout + com.stderr:
            return True
        time.sleep(3 + 2 * k)
    print(f"git commit failed for {rel}: {com.stderr.strip()}", flush=True)
    return False


def run_one(item: pd.Series, stage: str, protocol: dict) -> dict:
    rows, curves_dir, work_root = stage_dirs(stage)
    work = work_root / item["id"]
    base = protocol.get("extends")
    if base and not (work / "md").exists():  # continue the base stage's trajectory
        src = OUT / str(base) / "work" / item["id"] / "md"
        if src.exists():
            shutil.copytree(src, work / "md")
    work.mkdir(parents=True, exist_ok=True)
    cmd = label_command(item["path"], work, protocol)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall_s = time.time() - t0
    (work / "command.txt").write_text(" ".join(cmd) + "\n")
    if (work / "labels.csv").exists():
        row = pd.read_csv(work / "labels.csv").iloc[0].to_dict()
    else:
        row = {"id": Path(item["path"]).stem, "status": "error",
               "error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    row.update({"mp_id": item["id"], "formula": item["formula"],
                "connectivity": item["connectivity"], "campaign_stage": stage,
                "campaign_wall_s": round(wall_s, 1), "campaign_exit_code": proc.returncode,
                "campaign_command": "mlkit " + " ".join(cmd[1:]).replace(str(ROOT) + "/", "")})
    files = [rows / f"{item['id']}.csv"]
    if row.get("status") in ("done", "partial"):
        try:
            _atomic_csv(decimated_curves(work / "md"), curves_dir / f"{item['id']}.csv")
            files.append(curves_dir / f"{item['id']}.csv")
        except Exception as exc:  # curves are a summary; the row still lands
            row["campaign_curves_error"] = str(exc).splitlines()[0]
    _atomic_csv(pd.DataFrame([row]), files[0])
    decision = row.get("category_decision", row.get("status"))
    git_commit(files, f"campaign {stage}: {item['id']} {item['formula']} -> "
                      f"category {row.get('category', 'n/a')} (decided: {decision}), "
                      f"{wall_s / 60:.1f} min")
    return row


def cmd_run(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    protocol = STAGES[args.stage]
    k, n = (int(x) for x in args.shard.split("/"))
    items = screened()
    if args.ids:
        items = items[items["id"].isin(args.ids.split(","))]
    items = items.iloc[k::n]
    rows, _, _ = stage_dirs(args.stage)
    todo = [r for _, r in items.iterrows() if not (rows / f"{r['id']}.csv").exists()]
    print(f"stage {args.stage} {json.dumps(protocol)} shard {args.shard}: "
          f"{len(items) - len(todo)} done, {len(todo)} to do", flush=True)
    weights = [int(r["n_atoms"]) for r in todo]
    with tqdm(total=sum(weights), unit="atom", desc=f"{args.stage} {args.shard}",
              mininterval=30) as bar:
        for item, w in zip(todo, weights, strict=True):
            row = run_one(item, args.stage, protocol)
            bar.update(w)
            bar.write(f"{item['id']} {item['formula']} ({w} atoms): {row.get('status')} "
                      f"category {row.get('category')} / {row.get('category_decision')} "
                      f"in {row['campaign_wall_s']:.0f} s")


def cmd_backfill_curves(args: argparse.Namespace) -> None:
    """Curves for finished rows that lack them (trajectories still on this machine)."""
    rows, curves_dir, work_root = stage_dirs(args.stage)
    for path in sorted(rows.glob("*.csv")):
        row = pd.read_csv(path).iloc[0].to_dict()
        target = curves_dir / path.name
        md_dir = work_root / path.stem / "md"
        if target.exists() or row.get("status") not in ("done", "partial") or not md_dir.exists():
            continue
        _atomic_csv(decimated_curves(md_dir), target)
        row.pop("campaign_curves_error", None)
        _atomic_csv(pd.DataFrame([row]), path)
        git_commit([path, target], f"campaign {args.stage}: curves of {path.stem}")
        print(f"{path.stem}: curves written")


def collect(stage: str) -> pd.DataFrame:
    rows, _, _ = stage_dirs(stage)
    parts = [pd.read_csv(p) for p in sorted(rows.glob("*.csv"))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def labelled(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that carry a rotation label, with the two binary targets added.

    Kept: finished runs, not excluded (melted, decomposed), with a rotor (a structure that
    passes the screen only through spectator polyhedra, e.g. MgO4 in Na6MgO4, has none)
    and a point category. ``rotation`` = category 1 or 2 (point estimate at 60 ps);
    ``rotation_in_run`` = C(t_end) < 0.9, the paper's rule at the run's own end.
    """
    keep = (rows["status"] == "done") & (rows["category_decision"] != "excluded") \
        & (rows["n_rotors"].fillna(0) > 0) & rows["category"].isin([1, 2, 3])
    out = rows[keep].copy()
    out["category"] = out["category"].astype(int)
    out["rotation"] = out["category"].isin([1, 2]).astype(int)
    out["rotation_in_run"] = (out["c_t_end"] < 0.9).astype(int)
    return out


def cmd_status(args: argparse.Namespace) -> None:
    items = screened()
    df = collect(args.stage)
    done = 0 if df.empty else len(df)
    print(f"stage {args.stage}: {done} of {len(items)} structures have a row")
    if df.empty:
        return
    print(df["status"].value_counts().to_string())
    if "category_decision" in df:
        print(df["category_decision"].value_counts(dropna=False).to_string())
    hours = df["campaign_wall_s"].sum() / 3600
    atoms = items.set_index("id").loc[df["mp_id"], "n_atoms"].sum()
    left = items[~items["id"].isin(df["mp_id"])]["n_atoms"].sum()
    print(f"{hours:.2f} structure-hours for {atoms} atoms; "
          f"{left} atoms left -> ~{hours / max(atoms, 1) * left:.1f} structure-hours")


def cmd_collect(args: argparse.Namespace) -> None:
    df = collect(args.stage)
    out = OUT / f"{args.stage}_labels.csv"
    _atomic_csv(df, out)
    print(f"{len(df)} rows -> {out}")


#: Columns of the run-length comparison (``compare``).
COMPARE_COLUMNS = ["mp_id", "formula", "temperature_K", "n_atoms", "n_rotors", "n_mobile",
                   "source", "production_ps", "c_t_end", "c_t_ref", "c_t_ref_low",
                   "c_t_ref_high", "rotation_decision", "msd_mobile_ref_A2",
                   "msd_mobile_ref_low_A2", "msd_mobile_ref_high_A2", "diffusion_decision",
                   "diffusivity_cm2_s", "diffusivity_floor_cm2_s", "category",
                   "category_decision"]


def cmd_compare(args: argparse.Namespace) -> None:
    """The run-length check: each ``--stage`` row next to its survey twin and to cuts of
    its own trajectory at ``--cuts-ps`` (cuts need the trajectories, i.e. this machine).

    Writes ``results/campaign/<stage>_vs_survey.csv`` (one row per structure and source:
    ``survey``, ``cut <t> ps`` and ``<stage>``) and a markdown summary beside it.
    """
    from mlkit.labels.md import analyze_run

    long_rows, survey = collect(args.stage), collect("survey").set_index("mp_id")
    if long_rows.empty:
        raise SystemExit(f"stage {args.stage} has no rows yet")
    _, _, work_root = stage_dirs(args.stage)
    out: list[dict] = []
    for _, row in long_rows.sort_values("n_atoms").iterrows():
        mp_id = row["mp_id"]
        twin = survey.loc[mp_id].to_dict() if mp_id in survey.index else {}
        base = {"mp_id": mp_id, "formula": row["formula"]}
        out.append({**base, **twin, "source": "survey"})
        run_dirs = sorted((work_root / mp_id / "md").glob("*/T*K"))
        for cut in [float(c) for c in args.cuts_ps.split(",") if c]:
            if not run_dirs or row.get("status") != "done" or cut > row["production_ps"]:
                continue
            cut_row = analyze_run(run_dirs[0], production_ps=cut)
            out.append({**base, **cut_row, "source": f"cut {cut:g} ps"})
        out.append({**base, **row.to_dict(), "source": args.stage})
    df = pd.DataFrame(out).reindex(columns=COMPARE_COLUMNS)
    path = OUT / f"{args.stage}_vs_survey.csv"
    _atomic_csv(df, path)
    md = df.drop(columns=["n_mobile", "msd_mobile_ref_low_A2", "msd_mobile_ref_high_A2",
                          "diffusivity_floor_cm2_s"]).to_markdown(index=False, floatfmt=".3g")
    path.with_suffix(".md").write_text(
        f"# Run length: stage `{args.stage}` against the 4 ps survey\n\n"
        "Made by `python experiments/rotation_campaign.py compare "
        f"--stage {args.stage}`. C and MSD are at the paper's 60 ps with 95 % intervals.\n\n"
        + md + "\n")
    plot_compare(long_rows, args.stage, path.with_suffix(".png"))
    print(df.to_string(index=False))
    print(f"-> {path}")


def plot_compare(long_rows: pd.DataFrame, stage: str, path: Path) -> None:
    """C(t) (top) and mobile-ion MSD (bottom) of each ``stage`` run, its survey twin dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = long_rows[long_rows["status"] == "done"].sort_values("n_atoms")
    if done.empty:
        return
    fig, axes = plt.subplots(2, len(done), figsize=(2.6 * len(done), 5), squeeze=False)
    for j, (_, row) in enumerate(done.iterrows()):
        ion = row.get("mobile_ion", "Na")
        for name, style in ((stage, "-"), ("survey", "--")):
            f = OUT / name / "curves" / f"{row['mp_id']}.csv"
            if not f.exists():
                continue
            cur = pd.read_csv(f)
            for col in [c for c in cur if c.startswith("c_t_")]:
                axes[0, j].plot(cur["lag_ps"], cur[col], style, label=f"{col[4:]} {name}")
            if f"msd_{ion}_A2" in cur:
                axes[1, j].plot(cur["lag_ps"], cur[f"msd_{ion}_A2"], style, label=name)
        axes[0, j].axhline(0.9, color="grey", lw=0.5)
        axes[0, j].set_title(f"{row['formula']} {row['temperature_K']:g} K", fontsize=9)
        axes[0, j].legend(fontsize=6)
        axes[1, j].set_xlabel("lag (ps)")
        for ax in axes[:, j]:
            ax.axvline(4.0, color="grey", lw=0.5, ls=":")
    axes[0, 0].set_ylabel("C(t)")
    axes[1, 0].set_ylabel("mobile-ion MSD (A^2)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--stage", choices=sorted(STAGES), default="survey")
    r.add_argument("--shard", default="0/1", help="k/n: every n-th structure from the k-th")
    r.add_argument("--ids", default="", help="comma-separated mp ids (default: all passed)")
    r.set_defaults(func=cmd_run)
    for name, func in (("status", cmd_status), ("collect", cmd_collect),
                       ("backfill-curves", cmd_backfill_curves)):
        s = sub.add_parser(name)
        s.add_argument("--stage", choices=sorted(STAGES), default="survey")
        s.set_defaults(func=func)
    c = sub.add_parser("compare", help="a longer stage against its survey twins")
    c.add_argument("--stage", choices=sorted(set(STAGES) - {"survey"}), default="long")
    c.add_argument("--cuts-ps", default="4,10,20",
                   help="comma-separated cuts of each run, analysed by the current code")
    c.set_defaults(func=cmd_compare)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
