"""Thin command-line interface: ``mlkit VERB ...``.

Each verb lives in its own module ``mlkit.cli.<verb>`` exposing
``add_parser(subparsers)`` (which registers the sub-command and sets
``func``) so that importing the CLI stays cheap and verbs stay independent. Option
groups shared by several verbs live in :mod:`mlkit.cli.options`.

Errors: mlkit's own errors (:class:`~mlkit.errors.MlkitError`, one line by design) and a
missing file print one line and exit with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: verb modules, in the order of the flow
VERB_MODULES = ("featurize", "train", "track", "subsets", "predict", "md", "label", "info")


def build_parser() -> argparse.ArgumentParser:
    from mlkit import __version__

    parser = argparse.ArgumentParser(
        prog="mlkit", description="Screening models for fast mobile-ion conductors."
    )
    parser.add_argument("--version", action="version", version=f"mlkit {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True)
    for name in VERB_MODULES:
        try:
            module = importlib.import_module(f"mlkit.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"mlkit.cli.{name}":
                continue  # verb not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mlkit.errors import MlkitError
    from mlkit.utils import one_line

    try:
        return int(args.func(args) or 0)
    except (MlkitError, FileNotFoundError) as exc:
        # user-facing errors: one line, no traceback
        print(f"mlkit {args.verb}: error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
