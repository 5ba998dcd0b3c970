"""OBELiX (Li conductors): nested-CV regression + classification, composition baseline, predict.

Run (from the repository root; ~15-30 min on 2 shared cores)::

    nohup /work/venv/bin/python experiments/obelix_train.py \
        > experiments/results/obelix/run.log 2>&1 &

What it does, all in one run (wall time reported at the end):

1. labels: the OBELiX training rows that have a CIF (254); target ``log10`` of
   ``Ionic conductivity (S cm-1)``; censored strings (``<1E-10``, ``<1E-8``) are dropped for
   regression (reported) and, for classification, mapped to their bound (``censored="value"``):
   the bound is below 1e-4 S/cm, so their class (0) is certain. Rows where only some
   feature groups failed (e.g. no non-Li polyhedra -> polyanion features NaN) are kept
   (``feature_errors="keep-partial"``, NaN imputed inside each fold); unreadable rows dropped.
2. 10 CIFs with numeric conductivity are held out (seeded) *before* training.
3. regression: ``mlkit.models.train.train`` on the remaining CIFs (mobile ion Li, default
   featurizers, disorder "average"), four models, nested 10-fold CV, registered as
   ``models:/obelix_log10_sigma@champion`` in ``sqlite:///experiments/results/obelix/mlflow.db``.
4. composition-only baseline: random forest on magpie composition features
   (``featurizers=["magpie"]``) on exactly the same rows and the same outer folds.
5. classification ``sigma >= 1e-4 S/cm``: the four models, F1.
6. ``mlkit predict`` (the real CLI) on the 10 held-out CIFs from the registered model.

Outputs in ``experiments/results/obelix/``: ``results.md`` / ``results.json`` (numbers),
``regression/``, ``classification/``, ``baseline_magpie_rf/`` (tables and figures),
``holdout_predictions.csv``, ``mlflow.db`` + ``mlartifacts/`` (the MLflow store).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

OBELIX = Path(os.environ.get("MLKIT_OBELIX", Path(__file__).resolve().parents[2] / "shared"
                             / "datasets" / "obelix"))
TARGET_RAW = "Ionic conductivity (S cm-1)"
TARGET = "ionic_conductivity_S_cm"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="experiments/results/obelix")
    ap.add_argument("--n-trials", type=int, default=25)
    ap.add_argument("--outer-folds", type=int, default=10)
    ap.add_argument("--n-holdout", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=1, help="featurization workers")
    ap.add_argument("--cache-dir", default=None, help="feature cache (default OUT/.cache)")
    args = ap.parse_args()

    from sklearn.base import clone

    from mlkit.features import FeaturizationSettings, featurize_paths
    from mlkit.models.dataset import LabelPolicy
    from mlkit.models.trainer import Trainer
    from mlkit.tracking import TrackingSettings
    from mlkit.workflows import train

    t0 = time.perf_counter()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{out / 'mlflow.db'}"
    cache = Path(args.cache_dir) if args.cache_dir else out / ".cache"
    cifs = OBELIX / "cifs_train"
    table = pd.read_csv(OBELIX / "train.csv", dtype=str, keep_default_na=False)
    have_cif = {p.stem for p in cifs.glob("*.cif")}
    table = table[table["ID"].isin(have_cif)].reset_index(drop=True)
    labels = pd.DataFrame({"id": table["ID"], TARGET: table[TARGET_RAW],
                           "composition": table["Reduced Composition"]})
    numeric = pd.to_numeric(labels[TARGET], errors="coerce")
    rng = np.random.default_rng(args.seed)
    holdout = sorted(rng.choice(labels.loc[numeric.notna(), "id"].to_numpy(),
                                size=args.n_holdout, replace=False).tolist())
    train_labels = labels[~labels["id"].isin(holdout)].reset_index(drop=True)
    cache.mkdir(parents=True, exist_ok=True)  # label copies stay out of the committed results
    labels.to_csv(cache / "labels_all.csv", index=False)
    train_labels.to_csv(cache / "labels_train.csv", index=False)
    (out / "holdout_ids.txt").write_text("\n".join(holdout) + "\n")
    train_cifs = [str(cifs / f"{i}.cif") for i in train_labels["id"]]
    n_cens = int(train_labels[TARGET].str.strip().str.startswith("<").sum())
    print(f"{len(labels)} OBELiX training rows with CIF; holdout {len(holdout)}: {holdout}; "
          f"{len(train_labels)} for training ({n_cens} censored)", flush=True)

    li = FeaturizationSettings(mobile_ion="Li")  # the default featurizer groups
    trainer = Trainer(outer_folds=args.outer_folds, n_trials=args.n_trials, seed=args.seed)

    def tracked(register_name, run_name):
        return TrackingSettings(experiment="obelix", tracking_uri=uri,
                                register_name=register_name, run_name=run_name)

    common = dict(featurization=li, jobs=args.n_jobs, cache_dir=cache, progress=True)
    results: dict = {"command": "python experiments/obelix_train.py " + " ".join(sys.argv[1:]),
                     "holdout_ids": holdout}

    # 1. regression, four models
    t = time.perf_counter()
    reg = train(train_labels, LabelPolicy(TARGET, target_transform="log10",
                                          feature_errors="keep-partial"),
                structures=train_cifs, trainer=trainer,
                tracking=tracked("obelix_log10_sigma", "regression-log10-sigma"),
                output_dir=out / "regression", **common)
    print(reg.summary_text(), flush=True)
    results["regression"] = _table(reg, time.perf_counter() - t)
    results["regression"]["report"] = reg.report.to_dict()
    _save(out, results)

    # 2. composition-only baseline on the same rows (same order -> same outer folds)
    t = time.perf_counter()
    magpie = featurize_paths(train_cifs, featurizers=["magpie"], mobile_ion="Li",
                             n_jobs=args.n_jobs, cache_dir=cache, progress=True)
    # composition only: drop the structure-derived "connectivity" metadata column
    magpie = magpie.drop(columns=["connectivity", "disorder"], errors="ignore")
    assert all(c.startswith("magpie_") for c in magpie.columns
               if c not in ("id", "source", "error")), "non-composition column in baseline"
    used = list(reg.trainer.y_.index)
    base_labels = train_labels.set_index("id").loc[used].reset_index()
    base = train(base_labels, LabelPolicy(TARGET, target_transform="log10",
                                          feature_errors="keep-partial"),
                 features=magpie, trainer=clone(trainer).set_params(models="rf"),
                 tracking=tracked(None, "baseline-magpie-rf"),
                 output_dir=out / "baseline_magpie_rf",
                 **{**common, "featurization": FeaturizationSettings(("magpie",), "Li")})
    print(base.summary_text(), flush=True)
    if list(base.trainer.y_.index) != used:
        print("WARNING: baseline rows differ from the main run (magpie errors?)", flush=True)
    results["baseline_magpie_rf"] = _table(base, time.perf_counter() - t)
    _save(out, results)

    # 3. classification sigma >= 1e-4 S/cm
    t = time.perf_counter()
    cls = train(train_labels, LabelPolicy(TARGET, threshold=1e-4, censored="value",
                                          feature_errors="keep-partial"),
                structures=train_cifs, trainer=trainer,
                tracking=tracked("obelix_superionic", "classification-1e-4"),
                output_dir=out / "classification", **common)
    print(cls.summary_text(), flush=True)
    results["classification"] = _table(cls, time.perf_counter() - t)
    results["classification"]["report"] = cls.report.to_dict()
    _save(out, results)

    # 4. predict the held-out CIFs from the registered model, with the real CLI
    pred_csv = out / "holdout_predictions.csv"
    cmd = [sys.executable, "-m", "mlkit", "predict",
           "--model", "models:/obelix_log10_sigma@champion",
           *[str(cifs / f"{i}.cif") for i in holdout], "-o", str(pred_csv),
           "--tracking-uri", uri, "--cache-dir", str(cache), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    print(proc.stdout, proc.stderr[-2000:], flush=True)
    pred = pd.read_csv(pred_csv)
    truth = pd.to_numeric(labels.set_index("id")[TARGET], errors="coerce")
    pred["log10_sigma_true"] = np.log10(truth.loc[pred["id"].astype(str)].to_numpy())
    pred["abs_error"] = (pred["prediction"] - pred["log10_sigma_true"]).abs()
    pred.to_csv(pred_csv, index=False)
    results["holdout"] = {
        "command": " ".join(["mlkit", *cmd[3:]]).replace(str(Path.cwd()) + "/", ""),
        "mae_log10": float(pred["abs_error"].mean()),
        "n_out_of_range": int(pred["out_of_range"].astype(str).eq("True").sum()),
        "n_error_rows": int(pred["error"].fillna("").astype(str).str.strip().ne("").sum()),
    }
    results["wall_time_s"] = round(time.perf_counter() - t0, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "results.md").write_text(_markdown(results, pred))
    print(_markdown(results, pred))
    return 0


def _save(out: Path, results: dict) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))


def _table(result, wall_s: float) -> dict:
    summary = result.trainer.summary()
    return {
        "cv": {m: {k: float(v) for k, v in row.items()} for m, row in summary.iterrows()},
        "chosen": result.trainer.best_model_,
        "final_params": result.trainer.best_params_,
        "n_samples": int(len(result.trainer.y_)),
        "n_features": len(result.trainer.feature_columns_),
        "run_id": result.run_id,
        "registered": result.registered,
        "wall_time_s": round(wall_s, 1),
        "timings_s": {k: round(v, 1) for k, v in result.timings_s.items()},
        "class_counts": result.report.class_counts,
    }


def _markdown(res: dict, pred: pd.DataFrame) -> str:
    reg, base, cls = res["regression"], res["baseline_magpie_rf"], res["classification"]
    lines = [
        "# OBELiX: nested-CV results", "",
        f"Command: `{res['command']}`  ",
        f"Wall time of the whole run: {res['wall_time_s']:.0f} s on 2 cores shared with other "
        f"jobs (of which featurization {reg['timings_s']['featurize_s']:.0f} s; features are "
        "cached per file, a rerun reuses them)", "",
        f"## Regression: log10 sigma (S/cm), {reg['n_samples']} structures, "
        f"{reg['n_features']} features after filtering", "",
        "| model | MAE (log10) | RMSE | R2 | Spearman |", "|---|---|---|---|---|",
    ]
    for name, row in [*reg["cv"].items(), ("rf, magpie composition only (baseline)",
                                            base["cv"]["rf"])]:
        lines.append(
            f"| {name} | {row['mae_mean']:.3f} +- {row['mae_std']:.3f} | "
            f"{row['rmse_mean']:.3f} +- {row['rmse_std']:.3f} | {row['r2_mean']:.3f} +- "
            f"{row['r2_std']:.3f} | {row['spearman_mean']:.3f} +- {row['spearman_std']:.3f} |"
        )
    lines += ["", f"Chosen (lowest mean MAE): {reg['chosen']}, registered "
              "`models:/obelix_log10_sigma@champion`.", "",
              f"## Classification: sigma >= 1e-4 S/cm ({cls['n_samples']} structures, classes "
              f"{cls['class_counts']})", "",
              "| model | F1 | ROC-AUC | accuracy | balanced acc. | MCC |",
              "|---|---|---|---|---|---|"]
    for name, row in cls["cv"].items():
        lines.append(
            f"| {name} | {row['f1_mean']:.3f} +- {row['f1_std']:.3f} | "
            f"{row['roc_auc_mean']:.3f} +- {row['roc_auc_std']:.3f} | "
            f"{row['accuracy_mean']:.3f} +- {row['accuracy_std']:.3f} | "
            f"{row['balanced_accuracy_mean']:.3f} +- {row['balanced_accuracy_std']:.3f} | "
            f"{row['mcc_mean']:.3f} +- {row['mcc_std']:.3f} |"
        )
    lines += ["", f"## Held-out CIFs (not in training), `{res['holdout']['command']}`", "",
              f"MAE on the {len(pred)} held-out structures: {res['holdout']['mae_log10']:.3f} "
              f"(log10 S/cm); {res['holdout']['n_out_of_range']} flagged out of range.", "",
              "| id | predicted log10 sigma | true log10 sigma | out_of_range |",
              "|---|---|---|---|"]
    for _, r in pred.iterrows():
        lines.append(f"| {r['id']} | {r['prediction']:.2f} | {r['log10_sigma_true']:.2f} | "
                     f"{r['out_of_range']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
