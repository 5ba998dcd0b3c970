"""``mlkit predict``: featurize new structures as at training time and predict them."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict structures with a logged/registered model",
        description="Featurize with the training settings stored in the model, write one row "
        "per structure (prediction, probability, out_of_range flag, error).",
    )
    p.add_argument("--model", required=True,
                   help="models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model")
    p.add_argument("paths", nargs="*", help="structure files, directories or globs")
    p.add_argument("--features", default=None, help="predict a feature table instead of paths")
    p.add_argument("-o", "--output", default="predictions.csv")
    p.add_argument("--tracking-uri", default=None)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlkit.predict import predict_features, predict_paths

    if bool(args.paths) == bool(args.features):
        raise ValueError("give structure PATHS or --features (exactly one)")
    if args.features:
        table = predict_features(args.model, args.features, tracking_uri=args.tracking_uri)
    else:
        table = predict_paths(
            args.model, args.paths, tracking_uri=args.tracking_uri, n_jobs=args.n_jobs,
            cache_dir=args.cache_dir, progress=not args.no_progress,
        )
    table.to_csv(args.output, index=False)
    n_err = int((table["error"].astype(str).str.strip() != "").sum())
    n_oor = int((table["out_of_range"] == True).sum())  # noqa: E712 - object column
    print(f"{len(table)} structures -> {args.output} ({n_err} error rows, "
          f"{n_oor} outside the training range)")
    return 0
