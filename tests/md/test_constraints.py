"""Constrained-anion MD (li2025): RC / RTC / RTVC on a real gamma-Na3PO4-like cell with CHGNet.

The cell (built in code, 32 atoms) has its PO4 groups on fcc sites with the one at the
origin split across the periodic boundary, so every group must be unwrapped by the
minimum image around its centre.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.errors import MlkitError
from mlkit.md import MDRun, MDSettings, TrajectoryStore, run_dir_for
from mlkit.md.constraints import (
    FixGroupRotation,
    FixGroupRotationTranslation,
    _unwrap,
    make_constraint,
    polyanion_groups,
    rotation_angle_deg,
)
from mlkit.md.dynamics import constrained_nose_hoover

N_STEPS = 40


def na3po4(a_A: float = 7.4, d_po_A: float = 1.54) -> Structure:
    """gamma-Na3PO4-like cubic cell: PO4 on fcc sites, Na in all tetrahedral + octahedral holes."""
    t = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    th = np.pi / 4  # turn the O away from the tetrahedral Na (Na-O >= 2.2 A)
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    fcc = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    species, frac = [], []
    for p in fcc:
        species.append("P")
        frac.append(p)
        for v in t @ rot.T:
            species.append("O")
            frac.append(p + v * d_po_A / a_A)
    for x in (0.25, 0.75):
        for y in (0.25, 0.75):
            for z in (0.25, 0.75):
                species.append("Na")
                frac.append([x, y, z])
    for p in fcc:
        species.append("Na")
        frac.append(p + np.array([0.5, 0, 0]))
    return Structure(Lattice.cubic(a_A), species, np.mod(frac, 1.0))


def kabsch_angle_deg(x0: np.ndarray, x1: np.ndarray, m: np.ndarray) -> float:
    """Angle of the mass-weighted best-fit rotation taking centred x0 (n, 3) to x1 (n, 3)."""
    u, _, vt = np.linalg.svd((x0 * m[:, None]).T @ x1)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return rotation_angle_deg(vt.T @ np.diag([1, 1, d]) @ u.T)


def group_motion(traj, groups):
    """Max Eckart angular momentum |sum m x_ref x v| about the first frame's geometry
    (amu A^2/fs), mean final best-fit rotation angle (deg), max COM drift (A), mean final
    centre->ligand direction change (deg), max atom displacement (A)."""
    from ase.data import atomic_masses, atomic_numbers

    pos, vel, cell = traj["positions_A"], traj["velocities_A_fs"], traj["cell_A"][0]
    masses = np.array([atomic_masses[atomic_numbers[e]] for e in traj["species"]])
    l_max, angles, dirs, com_drift, disp = 0.0, [], [], 0.0, 0.0
    for g in groups:
        m = masses[g]
        ref = None
        for f in range(len(pos)):
            r = _unwrap(pos[f][g], cell)
            com = m @ r / m.sum()
            x = r - com
            u = (r[1:] - r[0]) / np.linalg.norm(r[1:] - r[0], axis=1)[:, None]
            if ref is None:
                ref = (x, com, u)
            l_max = max(l_max, float(np.linalg.norm(
                np.cross(ref[0], m[:, None] * vel[f][g]).sum(0))))
        angles.append(kabsch_angle_deg(ref[0], x, m))
        dirs.append(np.degrees(np.arccos(np.clip(np.sum(u * ref[2], 1), -1, 1))).mean())
        com_drift = max(com_drift, float(np.linalg.norm(com - ref[1])))
        disp = max(disp, float(np.abs(pos[-1][g] - pos[0][g]).max()))
    return l_max, float(np.mean(angles)), com_drift, float(np.mean(dirs)), disp


@pytest.fixture(scope="module")
def cell() -> Structure:
    return na3po4()


def settings(kind: str, ensemble: str = "nvt-langevin", **kw) -> MDSettings:
    base = dict(temperature_K=800.0, time_ps=N_STEPS * 2e-3, timestep_fs=2.0,
                equilibration_ps=0.0, supercell_min_length_A=0.0, threads=1, save_every=2,
                checkpoint_every=5, seed=1, ensemble=ensemble, constraint=kind)
    base.update(kw)
    return MDSettings(**base)


@pytest.fixture(scope="module")
def runs(cell, chgnet_calc, tmp_path_factory):
    """One 40-step 800 K run per constraint mode and thermostat."""
    root = tmp_path_factory.mktemp("constrained")
    out = {}
    for ensemble in ("nvt-langevin", "nvt-nose-hoover"):
        for kind in ("none", "rc", "rtc", "rtvc"):
            run_dir = run_dir_for(root / ensemble, "na3po4", 800.0, kind)
            result = MDRun(cell, run_dir, settings(kind, ensemble), calculator=chgnet_calc,
                           progress=False).run()
            assert result.status == "done", result.message
            out[ensemble, kind] = (result, TrajectoryStore(run_dir).read(), run_dir)
    return out


# ----------------------------------------------------------------------------- groups, DOF
def test_groups_unwrapped_and_deduplicated(cell):
    groups = polyanion_groups(cell)
    assert [g.tolist() for g in groups] == [[5 * k + i for i in range(5)] for k in range(4)]
    # the PO4 at the origin has O on both sides of the boundary; unwrapped P-O = 1.54 A
    r = _unwrap(cell.cart_coords[groups[0]], cell.lattice.matrix)
    np.testing.assert_allclose(np.linalg.norm(r[1:] - r[0], axis=1), 1.54, atol=1e-6)
    assert np.ptp(cell.cart_coords[groups[0]], axis=0).max() > 5.0  # split in the stored cell
    # a 3.08 A cell: the same O is both ligands of P (two images) -> one atom in the group
    chain = Structure(Lattice.tetragonal(3.08, 6.0), ["P", "O", "Na"],
                      [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0.5]])
    # (linear PO2: not a rotor by default, asked for by shape)
    assert polyanion_groups(chain) == []
    assert [g.tolist() for g in polyanion_groups(chain, shapes=("linear",))] == [[0, 1]]


def test_removed_dof_and_factory(cell):
    from ase.constraints import FixAtoms
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(cell)
    expected = {"rc": (FixGroupRotation, 12), "rtc": (FixGroupRotationTranslation, 24),
                "rtvc": (FixAtoms, 60)}
    for kind, (cls, dof) in expected.items():
        (c,) = make_constraint(kind, cell)
        assert type(c) is cls and c.get_removed_dof(atoms) == dof
    assert make_constraint("none", cell) == []
    chain = Structure(Lattice.tetragonal(3.08, 6.0), ["P", "O", "Na"],
                      [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0.5]])
    (lin,) = make_constraint("rc", chain, shapes=("linear",))
    assert lin.get_removed_dof(AseAtomsAdaptor.get_atoms(chain)) == 2  # linear: 2 rotations
    with pytest.raises(ValueError, match="^unknown constraint 'rx'; choose none, rc, rtc, rtvc$"):
        make_constraint("rx", cell)
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(MlkitError, match="NaCl: no polyanions found"):
        make_constraint("rc", nacl)
    with pytest.raises(ValueError, match="unknown constraint"):
        MDSettings(constraint="bogus").validate()


def test_projections_on_random_vectors(cell):
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(cell)
    groups = polyanion_groups(cell)
    rng = np.random.default_rng(0)
    m = atoms.get_masses()
    for cls in (FixGroupRotation, FixGroupRotationTranslation):
        c = cls(groups)
        p = rng.normal(size=(len(atoms), 3))
        f = rng.normal(size=(len(atoms), 3))
        p0, f0 = p.copy(), f.copy()
        c.adjust_momenta(atoms, p)
        c.adjust_forces(atoms, f)
        for g in groups:
            r = _unwrap(atoms.positions[g], atoms.cell.array)
            x = r - m[g] @ r / m[g].sum()
            assert np.abs(np.cross(x, p[g]).sum(0)).max() < 1e-12  # no angular momentum
            assert np.abs(np.cross(x, f[g]).sum(0)).max() < 1e-12  # no torque
            if cls is FixGroupRotation:  # COM momentum / net force untouched
                np.testing.assert_allclose(p[g].sum(0), p0[g].sum(0), atol=1e-12)
                np.testing.assert_allclose(f[g].sum(0), f0[g].sum(0), atol=1e-12)
            else:
                assert np.abs(p[g].sum(0)).max() < 1e-12 and np.abs(f[g].sum(0)).max() < 1e-12
        others = np.setdiff1d(np.arange(len(atoms)), np.concatenate(groups))
        np.testing.assert_array_equal(p[others], p0[others])
        # a small rigid rotation of group 0 about its COM is removed from a position update
        g = groups[0]
        r = _unwrap(atoms.positions[g], atoms.cell.array)
        com = m[g] @ r / m[g].sum()
        new = atoms.positions.copy()
        new[g] += np.cross([0.0, 0.0, 1e-3], r - com) + np.array([0.01, 0, 0])
        c.adjust_positions(atoms, new)
        shift = new[g] - atoms.positions[g]
        want = 0.0 if cls is FixGroupRotationTranslation else 0.01
        np.testing.assert_allclose(shift, np.tile([want, 0, 0], (len(g), 1)), atol=1e-9)


def test_rotation_angle_is_accurate_for_tiny_angles():
    for angle in (1e-12, 1e-8, 1e-3, 5.0, 179.0):
        th = np.radians(angle)
        rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
        assert rotation_angle_deg(rot) == pytest.approx(angle, rel=1e-6)


def _turned_group(atoms, g, turn_deg=5.0, shift=(0.02, 0, 0)):
    """Group ``g`` turned by ``turn_deg`` about x around its COM, bent, and shifted."""
    m = atoms.get_masses()[g]
    r0 = _unwrap(atoms.positions[g], atoms.cell.array)
    com = m @ r0 / m.sum()
    th = np.radians(turn_deg)
    rot = np.array([[1, 0, 0], [0, np.cos(th), -np.sin(th)], [0, np.sin(th), np.cos(th)]])
    bend = np.zeros_like(r0)
    bend[1] = [0.03, -0.02, 0.01]  # an internal distortion
    new = atoms.positions.copy()
    new[g] = com + (r0 - com + bend) @ rot.T + np.asarray(shift)
    return new, r0, com, bend, rot, m


@pytest.mark.parametrize("projection", ["eckart", "instantaneous"])
def test_orientation_pin_undoes_a_finite_rotation(cell, projection):
    """A 5 deg turn of a group (plus a bend and a shift) is undone: the best-fit orientation
    is the reference one again and the COM moves as RC/RTC allow. The old scheme
    (instantaneous) turns the group back rigidly, so the bent shape is kept exactly; the
    Eckart scheme projects the step onto the linear constraint (the closest allowed
    position in the mass metric; the shape then changes at second order in the turn) and
    satisfies the Eckart condition exactly, leaving the pin nothing to do."""
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(cell)
    for kind in ("rc", "rtc"):
        (c,) = make_constraint(kind, cell, projection=projection)
        g = c.groups[1]  # split across the boundary in the stored cell
        new, r0, com, bend, rot, m = _turned_group(atoms, g)
        c.adjust_positions(atoms, new)
        r1 = _unwrap(new[g], atoms.cell.array)
        x = r1 - m @ r1 / m.sum()
        x_ref = r0 - com
        assert kabsch_angle_deg(x_ref, x, m) < 1e-9
        shift = (m @ r1 - m @ r0) / m.sum()
        # RC: the COM moves as asked (translation + the distortion's COM shift); RTC: fixed
        want = (m @ bend / m.sum()) @ rot.T + [0.02, 0, 0] if kind == "rc" else 0.0
        np.testing.assert_allclose(shift, want, atol=1e-9)
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        d_want = np.linalg.norm((x_ref + bend)[:, None] - (x_ref + bend)[None], axis=-1)
        if projection == "instantaneous":
            np.testing.assert_allclose(d, d_want, atol=1e-9)  # rigid turn: shape kept
            assert c.last_pin_angle_deg == pytest.approx(5.0, abs=0.5)
        else:
            assert np.abs(np.cross(x_ref * m[:, None], x).sum(0)).max() < 1e-12  # Eckart
            assert np.abs(d - d_want).max() < 0.02  # second order in the 5 deg turn
            assert c.last_pin_angle_deg < 1e-9  # the projection did it all
        assert c.max_pin_angle_deg == c.last_pin_angle_deg
        assert c.pop_max_pin_angle_deg() == c.last_pin_angle_deg and c.max_pin_angle_deg == 0


@pytest.mark.parametrize("projection", ["eckart", "instantaneous"])
def test_group_wider_than_half_the_cell_stays_whole(projection):
    """A ligand-ligand vector close to half the cell width (NbCl6 in the 6.5 A NaNbCl6
    cell) that vibrates across it: the group is unwrapped like its reference, not by the
    minimum image around its first atom (which flipped the far ligand to another image,
    made the pin turn the group by tens of degrees and blew up an NVE run)."""
    from ase import Atoms

    pos = np.array([[1.55, 3.0, 3.0], [3.0, 3.9, 3.0], [4.45, 3.4, 3.0]])
    atoms = Atoms("ClNbCl", positions=pos, cell=np.eye(3) * 6.0, pbc=True)
    c = FixGroupRotation([[0, 1, 2]], [pos], projection=projection)
    new = pos.copy()
    new[2, 0] += 0.15  # Cl-Cl x component 2.9 -> 3.05 A > half the 6 A cell
    c.adjust_positions(atoms, new)
    assert c.last_pin_angle_deg < (1e-9 if projection == "eckart" else 5.0)
    assert np.abs(new - pos).max() < 0.2  # no atom thrown to another image
    assert np.linalg.norm(new[2] - new[0]) == pytest.approx(2.9 + 0.15, abs=0.05)


def test_pin_of_a_linear_group_does_not_spin_it():
    """Kabsch is degenerate for a linear group (any spin about its axis fits): the pin
    takes the smallest turn aligning the axis, so a nearly linear group is not spun."""
    from ase import Atoms

    from mlkit.md.constraints import _align_linear

    pos = np.array([[1.0, 3.0, 3.0], [2.2, 3.0, 3.0], [3.4, 3.0, 3.0]])
    atoms = Atoms("OCO", positions=pos, cell=np.eye(3) * 8.0, pbc=True)
    c = FixGroupRotation([[0, 1, 2]], [pos])
    assert c.get_removed_dof(atoms) == 2
    new = pos.copy()
    new[:, 1] += [0.0, 0.02, 0.0]  # a bend: internal, kept
    new[2, 2] += 0.03  # and a small tilt of the axis
    want_bend = new[1, 1] - 0.5 * (new[0, 1] + new[2, 1])
    c.adjust_positions(atoms, new)
    assert c.last_pin_angle_deg < 1e-6
    assert new[1, 1] - 0.5 * (new[0, 1] + new[2, 1]) == pytest.approx(want_bend, abs=2e-3)
    assert np.abs(new - pos).max() < 0.05
    # the alignment itself: a 10 deg tilt of the axis is found, with no spin about it
    th = np.radians(10.0)
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    x_ref = pos - pos.mean(0)
    r = _align_linear(x_ref, x_ref @ rot.T, np.ones(3))
    np.testing.assert_allclose(r, rot, atol=1e-12)


def test_eckart_projection_is_one_mass_metric_projector(cell):
    """Momenta, forces and step displacements are projected with the same mass-metric
    orthogonal projector onto the tangent space of the Eckart condition about the
    reference geometry; a step inside it is left exactly as it is."""
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(cell)
    m = atoms.get_masses()
    rng = np.random.default_rng(1)
    for kind in ("rc", "rtc"):
        (c,) = make_constraint(kind, cell)  # reference = the unperturbed cell
        # move the atoms away from the reference, on the constraint manifold, so that the
        # instantaneous and the Eckart projections differ
        atoms.positions = AseAtomsAdaptor.get_atoms(cell).positions
        moved = atoms.positions + rng.normal(scale=0.05, size=atoms.positions.shape)
        c.adjust_positions(atoms, moved)
        atoms.positions = moved
        assert c.eckart and c.get_removed_dof(atoms) == (12 if kind == "rc" else 24)
        refs = [r - m[g] @ r / m[g].sum() for g, r in zip(c.groups, c.reference_positions_A,
                                                          strict=True)]
        p = rng.normal(size=(len(atoms), 3))
        f = rng.normal(size=(len(atoms), 3))
        p0 = p.copy()
        c.adjust_momenta(atoms, p)
        c.adjust_forces(atoms, f)
        v = p0 / m[:, None]  # the same vector as a displacement: P(v) = P(p) / m
        new = atoms.positions + v
        c.adjust_positions(atoms, new)
        d = new - atoms.positions
        np.testing.assert_allclose(d, p / m[:, None], atol=1e-12)
        for g, x_ref in zip(c.groups, refs, strict=True):
            for vec in (p[g], f[g], m[g][:, None] * d[g]):
                assert np.abs(np.cross(x_ref, vec).sum(0)).max() < 1e-12
            if kind == "rtc":
                assert np.abs(p[g].sum(0)).max() < 1e-12 and np.abs(f[g].sum(0)).max() < 1e-12
        # orthogonal in the mass metric: removed part . kept part / m = 0
        assert abs(np.sum((p0 - p) * p / m[:, None])) < 1e-10
        # idempotent, and a tangent step is kept exactly (pin: round-off only)
        p1 = p.copy()
        c.adjust_momenta(atoms, p1)
        np.testing.assert_allclose(p1, p, atol=1e-13)
        step = atoms.positions + 0.01 * p / m[:, None]
        want = step.copy()
        c.adjust_positions(atoms, step)
        np.testing.assert_allclose(step, want, atol=1e-12)


def _cu_cluster_run(projection: str | None, ensemble: str = "nve", steps: int = 300,
                    kind: str = "rc"):
    """EMT copper (32 atoms, 600 K start): one atom and its 12 neighbours form a rigid-
    rotation group (``projection=None``: unconstrained). Returns the conserved energy per
    step (eV), the total energy E_pot + E_kin per step (eV) and the largest pin turn per
    step (deg)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    from mlkit.md.dynamics import conserved_energy_eV, make_dynamics, sync_integrator_momenta

    atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
    atoms.calc = EMT()
    group = np.flatnonzero(atoms.get_distances(0, range(len(atoms)), mic=True) < 2.7)
    assert len(group) == 13
    rng = np.random.default_rng(0)
    thermalize_momenta(atoms, 600.0, rng=rng)
    Stationary(atoms)
    constraints = []
    if projection is not None:
        cls = FixGroupRotation if kind == "rc" else FixGroupRotationTranslation
        constraints = [cls([group], [_unwrap(atoms.positions[group], atoms.cell.array)],
                           projection=projection)]
    settings = MDSettings(ensemble=ensemble, timestep_fs=4.0, tdamp_fs=100.0,
                          constraint="none" if projection is None else kind)
    dyn = make_dynamics(atoms, settings, 600.0, rng, constraints)
    if constraints:
        atoms.set_momenta(atoms.get_momenta())
        sync_integrator_momenta(dyn, atoms)
    energy, total, pins = [], [], []

    def record():
        energy.append(conserved_energy_eV(dyn, atoms))
        if hasattr(dyn, "get_conserved_energy"):  # EMT declares free_energy
            assert energy[-1] == pytest.approx(dyn.get_conserved_energy(), abs=1e-10)
        total.append(atoms.get_potential_energy() + atoms.get_kinetic_energy())
        pins.append(constraints[0].pop_max_pin_angle_deg() if constraints else 0.0)

    dyn.attach(record, interval=1)
    dyn.run(steps)
    if constraints:  # removed DOF: 3 group rotations (+ 3 translations for RTC)
        fixcom = 3 if ensemble != "nvt-nose-hoover" and kind == "rc" else 0
        assert atoms.get_number_of_degrees_of_freedom() == 96 - fixcom - 3 * (1 + (kind == "rtc"))
    return np.array(energy), np.array(total), np.array(pins)


