"""ASE integrators for an MD run, and the one place that touches ASE's private state.

:func:`make_dynamics` builds the integrator of :class:`~mlkit.md.settings.MDSettings`:
``NoseHooverChainNVT``, ``Langevin`` or ``VelocityVerlet`` (centre of mass fixed with
``FixCom``), with the constrained-anion variants of :mod:`mlkit.md.constraints`;
:func:`make_npt_dynamics` the integrator of the NPT equilibration stage.

Private ASE attributes (checked against ase 3.23-3.29; nothing else in mlkit uses any):

* ``NoseHooverChainNVT._thermostat`` (a ``NoseHooverChainThermostat``): its chain
  positions ``_eta`` and momenta ``_p_eta`` go into every checkpoint and are restored on
  resume, otherwise a resumed run restarts with a cold chain and leaves the
  uninterrupted trajectory (:func:`thermostat_state`, :func:`restore_thermostat`).
  For constrained runs, ``_kT``, ``_Q[0]`` and ``_num_atoms_global`` size the first
  thermostat for the free degrees of freedom (:func:`constrained_nose_hoover`).
* ``NoseHooverChainNVT._thermostat.get_thermostat_energy()`` for the conserved energy
  of every stored frame (:func:`conserved_energy_eV`).
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
    "conserved_energy_eV",
    "constrained_nose_hoover",
    "make_dynamics",
    "make_npt_dynamics",
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


def _with_fixcom(settings: MDSettings, constraints: list) -> list:
    """``constraints`` plus ``FixCom`` where the centre of mass is the frame of reference.

    Group rotations are removed about each group's own centre of mass, so the total
    momentum stays zero: RC keeps ``FixCom``. RTC/RTVC drop it (the frozen anion centres
    of mass are the frame of reference instead).
    """
    if settings.constraint in ("none", "rc"):
        from ase.constraints import FixCom

        return [FixCom(), *constraints]
    return list(constraints)


def make_dynamics(atoms, settings: MDSettings, temperature_K: float, rng: np.random.Generator,
                  constraints: list | None = None):
    """The ASE integrator for ``settings.ensemble`` (sets the constraints on ``atoms``).

    ``nvt-nose-hoover``: stock ``NoseHooverChainNVT`` (no constraint, 3N DOF) or
    :func:`constrained_nose_hoover`; ``nvt-langevin``: ``Langevin`` + ``FixCom`` (where
    :func:`_with_fixcom` keeps it); ``nve``: ``VelocityVerlet`` + ``FixCom`` likewise.
    """
    from ase import units

    dt = settings.timestep_fs * units.fs
    constraints = list(constraints or [])
    if settings.ensemble == "nvt-nose-hoover":
        if constraints:
            atoms.set_constraint(constraints)
            return constrained_nose_hoover(atoms, dt, temperature_K,
                                           settings.nose_hoover_tdamp_fs * units.fs,
                                           settings.tchain)
        from ase.md.nose_hoover_chain import NoseHooverChainNVT

        return NoseHooverChainNVT(atoms, timestep=dt, temperature_K=temperature_K,
                                  tdamp=settings.nose_hoover_tdamp_fs * units.fs,
                                  tchain=settings.tchain)
    atoms.set_constraint(_with_fixcom(settings, constraints))
    if settings.ensemble == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, timestep=dt)
    from ase.md.langevin import Langevin

    return Langevin(atoms, timestep=dt, temperature_K=temperature_K,
                    friction=settings.friction_per_fs / units.fs, fixcm=False, rng=rng)


def make_npt_dynamics(atoms, settings: MDSettings, temperature_K: float,
                      rng: np.random.Generator, constraints: list | None = None):
    """The ASE integrator of the NPT equilibration stage (``settings.npt_integrator``).

    - ``berendsen``: ``ase.md.nptberendsen.NPTBerendsen`` (isotropic cell scaling,
      Berendsen thermostat; deterministic, no barostat state). Positions and momenta go
      through ``set_positions`` / ``set_momenta``, so constraints are honoured; the cell
      scaling moves atoms affinely (isotropic scaling keeps the Eckart condition).
    - ``berendsen-inhomogeneous``: ``Inhomogeneous_NPTBerendsen`` (each lattice vector
      scaled on its own diagonal stress, angles kept).
    - ``langevin-baoab`` / ``langevin-baoab-full``: ``ase.md.langevinbaoab.LangevinBAOAB``
      with ``hydrostatic=True`` / ``False`` (Langevin-Hoover barostat; samples NPT; the
      barostat momentum ``p_eps`` is checkpointed). It moves ``atoms.positions``
      directly, so it is refused for constrained runs (:meth:`MDSettings.validate`).

    ``fixcm=False`` everywhere with ``FixCom`` added as for NVT (:func:`_with_fixcom`):
    ASE's own Berendsen ``fixcm`` subtracts the mean momentum per atom, not per mass.
    """
    import warnings

    from ase import units

    dt = settings.timestep_fs * units.fs
    pressure_au = settings.pressure_GPa * units.GPa
    atoms.set_constraint(_with_fixcom(settings, list(constraints or [])))
    integrator = settings.npt_integrator
    if integrator in ("berendsen", "berendsen-inhomogeneous"):
        from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen, NPTBerendsen

        cls = NPTBerendsen if integrator == "berendsen" else Inhomogeneous_NPTBerendsen
        return cls(atoms, timestep=dt, temperature_K=temperature_K, pressure_au=pressure_au,
                   taut=settings.npt_taut_fs * units.fs, taup=settings.npt_taup_fs * units.fs,
                   compressibility_au=1.0 / (settings.npt_bulk_modulus_GPa * units.GPa),
                   fixcm=False)
    from ase.md.langevinbaoab import LangevinBAOAB

    with warnings.catch_warnings():  # the barostat-mass heuristic announces itself
        warnings.simplefilter("ignore", UserWarning)
        return LangevinBAOAB(atoms, dt, temperature_K=temperature_K,
                             externalstress=-pressure_au,  # stress = -pressure
                             hydrostatic=integrator == "langevin-baoab",
                             T_tau=settings.npt_taut_fs * units.fs,
                             P_tau=settings.npt_taup_fs * units.fs, rng=rng)


def conserved_energy_eV(dyn, atoms) -> float:
    """The integrator's conserved energy (eV), NaN when the calculator cannot give it.

    Nose-Hoover chain: potential + kinetic + chain energy (``_thermostat``'s
    ``get_thermostat_energy()``), i.e. ``NoseHooverChainNVT.get_conserved_energy()``
    with the potential energy in place of ``free_energy``, which CHGNet computes but does
    not declare, so that the ASE method raises for it. NVE (velocity Verlet): potential +
    kinetic energy, the conserved quantity. Langevin (and anything else): the same sum,
    which is only the total energy, not a conserved quantity.
    """
    try:
        energy = float(atoms.get_potential_energy() + atoms.get_kinetic_energy())
        thermostat = getattr(dyn, "_thermostat", None)
        if thermostat is not None:
            energy += float(thermostat.get_thermostat_energy())
        return energy
    except Exception:  # noqa: BLE001 - a diagnostic must never stop a run
        return float("nan")


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
            # ASE calls this before every half kick and after the step; re-applying the
            # constraints to positions that already satisfy them moves them by ~1e-15 A,
            # which the calculator sees as a new geometry: 2.8-2.9 force calls per step
            # instead of 1.0 (measured, RC/RTC on NaNbCl6 with CHGNet). Positions
            # unchanged since the last update are not re-set.
            if not np.array_equal(self._q, self.atoms.positions):
                self.atoms.set_positions(self._q)
                self._q = self.atoms.get_positions()
            self.atoms.set_momenta(self._p)  # applies the constraints
            self._p = self.atoms.get_momenta()

    dyn = ConstrainedNoseHooverChainNVT(atoms, timestep=timestep, temperature_K=temperature_K,
                                        tdamp=tdamp, tchain=tchain)
    th = dyn._thermostat
    n_dof = atoms.get_number_of_degrees_of_freedom()
    # the chain's first thermostat drives sum p^2/m towards 3 * _num_atoms_global * kT,
    # and get_thermostat_energy() uses the same 3 * _num_atoms_global * kT * eta_0: both
    # see n_dof, so get_conserved_energy() stays the conserved quantity (tested)
    th._num_atoms_global = n_dof / 3.0
    th._Q[0] = n_dof * th._kT * tdamp**2
    return dyn


def sync_integrator_momenta(dyn, atoms) -> None:
    """Copy ``atoms``' momenta into the integrator (Nose-Hoover keeps its own ``_p``)."""
    if hasattr(dyn, "_p"):
        dyn._p = atoms.get_momenta()


