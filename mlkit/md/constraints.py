"""Constrained-anion MD (li2025): freeze rotation / translation / all motion of polyanions.

Four modes (``CONSTRAINTS``):

``"none"`` (UC)
    No constraint.
``"rc"`` (rotational constraint)
    :class:`FixGroupRotation`: the 3 rigid-rotation degrees of freedom of each polyanion
    are removed (2 for a linear group); translation and internal vibration stay free.
``"rtc"`` (roto-translational constraint)
    :class:`FixGroupRotationTranslation`: rotation and centre-of-mass translation of each
    polyanion removed (6 DOF per group); internal vibration free.
``"rtvc"`` (roto-translational-vibrational constraint)
    :class:`ase.constraints.FixAtoms` on every polyanion atom.

The rotational constraint is the standard first-order rigid-rotation projection: at the
instantaneous configuration, with ``x_i`` the positions relative to the group centre of
mass (minimum-image unwrapped around the group) and ``I = sum_i m_i (|x_i|^2 1 - x_i x_i^T)``
the instantaneous inertia tensor,

- momenta: ``L = sum_i x_i x p_i``, ``w = I^-1 L``, ``p_i -= m_i w x x_i`` (zero angular
  momentum of the group about its centre of mass);
- forces: ``tau = sum_i x_i x f_i``, ``a = I^-1 tau``, ``f_i -= m_i a x x_i`` (zero torque;
  this is the Gauss least-constraint force, i.e. the constraint force of minimum
  mass-weighted norm);
- position updates: the rigid-rotation part of each step's displacement ``d_i``
  (``w = I^-1 sum_i m_i x_i x d_i``, ``d_i -= w x x_i``) is removed, which also removes
  the rotation the Langevin noise would add. This is exact to first order in the step;
  alone, the orientation creeps at second order (and through rotation-vibration
  coupling): measured 1-3 deg per ps for PO4 at 800 K.
- orientation pin (on when reference positions are given, as :func:`make_constraint`
  does; it then replaces the linearised removal above): after each position update the
  group is turned back, rigidly, by its mass-weighted best-fit (Kabsch) rotation
  relative to the reference geometry (the initial structure), so the best-fit
  orientation never drifts and the internal shape is untouched. Momenta and forces are
  still projected as above, so the turn undoes only the small rotation that the
  noise and the second-order terms add in one step.

The translational part (RTC) removes ``m_i P / M`` from momenta, ``m_i F / M`` from
forces and the mass-weighted mean displacement from each step, which keeps each group's
centre of mass exactly fixed. ``I`` is pseudo-inverted, so linear groups lose only their
2 well-defined rotations.

Thermostats (ASE 3.29): ``Langevin`` applies constraints through ``set_positions`` /
``set_momenta`` / ``get_forces(md=True)``. ``NoseHooverChainNVT`` keeps private copies
of positions and momenta that never see the constraint and thermostats ``3 N`` degrees
of freedom; :func:`mlkit.md.dynamics.constrained_nose_hoover` returns a subclass that re-reads the
constrained state after every update and thermostats ``3 N - removed DOF``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase.constraints import FixConstraint

from mlkit.errors import MlkitError

CONSTRAINTS = ("none", "rc", "rtc", "rtvc")


# ----------------------------------------------------------------------------- groups
def polyanion_groups(structure, mobile_ion: str = "Na", **criteria: Any) -> list[np.ndarray]:
    """Atom indices of each polyanion (centre + unique ligands), for the constraints.

    Polyanions sharing atoms (e.g. corner-sharing dimers) are merged into one rigid
    group. A merged group that cannot be unwrapped by the minimum image (it spans the
    cell: an extended framework, or a cell too small for the group) raises.

    Parameters
    ----------
    structure : pymatgen.core.Structure or ase.Atoms
        The simulated (super)cell; indices refer to it.
    mobile_ion : str
        Never a polyanion centre.
    **criteria
        Passed to :func:`mlkit.structures.find_polyanions`.

    Returns
    -------
    list of ndarray of int
        Sorted atom indices per group (each of shape (n_group_atoms,)).
    """
    from pymatgen.core import Structure

    from mlkit.structures import find_polyanions

    if not isinstance(structure, Structure):
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    polyanions = find_polyanions(structure, mobile_ion=mobile_ion, **criteria)
    # union-find over atoms: a ligand repeated with several images is one atom
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for p in polyanions:
        members = [p.center_index, *dict.fromkeys(p.ligand_indices)]
        for j in members:
            parent[root(j)] = root(p.center_index)
    groups: dict[int, list[int]] = {}
    for i in list(parent):
        groups.setdefault(root(i), []).append(i)
    out = [np.array(sorted(g), dtype=int) for g in groups.values()]
    out.sort(key=lambda g: int(g[0]))
    # every bond of every polyanion must survive minimum-image unwrapping of its group
    cart = structure.cart_coords
    lattice = structure.lattice.matrix
    where = {int(i): k for k, g in enumerate(out) for i in g}
    unwrapped = [_unwrap(cart[g], lattice) for g in out]
    for p in polyanions:
        k = where[p.center_index]
        pos = {int(i): x for i, x in zip(out[k], unwrapped[k], strict=True)}
        for lig, d_ref in zip(p.ligand_indices, p.distances_A, strict=True):
            d = float(np.linalg.norm(pos[int(lig)] - pos[p.center_index]))
            if abs(d - d_ref) > 0.05:
                raise MlkitError(
                    f"polyanion at site {p.center_index} ({p.center_species}) is not compact "
                    "under the minimum image (extended framework or cell too small); "
                    "anion constraints need isolated polyanions in a larger supercell"
                )
    return out


def _unwrap(pos_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Minimum-image positions of a group around its first atom, shape (n, 3)."""
    d = pos_A - pos_A[0]
    frac = d @ np.linalg.inv(cell_A)
    frac -= np.round(frac)
    return pos_A[0] + frac @ cell_A


