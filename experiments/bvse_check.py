"""The ``bvse`` featurizer group: published-value checks and time per structure.

1. Known cases with a published BVSE value (bvlain's README, the softBV paper), plus known
   fast conductors whose published numbers are *not* BVSE values (printed for context only).
2. Time per structure of the group (``BVSEFeaturizer.featurize`` on a fresh
   ``StructureContext``: oxidation states, grid, percolation) over 20 phonondb_na structures
   drawn with a fixed seed (mobile ion Na), plus the check structures.

Run (one process, niced)::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 5 python experiments/bvse_check.py

Writes ``experiments/results/bvse/{checks.csv,timing.csv,summary.json}``.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Lattice, Structure

from mlkit.features.bvse import BVSEFeaturizer
from mlkit.features.context import StructureContext
from mlkit.structures import read_structure, resolve_disorder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
if not SHARED.exists():
    SHARED = Path("/work/shared/datasets")
OBELIX = SHARED / "obelix" / "cifs_train"
PHONONDB = SHARED / "phonondb_na" / "structures"
OUT = Path(__file__).resolve().parent / "results" / "bvse"

README_BVLAIN = "bvlain README (https://github.com/dembart/BVlain), LiFePO4 mp-19017"
SOFTBV_2019 = ("Chen, Wong & Adams, Acta Cryst. B 75, 18-33 (2019), Fig. 4 "
               "(https://journals.iucr.org/b/issues/2019/01/00/bm5104/)")


def lifepo4() -> Structure:
    """Olivine LiFePO4, Pnma, experimental cell and coordinates (a, b, c = 10.332, 6.010,
    4.692 A; Li 4a, Fe/P/O1/O2 4c, O3 8d).
    """
    return Structure.from_spacegroup(
        "Pnma", Lattice.orthorhombic(10.332, 6.010, 4.692),
        ["Li", "Fe", "P", "O", "O", "O"],
        [[0, 0, 0], [0.2822, 0.25, 0.9747], [0.0950, 0.25, 0.4182], [0.0968, 0.25, 0.7428],
         [0.4571, 0.25, 0.2060], [0.1656, 0.0465, 0.2848]])


#: (name, loader, mobile ion, published values {column: value or (lo, hi)}, reference, note)
CHECKS = [
    ("LiFePO4 (olivine, experimental cell, built in code)", lifepo4, "Li",
     {"bvse_barrier_1d_eV": 0.4395, "bvse_barrier_2d_eV": 3.3301,
      "bvse_barrier_3d_eV": 3.3594}, README_BVLAIN,
     "published value from the DFT-relaxed mp-19017 cell (larger than experiment)"),
    ("Li5La3Ta2O12 garnet (obelix hcm)", lambda: read_structure(OBELIX / "hcm.cif"), "Li",
     {"bvse_barrier_3d_eV": (0.0, 0.4)}, SOFTBV_2019,
     "softBV: 3-D Li(1)-Li(2) network below 0.4 eV above the lowest Li site"),
    ("Li5La3Ta2O12 garnet (obelix ka6, same compound)",
     lambda: read_structure(OBELIX / "ka6.cif"), "Li",
     {"bvse_barrier_3d_eV": (0.0, 0.4)}, SOFTBV_2019,
     "Ta-O 2.37 A in this CIF (1.84 A in hcm, ~2.0 A expected): a misplaced O position"),
]

#: known conductors without a verified published BVSE value (context only)
CONTEXT = [
    ("NaZr2(PO4)3 NASICON (phonondb mp-6475)", PHONONDB / "mp-6475_POSCAR-unitcell.vasp", "Na"),
    ("NaTi2(PO4)3 NASICON (phonondb mp-6761)", PHONONDB / "mp-6761_POSCAR-unitcell.vasp", "Na"),
    ("Na5Zr4Si3P3O24 NASICON (phonondb mp-686583)",
     PHONONDB / "mp-686583_POSCAR-unitcell.vasp", "Na"),
    ("t-Na3PS4 (phonondb mp-28782)", PHONONDB / "mp-28782_POSCAR-unitcell.vasp", "Na"),
    ("c-Na3PS4 (phonondb mp-985584)", PHONONDB / "mp-985584_POSCAR-unitcell.vasp", "Na"),
    ("Li10GeP2S12 (obelix j8q)", OBELIX / "j8q.cif", "Li"),
    ("beta-Li3PS4 (obelix nhq)", OBELIX / "nhq.cif", "Li"),
    ("Li6PS5Cl argyrodite (obelix 122)", OBELIX / "122.cif", "Li"),
]


def run_one(structure: Structure, ion: str) -> tuple[dict[str, float], float, str]:
    """Features, seconds, error of the bvse group on one structure (fresh context)."""
    structure, _ = resolve_disorder(structure, "average")
    f = BVSEFeaturizer(mobile_ion=ion)
    t0 = time.perf_counter()
    try:
        values = dict(zip(f.feature_labels(), f.featurize(StructureContext(structure)),
                          strict=True))
        error = ""
    except Exception as exc:  # noqa: BLE001 - recorded
        values, error = {}, f"{type(exc).__name__}: {exc}"
    return values, time.perf_counter() - t0, error


def grid_points(structure: Structure, resolution_A: float = 0.2) -> int:
    a, b, c = structure.lattice.abc
    return int(a // resolution_A) * int(b // resolution_A) * int(c // resolution_A)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows, timing = [], []
    for name, load, ion, published, ref, note in CHECKS:
        s = load()
        values, dt, err = run_one(s, ion)
        print(f"{name}: {values} ({dt:.1f} s) {err}", flush=True)
        for col, pub in published.items():
            ours = values.get(col, float("nan"))
            if isinstance(pub, tuple):
                pub_txt, ok = f"{pub[0]:g}-{pub[1]:g}", pub[0] <= ours <= pub[1]
                diff = float("nan")
            else:
                pub_txt, ok, diff = f"{pub:g}", abs(ours - pub) <= 0.1, ours - pub
            rows.append({"structure": name, "mobile_ion": ion, "feature": col, "ours_eV": ours,
                         "published_eV": pub_txt, "ours_minus_published_eV": diff,
                         "agrees_within_0.1eV_or_range": ok, "reference": ref, "note": note,
                         "error": err})
        timing.append({"structure": name, "set": "check", "n_sites": len(s),
                       "grid_points": grid_points(s), "seconds": dt, "error": err,
                       **values})
    for name, path, ion in CONTEXT:
        s = read_structure(path)
        values, dt, err = run_one(s, ion)
        print(f"{name}: {values} ({dt:.1f} s) {err}", flush=True)
        timing.append({"structure": name, "set": "context", "n_sites": len(s),
                       "grid_points": grid_points(s), "seconds": dt, "error": err, **values})
    files = sorted(PHONONDB.glob("*_POSCAR-unitcell.vasp"))
    for path in random.Random(14).sample(files, 20):
        s = read_structure(path)
        values, dt, err = run_one(s, "Na")
        print(f"{path.name}: {s.composition.reduced_formula} {len(s)} sites "
              f"{grid_points(s)} pts {dt:.1f} s {err}", flush=True)
        timing.append({"structure": path.name.split("_")[0] + " "
                       + s.composition.reduced_formula, "set": "phonondb_sample",
                       "n_sites": len(s), "grid_points": grid_points(s), "seconds": dt,
                       "error": err, **values})
    checks = pd.DataFrame(rows)
    times = pd.DataFrame(timing)
    checks.to_csv(OUT / "checks.csv", index=False)
    times.to_csv(OUT / "timing.csv", index=False)
    sample = times[times["set"] == "phonondb_sample"]
    ok = times[times["error"] == ""]
    summary = {
        "n_structures": len(times),
        "phonondb_sample_seconds": {
            "median": float(sample["seconds"].median()), "min": float(sample["seconds"].min()),
            "max": float(sample["seconds"].max()), "n_errors": int((sample["error"] != "").sum()),
        },
        "all_seconds": {"median": float(ok["seconds"].median()),
                        "min": float(ok["seconds"].min()), "max": float(ok["seconds"].max())},
        "seconds_per_1e5_grid_points_median": float(
            np.median(ok["seconds"] / ok["grid_points"] * 1e5)),
        "max_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "python": sys.version.split()[0],
    }
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(checks.to_string(index=False))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
