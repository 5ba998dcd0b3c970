"""``mlkit featurize PATHS... -o OUT.parquet|OUT.csv``: structures -> feature table."""

from __future__ import annotations

import argparse


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
    p.add_argument(
        "--featurizers",
        default="default",
        help="comma-separated featurizer names (default: the five core groups; "
        "'default,magpie' adds Magpie statistics); see --list",
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes (-1: all cores)")
    p.add_argument("--mobile-ion", default="Na", help="mobile-ion element (default Na)")
    p.add_argument(
        "--disorder",
        default="average",
        choices=("average", "majority", "refuse"),
        help="partial-occupancy strategy (default average)",
    )
    p.add_argument("--max-sites", type=int, default=2000, help="larger structures are errors")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument(
        "--cache-dir", default=None, help="cache directory (default .mlkit_cache/features)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from mlkit.features import featurize_paths, write_table

    if Path(args.output).suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"{args.output}: output must end in .csv or .parquet")
    t0 = time.perf_counter()
    df = featurize_paths(
        args.paths,
        featurizers=[args.featurizers],
        mobile_ion=args.mobile_ion,
        disorder=args.disorder,
        max_sites=args.max_sites,
        n_jobs=args.jobs,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        progress=not args.no_progress,
    )
    out = write_table(df, args.output)
    seconds = time.perf_counter() - t0
    n_err = int((df["error"] != "").sum())
    n_failed = int(df["disorder"].eq("").sum())
    print(
        f"featurized {len(df)} structures -> {out} ({df.shape[1] - 5} features): "
        f"{n_err} with errors ({n_failed} unreadable/invalid), {seconds:.1f} s"
    )
    return 0
