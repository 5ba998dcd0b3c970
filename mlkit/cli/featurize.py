"""``mlkit featurize PATHS... -o OUT.parquet|OUT.csv``: structures -> feature table."""

from __future__ import annotations

import argparse

from mlkit.cli.options import add_featurization_options, add_run_options, featurization_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "featurize",
        help="structure files -> feature table (.parquet or .csv), one row per input",
        description="Featurize structure files (CIF, POSCAR/*.vasp, pymatgen JSON, extxyz; "
        "files, directories, globs). One row per input; failures become rows with a reason "
        "in the 'error' column.",
    )
    p.add_argument("paths", nargs="+", help="structure files, directories or globs")
    p.add_argument("-o", "--output", required=True, help="output table: OUT.parquet or OUT.csv")
    add_featurization_options(p)
    add_run_options(p)
    p.add_argument("--time-limit-s", type=float, default=600.0,
                   help="wall-time limit per structure; over it the row is an error "
                        "(default 600; 0 = none)")
    p.add_argument("--dask-address", default=None,
                   help="run on this Dask scheduler (tcp://host:8786) instead of --jobs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from mlkit.errors import MlkitError
    from mlkit.features import featurize_paths

    if Path(args.output).suffix.lower() not in (".csv", ".parquet"):
        raise MlkitError(f"{args.output}: output must end in .csv or .parquet")
    t0 = time.perf_counter()
    client = None
    if args.dask_address:
        from distributed import Client

        client = Client(args.dask_address)
    try:
        # streamed: rows reach the file in blocks as they finish, no table is kept
        summary = featurize_paths(
            args.paths, featurization_from_args(args), n_jobs=args.jobs,
            cache_dir=args.cache_dir, use_cache=not args.no_cache,
            progress=not args.no_progress, time_limit_s=args.time_limit_s or None,
            dask_client=client, output=args.output, return_table=False,
        )
    finally:
        if client is not None:
            client.close()
    seconds = time.perf_counter() - t0
    print(
        f"featurized {summary.n_rows} structures -> {summary.path} "
        f"({summary.n_features} features): {summary.n_errors} with errors "
        f"({summary.n_invalid} unreadable/invalid), {seconds:.1f} s"
    )
    return 0
