"""``mlkit label phonons``: structures or DFT force sets -> phonon descriptor rows."""

from __future__ import annotations

import argparse
from pathlib import Path


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers, got {text!r}") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.replace(",", " ").split())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers, got {text!r}") from None
    if len(values) not in (3, 9):
        raise argparse.ArgumentTypeError(f"DIM needs 3 or 9 integers, got {len(values)}")
    return values


def add_phonon_options(p: argparse.ArgumentParser) -> None:
    """Options that build :class:`mlkit.phonons.PhononSettings`."""
    g = p.add_argument_group("phonons")
    g.add_argument("--mobile-ion", default="Na")
    g.add_argument("--temperatures-K", type=_floats, default=(800.0,),
                   help="e.g. '800' or '800,300,1300' (the first is the mesh reference)")
    g.add_argument("--supercell-min-atoms", type=int, default=80)
    g.add_argument("--dim", type=_ints, default=None,
                   help="explicit supercell matrix (3 or 9 integers); default: >= min atoms")
    g.add_argument("--displacement-A", type=float, default=0.03)
    g.add_argument("--no-relax", action="store_true",
                   help="skip the relaxation of atomic positions (potential path)")
    g.add_argument("--relax-fmax", type=float, default=0.005, help="eV/A")
    g.add_argument("--mesh-tolerance", type=float, default=0.01)
    g.add_argument("--imaginary-tolerance-THz", type=float, default=0.1)


def settings_from_args(args: argparse.Namespace):
    from mlkit.phonons import PhononSettings

    return PhononSettings(
        mobile_ion=args.mobile_ion, temperatures_K=args.temperatures_K,
        supercell_min_atoms=args.supercell_min_atoms, supercell_matrix=args.dim,
        displacement_A=args.displacement_A, relax=not args.no_relax,
        relax_fmax_eV_A=args.relax_fmax, mesh_tolerance=args.mesh_tolerance,
        imaginary_tolerance_THz=args.imaginary_tolerance_THz,
    )


def add_label_parser(sub) -> None:
    """Register ``label phonons`` under the ``label`` verb's subparsers."""
    p = sub.add_parser(
        "phonons", help="harmonic phonon descriptors (ML potential or DFT force sets)",
        description="One row per input: stability, mobile-ion phonon MSD, DOS moments, "
                    "acoustic cutoff, participation and coupling, with provenance.")
    p.add_argument("inputs", nargs="+",
                   help="structure files/dirs/globs, or with --force-sets: phonopy archives "
                        "(.tar.lzma/.tar.xz) or directories with POSCAR-unitcell, FORCE_SETS, "
                        "phonopy.conf")
    p.add_argument("--force-sets", action="store_true",
                   help="inputs are DFT force sets (phonondb layout), not structures")
    p.add_argument("-o", "--output", required=True, help="labels CSV")
    p.add_argument("--potential", default="sevennet")
    p.add_argument("--model-path", default=None)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    p.add_argument("--cache-dir", default=None, help="force-constant cache")
    p.add_argument("--plots", default=None, help="write DOS / band PNGs here")
    p.add_argument("--jobs", type=int, default=1, help="local worker processes")
    p.add_argument("--dask-address", default=None, help="Dask scheduler address")
    p.add_argument("--no-progress", action="store_true")
    add_phonon_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlkit.labels.phonons import label_phonons
    from mlkit.potentials.spec import CalculatorSpec

    out = Path(args.output)
    source = "force_sets" if args.force_sets else "potential"
    potential = None if args.force_sets else CalculatorSpec(
        args.potential, args.device, args.model_path, args.threads)
    df = label_phonons(args.inputs, out, settings_from_args(args), source=source,
                       potential=potential, cache_dir=args.cache_dir, plot_dir=args.plots,
                       n_jobs=args.jobs, dask_address=args.dask_address,
                       progress=not args.no_progress)
    n_err = int((df["status"] == "error").sum())
    print(f"wrote {len(df)} rows ({n_err} errors) to {out}")
    return 0
