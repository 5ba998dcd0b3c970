"""The rotation paper's learning step on mlkit's own MD labels, with mlkit's commands.

Inputs: the campaign rows of ``experiments/rotation_campaign.py`` (one per screened
phonondb_na structure, CHGNet MD) and the phonondb_na structures.

Steps (every model step is a public ``mlkit`` command, logged in ``commands.txt``):

1. labels: finished, non-excluded rows -> ``rotation_labels.csv`` (``id`` = structure file
   stem; ``rotation`` = 1 for categories 1 and 2, 0 for 3, from the point estimate at the
   reference time; the 95 % decisions ride along);
2. ``mlkit featurize`` of all 1,085 phonondb_na structures (cached);
3. ``mlkit train`` with ``--feature-set rotation-paper`` (23 features, four groups),
   ``--corr-threshold 0.9``, the four model families, nested 10-fold CV, F1; registered as
   ``models:/rotation_paper@champion`` in ``sqlite:///<out>/mlflow.db``;
4. ``mlkit subsets``: exhaustive logistic regression over the filtered features, F1 against
   the number of features;
5. ``mlkit train --models logreg`` on the best subset: its SHAP beeswarm;
6. the VPA-AAL hexbin of the labelled structures (category 1 marked);
7. ``mlkit predict`` of every phonondb_na structure; the ones outside the training set
   ranked by rotation probability, with the applicability flag (``out_of_range``).

Writes ``experiments/results/rotation/`` (``results.md``, ``results.json``, tables and
figures). Usage::

    python experiments/rotation_learning.py [--stage survey] [--n-trials 20]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
from rotation_campaign import DATA, collect, labelled  # noqa: E402

OUT = ROOT / "experiments" / "results" / "rotation"
MLKIT = str(Path(sys.executable).parent / "mlkit")
#: compounds the paper names (category 1 or rotation observed), by formula
PAPER_NAMED = {
    "NaNbCl6": 1, "NaTaCl6": 1, "NaGaBr4": 1, "NaAlBr4": 1, "NaInI4": 1, "NaAlI4": 1,
    "NaGaI4": 1, "Na4SiSe4": 1, "Na4TiO4": 1, "Na3VO4": 1, "Na3AsO4": 1, "Na3NO4": 1,
    "Na3PO4": 1,
}
LABEL_COLUMNS = [
    "id", "mp_id", "formula", "rotation", "rotation_in_run", "category", "category_decision",
    "rotation_decision", "diffusion_decision", "rotation_species", "c_t_ref", "c_t_ref_low",
    "c_t_ref_high", "msd_mobile_ref_A2", "msd_mobile_ref_low_A2", "msd_mobile_ref_high_A2",
    "diffusivity_cm2_s", "diffusivity_low_cm2_s", "diffusivity_high_cm2_s",
    "diffusivity_floor_cm2_s", "n_reorientation_jumps", "n_site_hops", "msd_framework_A2",
    "temperature_K", "potential", "potential_version", "ensemble", "timestep_fs",
    "equilibration_ps", "production_ps", "reference_time_ps", "confidence", "seed",
    "supercell", "n_atoms", "pressure_GPa", "npt_volume_change_percent", "mlkit_version",
    "campaign_stage", "campaign_wall_s",
]


def sh(cmd: list[str], log: Path) -> float:
    """Run a public command, append it to the log, return its wall time."""
    text = " ".join(shlex.quote(c) for c in cmd).replace(str(ROOT) + "/", "")
    text = text.replace(MLKIT, "mlkit")
    with log.open("a") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {text}\n")
    t0 = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.time() - t0


def make_labels(stage: str) -> tuple[pd.DataFrame, dict]:
    rows = collect(stage)
    counts = {"rows": len(rows)}
    counts["error"] = int((rows["status"] == "error").sum())
    done = rows[rows["status"] == "done"]
    counts["excluded"] = int((done["category_decision"] == "excluded").sum())
    kept = done[done["category_decision"] != "excluded"]
    counts["no_rotor"] = int((kept["n_rotors"].fillna(0) == 0).sum())
    done = labelled(rows)
    labels = done[[c for c in LABEL_COLUMNS if c in done.columns]]
    counts["labelled"] = len(labels)
    counts["category_point"] = {int(k): int(v) for k, v in
                                labels["category"].value_counts().sort_index().items()}
    counts["category_decision"] = {str(k): int(v) for k, v in
                                   labels["category_decision"].value_counts().items()}
    counts["rotation_decision"] = {str(k): int(v) for k, v in
                                   labels["rotation_decision"].value_counts().items()}
    counts["rotation_point"] = int(labels["rotation"].sum())
    counts["rotation_in_run"] = int(labels["rotation_in_run"].sum())
    return labels, counts


def hexbin(features: pd.DataFrame, labels: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = labels.merge(features[["id", "vpa", "aal"]], on="id")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    hb = ax.hexbin(df["vpa"], df["aal"], gridsize=14, cmap="Blues", mincnt=1)
    fig.colorbar(hb, ax=ax, label="structures")
    for cat, style in ((1, dict(c="red", s=22, label="category 1")),
                       (2, dict(c="orange", s=12, marker="^", label="category 2"))):
        sel = df[df["category"] == cat]
        ax.scatter(sel["vpa"], sel["aal"], edgecolor="k", linewidth=0.4, **style)
    ax.set_xlabel("VPA (A^3/atom)")
    ax.set_ylabel("AAL (A)")
    ax.set_title(f"{len(df)} labelled isolated frameworks (CHGNet MD)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def report(result: dict, labels: pd.DataFrame, summary: pd.DataFrame, by_size: pd.DataFrame,
           shap: pd.DataFrame, ranked: pd.DataFrame) -> str:
    """results.md: every number next to the paper's."""
    c = result["labels"]
    cat = c["category_point"]
    n = c["labelled"]
    lines = [
        "# The rotation paper's workflow on phonondb_na with CHGNet MD", "",
        f"Made by `python experiments/rotation_learning.py --stage {result['stage']}` "
        "(commands in `commands.txt`). Labels: `rotation_labels.csv`.", "",
        "## Categories", "",
        "| | category 1 | category 2 | category 3 | labelled | paper |",
        "|---|---|---|---|---|---|",
        f"| point estimate at 60 ps | {cat.get(1, 0)} | {cat.get(2, 0)} | {cat.get(3, 0)} | {n} "
        "| 19 / 27 / 53 of 99 |",
        "", f"Campaign rows: {c['rows']} ({c['error']} error rows, {c['excluded']} excluded: "
        f"framework melted or polyanions decomposed; {c['no_rotor']} without a rotor).", "",
        "95 % decisions (category_decision): " + ", ".join(
            f"{k}: {v}" for k, v in sorted(c["category_decision"].items())),
        "", "rotation_decision: " + ", ".join(
            f"{k}: {v}" for k, v in sorted(c["rotation_decision"].items())), "",
        "## Nested 10-fold CV, rotation (categories 1+2) vs none (3)", "",
        "| model | F1 | ROC-AUC | accuracy | paper F1 |", "|---|---|---|---|---|",
    ]
    pos = float(labels[result["target"]].mean())
    lines.insert(len(lines) - 2, f"Reference without skill: always predicting the majority "
                 f"class gives F1 {2 * pos / (1 + pos):.3f} (positives {pos:.0%}) if it is "
                 "'rotation', 0 otherwise; ROC-AUC 0.5.\n")
    paper_f1 = {"logreg": "0.73", "rf": "< 0.73", "xgboost": "< 0.73", "lightgbm": "< 0.73"}
    for _, r in summary.iterrows():
        lines.append(f"| {r['model']} | {r['f1_mean']:.3f} +- {r['f1_std']:.3f} | "
                     f"{r['roc_auc_mean']:.3f} +- {r['roc_auc_std']:.3f} | "
                     f"{r['accuracy_mean']:.3f} | {paper_f1.get(r['model'], '')} |")
    b = result["best_subset"]
    lines += ["", "## Exhaustive logistic-regression subset search", "",
              f"{b['cv']}-fold stratified CV. Best: F1 {b['f1_mean']:.3f} with "
              f"{b['n_features']} features "
              f"({', '.join(b['features'])}); paper: 0.85 with 8. F1 against the number "
              "of features: `subsets/f1_vs_n_features.png`.", "",
              "| n features | best F1 |", "|---|---|"]
    for _, r in by_size.iterrows():
        lines.append(f"| {int(r['n_features'])} | {r['f1_mean']:.3f} |")
    lines += ["", "## SHAP of the best-subset logistic regression", "",
              "`best_subset/shap_beeswarm.png`; paper: VPA first (larger -> rotation), AAL "
              "second (larger -> less rotation).", "", "| rank | feature | mean abs SHAP |",
              "|---|---|---|"]
    for _, r in shap.head(8).iterrows():
        lines.append(f"| {int(r['rank'])} | {r['feature']} | {r['mean_abs_shap']:.3f} |")
    named = labels[labels["formula"].isin(PAPER_NAMED)]
    lines += ["", "## Named compounds", "", "| id | formula | T (K) | C(60 ps) [95 %] | "
              "Na MSD(60 ps) A^2 [95 %] | category (point) | decided | paper |",
              "|---|---|---|---|---|---|---|---|"]
    for _, r in named.iterrows():
        lines.append(
            f"| {r['mp_id']} | {r['formula']} | {r['temperature_K']:g} | {r['c_t_ref']:.2g} "
            f"[{r['c_t_ref_low']:.2g}, {r['c_t_ref_high']:.2g}] | {r['msd_mobile_ref_A2']:.3g} "
            f"[{r['msd_mobile_ref_low_A2']:.3g}, {r['msd_mobile_ref_high_A2']:.3g}] | "
            f"{int(r['category'])} | {r['category_decision']} | {PAPER_NAMED[r['formula']]} |")
    p = result["predictions"]
    lines += ["", "## Predictions for the structures outside the training set", "",
              f"{p['n']} structures (`predictions_ranked.csv`), {p['errors']} error rows, "
              f"{p['out_of_range']} outside the training range (`out_of_range`).", "",
              "| id | connectivity | rotation probability | out of range |", "|---|---|---|---|"]
    for _, r in ranked.head(15).iterrows():
        lines.append(f"| {r['id']} | {r['connectivity']} | {r['probability']:.3f} | "
                     f"{r['out_of_range']} |")
    lines += ["", "Wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                  result["times_s"].items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", default="survey")
    p.add_argument("--n-trials", type=int, default=20)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--target", default="rotation", choices=["rotation", "rotation_in_run"],
                   help="rotation: point category at 60 ps; rotation_in_run: C(t_end) < 0.9")
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / "commands.txt"
    uri = f"sqlite:///{OUT / 'mlflow.db'}"
    res = OUT / args.target  # this target's models, tables and figures
    times: dict[str, float] = {}

    labels, counts = make_labels(args.stage)
    labels_csv = OUT / "rotation_labels.csv"
    labels.to_csv(labels_csv, index=False)
    print(json.dumps(counts))

    features = OUT / "phonondb_features.parquet"
    if not features.exists():
        times["featurize"] = sh([MLKIT, "featurize", str(DATA), "-o", str(features),
                                 "--jobs", str(args.jobs), "--no-progress"], log)
    table = pd.read_parquet(features)

    common = ["--features", str(features), "--labels", str(labels_csv), "--target", args.target,
              "--feature-set", "rotation-paper", "--corr-threshold", "0.9", "--no-progress"]
    times["train"] = sh([MLKIT, "train", *common, "--task", "classification",
                         "--models", "logreg,rf,xgboost,lightgbm", "--n-trials",
                         str(args.n_trials), "--outer-folds", "10", "--experiment",
                         "rotation-paper", "--register-name", f"{args.target}_paper",
                         "--tracking-uri", uri, "--output-dir", str(res / "train")], log)
    # stratified folds need every class in every fold: 10 (the paper's) or fewer
    n_cv = int(min(10, labels[args.target].value_counts().min()))
    # a rerun is a new search (the labels may have grown): drop the last run's chunks,
    # which `mlkit subsets` would otherwise refuse to overwrite without --resume
    shutil.rmtree(res / "subsets" / "chunks", ignore_errors=True)
    times["subsets"] = sh([MLKIT, "subsets", *common, "--cv", str(n_cv), "--metric", "f1",
                           "--jobs", "2", "--output-dir", str(res / "subsets")], log)
    by_size = pd.read_csv(res / "subsets" / "best_by_size.csv")
    best = by_size.loc[by_size["f1_mean"].idxmax()]
    best_cols = [c for c in str(best["features"]).split(",") if c]
    times["train_best_subset"] = sh(
        [MLKIT, "train", "--features", str(features), "--labels", str(labels_csv),
         "--target", args.target, "--task", "classification", "--feature-set",
         ",".join(best_cols), "--corr-threshold", "1.0", "--models", "logreg",
         "--n-trials", str(args.n_trials), "--no-progress", "--no-track",
         "--output-dir", str(res / "best_subset")], log)
    hexbin(table, labels, OUT / "vpa_aal_hexbin.png")

    times["predict"] = sh([MLKIT, "predict", "--model", f"models:/{args.target}_paper@champion",
                           "--features", str(features), "--tracking-uri", uri,
                           "-o", str(res / "predictions_all.csv"), "--no-progress"], log)
    pred = pd.read_csv(res / "predictions_all.csv")
    pred["in_training"] = pred["id"].isin(labels["id"])
    pred = pred.merge(table[["id", "connectivity"]], on="id", how="left")
    ranked = pred[~pred["in_training"]].sort_values("probability", ascending=False)
    ranked.to_csv(res / "predictions_ranked.csv", index=False)

    summary = pd.read_csv(res / "train" / "cv_summary.csv")
    shap = pd.read_csv(res / "best_subset" / "shap_importance.csv")
    result = {
        "stage": args.stage, "target": args.target, "labels": counts, "times_s": times,
        "cv_summary": summary.to_dict(orient="records"),
        "best_subset": {"n_features": len(best_cols), "features": best_cols, "cv": n_cv,
                        "f1_mean": float(best["f1_mean"])},
        "best_subset_shap_top": shap.head(5).to_dict(orient="records"),
        "predictions": {"n": len(ranked), "errors": int(ranked["error"].notna().sum()),
                        "out_of_range": int(ranked["out_of_range"].astype(str).eq("True").sum()),
                        "top10": ranked.head(10)[["id", "probability", "out_of_range"]]
                        .to_dict(orient="records")},
    }
    (res / "results.json").write_text(json.dumps(result, indent=1, default=str))
    (res / "results.md").write_text(report(result, labels, summary, by_size, shap, ranked))
    print(json.dumps(result, indent=1, default=str)[:3000])


if __name__ == "__main__":
    main()