# ----------------------------------------------------------------------------- kinematics
def _frame(atoms, group: np.ndarray, positions_A: np.ndarray | None = None):
    """Masses (n,), positions relative to the group COM (n, 3) and inertia tensor (3, 3)."""
    pos = atoms.positions if positions_A is None else positions_A
    m = atoms.get_masses()[group]
    r = _unwrap(np.asarray(pos)[group], atoms.cell.array)
    x = r - (m @ r) / m.sum()
    inertia = np.einsum("i,ij,ij->", m, x, x) * np.eye(3) - np.einsum("i,ij,ik->jk", m, x, x)
    return m, x, inertia


def _pinv(inertia: np.ndarray) -> np.ndarray:
    if float(np.trace(inertia)) <= 1e-12:  # a single atom: no rotation
        return np.zeros((3, 3))
    return np.linalg.pinv(inertia, rcond=1e-6, hermitian=True)


def _kabsch(x_ref: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Rotation matrix R (3, 3) best mapping centred ``x_ref`` onto ``x`` (``x ~ x_ref R^T``)."""
    u, _, vt = np.linalg.svd((x_ref * m[:, None]).T @ x)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def _remove_rotation(m, x, inertia, vec, weighted: bool) -> np.ndarray:
    """Remove the rigid-rotation component of ``vec`` (n, 3).

    ``weighted=True``: ``vec`` is momentum-like (momenta, forces): ``L = sum x x v``,
    correction ``m w x x``. ``weighted=False``: ``vec`` is a displacement:
    ``L = sum m x x d``, correction ``w x x``.
    """
    ang = np.sum(np.cross(x, vec * (1.0 if weighted else m[:, None])), axis=0)
    omega = _pinv(inertia) @ ang
    corr = np.cross(omega, x)
    return vec - (m[:, None] * corr if weighted else corr)


class FixGroupRotation(FixConstraint):
    """RC: remove each group's rigid rotation (first-order projection; module docstring).

    Parameters
    ----------
    groups : sequence of array-like of int
        Atom indices of each rigid-rotation group (e.g. :func:`polyanion_groups`).
    reference_positions_A : sequence of ndarray, optional
        Reference geometry of each group, shape (n_group_atoms, 3) (unwrapped; any
        origin). When given, the best-fit orientation is pinned to it (module docstring).
    """

    translation = False

    def __init__(self, groups, reference_positions_A=None) -> None:
        self.groups = [np.asarray(g, dtype=int).copy() for g in groups]
        if any(len(g) == 0 for g in self.groups):
            raise ValueError("FixGroupRotation: empty group")
        self.reference_positions_A = None
        if reference_positions_A is not None:
            refs = [np.asarray(r, dtype=float).reshape(-1, 3).copy()
                    for r in reference_positions_A]
            if [len(r) for r in refs] != [len(g) for g in self.groups]:
                raise ValueError("FixGroupRotation: reference positions do not match the groups")
            self.reference_positions_A = refs

    # ---- helpers
    def _project(self, atoms, vec: np.ndarray, weighted: bool,
                 positions_A: np.ndarray | None = None, rotation: bool = True) -> None:
        for g in self.groups:
            m, x, inertia = _frame(atoms, g, positions_A)
            v = vec[g]
            if self.translation:
                if weighted:
                    v = v - m[:, None] * (v.sum(axis=0) / m.sum())
                else:
                    v = v - (m @ v) / m.sum()
            vec[g] = _remove_rotation(m, x, inertia, v, weighted) if rotation else v

    # ---- ASE constraint interface
    def adjust_positions(self, atoms, new: np.ndarray) -> None:
        pinned = self.reference_positions_A is not None
        cell = atoms.cell.array
        frac = (new - atoms.positions) @ np.linalg.inv(cell)
        d = (frac - np.round(frac)) @ cell  # step displacements, blind to image changes
        d0 = d.copy()
        # pinned: the exact (rigid) Kabsch turn below replaces the linearised rotation removal
        self._project(atoms, d, weighted=False, rotation=not pinned)
        new += d - d0
        if pinned:
            masses = atoms.get_masses()
            for g, ref in zip(self.groups, self.reference_positions_A, strict=True):
                m = masses[g]
                x_ref = ref - (m @ ref) / m.sum()
                r = _unwrap(new[g], atoms.cell.array)
                x = r - (m @ r) / m.sum()
                new[g] += x @ _kabsch(x_ref, x, m) - x

    def adjust_momenta(self, atoms, momenta: np.ndarray) -> None:
        self._project(atoms, momenta, weighted=True)

    def adjust_forces(self, atoms, forces: np.ndarray) -> None:
        self._project(atoms, forces, weighted=True)

    def get_removed_dof(self, atoms) -> int:
        n = 0
        for g in self.groups:
            if len(g) > 1:
                _, _, inertia = _frame(atoms, g)
                ev = np.linalg.eigvalsh(inertia)
                n += int(np.sum(ev > 1e-6 * max(ev.max(), 1e-300)))
            n += 3 if self.translation else 0
        return n

    def index_shuffle(self, atoms, ind) -> None:
        ind = np.arange(len(atoms))[ind] if not isinstance(ind, np.ndarray) \
            or ind.dtype == bool else np.asarray(ind)
        new_index = {int(old): new for new, old in enumerate(ind)}
        groups, refs = [], []
        for k, g in enumerate(self.groups):
            if all(int(i) in new_index for i in g):
                groups.append(np.array([new_index[int(i)] for i in g], dtype=int))
                if self.reference_positions_A is not None:
                    refs.append(self.reference_positions_A[k])
        if not groups:
            raise IndexError("all constrained groups were removed")
        self.groups = groups
        if self.reference_positions_A is not None:
            self.reference_positions_A = refs

    def todict(self) -> dict[str, Any]:
        refs = self.reference_positions_A
        return {"name": type(self).__name__,
                "kwargs": {"groups": [g.tolist() for g in self.groups],
                           "reference_positions_A": None if refs is None
                           else [r.tolist() for r in refs]}}

    def copy(self):
        return type(self)([g.copy() for g in self.groups], self.reference_positions_A)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.groups)} groups)"


class FixGroupRotationTranslation(FixGroupRotation):
    """RTC: remove each group's rigid rotation and centre-of-mass translation."""

    translation = True


def make_constraint(kind: str, structure, mobile_ion: str = "Na") -> list:
    """ASE constraints for one constraint mode on ``structure`` (the simulated cell).

    Parameters
    ----------
    kind : {"none", "rc", "rtc", "rtvc"}
    structure : pymatgen.core.Structure or ase.Atoms
    mobile_ion : str

    Returns
    -------
    list
        ``[]`` for ``"none"``; otherwise one constraint object.

    Raises
    ------
    ValueError
        Unknown ``kind``.
    MlkitError
        A constrained mode on a structure without polyanions.
    """
    kind = str(kind).lower()
    if kind not in CONSTRAINTS:
        raise MlkitError(f"unknown constraint {kind!r}; choose {', '.join(CONSTRAINTS)}")
    if kind == "none":
        return []
    groups = polyanion_groups(structure, mobile_ion=mobile_ion)
    if not groups:
        formula = getattr(structure, "composition", None)
        name = formula.reduced_formula if formula is not None else "structure"
        raise MlkitError(f"{name}: no polyanions found; constraint {kind!r} needs some")
    if kind in ("rc", "rtc"):
        if hasattr(structure, "cart_coords"):
            cart, cell = structure.cart_coords, structure.lattice.matrix
        else:
            cart, cell = structure.positions, structure.cell.array
        refs = [_unwrap(cart[g], cell) for g in groups]
        cls = FixGroupRotation if kind == "rc" else FixGroupRotationTranslation
        return [cls(groups, reference_positions_A=refs)]
    from ase.constraints import FixAtoms

    return [FixAtoms(indices=np.concatenate(groups))]
