"""``mlkit train``: nested-CV model selection, explanation, MLflow tracking, registration."""

from __future__ import annotations

import argparse

from mlkit.cli.options import (
    add_featurization_options,
    add_label_options,
    add_run_options,
    featurization_from_args,
    label_policy_from_args,
)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train screening models (nested CV + Optuna), explain, track in MLflow",
        description="Train logreg/rf/xgboost/lightgbm with nested CV, log to MLflow and "
        "register the best model. Tracking store: --tracking-uri > $MLFLOW_TRACKING_URI > "
        "sqlite:///mlflow.db in the current directory. The model and artefacts are written "
        "locally first; when tracking fails the run still finishes, prints one line saying "
        "why and exits with status 3.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--structures", nargs="+", help="structure files, directories or globs")
    src.add_argument("--features", help="feature table (.parquet or .csv) from mlkit featurize")
    add_label_options(p)
    add_featurization_options(p)
    m = p.add_argument_group("models")
    m.add_argument("--models", default="logreg,rf,xgboost,lightgbm",
                   help="comma-separated subset of logreg,rf,xgboost,lightgbm")
    m.add_argument("--n-trials", type=int, default=20, help="Optuna trials per fold")
    m.add_argument("--outer-folds", type=int, default=10)
    m.add_argument("--val-fraction", type=float, default=0.2,
                   help="validation share of the non-test rows (0.2 -> 72/18/10)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--group-column", default=None,
                   help="grouped CV: column of the labels CSV with a group per row (e.g. a "
                   "structure family); no group is ever split across train/validation/test; "
                   "a row with an empty cell is its own group")
    m.add_argument("--corr-threshold", type=float, default=0.9)
    m.add_argument("--feature-set", default=None,
                   help="only these feature columns: a named set (rotation-paper) or a "
                   "comma-separated list; default: every column")
    m.add_argument("--subset-search", action="store_true",
                   help="also run the exhaustive logistic-regression feature-subset search")
    m.add_argument("--no-explain", action="store_true", help="skip SHAP and the figures")
    t = p.add_argument_group("tracking")
    t.add_argument("--experiment", default="mlkit", help="MLflow experiment name")
    t.add_argument("--register-name", default=None,
                   help="register the final model under this name (alias --alias)")
    t.add_argument("--alias", default="champion")
    t.add_argument("--tracking-uri", default=None)
    t.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.add_argument("--output-dir", default=None,
                   help="keep a local copy of all artefacts here (the model in final_model/)")
    add_run_options(
        p, aliases=("--n-jobs", "--cv-jobs"),
        jobs_help="worker processes for each parallel phase in turn: featurization, then "
        "the outer CV folds (results do not depend on it; -1: all cores)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlkit.features.sets import feature_set_columns
    from mlkit.models.trainer import Trainer
    from mlkit.tracking import TrackingSettings
    from mlkit.workflows import train

    trainer = Trainer(
        models=args.models, outer_folds=args.outer_folds, val_fraction=args.val_fraction,
        n_trials=args.n_trials, seed=args.seed, corr_threshold=args.corr_threshold,
        feature_subset=feature_set_columns(args.feature_set), n_jobs=args.jobs,
        progress=not args.no_progress,
    )
    tracking = None if args.no_track else TrackingSettings(
        experiment=args.experiment, tracking_uri=args.tracking_uri,
        register_name=args.register_name, alias=args.alias,
    )
    result = train(
        args.labels, label_policy_from_args(args), structures=args.structures,
        features=args.features, featurization=featurization_from_args(args), trainer=trainer,
        tracking=tracking, explain=not args.no_explain, subset_search=args.subset_search,
        group_column=args.group_column, output_dir=args.output_dir, jobs=args.jobs,
        cache_dir=args.cache_dir, use_cache=not args.no_cache, progress=not args.no_progress,
    )
    print(result.summary_text())
    if result.tracking_error:
        import sys

        from mlkit.tracking import resolve_tracking_uri

        print(f"mlkit train: tracking failed ({resolve_tracking_uri(args.tracking_uri)}): "
              f"{result.tracking_error}; the model is in {result.output_dir / 'final_model'}",
              file=sys.stderr)
        return 3
    return 0
