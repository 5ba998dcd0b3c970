"""``mlkit predict``: featurize new structures as at training time and predict them."""

from __future__ import annotations

import argparse

from mlkit.cli.options import add_run_options


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict structures with a saved, logged or registered model",
        description="Featurize with the featurization settings stored in the model, write one "
        "row per structure (prediction, probability, out_of_range flag, error). A model "
        "directory (mlkit train --output-dir .../final_model) is read without MLflow.",
    )
    p.add_argument("--model", required=True,
                   help="model directory, models:/NAME@ALIAS, models:/NAME/VERSION or "
                   "runs:/RUN_ID/model")
    p.add_argument("paths", nargs="*", help="structure files, directories or globs")
    p.add_argument("--features", default=None, help="predict a feature table instead of paths")
    p.add_argument("-o", "--output", default="predictions.csv")
    p.add_argument("--tracking-uri", default=None)
    p.add_argument("--allow-feature-mismatch", action="store_true",
                   help="predict even when the features were made with other settings or "
                   "feature code than the model's inputs (the differences go to 'warning')")
    p.add_argument("--refuse-partial", action="store_true",
                   help="no prediction for a structure where some feature groups failed "
                   "(default: predict it, the missing features imputed as in training and "
                   "named in 'warning')")
    add_run_options(p, aliases=("--n-jobs",), jobs_help="featurization worker processes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlkit.errors import MlkitError
    from mlkit.utils import atomic_write_text
    from mlkit.workflows import load_trained_model, predict_features, predict_paths

    if bool(args.paths) == bool(args.features):
        raise MlkitError("give structure PATHS or --features (exactly one)")
    model = load_trained_model(args.model, tracking_uri=args.tracking_uri)
    if args.features:
        table = predict_features(model, args.features,
                                 allow_mismatch=args.allow_feature_mismatch,
                                 refuse_partial=args.refuse_partial)
    else:
        table = predict_paths(
            model, args.paths, jobs=args.jobs, cache_dir=args.cache_dir,
            use_cache=not args.no_cache, progress=not args.no_progress,
            allow_mismatch=args.allow_feature_mismatch, refuse_partial=args.refuse_partial,
        )
    atomic_write_text(args.output, table.to_csv(index=False))
    n_err = int((table["error"].astype(str).str.strip() != "").sum())
    n_oor = int((table["out_of_range"] == True).sum())  # noqa: E712 - object column
    n_imp = int(table["warning"].astype(str).str.contains("imputed as in training").sum())
    print(f"{len(table)} structures -> {args.output} ({n_err} error rows, "
          f"{n_imp} with imputed features, {n_oor} outside the training range)")
    return 0