def test_nve_rc_conserves_energy_as_well_as_uc():
    """NVE (velocity Verlet, 4 fs, EMT Cu): with the Eckart projection a constrained group
    conserves the energy as well as the unconstrained run and the pin turns by round-off
    only. The old instantaneous projection needs real pin turns (> 1e-4 deg per step),
    which do work on the system."""
    e_uc, _, _ = _cu_cluster_run(None)
    e_rc, _, pin_rc = _cu_cluster_run("eckart")
    e_rtc, _, pin_rtc = _cu_cluster_run("eckart", kind="rtc")
    e_old, _, pin_old = _cu_cluster_run("instantaneous")
    dev = {name: float(np.abs(e - e[0]).max()) * 1000 / 32
           for name, e in (("uc", e_uc), ("rc", e_rc), ("rtc", e_rtc), ("old", e_old))}
    print("max |E - E0| (meV/atom):", dev, "pin (deg):", pin_rc.max(), pin_rtc.max(),
          pin_old.max())
    assert dev["uc"] < 0.5
    assert dev["rc"] < 1.5 * dev["uc"] and dev["rtc"] < 1.5 * dev["uc"]
    assert pin_rc.max() < 1e-6 and pin_rtc.max() < 1e-6
    assert pin_old.max() > 1e-4


