"""Phonon descriptors of the phonondb_na compounds: DFT force sets and ML potentials.

Resumable campaign driven by mlkit's public API (``mlkit.labels.phonons.label_phonons``,
the same function as ``mlkit label phonons``): every finished compound's row is written to
a parts directory before the next one starts, so a killed run loses only the compound in
flight and a rerun skips finished ones.

Usage
-----
python experiments/phonondb_phonons.py dft [--limit N] [--jobs 1]
    all 1,085 compounds from their DFT FORCE_SETS -> results/phonons/phonondb_dft_labels.csv
python experiments/phonondb_phonons.py ml --potential sevennet|chgnet [--no-relax] [--n 80]
    the validation subset with an ML potential -> results/phonons/ml_<potential>_<relax>.csv
    (``--set screened``: the rotation screen's 115 -> ..._screened.csv)
python experiments/phonondb_phonons.py summary
    DFT distribution + ML-vs-DFT table -> results/phonons/summary.md (+ plots)

Data: ../shared/datasets/phonondb_na (Togo's phonondb 2018-04-17, CC BY 4.0); see
results/phonons/README.md for citation and licence of the derived tables.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "phonons"
DATA = HERE.parent.parent / "shared" / "datasets" / "phonondb_na"
TEMPERATURES = (800.0, 300.0, 1300.0)
NAMED = ["mp-28178", "mp-4223", "mp-28179", "mp-28679", "mp-30931", "mp-22862", "mp-23363"]


def index() -> pd.DataFrame:
    idx = pd.read_csv(DATA / "index.csv")
    idx["archive_id"] = [Path(t).name.replace(".tar.lzma", "") for t in idx["tarball"]]
    idx["structure_id"] = [Path(s).stem for s in idx["structure_file"]]
    return idx


def _attach(table: pd.DataFrame, idx: pd.DataFrame, key: str) -> pd.DataFrame:
    cols = [key, "mp_id", "structure_id", "unitcell_formula", "spacegroup_number",
            "n_atoms_unitcell", "has_BORN"]
    meta = idx[list(dict.fromkeys(cols))]
    out = meta.merge(table, left_on=key, right_on="id", how="right")
    return out.drop(columns=[c for c in ("archive_id",) if c in out.columns and c != key])


def run_dft(args: argparse.Namespace) -> None:
    from mlkit.labels.phonons import label_phonons
    from mlkit.phonons import PhononSettings

    idx = index()
    if args.limit:
        idx = idx.head(args.limit)
    paths = [DATA / t for t in idx["tarball"]]
    settings = PhononSettings(temperatures_K=TEMPERATURES)
    t0 = time.time()
    table = label_phonons(paths, None, settings, source="force_sets",
                          parts_dir=RESULTS / ".parts_dft", n_jobs=args.jobs)
    wall = time.time() - t0
    table = _attach(table, idx, "archive_id")
    table.to_csv(RESULTS / "phonondb_dft_labels.csv", index=False)
    print(f"{len(table)} rows, {int((table.status == 'error').sum())} errors, wall {wall:.0f} s")


def validation_ids(n: int) -> list[str]:
    """The n smallest unit cells, highest symmetry first (cheapest to compute).

    Chosen from the index alone (not from DFT results), so the subset is fixed before any
    phonon is computed; it is biased towards binaries and simple ternaries.
    """
    idx = index().sort_values(["n_atoms_unitcell", "spacegroup_number", "mp_id"],
                              ascending=[True, False, True])
    return list(idx["mp_id"].head(n))


def run_ml(args: argparse.Namespace) -> None:
    from mlkit.labels.phonons import label_phonons
    from mlkit.phonons import PhononSettings
    from mlkit.potentials.spec import CalculatorSpec

    idx = index().set_index("mp_id")
    if args.set == "screened":  # the rotation screen's structures, smallest first
        screen = pd.read_csv(HERE / "results" / "screen" / "phonondb_screen.csv")
        passed = idx.loc[screen.loc[screen["passed"], "id"]]
        ids = list(passed.sort_values("n_atoms_unitcell").index)
    elif args.set == "campaign":  # those with an analysed campaign MD row (the check's set)
        from rotation_campaign import collect

        md = collect("survey")
        md = md[(md["status"] == "done") & (md["category_decision"] != "excluded")]
        ids = list(idx.loc[md["mp_id"]].sort_values("n_atoms_unitcell").index)
    else:
        ids = validation_ids(args.n)
    paths = [DATA / idx.loc[i, "structure_file"] for i in ids]
    settings = PhononSettings(temperatures_K=TEMPERATURES, relax=not args.no_relax)
    tag = f"ml_{args.potential}_{'unrelaxed' if args.no_relax else 'relaxed'}"
    if args.set != "validation":
        tag += f"_{args.set}"
    t0 = time.time()
    table = label_phonons(paths, None, settings, source="potential",
                          potential=CalculatorSpec(args.potential, threads=1),
                          parts_dir=RESULTS / f".parts_{tag}",
                          cache_dir=RESULTS / ".fc_cache", n_jobs=args.jobs)
    wall = time.time() - t0
    table = _attach(table, index(), "structure_id")
    table.to_csv(RESULTS / f"{tag}.csv", index=False)
    print(f"{tag}: {len(table)} rows, {int((table.status == 'error').sum())} errors, "
          f"wall {wall:.0f} s")


def _corr(x: np.ndarray, y: np.ndarray, n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Pearson and Spearman r with 95 % bootstrap intervals."""
    from scipy.stats import pearsonr, spearmanr

    rng = np.random.default_rng(seed)
    out = {"n": len(x), "pearson": pearsonr(x, y)[0], "spearman": spearmanr(x, y)[0]}
    boots = {"pearson": [], "spearman": []}
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        if np.ptp(x[i]) == 0 or np.ptp(y[i]) == 0:
            continue
        boots["pearson"].append(pearsonr(x[i], y[i])[0])
        boots["spearman"].append(spearmanr(x[i], y[i])[0])
    for k, v in boots.items():
        out[f"{k}_lo"], out[f"{k}_hi"] = np.percentile(v, [2.5, 97.5])
    return out


