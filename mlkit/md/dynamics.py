"""ASE integrators for an MD run, and the one place that touches ASE's private state.

:func:`make_dynamics` builds the integrator of :class:`~mlkit.md.settings.MDSettings`:
``NoseHooverChainNVT`` or ``Langevin`` (centre of mass fixed with ``FixCom``), with the
constrained-anion variants of :mod:`mlkit.md.constraints`.

Private ASE attributes (checked against ase 3.23-3.29; nothing else in mlkit uses any):

* ``NoseHooverChainNVT._thermostat`` (a ``NoseHooverChainThermostat``): its chain
  positions ``_eta`` and momenta ``_p_eta`` go into every checkpoint and are restored on
  resume, otherwise a resumed run restarts with a cold chain and leaves the
  uninterrupted trajectory (:func:`thermostat_state`, :func:`restore_thermostat`).
  For constrained runs, ``_kT``, ``_Q[0]`` and ``_num_atoms_global`` size the first
  thermostat for the free degrees of freedom (:func:`constrained_nose_hoover`).
* ``NoseHooverChainNVT._q`` / ``_p``: the integrator's own copies of positions and
  momenta. Constraints act on ``atoms`` only, so they are re-read from ``atoms`` after
  every constrained update and after the initial momenta are projected
  (:func:`sync_integrator_momenta`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlkit.md.settings import MDSettings

__all__ = [
    "constrained_nose_hoover",
    "make_dynamics",
    "restore_thermostat",
    "sync_integrator_momenta",
    "thermalize",
    "thermostat_state",
]


def thermalize(atoms, temperature_K: float, rng: np.random.Generator) -> None:
    """Maxwell-Boltzmann momenta at ``temperature_K`` with zero total momentum."""
    from ase.md import velocitydistribution as vd

    if hasattr(vd, "thermalize_momenta"):  # ase >= 3.28
        vd.thermalize_momenta(atoms, temperature_K, rng=rng)
    else:  # pragma: no cover - older ase
        vd.MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    vd.Stationary(atoms)


def make_dynamics(atoms, settings: MDSettings, temperature_K: float, rng: np.random.Generator,
                  constraints: list | None = None):
    """The ASE integrator for ``settings.ensemble`` (sets the constraints on ``atoms``)."""
    from ase import units

    dt = settings.timestep_fs * units.fs
    constraints = list(constraints or [])
    if constraints:
        if settings.ensemble == "nvt-langevin" and settings.constraint == "rc":
            # group rotations are removed about each group's own centre of mass, so
            # the total momentum stays zero: keep FixCom (RTC/RTVC: the frozen anion
            # centres of mass are the frame of reference instead)
            from ase.constraints import FixCom

            constraints = [FixCom(), *constraints]
        atoms.set_constraint(constraints)
        if settings.ensemble == "nvt-nose-hoover":
            return constrained_nose_hoover(atoms, dt, temperature_K,
                                           settings.nose_hoover_tdamp_fs * units.fs,
                                           settings.tchain)
        from ase.md.langevin import Langevin

        return Langevin(atoms, timestep=dt, temperature_K=temperature_K,
                        friction=settings.friction_per_fs / units.fs, fixcm=False, rng=rng)
    if settings.ensemble == "nvt-nose-hoover":
        from ase.md.nose_hoover_chain import NoseHooverChainNVT

        return NoseHooverChainNVT(atoms, timestep=dt, temperature_K=temperature_K,
                                  tdamp=settings.nose_hoover_tdamp_fs * units.fs,
                                  tchain=settings.tchain)
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin

    atoms.set_constraint(FixCom())
    return Langevin(atoms, timestep=dt, temperature_K=temperature_K,
                    friction=settings.friction_per_fs / units.fs, fixcm=False, rng=rng)


def constrained_nose_hoover(atoms, timestep: float, temperature_K: float, tdamp: float,
                            tchain: int = 3):
    """ASE ``NoseHooverChainNVT`` that honours the constraints of ``atoms``.

    The stock class integrates private copies ``_q``/``_p`` that the constraints never
    touch and thermostats ``3 N`` degrees of freedom. This subclass re-reads positions
    and momenta from ``atoms`` after each constrained update, and sizes the chain's
    first thermostat (target kinetic energy and mass) for ``3 N - removed DOF``.
    """
    from ase.md.nose_hoover_chain import NoseHooverChainNVT

    class ConstrainedNoseHooverChainNVT(NoseHooverChainNVT):
        def _update_atoms(self) -> None:
            self.atoms.set_positions(self._q)
            self.atoms.set_momenta(self._p)  # applies the constraints
            self._q = self.atoms.get_positions()
            self._p = self.atoms.get_momenta()

    dyn = ConstrainedNoseHooverChainNVT(atoms, timestep=timestep, temperature_K=temperature_K,
                                        tdamp=tdamp, tchain=tchain)
    th = dyn._thermostat
    n_dof = atoms.get_number_of_degrees_of_freedom()
    th._num_atoms_global = n_dof / 3.0
    th._Q[0] = n_dof * th._kT * tdamp**2
    return dyn


def sync_integrator_momenta(dyn, atoms) -> None:
    """Copy ``atoms``' momenta into the integrator (Nose-Hoover keeps its own ``_p``)."""
    if hasattr(dyn, "_p"):
        dyn._p = atoms.get_momenta()


def thermostat_state(dyn) -> dict[str, Any]:
    """The Nose-Hoover chain state to checkpoint (``{}`` for Langevin)."""
    thermostat = getattr(dyn, "_thermostat", None)
    if thermostat is None:
        return {}
    return {"eta": thermostat._eta.copy(), "p_eta": thermostat._p_eta.copy()}


def restore_thermostat(dyn, state: dict[str, Any]) -> None:
    """Put a checkpointed chain state back (no-op for Langevin or an empty state)."""
    thermostat = getattr(dyn, "_thermostat", None)
    if thermostat is not None and state:
        thermostat._eta[:] = state["eta"]
        thermostat._p_eta[:] = state["p_eta"]