def test_constrained_nose_hoover_conserved_energy():
    """The constrained Nose-Hoover chain sizes its first thermostat for the free DOF in
    both the equation of motion and get_conserved_energy(): the conserved energy stays
    flat while the total energy exchanges energy with the chain."""
    conserved, total, pin = _cu_cluster_run("eckart", ensemble="nvt-nose-hoover", steps=400)
    spread = float(np.ptp(conserved)) * 1000 / 32
    spread_total = float(np.ptp(total)) * 1000 / 32
    print(f"Nose-Hoover: conserved-energy spread {spread:.3f} meV/atom, total-energy spread "
          f"{spread_total:.3f} meV/atom, pin {pin.max():.1e} deg")
    assert spread < 0.5 and spread < 0.1 * spread_total and pin.max() < 1e-6


# ----------------------------------------------------------------------------- MD
@pytest.mark.parametrize("ensemble", ["nvt-langevin", "nvt-nose-hoover"])
def test_constrained_md_keeps_groups(runs, cell, ensemble):
    groups = polyanion_groups(cell)
    motion = {kind: group_motion(runs[ensemble, kind][1], groups)
              for kind in ("none", "rc", "rtc", "rtvc")}
    for kind, (l_max, angle, com, dirs, disp) in motion.items():
        print(f"{ensemble} {kind}: |L|max={l_max:.2e} amu A2/fs, rotation {angle:.2e} deg, "
              f"ligand-direction change {dirs:.2f} deg, COM drift {com:.4f} A, "
              f"max displacement {disp:.4f} A")
    l_uc, angle_uc, com_uc, _, _ = motion["none"]
    assert l_uc > 0.05 and angle_uc > 3.0 and com_uc > 0.05  # free PO4 rotate and move
    for kind in ("rc", "rtc"):
        l_max, angle, com, _, disp = motion[kind]
        assert l_max < 1e-6  # Eckart angular momentum; float32 velocities in the store
        assert angle < 1e-8  # best-fit orientation = the initial one (Eckart, exactly)
        assert disp > 0.02  # internal vibration stays free
        pins = runs[ensemble, kind][1]["pin_angle_deg"]
        print(f"  largest pin turn per frame {pins.max():.1e} deg")
        assert pins.max() < 1e-8  # the pin is only a safeguard
    assert motion["rc"][2] > 0.02  # RC: COM still moves
    assert motion["rtc"][2] < 1e-6  # RTC: COM fixed
    traj = runs[ensemble, "rtvc"][1]
    idx = np.concatenate(groups)
    np.testing.assert_array_equal(traj["positions_A"][:, idx], traj["positions_A"][:1, idx].repeat(
        len(traj["positions_A"]), axis=0))
    assert "pin_angle_deg" not in traj and "pin_angle_deg" not in runs[ensemble, "none"][1]
    assert np.all(traj["velocities_A_fs"][:, idx] == 0)
    na = [i for i, e in enumerate(traj["species"]) if e == "Na"]
    assert np.abs(traj["positions_A"][-1, na] - traj["positions_A"][0, na]).max() > 0.05


