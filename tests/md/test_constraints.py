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
    r = vt.T @ np.diag([1, 1, d]) @ u.T
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))))


def group_motion(traj, groups):
    """Max |L| (amu A^2/fs), mean final best-fit rotation angle (deg), max COM drift (A),
    mean final centre->ligand direction change (deg), max atom displacement (A)."""
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
            l_max = max(l_max, float(np.linalg.norm(np.cross(x, m[:, None] * vel[f][g]).sum(0))))
            u = (r[1:] - r[0]) / np.linalg.norm(r[1:] - r[0], axis=1)[:, None]
            if ref is None:
                ref = (x, com, u)
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
    assert [g.tolist() for g in polyanion_groups(chain)] == [[0, 1]]


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
    (lin,) = make_constraint("rc", chain)
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


def test_orientation_pin_undoes_a_finite_rotation(cell):
    """With reference positions (make_constraint), a 5 deg turn of a group is undone exactly
    while its internal distortion and (RC) translation are kept."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlkit.md.constraints import _kabsch

    atoms = AseAtomsAdaptor.get_atoms(cell)
    m = atoms.get_masses()
    for kind in ("rc", "rtc"):
        (c,) = make_constraint(kind, cell)
        g = c.groups[1]  # split across the boundary in the stored cell
        r0 = _unwrap(atoms.positions[g], atoms.cell.array)
        com = m[g] @ r0 / m[g].sum()
        th = np.radians(5.0)
        rot = np.array([[1, 0, 0], [0, np.cos(th), -np.sin(th)], [0, np.sin(th), np.cos(th)]])
        bend = np.zeros_like(r0)
        bend[1] = [0.03, -0.02, 0.01]  # an internal distortion
        new = atoms.positions.copy()
        new[g] = com + (r0 - com + bend) @ rot.T + [0.02, 0, 0]
        c.adjust_positions(atoms, new)
        r1 = _unwrap(new[g], atoms.cell.array)
        x = r1 - m[g] @ r1 / m[g].sum()
        x_ref = r0 - com
        assert np.degrees(np.arccos(min(1.0, (np.trace(_kabsch(x_ref, x, m[g])) - 1) / 2))) < 1e-4
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        d_want = np.linalg.norm((x_ref + bend)[:, None] - (x_ref + bend)[None], axis=-1)
        np.testing.assert_allclose(d, d_want, atol=1e-9)  # shape kept
        shift = (m[g] @ r1 - m[g] @ r0) / m[g].sum()
        # RC: the COM moves as asked (translation + the distortion's COM shift); RTC: fixed
        want = (m[g] @ bend / m[g].sum()) @ rot.T + [0.02, 0, 0] if kind == "rc" else 0.0
        np.testing.assert_allclose(shift, want, atol=1e-9)


# ----------------------------------------------------------------------------- MD
@pytest.mark.parametrize("ensemble", ["nvt-langevin", "nvt-nose-hoover"])
def test_constrained_md_keeps_groups(runs, cell, ensemble):
    groups = polyanion_groups(cell)
    motion = {kind: group_motion(runs[ensemble, kind][1], groups)
              for kind in ("none", "rc", "rtc", "rtvc")}
    for kind, (l_max, angle, com, dirs, disp) in motion.items():
        print(f"{ensemble} {kind}: |L|max={l_max:.2e} amu A2/fs, rotation {angle:.3f} deg, "
              f"ligand-direction change {dirs:.2f} deg, COM drift {com:.4f} A, "
              f"max displacement {disp:.4f} A")
    l_uc, angle_uc, com_uc, _, _ = motion["none"]
    assert l_uc > 0.05 and angle_uc > 3.0 and com_uc > 0.05  # free PO4 rotate and move
    for kind in ("rc", "rtc"):
        l_max, angle, com, _, disp = motion[kind]
        assert l_max < 1e-6  # float32 velocities in the store
        assert angle < 0.01  # best-fit orientation pinned to the initial one
        assert disp > 0.02  # internal vibration stays free
    assert motion["rc"][2] > 0.02  # RC: COM still moves
    assert motion["rtc"][2] < 1e-6  # RTC: COM fixed
    traj = runs[ensemble, "rtvc"][1]
    idx = np.concatenate(groups)
    np.testing.assert_array_equal(traj["positions_A"][:, idx], traj["positions_A"][:1, idx].repeat(
        len(traj["positions_A"]), axis=0))
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
