"""Phonon descriptors of the phonondb_na compounds: DFT force sets and ML potentials.

Resumable campaign driven by mlkit's public API (``mlkit.labels.phonons.label_phonons``,
the same function as ``mlkit label phonons``): every finished compound's row is written to
a parts directory before the next one starts, so a killed run loses only the compound in
flight and a rerun skips finished ones.

Usage
-----
python experiments/phonondb_phonons.py dft [--limit N] [--jobs 1]
    all 1,085 compounds from their DFT FORCE_SETS -> results/phonons/phonondb_dft_labels.csv
python experiments/phonondb_phonons.py ml --potential sevennet|chgnet [--no-relax] [--n 80]
    the validation subset with an ML potential -> results/phonons/ml_<potential>_<relax>.csv
python experiments/phonondb_phonons.py summary
    DFT distribution + ML-vs-DFT table -> results/phonons/summary.md (+ plots)

Data: ../shared/datasets/phonondb_na (Togo's phonondb 2018-04-17, CC BY 4.0); see
results/phonons/README.md for citation and licence of the derived tables.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "phonons"
DATA = HERE.parent.parent / "shared" / "datasets" / "phonondb_na"
TEMPERATURES = (800.0, 300.0, 1300.0)
NAMED = ["mp-28178", "mp-4223", "mp-28179", "mp-28679", "mp-30931", "mp-22862", "mp-23363"]


def index() -> pd.DataFrame:
    idx = pd.read_csv(DATA / "index.csv")
    idx["archive_id"] = [Path(t).name.replace(".tar.lzma", "") for t in idx["tarball"]]
    idx["structure_id"] = [Path(s).stem for s in idx["structure_file"]]
    return idx


def _attach(table: pd.DataFrame, idx: pd.DataFrame, key: str) -> pd.DataFrame:
    meta = idx[[key, "mp_id", "structure_id", "unitcell_formula", "spacegroup_number",
                "n_atoms_unitcell", "has_BORN"]]
    out = meta.merge(table, left_on=key, right_on="id", how="right")
    return out.drop(columns=[c for c in ("archive_id",) if c in out.columns and c != key])


def run_dft(args: argparse.Namespace) -> None:
    from mlkit.labels.phonons import label_phonons
    from mlkit.phonons import PhononSettings

    idx = index()
    if args.limit:
        idx = idx.head(args.limit)
    paths = [DATA / t for t in idx["tarball"]]
    settings = PhononSettings(temperatures_K=TEMPERATURES)
    t0 = time.time()
    table = label_phonons(paths, None, settings, source="force_sets",
                          parts_dir=RESULTS / ".parts_dft", n_jobs=args.jobs)
    wall = time.time() - t0
    table = _attach(table, idx, "archive_id")
    table.to_csv(RESULTS / "phonondb_dft_labels.csv", index=False)
    print(f"{len(table)} rows, {int((table.status == 'error').sum())} errors, wall {wall:.0f} s")


def validation_ids(n: int) -> list[str]:
    """The n compounds with the fewest DFT displacements (cheapest), DFT-stable or not."""
    dft = pd.read_csv(RESULTS / "phonondb_dft_labels.csv")
    dft = dft[dft.status == "done"].sort_values(["n_displacements", "n_atoms_unitcell", "mp_id"])
    return list(dft["mp_id"].head(n))


def run_ml(args: argparse.Namespace) -> None:
    from mlkit.labels.phonons import PotentialSpec, label_phonons
    from mlkit.phonons import PhononSettings

    idx = index().set_index("mp_id")
    ids = validation_ids(args.n)
    paths = [DATA / idx.loc[i, "structure_file"] for i in ids]
    settings = PhononSettings(temperatures_K=TEMPERATURES, relax=not args.no_relax)
    tag = f"ml_{args.potential}_{'unrelaxed' if args.no_relax else 'relaxed'}"
    t0 = time.time()
    table = label_phonons(paths, None, settings, source="potential",
                          potential=PotentialSpec(args.potential, threads=1),
                          parts_dir=RESULTS / f".parts_{tag}",
                          cache_dir=RESULTS / ".fc_cache", n_jobs=args.jobs)
    wall = time.time() - t0
    table = _attach(table, index(), "structure_id")
    table.to_csv(RESULTS / f"{tag}.csv", index=False)
    print(f"{tag}: {len(table)} rows, {int((table.status == 'error').sum())} errors, "
          f"wall {wall:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dft")
    d.add_argument("--limit", type=int, default=0)
    d.add_argument("--jobs", type=int, default=1)
    m = sub.add_parser("ml")
    m.add_argument("--potential", default="sevennet")
    m.add_argument("--no-relax", action="store_true")
    m.add_argument("--n", type=int, default=80)
    m.add_argument("--jobs", type=int, default=1)
    sub.add_parser("summary")
    args = p.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.cmd == "dft":
        run_dft(args)
    elif args.cmd == "ml":
        run_ml(args)
    else:
        from phonondb_phonons_summary import summarize  # noqa: PLC0415

        summarize(RESULTS)


if __name__ == "__main__":
    main()