def test_constraint_in_provenance_resume_and_labels(runs, cell, chgnet_calc, tmp_path):
    from mlkit.labels.md import analyze_run

    result, _, run_dir = runs["nvt-langevin", "rc"]
    assert run_dir.name == "T800K_rc" and runs["nvt-langevin", "none"][2].name == "T800K"
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["constraint"] == "rc" and meta["constrained_groups"] == 4
    assert meta["constrained_atoms"] == 20
    assert meta["constraint_class"] == "mlkit.md.constraints.FixGroupRotation"
    with h5py.File(TrajectoryStore(run_dir).trajectory_path) as fh:
        assert json.loads(fh.attrs["provenance"])["constraint"] == "rc"
    assert json.loads((runs["nvt-langevin", "none"][2] / "meta.json").read_text())[
        "constraint"] == "none"
    row = analyze_run(run_dir, min_frames=5)
    assert row["constraint"] == "rc"
    # the same directory with another constraint is refused
    TrajectoryStore(run_dir).status_path.unlink()  # pretend unfinished
    with pytest.raises(MlkitError, match="holds a different run .*constraint"):
        MDRun(cell, run_dir, settings("rtc"), calculator=chgnet_calc, progress=False).run()


def test_run_started_by_the_old_code_resumes_with_eckart(runs, cell, chgnet_calc, tmp_path):
    """An RC directory written before the Eckart change (no constraint_projection in
    meta.json, no pin_angle_deg frames) is resumed, not refused; meta.json records from
    which step the Eckart projection took over."""
    import shutil

    _, _, run_dir = runs["nvt-langevin", "rc"]
    old = tmp_path / "old_rc"
    shutil.copytree(run_dir, old)
    store = TrajectoryStore(old)
    meta = store.read_meta()
    assert meta["constraint_projection"] == "eckart"
    del meta["constraint_projection"]
    store.write_meta(meta)
    with h5py.File(store.trajectory_path, "a") as fh:
        del fh["pin_angle_deg"]
    store.set_status("running")
    longer = settings("rc", time_ps=(N_STEPS + 10) * 2e-3)
    result = MDRun(cell, old, longer, calculator=chgnet_calc, progress=False).run()
    assert result.status == "done" and result.steps_run == 10
    assert store.read_meta()["constraint_projection"] == (
        f"instantaneous to step {N_STEPS}, eckart after")
    pins = store.read()["pin_angle_deg"]
    assert np.isnan(pins[:-5]).all() and pins[-5:].max() < 1e-8


