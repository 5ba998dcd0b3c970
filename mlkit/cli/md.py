"""``mlkit md run`` and ``mlkit md analyze``: ML-potential MD and its labels."""

from __future__ import annotations

import argparse


def _temperature(value: str) -> float | str:
    if value == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {value!r}") from None


def add_run_options(p: argparse.ArgumentParser) -> None:
    """MD options shared by ``mlkit md run`` and ``mlkit label md``.

    Options left unset take the value of ``--preset`` (if given), else the
    :class:`~mlkit.md.MDSettings` default shown in the help.
    """
    from mlkit.md.settings import PRESETS

    p.add_argument("structures", nargs="+", help="structure files, directories or globs")
    p.add_argument("--preset", choices=tuple(PRESETS), default=None,
                   help="a paper's MD protocol (phonon-paper: NVT Langevin 800 K, 1.5 fs, "
                        "15 + 60 ps; rotation-paper: NVT Nose-Hoover, 2 fs, 60 ps, T auto, "
                        "supercell >= 8 A); options given explicitly override it")
    p.add_argument("--temperature-K", type=_temperature, default=None,
                   help="K, or 'auto' (800 K halides F/Cl/Br/I, 1300 K O/S/Se/Te; default)")
    p.add_argument("--time-ps", type=float, default=None,
                   help="production length (ps; default 60)")
    p.add_argument("--timestep-fs", type=float, default=None, help="default 2")
    p.add_argument("--equilibration-ps", type=float, default=None, help="default 2")
    p.add_argument("--ensemble", choices=("nvt-nose-hoover", "nvt-langevin"), default=None,
                   help="default nvt-nose-hoover")
    p.add_argument("--supercell-min-length-A", type=float, default=None,
                   help="every perpendicular cell width >= this (A; default 8)")
    p.add_argument("--potential", default=None, help="default chgnet")
    p.add_argument("--model-path", default=None, help="local weights (MACE, MatterSim, ORB)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                   help="default auto")
    p.add_argument("--threads", type=int, default=None, help="torch threads per run")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="default float32")
    p.add_argument("--mobile-ion", default=None, help="default Na")
    p.add_argument("--constraint", choices=("none", "rc", "rtc", "rtvc"), default=None,
                   help="constrained-anion MD: freeze polyanion rotation (rc), rotation + "
                        "translation (rtc) or all polyanion atoms (rtvc); default none")
    p.add_argument("--npt-equilibration-ps", type=float, default=None,
                   help="NPT stage before NVT production (ps; default 0: the input cell)")
    p.add_argument("--pressure-GPa", type=float, default=None,
                   help="target pressure of the NPT stage (default 0)")
    p.add_argument("--rotor-species", type=_species_list, default=None,
                   help="comma-separated rotor species (e.g. PS4): the groups a constraint "
                        "acts on and the rotors analysed (default: every tetrahedral/"
                        "octahedral polyanion and cluster)")
    p.add_argument("--seed", type=int, default=None, help="default 0")
    p.add_argument("--save-every", type=int, default=None,
                   help="store a frame every N steps (default 5)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="checkpoint every N stored frames (default 50)")
    p.add_argument("--jobs", type=int, default=1, help="local worker processes")
    p.add_argument("--dask-address", default=None, help="Dask scheduler address")
    p.add_argument("--no-progress", action="store_true")


#: analysis options of ``mlkit md analyze`` and ``mlkit label md``: flag -> AnalysisSettings field
_ANALYSIS_OPTIONS = {
    "--diffusion-threshold-A2": ("diffusion_threshold_A2", float,
                                 "mobile-ion MSD above which it diffuses (A^2; paper: 5)"),
    "--melt-threshold-A2": ("melt_threshold_A2", float,
                            "framework-cation MSD above which it melted (A^2; paper: 2)"),
    "--rotation-threshold": ("rotation_threshold", float,
                             "C(t_end) below which polyanions rotate (paper: 0.9)"),
    "--fit-start-fraction": ("fit_start_fraction", float,
                             "start of the MSD/C(t) fit window, fraction of the run (0.1)"),
    "--fit-end-fraction": ("fit_end_fraction", float,
                           "end of the MSD/C(t) fit window, fraction of the run (0.5)"),
    "--n-blocks": ("n_blocks", int, "blocks for the error of D (5)"),
    "--reference-time-ps": ("reference_time_ps", float,
                            "time at which the criteria are evaluated (paper: 60 ps)"),
    "--confidence": ("confidence", float, "two-sided level of the intervals (0.95)"),
    "--hop-a-A": ("hop_a_A", float,
                  "hop distance a (default: the mobile-ion site spacing of the structure)"),
    "--phi-axis": ("orientation_phi_axis", str,
                   "azimuth reference of rho(theta, phi): x, or y (the paper's convention)"),
}


def _species_list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    """Analysis thresholds and windows (unset: the defaults of AnalysisSettings)."""
    for flag, (dest, kind, text) in _ANALYSIS_OPTIONS.items():
        p.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    p.add_argument("--analysis-preset", choices=("rotation-paper", "phonon-paper"),
                   default="rotation-paper",
                   help="named analysis settings (options above override its values)")
    if "--rotor-species" not in p._option_string_actions:  # label md has it from the run
        p.add_argument("--rotor-species", type=_species_list, default=None,
                       help="comma-separated rotor species to analyse, e.g. PS4 or P2S6,PS4 "
                            "(default: every tetrahedral/octahedral polyanion and cluster)")


def analysis_settings_from_args(args: argparse.Namespace):
    """The :class:`~mlkit.analysis.AnalysisSettings` of the command line."""
    from mlkit.analysis import AnalysisSettings

    given = {dest: getattr(args, dest) for dest, _, _ in _ANALYSIS_OPTIONS.values()}
    given["rotor_species"] = getattr(args, "rotor_species", None)
    preset = getattr(args, "analysis_preset", "rotation-paper")
    return AnalysisSettings.preset(preset, **{k: v for k, v in given.items() if v is not None})


#: MDSettings fields set from the command line (argparse dest == field name)
_SETTINGS_OPTIONS = (
    "temperature_K", "time_ps", "timestep_fs", "equilibration_ps", "ensemble",
    "supercell_min_length_A", "potential", "device", "threads", "dtype", "model_path",
    "mobile_ion", "seed", "save_every", "checkpoint_every", "constraint",
    "npt_equilibration_ps", "pressure_GPa", "rotor_species",
)


def settings_from_args(args: argparse.Namespace):
    """The :class:`~mlkit.md.MDSettings` of the command line (``--preset`` + given options)."""
    from mlkit.md import MDSettings

    given = {k: getattr(args, k) for k in _SETTINGS_OPTIONS if getattr(args, k) is not None}
    preset = getattr(args, "preset", None)
    return MDSettings.preset(preset, **given) if preset else MDSettings(**given)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("md", help="ML-potential molecular dynamics and its analysis")
    sub = p.add_subparsers(dest="md_command", required=True)
    r = sub.add_parser("run", help="run (or resume) NVT MD for each structure")
    add_run_options(r)
    r.add_argument("-o", "--output", required=True, help="output directory of the runs")
    r.set_defaults(func=run)
    a = sub.add_parser("analyze", help="label table from stored trajectories")
    a.add_argument("directory", help="output directory of mlkit md run")
    a.add_argument("-o", "--output", required=True, help="labels CSV")
    a.add_argument("--include-partial", action="store_true",
                   help="also analyse unfinished runs from the frames stored so far")
    a.add_argument("--no-progress", action="store_true")
    add_analysis_options(a)
    a.set_defaults(func=analyze)


def run(args: argparse.Namespace) -> int:
    if args.md_command == "analyze":
        return analyze(args)
    from mlkit.labels.md import run_md_structures

    rows = run_md_structures(args.structures, args.output, settings_from_args(args),
                             n_jobs=args.jobs, dask_address=args.dask_address,
                             progress=not args.no_progress)
    for r in rows.itertuples():
        state = "skipped (finished before)" if r.skipped else r.status
        print(f"{r.id}: {state}, {r.n_frames} frames" + (f" - {r.error}" if r.error else ""))
    return 0 if (rows["status"] == "done").all() else 1


def analyze(args: argparse.Namespace) -> int:
    from mlkit.labels.md import analyze_runs
    from mlkit.utils import atomic_write_text

    df = analyze_runs(args.directory, include_partial=args.include_partial,
                      progress=not args.no_progress,
                      analysis_settings=analysis_settings_from_args(args))
    atomic_write_text(args.output, df.to_csv(index=False))
    n_err = int((df["status"] == "error").sum())
    print(f"wrote {len(df)} rows ({n_err} errors) to {args.output}")
    return 0
