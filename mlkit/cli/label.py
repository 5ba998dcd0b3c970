"""``mlkit label md``: structures -> MD -> analysis -> label table (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    from mlkit.cli.md import add_analysis_options, add_run_options

    p = subparsers.add_parser("label", help="compute label tables (MD, phonons)")
    sub = p.add_subparsers(dest="label_command", required=True)
    m = sub.add_parser("md", help="run MD for each structure, then analyse into labels")
    add_run_options(m)
    m.add_argument("-o", "--output", required=True, help="labels CSV")
    m.add_argument("--md-dir", default=None,
                   help="where trajectories go (default: <output stem>_md next to the CSV)")
    m.add_argument("--include-partial", action="store_true")
    add_analysis_options(m)
    m.set_defaults(func=run)
    from mlkit.cli.label_phonons import add_label_parser

    add_label_parser(sub)


def run(args: argparse.Namespace) -> int:
    from mlkit.cli.md import analysis_settings_from_args, settings_from_args
    from mlkit.labels.md import label_md

    out = Path(args.output)
    md_dir = Path(args.md_dir) if args.md_dir else out.with_name(out.stem + "_md")
    df = label_md(args.structures, md_dir, out, settings_from_args(args), n_jobs=args.jobs,
                  dask_address=args.dask_address, include_partial=args.include_partial,
                  progress=not args.no_progress,
                  analysis_settings=analysis_settings_from_args(args))
    n_err = int((df["status"] == "error").sum())
    print(f"wrote {len(df)} rows ({n_err} errors) to {out}; trajectories in {md_dir}")
    return 0