@pytest.mark.parametrize("integrator", ["berendsen", "berendsen-inhomogeneous"])
def test_constrained_run_with_npt_stage(cell, chgnet_calc, tmp_path, integrator):
    """RC through an NPT stage (10 steps at 0 GPa) and 10 NVT steps: the groups stay
    pinned. Isotropic scaling keeps the Eckart condition (pin turns ~1e-13 deg); the
    anisotropic one needs the pin after each scaling, which stays small."""
    s = settings("rc", time_ps=0.02, npt_equilibration_ps=0.02, npt_integrator=integrator)
    result = MDRun(cell, tmp_path / integrator, s, calculator=chgnet_calc,
                   progress=False).run()
    assert result.status == "done", result.message
    store = TrajectoryStore(tmp_path / integrator)
    npt = store.read_meta()["npt_result"]
    traj = store.read()
    print(integrator, npt["volume_change_percent"], npt["max_pin_angle_deg"],
          npt["rescale_pin_angle_deg"], traj["pin_angle_deg"].max())
    if integrator == "berendsen":
        assert npt["max_pin_angle_deg"] < 1e-8 and npt["rescale_pin_angle_deg"] < 1e-8
    else:
        assert 0 < npt["max_pin_angle_deg"] < 1.0
    assert traj["pin_angle_deg"].max() < 1e-8
    # every frame's best-fit orientation is the initial structure's (the Eckart reference)
    initial = store.read_initial()
    m = np.array([site.specie.atomic_mass for site in initial], dtype=float)
    for g in polyanion_groups(cell):
        r0 = _unwrap(initial.cart_coords[g], initial.lattice.matrix)
        x_ref = r0 - m[g] @ r0 / m[g].sum()
        for f in (0, -1):
            r = _unwrap(traj["positions_A"][f][g], traj["cell_A"][f])
            assert kabsch_angle_deg(x_ref, r - m[g] @ r / m[g].sum(), m[g]) < 1e-8


