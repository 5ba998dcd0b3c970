"""``mlkit train``: nested-CV model selection, explanation, MLflow tracking, registration."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train screening models (nested CV + Optuna), explain, track in MLflow",
        description="Train logreg/rf/xgboost/lightgbm with nested CV, log to MLflow and "
        "register the best model. Tracking store: --tracking-uri > $MLFLOW_TRACKING_URI > "
        "sqlite:///mlflow.db in the current directory.",
    )
    p.add_argument("--labels", required=True, help="labels CSV with an 'id' column + targets")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--structures", nargs="+", help="structure files, directories or globs")
    src.add_argument("--features", help="feature table (.parquet or .csv) from mlkit featurize")
    p.add_argument("--target", required=True, help="target column of the labels CSV")
    p.add_argument("--task", choices=["classification", "regression"], default=None,
                   help="default: classification with --threshold or 0/1/string targets")
    p.add_argument("--models", default="logreg,rf,xgboost,lightgbm",
                   help="comma-separated subset of logreg,rf,xgboost,lightgbm")
    p.add_argument("--experiment", default="mlkit", help="MLflow experiment name")
    p.add_argument("--target-transform", choices=["log10"], default=None)
    p.add_argument("--threshold", type=float, default=None,
                   help="class 1 if raw target >= threshold (e.g. 1e-4 S/cm)")
    p.add_argument("--censored", choices=["drop", "value", "error"], default="drop",
                   help="censored targets like '<1E-10': drop (reported), use the bound, or fail")
    p.add_argument("--duplicates", choices=["error", "first"], default="error")
    p.add_argument("--id-column", default="id")
    p.add_argument("--feature-errors", choices=["drop", "keep-partial"], default="drop",
                   help="rows with featurization errors: drop all, or keep rows where only "
                   "some feature groups failed (NaN imputed inside each fold)")
    p.add_argument("--mobile-ion", default="Na")
    p.add_argument("--featurizers", default=None, help="comma-separated featurizer names")
    p.add_argument("--disorder", default="average", help="average | majority | refuse")
    p.add_argument("--n-trials", type=int, default=20, help="Optuna trials per fold")
    p.add_argument("--outer-folds", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--corr-threshold", type=float, default=0.9)
    p.add_argument("--subset-search", action="store_true",
                   help="also run the exhaustive logistic-regression feature-subset search")
    p.add_argument("--register-name", default=None,
                   help="register the final model under this name (alias --alias)")
    p.add_argument("--alias", default="champion")
    p.add_argument("--tracking-uri", default=None)
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.add_argument("--output-dir", default=None, help="keep a local copy of all artefacts here")
    p.add_argument("--n-jobs", type=int, default=1, help="featurization workers")
    p.add_argument("--cv-jobs", type=int, default=1,
                   help="outer CV folds in parallel (same results for any value)")
    p.add_argument("--cache-dir", default=None, help="featurization cache")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlkit.models.train import train

    result = train(
        args.labels, args.target, structures=args.structures, features=args.features,
        task=args.task, models=args.models, experiment=args.experiment,
        target_transform=args.target_transform, threshold=args.threshold,
        censored=args.censored, duplicates=args.duplicates, id_column=args.id_column,
        feature_errors=args.feature_errors,
        mobile_ion=args.mobile_ion,
        featurizers=args.featurizers.split(",") if args.featurizers else None,
        disorder=args.disorder, n_trials=args.n_trials, outer_folds=args.outer_folds,
        seed=args.seed, corr_threshold=args.corr_threshold, subset_search=args.subset_search,
        register_name=args.register_name, alias=args.alias, tracking_uri=args.tracking_uri,
        track=not args.no_track, output_dir=args.output_dir, n_jobs=args.n_jobs,
        cv_jobs=args.cv_jobs,
        cache_dir=args.cache_dir, progress=not args.no_progress,
    )
    print(result.summary_text())
    return 0
