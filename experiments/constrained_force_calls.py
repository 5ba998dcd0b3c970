"""Force calls per step of constrained Nose-Hoover MD, before and after the fix.

ASE's ``NoseHooverChainNVT`` calls ``_update_atoms`` before each half kick and after the
step. The constrained subclass used to re-set the positions every time; the constraint
moved positions that already satisfied it by ~1e-15 A, and the calculator recomputed.
The baseline here is that old subclass, run in the same process on the same cell.

Usage::

    .venv/bin/python experiments/constrained_force_calls.py [--steps 40]

Prints calculator calls per step and seconds per step for UC / RC / RTC, old vs new,
and writes experiments/results/md/constrained_force_calls.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL = ROOT.parent / "shared" / "datasets" / "phonondb_na" / "structures" / \
    "mp-28178_POSCAR-unitcell.vasp"
OUT = ROOT / "experiments" / "results" / "md" / "constrained_force_calls.json"


def _old_class(atoms, timestep, temperature_K, tdamp):
    """The subclass as it was: positions re-set before every half kick."""
    from ase.md.nose_hoover_chain import NoseHooverChainNVT

    class OldConstrainedNoseHoover(NoseHooverChainNVT):
        def _update_atoms(self) -> None:
            self.atoms.set_positions(self._q)
            self.atoms.set_momenta(self._p)
            self._q = self.atoms.get_positions()
            self._p = self.atoms.get_momenta()

    dyn = OldConstrainedNoseHoover(atoms, timestep=timestep, temperature_K=temperature_K,
                                   tdamp=tdamp)
    n_dof = atoms.get_number_of_degrees_of_freedom()
    dyn._thermostat._num_atoms_global = n_dof / 3.0
    dyn._thermostat._Q[0] = n_dof * dyn._thermostat._kT * tdamp**2
    return dyn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()

    import numpy as np
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlkit.md.constraints import make_constraint
    from mlkit.md.dynamics import constrained_nose_hoover
    from mlkit.potentials import get_calculator
    from mlkit.structures import read_structure

    structure = read_structure(CELL)
    calc = get_calculator("chgnet", device="cpu", threads=1)
    calls = {"n": 0}
    original = calc.calculate

    def counted(*a, **k):
        calls["n"] += 1
        return original(*a, **k)

    calc.calculate = counted
    results = {}
    for kind in ("none", "rc", "rtc"):
        for variant, factory in (("old", _old_class), ("new", constrained_nose_hoover)):
            atoms = AseAtomsAdaptor.get_atoms(structure)
            atoms.set_constraint(make_constraint(kind, structure))
            MaxwellBoltzmannDistribution(atoms, temperature_K=800,
                                         rng=np.random.default_rng(0))
            atoms.calc = calc
            dyn = factory(atoms, 2 * units.fs, 800.0, 200 * units.fs)
            dyn.run(1)
            calls["n"] = 0
            t0 = time.perf_counter()
            dyn.run(args.steps)
            dt = time.perf_counter() - t0
            results[f"{kind}/{variant}"] = {"calls_per_step": calls["n"] / args.steps,
                                            "s_per_step": dt / args.steps}
            print(f"{kind:5s} {variant}: {calls['n'] / args.steps:.2f} calls/step, "
                  f"{dt / args.steps:.3f} s/step", flush=True)
    for kind in ("none", "rc", "rtc"):
        old, new = results[f"{kind}/old"], results[f"{kind}/new"]
        print(f"{kind:5s} old/new: calls x{old['calls_per_step'] / new['calls_per_step']:.2f},"
              f" time x{old['s_per_step'] / new['s_per_step']:.2f}")
    OUT.write_text(json.dumps({"steps": args.steps, "cell": "NaNbCl6 mp-28178, 32 atoms",
                               "potential": "chgnet, 1 thread", "results": results},
                              indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
