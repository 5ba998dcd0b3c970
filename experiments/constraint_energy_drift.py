"""NVE energy drift of constrained-anion MD: UC / RC / RTC / RTVC, old vs Eckart projection.

Real cell, real potential: NaNbCl6 (mp-28178, 32-atom conventional cell, 4 NbCl6
octahedra), CHGNet on one CPU thread. One unconstrained Langevin thermalisation at
800 K (``--thermalize-ps``), then from that same state, for each constraint mode and
projection, NVE (velocity Verlet, ``FixCom`` for UC/RC as in production runs) for
``--nve-ps``. Each constrained run takes the thermalised geometry as its reference
(``make_constraint``) and starts from the projected momenta (no rescaling).

Recorded per run: the conserved energy E_pot + E_kin every step, its drift (slope of a
linear fit, meV/atom/ps) and max |E - E0| (meV/atom), the mean temperature, and the
largest orientation-pin turn per step (deg; RC/RTC).

    python experiments/constraint_energy_drift.py            # ~10 min on one thread
    -> experiments/results/md/constraint_drift.json and a table on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CELL = Path("/work/shared/datasets/phonondb_na/structures/mp-28178_POSCAR-unitcell.vasp")
RUNS = [("none", None), ("rc", "instantaneous"), ("rc", "eckart"),
        ("rtc", "instantaneous"), ("rtc", "eckart"), ("rtvc", None)]


def nve(atoms0, mode: str, projection: str | None, calc, steps: int, timestep_fs: float,
        temperature_K: float) -> dict:
    """NVE from a copy of ``atoms0`` under one constraint mode; returns the statistics."""
    from mlkit.md.constraints import make_constraint
    from mlkit.md.dynamics import conserved_energy_eV, make_dynamics
    from mlkit.md.observers import take_pin_angle_deg
    from mlkit.md.settings import MDSettings

    atoms = atoms0.copy()
    atoms.set_momenta(atoms0.get_momenta())
    atoms.calc = calc
    constraints = make_constraint(mode, atoms, projection=projection or "eckart")
    settings = MDSettings(ensemble="nve", timestep_fs=timestep_fs, constraint=mode)
    dyn = make_dynamics(atoms, settings, temperature_K, np.random.default_rng(0), constraints)
    atoms.set_momenta(atoms.get_momenta())  # project onto the constraint
    energy, temps, pins = [], [], []

    def record() -> None:
        energy.append(conserved_energy_eV(dyn, atoms))
        temps.append(atoms.get_temperature())
        pin = take_pin_angle_deg(atoms)
        pins.append(np.nan if pin is None else pin)

    dyn.attach(record, interval=1)
    t0 = time.perf_counter()
    dyn.run(steps)
    wall = time.perf_counter() - t0
    e = np.array(energy)
    n = len(atoms)
    t_ps = np.arange(len(e)) * timestep_fs / 1000.0
    slope = np.polyfit(t_ps, e, 1)[0]
    pins_arr = np.array(pins[1:])  # step 0 is the initial observer call (no step yet)
    return {
        "constraint": mode,
        "projection": projection or "-",
        "n_atoms": n,
        "removed_dof": 3 * n - atoms.get_number_of_degrees_of_freedom(),
        "steps": steps,
        "drift_meV_atom_ps": 1000.0 * slope / n,
        "max_abs_dev_meV_atom": 1000.0 * float(np.abs(e - e[0]).max()) / n,
        "std_meV_atom": 1000.0 * float(e.std()) / n,
        "mean_temperature_K": float(np.mean(temps)),
        "max_pin_angle_deg_per_step": float(np.nanmax(pins_arr)) if np.isfinite(
            pins_arr).any() else None,
        "median_pin_angle_deg_per_step": float(np.nanmedian(pins_arr)) if np.isfinite(
            pins_arr).any() else None,
        "wall_s": wall,
        "ms_per_step": 1000.0 * wall / steps,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", default=str(DEFAULT_CELL))
    p.add_argument("--temperature-K", type=float, default=800.0)
    p.add_argument("--timestep-fs", type=float, default=1.0)
    p.add_argument("--thermalize-ps", type=float, default=0.3)
    p.add_argument("--nve-ps", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output",
                   default=str(ROOT / "experiments/results/md/constraint_drift.json"))
    args = p.parse_args(argv)

    from ase import units
    from ase.constraints import FixCom
    from ase.io import read
    from ase.md.langevin import Langevin

    from mlkit.md.constraints import polyanion_groups
    from mlkit.md.dynamics import thermalize
    from mlkit.potentials import get_calculator

    atoms = read(args.cell)
    atoms.pbc = True
    groups = polyanion_groups(atoms)
    calc = get_calculator("chgnet", device="cpu", threads=1)
    atoms.calc = calc
    rng = np.random.default_rng(args.seed)
    thermalize(atoms, args.temperature_K, rng)
    atoms.set_constraint(FixCom())
    t0 = time.perf_counter()
    n_therm = int(round(args.thermalize_ps * 1000 / args.timestep_fs))
    Langevin(atoms, timestep=args.timestep_fs * units.fs, temperature_K=args.temperature_K,
             friction=0.02 / units.fs, fixcm=False, rng=rng).run(n_therm)
    therm_s = time.perf_counter() - t0
    atoms.set_constraint()
    start = atoms.copy()
    start.set_momenta(atoms.get_momenta())
    print(f"{Path(args.cell).name}: {len(atoms)} atoms, {len(groups)} groups "
          f"({[len(g) for g in groups]} atoms), thermalised {n_therm} steps in {therm_s:.0f} s, "
          f"T = {atoms.get_temperature():.0f} K")

    steps = int(round(args.nve_ps * 1000 / args.timestep_fs))
    rows = []
    for mode, projection in RUNS:
        row = nve(start, mode, projection, calc, steps, args.timestep_fs, args.temperature_K)
        rows.append(row)
        print(f"  {mode:5s} {row['projection']:13s} done in {row['wall_s']:.0f} s", flush=True)

    header = (f"{'mode':5s} {'projection':13s} {'DOF removed':>11s} {'<T> K':>6s} "
              f"{'drift meV/atom/ps':>17s} {'max|E-E0| meV/atom':>18s} "
              f"{'max pin deg/step':>16s} {'median pin':>10s}")
    print(header)
    for r in rows:
        pin = r["max_pin_angle_deg_per_step"]
        med = r["median_pin_angle_deg_per_step"]
        print(f"{r['constraint']:5s} {r['projection']:13s} {r['removed_dof']:11d} "
              f"{r['mean_temperature_K']:6.0f} {r['drift_meV_atom_ps']:17.4f} "
              f"{r['max_abs_dev_meV_atom']:18.4f} "
              f"{'-' if pin is None else f'{pin:.2e}':>16s} "
              f"{'-' if med is None else f'{med:.2e}':>10s}")

    import ase
    import chgnet

    out = {
        "cell": str(args.cell), "n_atoms": len(atoms), "n_groups": len(groups),
        "potential": "chgnet", "potential_version": chgnet.__version__, "ase": ase.__version__,
        "device": "cpu", "threads": 1, "temperature_K": args.temperature_K,
        "timestep_fs": args.timestep_fs, "thermalize_ps": args.thermalize_ps,
        "thermalize": "Langevin 0.02/fs + FixCom, unconstrained",
        "nve_ps": args.nve_ps, "seed": args.seed,
        "conserved_energy": "E_pot + E_kin (velocity Verlet)",
        "machine": platform.node(), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                              time.gmtime()),
        "runs": rows,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
