"""Cost of one force call of each offline potential against supercell size.

Rocksalt NaCl supercells of 64 to 512 atoms, one torch thread, potentials interleaved,
3 repeats (median); plus the phonon cost model: a compound costs (displacements + 1)
force calls (+ the relaxation). Writes results/phonons/cost_scaling.json.

Usage: python experiments/phonon_cost_scaling.py
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from ase.build import bulk

from mlkit.potentials import get_calculator

OUT = Path(__file__).resolve().parent / "results" / "phonons" / "cost_scaling.json"


def main() -> None:
    calcs = {name: get_calculator(name, device="cpu", threads=1) for name in ("chgnet",
                                                                             "sevennet")}
    sizes = [2, 3, 4]  # conventional 8-atom cell repeated n^3: 64, 216, 512 atoms
    result: dict[str, dict[int, float]] = {name: {} for name in calcs}
    for n in sizes:
        atoms0 = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat((n, n, n))
        times: dict[str, list[float]] = {name: [] for name in calcs}
        for rep in range(4):
            for name, calc in calcs.items():
                atoms = atoms0.copy()
                atoms.positions[0, 0] += 0.03 * (rep + 1)
                atoms.calc = calc
                t0 = time.perf_counter()
                atoms.get_forces()
                if rep:  # the first call of each size warms up graph building
                    times[name].append(time.perf_counter() - t0)
        for name in calcs:
            result[name][len(atoms0)] = float(np.median(times[name]))
        print(len(atoms0), {k: round(v[len(atoms0)], 3) for k, v in result.items()}, flush=True)
    for name, per in result.items():
        n_atoms = np.array(sorted(per))
        t = np.array([per[k] for k in n_atoms])
        slope = np.polyfit(np.log(n_atoms), np.log(t), 1)[0]
        result[name]["exponent"] = float(slope)
    result["load"] = list(os.getloadavg())
    OUT.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
