"""The phonon paper's check on our data: Na phonon descriptors against MD diffusivity.

For every compound with both an MD row of the rotation campaign
(``experiments/rotation_campaign.py``, CHGNet, 800 K halides / 1300 K chalcogenides) and
phonons (``experiments/phonondb_phonons.py``: DFT force sets for all; the default ML
potential where computed), correlate at the MD temperature:

- Na phonon MSD (mean over Na) vs log10 D (zero-intercept fit, the phonon paper's; paper:
  Pearson >= 0.87),
- Na partial-DOS centre vs log10 D (paper: -0.68 / -0.75),
- acoustic cutoff vs log10 D (paper: -0.56 / -0.52),

Pearson and Spearman with 95 % bootstrap intervals, over (a) every row with D > 0 and
(b) the rows whose D is above the run's floor (measurable), separately for the DFT-stable
compounds. Writes ``experiments/results/rotation/phonon_md_check.{md,json,png}``.

Usage: python experiments/phonon_md_check.py [--stage survey]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
from phonondb_phonons import _corr  # noqa: E402
from rotation_campaign import collect  # noqa: E402

PHONONS = ROOT / "experiments" / "results" / "phonons"
OUT = ROOT / "experiments" / "results" / "rotation"
DESCRIPTORS = {
    "Na phonon MSD (A^2)": "ph_mobile_msd_mean_A2_{T}K",
    "Na PDOS centre (THz)": "ph_mobile_pdos_centre_THz",
    "acoustic cutoff (THz)": "ph_acoustic_cutoff_THz",
}
PAPER = {"Na phonon MSD (A^2)": ">= 0.87", "Na PDOS centre (THz)": "-0.68 / -0.75",
         "acoustic cutoff (THz)": "-0.56 / -0.52"}


def joined(stage: str, phonon_table: Path) -> pd.DataFrame:
    md = collect(stage)
    md = md[(md["status"] == "done") & (md["category_decision"] != "excluded")].copy()
    ph = pd.read_csv(phonon_table)
    ph = ph[ph["status"] == "done"]
    df = md.merge(ph, on="mp_id", suffixes=("", "_ph"))
    T = df["temperature_K"].astype(int)
    for name, pattern in DESCRIPTORS.items():
        df[name] = [row[pattern.format(T=t)] for (_, row), t in zip(df.iterrows(), T,
                                                                     strict=True)]
    df["log10_D"] = np.log10(df["diffusivity_zero_intercept_cm2_s"].where(
        df["diffusivity_zero_intercept_cm2_s"] > 0))
    df["measurable"] = df["diffusivity_zero_intercept_cm2_s"] > df["diffusivity_floor_cm2_s"]
    return df


def table_rows(df: pd.DataFrame, source: str) -> list[dict]:
    rows = []
    subsets = {"D > 0": df["log10_D"].notna(),
               "D above the floor": df["log10_D"].notna() & df["measurable"]}
    if "ph_stable" in df:
        subsets["D > 0, phonon-stable"] = df["log10_D"].notna() & (df["ph_stable"] == 1)
    for T in sorted(df["temperature_K"].unique()):
        subsets[f"D > 0, {T:g} K"] = df["log10_D"].notna() & (df["temperature_K"] == T)
    for label, mask in subsets.items():
        sub = df[mask]
        for name in DESCRIPTORS:
            x = sub[name].to_numpy(float)
            ok = np.isfinite(x)
            if ok.sum() < 5:
                rows.append({"phonons": source, "set": label, "descriptor": name,
                             "n": int(ok.sum())})
                continue
            c = _corr(x[ok], sub["log10_D"].to_numpy(float)[ok])
            rows.append({"phonons": source, "set": label, "descriptor": name, **c})
    return rows


def plot(tables: dict[str, pd.DataFrame], path: Path) -> None:
    """One row of three scatter plots (descriptor vs log10 D) per phonon source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(len(tables), 3, figsize=(12, 3.8 * len(tables)), squeeze=False)
    for row, (source, df) in zip(axes, tables.items(), strict=True):
        for ax, name in zip(row, DESCRIPTORS, strict=True):
            for T, marker in ((800.0, "o"), (1300.0, "s")):
                sub = df[(df["temperature_K"] == T) & df["log10_D"].notna()]
                ax.scatter(sub[name], sub["log10_D"], marker=marker, s=18,
                           c=np.where(sub["measurable"], "C0", "0.7"), edgecolor="k",
                           linewidth=0.3, label=f"{T:g} K")
            ax.set_xlabel(f"{name}, {source}, at the MD T", fontsize=8)
            ax.set_ylabel("log10 D (cm^2/s), CHGNet MD")
            if "MSD" in name:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        row[0].legend(fontsize=8, title="grey: below floor", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", default="survey")
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    sources = {"DFT force sets": PHONONS / "phonondb_dft_labels.csv",
               "CHGNet (relaxed)": PHONONS / "ml_chgnet_relaxed_campaign.csv"}
    tables = {source: joined(args.stage, path) for source, path in sources.items()
              if path.exists()}
    if not tables:
        raise SystemExit("no phonon table")
    for source, df in tables.items():
        rows += table_rows(df, source)
    n_rows = len(next(iter(tables.values())))  # the same campaign rows in every table
    plot(tables, OUT / "phonon_md_check.png")
    table = pd.DataFrame(rows)
    (OUT / "phonon_md_check.json").write_text(table.to_json(orient="records", indent=1))
    lines = ["# Phonon descriptors vs CHGNet-MD diffusivity (the phonon paper's check)", "",
             f"Made by `python experiments/phonon_md_check.py --stage {args.stage}`. MD: "
             f"{n_rows} campaign rows with phonons; D from the zero-intercept MSD fit; "
             "descriptors at the MD temperature. 95 % bootstrap intervals.", "",
             "| phonons | set | descriptor | n | Pearson [95 %] | Spearman [95 %] | paper |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "pearson" not in r:
            lines.append(f"| {r['phonons']} | {r['set']} | {r['descriptor']} | {r['n']} | "
                         "too few | | |")
            continue
        lines.append(
            f"| {r['phonons']} | {r['set']} | {r['descriptor']} | {r['n']} | "
            f"{r['pearson']:.2f} [{r['pearson_lo']:.2f}, {r['pearson_hi']:.2f}] | "
            f"{r['spearman']:.2f} [{r['spearman_lo']:.2f}, {r['spearman_hi']:.2f}] | "
            f"{PAPER[r['descriptor']]} |")
    (OUT / "phonon_md_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({"n_rows": n_rows}))


if __name__ == "__main__":
    main()