def summarize() -> None:
    """DFT distribution and ML-vs-DFT validation -> summary.md + plots."""
    from matplotlib.figure import Figure

    lines = ["# Phonon descriptors of the phonondb_na compounds", "",
             "Made by `python experiments/phonondb_phonons.py dft|ml|summary`; data source and "
             "licence in README.md next to this file.", ""]
    dft = pd.read_csv(RESULTS / "phonondb_dft_labels.csv")
    done = dft[dft.status == "done"]
    stable = done[done.ph_stable == 1]
    msd = done["ph_mobile_msd_mean_A2_800K"]
    lines += [
        "## DFT force sets (all compounds)", "",
        f"- rows: {len(dft)}; done {len(done)}; error rows {int((dft.status == 'error').sum())}",
        f"- DFT-unstable (an imaginary mode below -0.1 THz on the mesh or the band path): "
        f"{int((done.ph_stable == 0).sum())} of {len(done)} "
        f"({100 * (done.ph_stable == 0).mean():.1f} %)",
        f"- unstable on the supercell's commensurate q-points only (no interpolation): "
        f"{int((done.ph_stable_commensurate == 0).sum())} of {len(done)}",
        f"- mesh ladder stop: {done.ph_mesh_stop.value_counts().to_dict()}",
        f"- time per compound (s): median {done.total_s.median():.2f}, mean "
        f"{done.total_s.mean():.2f}, max {done.total_s.max():.1f}; total "
        f"{done.total_s.sum() / 60:.1f} min (1 process)",
        "",
        "Na phonon MSD at 800 K (mean over Na and directions, A^2):", "",
        "| set | n | min | 10 % | median | 90 % | max |", "|---|---|---|---|---|---|---|",
    ]
    for name, sub in (("all done", done), ("DFT-stable", stable),
                      ("DFT-unstable (real modes only)", done[done.ph_stable == 0])):
        v = sub["ph_mobile_msd_mean_A2_800K"]
        q = np.percentile(v, [10, 50, 90])
        lines.append(f"| {name} | {len(v)} | {v.min():.4f} | {q[0]:.4f} | {q[1]:.4f} | "
                     f"{q[2]:.4f} | {v.max():.4f} |")
    errors = dft[dft.status == "error"]
    if len(errors):
        lines += ["", "Error rows:", ""] + [f"- {e}" for e in errors.error.head(20)]
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    bins = np.logspace(np.log10(max(msd.min(), 1e-3)), np.log10(msd.max()), 40)
    ax.hist([stable["ph_mobile_msd_mean_A2_800K"],
             done[done.ph_stable == 0]["ph_mobile_msd_mean_A2_800K"]], bins=bins,
            stacked=True, label=["DFT-stable", "DFT-unstable (real modes)"])
    ax.set_xscale("log")
    ax.set_xlabel("Na phonon MSD at 800 K (A$^2$)")
    ax.set_ylabel("compounds")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(RESULTS / "dft_na_msd_800K.png", dpi=120)

    named = done[done.mp_id.isin(NAMED)]
    if len(named):
        lines += ["", "Named compounds:", "", "| mp_id | formula | stable | min freq (THz) | "
                  "Na MSD 800 K (A^2) | acoustic cutoff (THz) | Na PDOS centre (THz) |",
                  "|---|---|---|---|---|---|---|"]
        for _, r in named.iterrows():
            lines.append(f"| {r.mp_id} | {r.unitcell_formula} | {int(r.ph_stable)} | "
                         f"{r.ph_min_freq_mesh_THz:.2f} | {r.ph_mobile_msd_mean_A2_800K:.4f} | "
                         f"{r.ph_acoustic_cutoff_THz:.2f} | {r.ph_mobile_pdos_centre_THz:.2f} |")

    ml_files = sorted(RESULTS.glob("ml_*.csv"))
    if ml_files:
        lines += ["", "## ML potentials against DFT (validation subset)", "",
                  "Pearson / Spearman r with 95 % bootstrap intervals on compounds stable in "
                  "both; median ratio ML / DFT; stability verdict agreement on all.", "",
                  "| potential | positions | stable in both by | n | Na MSD 800 K Pearson |"
                  " Spearman | median ratio | acoustic cutoff Pearson | Spearman | median ratio"
                  " | stability agrees | s / compound (this run) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        fig = Figure(figsize=(4.5 * len(ml_files), 4))
        for k, path in enumerate(ml_files):
            ml = pd.read_csv(path)
            both = ml.merge(done, on="mp_id", suffixes=("_ml", "_dft"))
            both = both[both.status_ml == "done"]
            _, pot, relax = path.stem.split("_")
            for crit in ("ph_stable", "ph_stable_commensurate"):
                agree = (both[f"{crit}_ml"] == both[f"{crit}_dft"]).mean()
                ok = both[(both[f"{crit}_ml"] == 1) & (both[f"{crit}_dft"] == 1)]
                cells = []
                for col in ("ph_mobile_msd_mean_A2_800K", "ph_acoustic_cutoff_THz"):
                    x, y = ok[f"{col}_dft"].to_numpy(), ok[f"{col}_ml"].to_numpy()
                    c = _corr(x, y)
                    cells += [f"{c['pearson']:.2f} [{c['pearson_lo']:.2f}, "
                              f"{c['pearson_hi']:.2f}]",
                              f"{c['spearman']:.2f} [{c['spearman_lo']:.2f}, "
                              f"{c['spearman_hi']:.2f}]", f"{np.median(y / x):.2f}"]
                label = "mesh + path" if crit == "ph_stable" else "commensurate q"
                lines.append(f"| {pot} | {relax} | {label} | {len(ok)} | " + " | ".join(cells)
                             + f" | {int(round(agree * len(both)))}/{len(both)} |"
                             + f" {ml.total_s.median():.1f} |")
            ok = both[(both.ph_stable_ml == 1) & (both.ph_stable_dft == 1)]
            ax = fig.add_subplot(1, len(ml_files), k + 1)
            ax.loglog(ok["ph_mobile_msd_mean_A2_800K_dft"], ok["ph_mobile_msd_mean_A2_800K_ml"],
                      "o", ms=3)
            lim = [ok[["ph_mobile_msd_mean_A2_800K_dft", "ph_mobile_msd_mean_A2_800K_ml"]]
                   .min().min() * 0.8, ok[["ph_mobile_msd_mean_A2_800K_dft",
                                          "ph_mobile_msd_mean_A2_800K_ml"]].max().max() * 1.2]
            ax.plot(lim, lim, "k--", lw=0.8)
            ax.set_title(f"{pot}, {relax}", fontsize=9)
            ax.set_xlabel("DFT Na MSD 800 K (A$^2$)")
            ax.set_ylabel("ML Na MSD 800 K (A$^2$)")
        fig.tight_layout()
        fig.savefig(RESULTS / "ml_vs_dft_na_msd.png", dpi=120)
    cost_file = RESULTS / "cost_ml_uncached.csv"
    if cost_file.exists():
        # first (uncached) runs only: a rerun reads force sets from the cache
        cost = pd.read_csv(cost_file)
        lines += ["", "## Cost of the potential path (1 torch thread, shared 2-core machine, "
                  "load 5-9)", "",
                  f"From `{cost_file.name}` (first runs, force sets not cached). Seconds per "
                  "force call = forces time / (displacements + 1 undisplaced supercell):", "",
                  "| potential | positions | supercell atoms | compounds | median displacements |"
                  " median s / force call | median relaxation s | median s / compound |",
                  "|---|---|---|---|---|---|---|---|"]
        cost["bin"] = pd.cut(cost.n_supercell_atoms, [0, 90, 130, 200, 400])
        cost["s_call"] = cost.forces_s / (cost.n_displacements + 1)
        for (pot, relax, b), sub in cost.groupby(["potential", "positions", "bin"],
                                                 observed=True):
            lines.append(f"| {pot} | {relax} | {b} | {len(sub)} | "
                         f"{sub.n_displacements.median():.0f} | {sub.s_call.median():.2f} | "
                         f"{sub.relax_s.median():.1f} | {sub.total_s.median():.1f} |")
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dft")
    d.add_argument("--limit", type=int, default=0)
    d.add_argument("--jobs", type=int, default=1)
    m = sub.add_parser("ml")
    m.add_argument("--potential", default="sevennet")
    m.add_argument("--no-relax", action="store_true")
    m.add_argument("--n", type=int, default=80)
    m.add_argument("--set", choices=["validation", "screened", "campaign"],
                   default="validation",
                   help="the n-compound validation subset, the rotation screen's, or the "
                        "screened ones with an analysed campaign MD row")
    m.add_argument("--jobs", type=int, default=1)
    sub.add_parser("summary")
    args = p.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.cmd == "dft":
        run_dft(args)
    elif args.cmd == "ml":
        run_ml(args)
    else:
        summarize()


if __name__ == "__main__":
    main()
