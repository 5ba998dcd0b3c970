"""Option groups shared by the verbs, and the settings values they build.

Each group adds its options once and has one function turning the parsed arguments into
the settings object, so the verbs cannot drift apart:

* :func:`add_featurization_options` -> :func:`featurization_from_args`
  (:class:`~mlkit.features.settings.FeaturizationSettings`);
* :func:`add_label_options` -> :func:`label_policy_from_args`
  (:class:`~mlkit.models.dataset.LabelPolicy`);
* :func:`add_run_options` -- ``--jobs`` (the one spelling for worker processes in every
  verb; ``--n-jobs`` and ``--cv-jobs`` remain as hidden, deprecated aliases), the
  feature cache and the progress bar.

Importing this module is cheap: the settings classes are imported when the arguments
are turned into settings.
"""

from __future__ import annotations

import argparse
import sys

#: the partial-occupancy strategies (``mlkit.structures.DISORDER_STRATEGIES``)
DISORDER_CHOICES = ("average", "majority", "refuse")


class _DeprecatedAlias(argparse.Action):
    """Store like the option it stands for, with a note on stderr."""

    def __init__(self, option_strings, dest, replacement: str = "", **kwargs) -> None:
        self.replacement = replacement
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(
            f"mlkit: {option_string} is deprecated; use {self.replacement}", file=sys.stderr
        )
        setattr(namespace, self.dest, values)


def add_jobs_option(
    p: argparse.ArgumentParser,
    *,
    default: int | None = 1,
    help: str = "worker processes (-1: all cores)",
    aliases: tuple[str, ...] = (),
) -> None:
    """``--jobs N`` (and hidden deprecated ``aliases`` such as ``--n-jobs``)."""
    p.add_argument("--jobs", type=int, default=default, help=help)
    if aliases:
        p.add_argument(
            *aliases, dest="jobs", type=int, action=_DeprecatedAlias, replacement="--jobs",
            default=argparse.SUPPRESS, help=argparse.SUPPRESS,
        )


def add_run_options(
    p: argparse.ArgumentParser,
    *,
    jobs_default: int | None = 1,
    jobs_help: str = "worker processes (-1: all cores)",
    aliases: tuple[str, ...] = (),
    cache: bool = True,
) -> None:
    """``--jobs``, ``--cache-dir``, ``--no-cache`` (with ``cache``) and ``--no-progress``."""
    add_jobs_option(p, default=jobs_default, help=jobs_help, aliases=aliases)
    if cache:
        p.add_argument(
            "--cache-dir", default=None,
            help="feature cache directory (default $MLKIT_CACHE_DIR/features or "
            ".mlkit_cache/features)",
        )
        p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_featurization_options(p: argparse.ArgumentParser) -> None:
    """Featurizers, mobile ion, disorder strategy and site limit."""
    g = p.add_argument_group("featurization (stored with a trained model)")
    g.add_argument(
        "--featurizers", default="default",
        help="comma-separated featurizer names (default: the five core groups; "
        "'default,magpie' adds Magpie statistics)",
    )
    g.add_argument("--mobile-ion", default="Na", help="mobile-ion element (default Na)")
    g.add_argument(
        "--disorder", default="average", choices=DISORDER_CHOICES,
        help="partial-occupancy strategy (default average)",
    )
    g.add_argument("--max-sites", type=int, default=2000,
                   help="structures with more sites are error rows (default 2000)")
    g.add_argument("--potential", default=None,
                   help="ML potential of the opt-in 'phonon' group (default sevennet)")
    g.add_argument("--phonon-temperature-K", type=float, default=None,
                   help="temperature of the 'phonon' group's MSD features (default 800)")


def featurization_from_args(args: argparse.Namespace):
    """The :class:`~mlkit.features.settings.FeaturizationSettings` of the parsed options."""
    from mlkit.features.settings import FeaturizationSettings

    phonon = {k: v for k, v in (("potential", getattr(args, "potential", None)),
                                ("temperature_K", getattr(args, "phonon_temperature_K", None)))
              if v is not None}
    return FeaturizationSettings(
        featurizers=(args.featurizers,), mobile_ion=args.mobile_ion, disorder=args.disorder,
        max_sites=args.max_sites, featurizer_params={"phonon": phonon} if phonon else {},
    )


def add_label_options(p: argparse.ArgumentParser, *, task: bool = True) -> None:
    """``--labels``, ``--target`` and the label policy (``task=False``: no ``--task``,
    ``--target-transform``; the verb fixes the task).
    """
    g = p.add_argument_group("labels")
    g.add_argument("--labels", required=True, help="labels CSV with an 'id' column + targets")
    g.add_argument("--target", required=True, help="target column of the labels CSV")
    if task:
        g.add_argument("--task", choices=["classification", "regression"], default=None,
                       help="default: classification with --threshold or 0/1/string targets")
        g.add_argument("--target-transform", choices=["log10"], default=None)
    g.add_argument("--threshold", type=float, default=None,
                   help="class 1 if the raw target >= threshold (e.g. 1e-4 S/cm)")
    g.add_argument("--censored", choices=["drop", "value", "error"], default="drop",
                   help="censored targets like '<1E-10': drop (reported), use the bound, or fail")
    g.add_argument("--duplicates", choices=["error", "first"], default="error",
                   help="repeated ids: fail, or keep the first row (reported)")
    g.add_argument("--non-numeric", choices=["error", "drop"], default="error",
                   help="non-numeric targets of a numeric task: fail, or drop (reported)")
    g.add_argument("--id-column", default="id")
    g.add_argument("--feature-errors", choices=["drop", "keep-partial"], default="drop",
                   help="rows with featurization errors: drop all, or keep rows where only "
                   "some feature groups failed (NaN imputed inside each fold)")


def label_policy_from_args(args: argparse.Namespace, **fixed):
    """The :class:`~mlkit.models.dataset.LabelPolicy` of the parsed options (+ ``fixed``)."""
    from mlkit.models.dataset import LabelPolicy

    values = {
        "target": args.target, "task": getattr(args, "task", None),
        "target_transform": getattr(args, "target_transform", None),
        "threshold": args.threshold, "censored": args.censored, "duplicates": args.duplicates,
        "non_numeric": args.non_numeric, "id_column": args.id_column,
        "feature_errors": args.feature_errors,
    }
    return LabelPolicy(**{**values, **fixed})
