"""Molecular dynamics with universal ML potentials: runner, observers, trajectory store.

Read in this order: :mod:`~mlkit.md.settings` (what defines a run),
:mod:`~mlkit.md.supercell` and :mod:`~mlkit.md.temperature` (the rules),
:mod:`~mlkit.md.observers` (guard, frame writer, checkpoints, progress),
:mod:`~mlkit.md.dynamics` (ASE integrators; the only access to ASE's private state),
:mod:`~mlkit.md.constraints` (constrained-anion MD), :mod:`~mlkit.md.store` (run
directory), :mod:`~mlkit.md.npt` (the optional NPT equilibration stage) and
:mod:`~mlkit.md.run` (:class:`MDRun`, the glue).
"""

from __future__ import annotations

from mlkit.md.observers import MDBlowUpError
from mlkit.md.run import MDResult, MDRun, resolve_temperature_K, run_dir_for
from mlkit.md.settings import ENSEMBLES, NPT_INTEGRATORS, PRESETS, MDSettings
from mlkit.md.store import TrajectoryStore
from mlkit.md.supercell import make_supercell, perpendicular_widths_A, supercell_repeats
from mlkit.md.temperature import auto_temperature_K

__all__ = [
    "ENSEMBLES",
    "MDBlowUpError",
    "MDResult",
    "MDRun",
    "MDSettings",
    "NPT_INTEGRATORS",
    "PRESETS",
    "TrajectoryStore",
    "auto_temperature_K",
    "make_supercell",
    "perpendicular_widths_A",
    "resolve_temperature_K",
    "run_dir_for",
    "supercell_repeats",
]
