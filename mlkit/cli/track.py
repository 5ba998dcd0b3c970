"""``mlkit track``: log a finished ``mlkit train`` output directory to MLflow afterwards."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "track",
        help="log a kept training directory to MLflow (after the store was down)",
        description="Log the model, CV metrics, tables and figures of a finished "
        "'mlkit train --output-dir DIR' to MLflow, the same layout as a tracked training, "
        "and register the model. For a training whose tracking failed (exit status 3). "
        "Tracking store: --tracking-uri > $MLFLOW_TRACKING_URI > sqlite:///mlflow.db.",
    )
    p.add_argument("directory", help="the training's --output-dir (holds final_model/)")
    p.add_argument("--experiment", default="mlkit", help="MLflow experiment name")
    p.add_argument("--register-name", default=None,
                   help="register the model under this name (alias --alias)")
    p.add_argument("--alias", default="champion")
    p.add_argument("--tracking-uri", default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlkit.tracking import TrackingSettings
    from mlkit.workflows.train import log_saved

    info = log_saved(args.directory, TrackingSettings(
        experiment=args.experiment, tracking_uri=args.tracking_uri,
        register_name=args.register_name, alias=args.alias))
    print(f"MLflow run {info['run_id']} ({info['tracking_uri']}); model {info['model_uri']}")
    if info["registered"]:
        r = info["registered"]
        print(f"registered models:/{r['name']}@{r['alias']} (version {r['version']})")
    return 0