def thermostat_state(dyn) -> dict[str, Any]:
    """The extended-system state to checkpoint: the Nose-Hoover chain (``eta``,
    ``p_eta``) or the LangevinBAOAB barostat momentum (``p_eps``); ``{}`` otherwise.
    """
    thermostat = getattr(dyn, "_thermostat", None)
    if thermostat is not None:
        return {"eta": thermostat._eta.copy(), "p_eta": thermostat._p_eta.copy()}
    if getattr(dyn, "externalstress", None) is not None and hasattr(dyn, "p_eps"):
        return {"p_eps": np.array(dyn.p_eps, dtype=float)}
    return {}


def restore_thermostat(dyn, state: dict[str, Any]) -> None:
    """Put a checkpointed state back (no-op for an empty state)."""
    if not state:
        return
    thermostat = getattr(dyn, "_thermostat", None)
    if thermostat is not None and "eta" in state:
        thermostat._eta[:] = state["eta"]
        thermostat._p_eta[:] = state["p_eta"]
    if "p_eps" in state and hasattr(dyn, "p_eps"):
        p_eps = np.array(state["p_eps"], dtype=float)
        # (its cell force is a function of positions, momenta and cell: the integrator,
        # built on the restored atoms, has it already)
        dyn.p_eps = float(p_eps) if p_eps.ndim == 0 else p_eps
