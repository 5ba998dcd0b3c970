"""``mlkit subsets``: exhaustive feature-subset search (logistic regression by default)."""

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
        "subsets",
        help="cross-validate a classifier on every feature subset (fast logistic regression)",
        description="Exhaustive feature-subset search: every non-empty subset of the features, "
        "StratifiedKFold(cv, shuffle=True, random_state=seed), StandardScaler fitted on each "
        "training fold, LogisticRegression(C) solved to convergence by a batched Newton kernel. "
        "Writes subsets.parquet, best_by_size.csv, size_summary.csv, top100.csv, best.json and "
        "the metric-vs-number-of-features PNG into -o DIR (chunk checkpoints in DIR/chunks).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--features", help="feature table (.parquet or .csv) from mlkit featurize")
    src.add_argument("--structures", nargs="+", help="structure files, directories or globs")
    add_label_options(p, task=False)
    add_featurization_options(p)
    p.add_argument(
        "--corr-threshold",
        type=float,
        default=None,
        help="first drop the later column of every pair with |Pearson r| above this "
        "(the paper used 0.9); default: keep all columns",
    )
    p.add_argument(
        "--feature-set",
        default=None,
        help="only these feature columns: a named set (rotation-paper) or a "
        "comma-separated list; default: every column",
    )
    p.add_argument("--cv", type=int, default=10, help="stratified shuffled folds (default 10)")
    p.add_argument("--seed", type=int, default=0, help="fold seed (default 0)")
    p.add_argument("--max-features", type=int, default=None, help="largest subset size")
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (default 1.0)")
    p.add_argument("--metric", choices=["f1", "accuracy", "roc_auc"], default="f1")
    p.add_argument(
        "--estimator",
        default="logreg",
        help="logreg (fast) | logreg_sklearn | rf | xgb | lgbm (generic, slower)",
    )
    p.add_argument("--chunk-size", type=int, default=None, help="subsets per chunk (power of 2)")
    p.add_argument("-o", "--output-dir", default="subsets_out")
    p.add_argument("--dask-address", default=None, help="run chunks on this Dask scheduler")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the finished chunks in OUTPUT_DIR/chunks",
    )
    p.add_argument(
        "--track",
        action="store_true",
        help="log summary, curve and top-100 table through mlkit.tracking",
    )
    p.add_argument("--experiment", default="mlkit-subsets", help="MLflow experiment (--track)")
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store (default $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)",
    )
    add_run_options(
        p, jobs_default=None,
        jobs_help="local workers for featurization and the search (default: all cores for "
        "the search, 1 for featurization)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlkit.errors import MlkitError
    from mlkit.features.sets import feature_set_columns
    from mlkit.models.subsets import exhaustive_subset_search, write_outputs
    from mlkit.workflows import prepare_subset_table

    out = Path(args.output_dir)
    ckpt = out / "chunks"
    if not args.resume and any(ckpt.glob("chunk_*.parquet")):
        raise MlkitError(
            f"{ckpt}: finished chunks of an earlier run exist; pass --resume to "
            "continue it or choose another --output-dir"
        )
    X, y, notes = prepare_subset_table(
        args.labels,
        label_policy_from_args(args, task="classification"),
        features=args.features,
        structures=args.structures,
        featurization=featurization_from_args(args),
        corr_threshold=args.corr_threshold,
        feature_subset=feature_set_columns(args.feature_set),
        jobs=args.jobs or 1,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        progress=not args.no_progress,
    )
    for note in notes:
        print(f"note: {note}")
    import math

    k_max = X.shape[1] if args.max_features is None else min(args.max_features, X.shape[1])
    n_subsets = sum(math.comb(X.shape[1], k) for k in range(1, k_max + 1))
    print(f"{len(y)} samples x {X.shape[1]} features -> {n_subsets:,} subsets")
    result = exhaustive_subset_search(
        X,
        y,
        cv=args.cv,
        max_features=args.max_features,
        C=args.C,
        metric=args.metric,
        seed=args.seed,
        chunk_size=args.chunk_size,
        n_jobs=args.jobs,
        checkpoint_dir=ckpt,
        progress=not args.no_progress,
        dask_client=args.dask_address,
        estimator=args.estimator,
    )
    paths = write_outputs(result, out)
    if args.track:
        from mlkit import tracking

        run_id = tracking.log_subset_search(
            result, paths, experiment=args.experiment, tracking_uri=args.tracking_uri
        )
        print(f"logged to MLflow run {run_id} ({tracking.resolve_tracking_uri(args.tracking_uri)})")
    best = result.best
    print(
        f"best {result.metric} {best[f'{result.metric}_mean']:.4f} +- "
        f"{best[f'{result.metric}_std']:.4f} with {int(best['n_features'])} features: "
        f"{', '.join(result.features_of(int(best['bitmask'])))}"
    )
    print(f"non-converged subsets: {result.n_not_converged}; outputs in {out}")
    return 0