def test_cli_option(capsys):
    import argparse

    from mlkit.cli.md import add_run_options, settings_from_args

    p = argparse.ArgumentParser()
    add_run_options(p)
    assert settings_from_args(p.parse_args(["x.cif", "--constraint", "rtc"])).constraint == "rtc"
    assert settings_from_args(p.parse_args(["x.cif"])).constraint == "none"
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["x.cif", "--constraint", "bad"])
    assert exc.value.code == 2  # argparse's usage error, not a crash
    assert "--constraint: invalid choice: 'bad'" in capsys.readouterr().err


def test_nose_hoover_thermostats_the_free_degrees_of_freedom():
    """EMT copper with half the atoms frozen: the constrained Nose-Hoover chain holds the
    kinetic temperature of the 3N - removed DOF at the target (measured 599 K; the stock
    ``NoseHooverChainNVT`` in the same setup gives 65 K)."""
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.constraints import FixAtoms
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
    atoms.calc = EMT()
    atoms.set_constraint(FixAtoms(indices=range(0, 32, 2)))
    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=np.random.default_rng(0))
    dyn = constrained_nose_hoover(atoms, 5 * units.fs, 600.0, 100 * units.fs)
    temps = []
    dyn.attach(lambda: temps.append(atoms.get_temperature()), interval=5)
    dyn.run(1500)
    assert atoms.get_number_of_degrees_of_freedom() == 48
    assert np.mean(temps[60:]) == pytest.approx(600.0, rel=0.12)
    assert np.all(atoms.get_momenta()[::2] == 0)


