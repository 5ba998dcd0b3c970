"""The rotation paper's structural screen over every phonondb_na structure (1 process).

For each ../shared/datasets/phonondb_na/structures/*.vasp: ``rotation_screen`` (default:
every non-Na cation polyhedron, spectators included) and ``find_rotors`` (default:
tetrahedra, octahedra and bonded clusters, no spectators). Also, for comparison, the screen
with ``counter_cations=False`` (only the polyhedra that can be polyanions).

Writes experiments/results/screen/phonondb_screen.csv with columns
``id, formula, passed, reason, connectivity, rotor_labels, passed_no_spectators`` and
prints the pass count, the failure reasons (site indices stripped) and the time.

Usage: python experiments/rotation_screen_phonondb.py [--limit N]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "datasets" / "phonondb_na" / "structures"
OUT = ROOT / "experiments" / "results" / "screen"

from mlkit.structures import (  # noqa: E402
    find_rotors,
    read_structure,
    rotation_screen,
)
from mlkit.utils import one_line  # noqa: E402


def reason_kind(reason: str) -> str:
    """Reason without the site index and element: ``polyhedron is other (CN 5)``."""
    return re.sub(r"polyhedron at site \d+ \(\w+\)", "polyhedron", reason)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N files only")
    args = parser.parse_args()
    files = sorted(DATA.glob("*.vasp"))[: args.limit]
    if not files:
        raise SystemExit(f"no structures under {DATA}")
    rows = []
    clusters: Counter = Counter()
    t_read = t_screen = t_rotors = 0.0
    warnings.simplefilter("ignore")
    for path in files:
        sid = path.name.split("_")[0]
        t0 = time.perf_counter()
        s = read_structure(path)
        t1 = time.perf_counter()
        try:
            res = rotation_screen(s)
            passed, reason, conn = res.passed, res.reason, res.connectivity
        except Exception as exc:  # noqa: BLE001 - recorded as the row's reason
            passed, reason, conn = False, f"error: {one_line(exc)}", ""
        t2 = time.perf_counter()
        try:
            rotors = find_rotors(s)
            labels = ";".join(sorted({r.label for r in rotors}))
            clusters.update({r.label for r in rotors if r.shape == "cluster"})
        except Exception as exc:  # noqa: BLE001
            labels = f"error: {one_line(exc)}"
        t3 = time.perf_counter()
        try:
            passed_ns = rotation_screen(s, counter_cations=False).passed
        except Exception:  # noqa: BLE001
            passed_ns = False
        t_read += t1 - t0
        t_screen += t2 - t1
        t_rotors += t3 - t2
        rows.append({"id": sid, "formula": s.composition.reduced_formula, "passed": passed,
                     "reason": reason, "connectivity": conn, "rotor_labels": labels,
                     "passed_no_spectators": passed_ns})
    df = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT / "phonondb_screen.csv", index=False)

    n, n_pass = len(df), int(df["passed"].sum())
    print(f"{n} structures; passed: {n_pass}; passed with counter_cations=False: "
          f"{int(df['passed_no_spectators'].sum())}")
    print(f"time (1 process): read {t_read:.1f} s, rotation_screen {t_screen:.1f} s "
          f"({1000 * t_screen / n:.1f} ms/structure), find_rotors {t_rotors:.1f} s")
    print("failure reasons:")
    kinds = Counter(reason_kind(r) for r in df.loc[~df["passed"], "reason"])
    for kind, count in kinds.most_common():
        print(f"  {count:5d}  {kind}")

    def label_counts(frame: pd.DataFrame) -> Counter:
        return Counter(lab for x in frame["rotor_labels"] for lab in x.split(";") if lab)

    print("rotor labels of the passing structures (top 15):")
    print("  " + ", ".join(f"{k} {v}" for k, v in label_counts(df[df["passed"]]).most_common(15)))
    n_rotors = int((df["rotor_labels"] != "").sum())
    print(f"structures with at least one rotor (find_rotors defaults): {n_rotors}")
    print("multi-centre groups (structures): "
          + (", ".join(f"{k} {v}" for k, v in clusters.most_common()) or "none"))


if __name__ == "__main__":
    main()
