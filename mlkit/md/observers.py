"""Observers attached to the ASE dynamics (``dyn.attach(observer, interval)``).

Each is a small callable with one job: :class:`BlowUpGuard` stops unphysical dynamics,
:class:`FrameWriter` buffers production frames, :class:`Checkpointer` flushes them and
saves the dynamical state, :class:`ProgressBar` advances a tqdm bar.
:func:`pressure_GPa` reads the pressure the calculator has already computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlkit.errors import MlkitError
from mlkit.md.dynamics import conserved_energy_eV
from mlkit.md.store import TrajectoryStore

__all__ = [
    "BlowUpGuard",
    "Checkpointer",
    "FrameWriter",
    "MDBlowUpError",
    "ProgressBar",
    "closest_pair",
    "pressure_GPa",
    "take_pin_angle_deg",
]


class MDBlowUpError(MlkitError):
    """The dynamics became unphysical (NaN, atoms too close, temperature runaway)."""


def pressure_GPa(atoms) -> float:
    """Instantaneous pressure (GPa) including the kinetic (ideal-gas) term, or NaN.

    ``-trace(atoms.get_stress(include_ideal_gas=True)) / 3``. Never triggers a
    calculator call: the stress is used only when the calculator computed it with the
    forces of the current configuration (CHGNet, SevenNet, MACE, EMT and LJ always do;
    ``calc.results`` holds it), otherwise NaN.
    """
    from ase import units

    calc = atoms.calc
    results = getattr(calc, "results", None)
    if calc is None or not results or "stress" not in results:
        return float("nan")
    try:
        if calc.check_state(atoms):  # results belong to another configuration
            return float("nan")
        stress = atoms.get_stress(voigt=False, include_ideal_gas=True)
    except Exception:  # noqa: BLE001 - a diagnostic must never stop a run
        return float("nan")
    return float(-np.trace(stress) / 3.0 / units.GPa)


def take_pin_angle_deg(atoms) -> float | None:
    """Largest orientation-pin turn (deg) of the constraints of ``atoms`` since the last
    call (and reset it); ``None`` when no constraint pins (no RC/RTC).
    """
    values = [c.pop_max_pin_angle_deg() for c in atoms.constraints
              if hasattr(c, "pop_max_pin_angle_deg")]
    return max(values) if values else None


def closest_pair(positions_A: np.ndarray, cell_A: np.ndarray,
                 chunk_pairs: int = 400_000) -> tuple[int, int, float]:
    """Closest pair of atoms under periodic boundary conditions.

    Nearest images come from rounding fractional differences, which is exact for every
    pair closer than half the smallest perpendicular cell width (each fractional
    component is then below 1/2) - always the case for the 0.5 A blow-up threshold.

    Parameters
    ----------
    positions_A : ndarray of shape (n_atoms, 3)
        Cartesian positions (wrapped or not).
    cell_A : ndarray of shape (3, 3)
        Lattice vectors as rows.
    chunk_pairs : int
        Pairs evaluated per vectorised block (bounds memory to ~24 bytes x this).

    Returns
    -------
    (i, j, distance_A)
        ``(-1, -1, inf)`` for fewer than two atoms.
    """
    n = len(positions_A)
    if n < 2:
        return -1, -1, float("inf")
    frac = np.asarray(positions_A) @ np.linalg.inv(cell_A)
    rows = max(1, chunk_pairs // n)
    best = (-1, -1, float("inf"))
    for start in range(0, n, rows):
        d = frac[start:start + rows, None, :] - frac[None, :, :]
        d -= np.round(d)
        r2 = np.einsum("abk,abk->ab", d @ cell_A, d @ cell_A)
        idx = np.arange(start, min(start + rows, n))
        r2[idx - start, idx] = np.inf
        k = int(np.argmin(r2))
        a, b = divmod(k, n)
        if r2[a, b] < best[2] ** 2:
            best = (start + a, b, float(np.sqrt(r2[a, b])))
    return best


class BlowUpGuard:
    """Observer raising :class:`MDBlowUpError` on NaN energy/forces, close contacts or
    temperature runaway.
    """

    def __init__(self, atoms, dyn, target_K: float, min_distance_A: float, max_factor: float):
        self.atoms = atoms
        self.dyn = dyn
        self.target_K = target_K
        self.min_distance_A = min_distance_A
        self.max_factor = max_factor

    def __call__(self) -> None:
        step = self.dyn.nsteps
        energy = self.atoms.get_potential_energy()
        forces = self.atoms.get_forces()
        if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
            raise MDBlowUpError(f"blow-up at step {step}: non-finite energy or forces")
        if self.min_distance_A > 0:
            i, j, d = closest_pair(self.atoms.positions, self.atoms.cell.array)
            if d < self.min_distance_A:
                i, j = min(i, j), max(i, j)
                sym = self.atoms.get_chemical_symbols()
                raise MDBlowUpError(
                    f"blow-up at step {step}: atoms {sym[i]}{i}-{sym[j]}{j} at "
                    f"{d:.2f} A < {self.min_distance_A} A"
                )
        temp = self.atoms.get_temperature()
        if not np.isfinite(temp) or temp > self.max_factor * self.target_K:
            raise MDBlowUpError(
                f"blow-up at step {step}: temperature {temp:.0f} K > "
                f"{self.max_factor:g} x target {self.target_K:g} K"
            )


class FrameWriter:
    """Observer buffering one frame per call once production has started.

    Frames go to the store in blocks (:meth:`flush`), right before each checkpoint.
    Besides the mandatory fields each frame gets ``pressure_GPa`` (:func:`pressure_GPa`),
    ``conserved_energy_eV`` (:func:`mlkit.md.dynamics.conserved_energy_eV`) and, for
    RC/RTC, ``pin_angle_deg`` (largest pin turn over the steps since the previous call;
    taken on every call, also before production).
    """

    def __init__(self, atoms, dyn, store: TrajectoryStore, production_start: int,
                 timestep_fs: float):
        from ase import units

        self.atoms = atoms
        self.dyn = dyn
        self.store = store
        self.production_start = production_start
        self.timestep_fs = timestep_fs
        self._v_to_A_fs = units.fs  # ASE velocity unit -> angstrom / fs
        self.buffer: list[dict[str, Any]] = []
        self.n_written = 0

    def __call__(self) -> None:
        step = self.dyn.nsteps
        pin = take_pin_angle_deg(self.atoms)
        if step < self.production_start:
            return
        atoms = self.atoms
        frame = {
            "step": step,
            "time_fs": step * self.timestep_fs,
            "positions_A": atoms.get_positions(),
            "velocities_A_fs": atoms.get_velocities() * self._v_to_A_fs,
            "cell_A": atoms.cell.array.copy(),
            "energy_eV": atoms.get_potential_energy(),
            "temperature_K": atoms.get_temperature(),
            "pressure_GPa": pressure_GPa(atoms),
            "conserved_energy_eV": conserved_energy_eV(self.dyn, atoms),
        }
        if pin is not None:
            frame["pin_angle_deg"] = pin
        self.buffer.append(frame)

    def discard_from(self, step: int) -> None:
        """Drop buffered frames at ``step`` or later (e.g. the frame of a blow-up)."""
        self.buffer = [f for f in self.buffer if f["step"] < step]

    def flush(self) -> None:
        """Append the buffered frames to the store as one segment."""
        if not self.buffer:
            return
        frames = {k: np.array([f[k] for f in self.buffer]) for k in self.buffer[0]}
        self.store.append_segment(frames)
        self.n_written += len(self.buffer)
        self.buffer = []


class Checkpointer:
    """Observer: flush buffered frames, then save the full dynamical state atomically."""

    def __init__(self, dyn, writer: FrameWriter, store: TrajectoryStore,
                 state_fn: Callable[[], dict[str, Any]]):
        self.dyn = dyn
        self.writer = writer
        self.store = store
        self.state_fn = state_fn
        self.last_step = -1

    def __call__(self) -> None:
        self.writer.flush()
        self.store.save_checkpoint(self.state_fn())
        self.last_step = self.dyn.nsteps


class ProgressBar:
    """Observer advancing a tqdm bar to ``dyn.nsteps``."""

    def __init__(self, dyn, bar):
        self.dyn = dyn
        self.bar = bar

    def __call__(self) -> None:
        self.bar.update(self.dyn.nsteps - self.bar.n)