def test_constrained_run_interrupted_and_resumed_matches(runs, cell, chgnet_calc, tmp_path):
    """Kill mid-run after a checkpoint, resume: the RTC trajectory equals the uninterrupted one."""

    class Interrupt(BaseException):
        pass

    calls = {"n": 0}
    original = chgnet_calc.calculate

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 27:  # after the checkpoints at steps 0, 10 and 20
            raise Interrupt
        return original(*args, **kwargs)

    chgnet_calc.calculate = flaky
    try:
        with pytest.raises(Interrupt):
            MDRun(cell, tmp_path / "cut", settings("rtc"), calculator=chgnet_calc,
                  progress=False).run()
    finally:
        chgnet_calc.calculate = original
    store = TrajectoryStore(tmp_path / "cut")
    assert store.status == "running" and store.load_checkpoint()["step"] == 20
    resumed = MDRun(cell, tmp_path / "cut", settings("rtc"), calculator=chgnet_calc,
                    progress=False).run()
    assert resumed.status == "done" and resumed.steps_run == N_STEPS - 20
    ref = runs["nvt-langevin", "rtc"][1]
    got = store.read()
    np.testing.assert_array_equal(ref["step"], got["step"])
    np.testing.assert_allclose(ref["positions_A"], got["positions_A"], atol=1e-5)


def test_constrained_nose_hoover_calls_the_calculator_once_per_step(cell):
    """Re-applying constraints to unchanged positions must not trigger a new force call."""
    from ase import units
    from ase.calculators.lj import LennardJones
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlkit.md.dynamics import constrained_nose_hoover

    atoms = AseAtomsAdaptor.get_atoms(cell)
    atoms.set_constraint(make_constraint("rc", cell))
    calls = {"n": 0}

    class Counting(LennardJones):
        def calculate(self, *args, **kwargs):
            calls["n"] += 1
            super().calculate(*args, **kwargs)

    atoms.calc = Counting(sigma=1.5, epsilon=0.01, rc=4.0)
    dyn = constrained_nose_hoover(atoms, timestep=1.0 * units.fs, temperature_K=300,
                                  tdamp=100 * units.fs)
    dyn.run(1)
    calls["n"] = 0
    dyn.run(20)
    assert calls["n"] == 20
