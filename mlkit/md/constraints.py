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

The rotational constraint (RC/RTC, :func:`make_constraint`) is the **Eckart
condition** about each group's reference geometry (the initial structure). With ``m_i``
the masses, ``x_ref_i`` the reference positions relative to their centre of mass and
``x_i`` the current positions relative to the current centre of mass (minimum-image
unwrapped around the group),

    sum_i m_i x_ref_i x x_i = 0.

This is exactly the stationarity condition of the mass-weighted best-fit (Kabsch)
rotation taking ``x_ref`` onto ``x`` at the identity, i.e. "the best-fit orientation is
the reference one", and it is **linear** in the positions (``sum_i m_i x_ref_i = 0``
removes the centre of mass). Its gradient with respect to ``r_i`` is
``m_i (lambda x x_ref_i)``, so with ``I_ref = sum_i m_i (|x_ref_i|^2 1 - x_ref_i x_ref_i^T)``
(pseudo-inverted: linear groups lose only their 2 well-defined rotations):

- momenta: ``L = sum_i x_ref_i x p_i``, ``w = I_ref^+ L``, ``p_i -= m_i w x x_ref_i``;
- forces: ``tau = sum_i x_ref_i x f_i``, ``a = I_ref^+ tau``, ``f_i -= m_i a x x_ref_i``
  (the constraint force along the constraint gradient: Gauss' least constraint);
- step displacements: ``w = I_ref^+ sum_i m_i x_ref_i x d_i``, ``d_i -= w x x_ref_i``.

All three are the same mass-metric orthogonal projector onto the (constant) tangent
space ``{v : sum_i m_i x_ref_i x v_i = 0}``. Because the constraint is linear, SHAKE and
RATTLE reduce to these projections and the projected velocity-Verlet step preserves the
constraint exactly (up to round-off): a velocity Verlet position update is a sum of
tangent vectors. The integrators stay symplectic on the constraint manifold, so NVE
conserves the energy as well as the unconstrained run does (measured,
``experiments/constraint_energy_drift.py``).

Orientation pin (safeguard, on whenever reference positions are given): after each
position update each group is turned rigidly by its best-fit (Kabsch) rotation to the
reference (the internal shape is untouched). With the Eckart projection that turn is
round-off (~3e-13 deg); the largest turn is recorded (``last_pin_angle_deg``,
``max_pin_angle_deg``; the frame writer stores it per frame as ``pin_angle_deg``).

``projection="instantaneous"`` keeps the previous scheme for comparison: momenta and
forces projected with the zero-angular-momentum condition about the *current* ``x_i``
and inertia ``I(x)``, which is not the tangent space of the pinned orientation, and the
rotation removed from a step only by the Kabsch pin, which then is a real correction
(~2e-2 deg per step for NbCl6 at 800 K, 1 fs) that does work on the system (NVE drift
0.4 meV/atom/ps for RC and 15 for RTC, against 0.03 unconstrained). Without
reference positions (``FixGroupRotation(groups)``) the instantaneous first-order
projection is used for displacements too, and the orientation creeps at second order
(measured 1-3 deg per ps for PO4 at 800 K).

The translational part (RTC) removes ``m_i P / M`` from momenta, ``m_i F / M`` from
forces and the mass-weighted mean displacement from each step, which keeps each group's
centre of mass exactly fixed (also linear; its tangent space is mass-metric orthogonal to
the rotational one, so the two projections commute).

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
#: how RC/RTC project momenta, forces and step displacements (FixGroupRotation)
PROJECTIONS = ("eckart", "instantaneous")


# ----------------------------------------------------------------------------- groups
def polyanion_groups(structure, mobile_ion: str = "Na", species=None,
                     **criteria: Any) -> list[np.ndarray]:
    """Atom indices of each rotor (centre(s) + ligands), for the constraints.

    The groups are :func:`mlkit.structures.find_rotors`: the paper's rotors
    (tetrahedral and octahedral polyanions; bonded centres such as P2S6 or B10H10 as one
    group); spectator cations (K, Ca, Ba, ...) are never constrained. ``species`` selects
    rotors by label or centre element (e.g. ``["PS4"]`` in Na11Sn2PS12, as in the
    constraint paper). Rotors sharing atoms (corner-sharing dimers) are merged into one
    rigid group. A group that cannot be unwrapped by the minimum image (it spans the
    cell: an extended framework, or a cell too small for the group) raises.

    Parameters
    ----------
    structure : pymatgen.core.Structure or ase.Atoms
        The simulated (super)cell; indices refer to it.
    mobile_ion : str
        Never a polyanion centre.
    species : sequence of str, optional
        Rotor species to constrain (default: every rotor).
    **criteria
        Passed to :func:`mlkit.structures.find_rotors`.

    Returns
    -------
    list of ndarray of int
        Sorted atom indices per group (each of shape (n_group_atoms,)).
    """
    from pymatgen.core import Structure

    from mlkit.structures import find_rotors

    if not isinstance(structure, Structure):
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    rotors = find_rotors(structure, mobile_ion=mobile_ion, species=species, **criteria)
    # union-find over atoms: rotors sharing a ligand become one group
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in rotors:
        first = r.center_indices[0]
        for j in r.atom_indices:
            parent[root(j)] = root(first)
    groups: dict[int, list[int]] = {}
    for i in list(parent):
        groups.setdefault(root(i), []).append(i)
    out = [np.array(sorted(g), dtype=int) for g in groups.values()]
    out.sort(key=lambda g: int(g[0]))
    # every centre-ligand bond must survive minimum-image unwrapping of its group
    cart = structure.cart_coords
    lattice = structure.lattice.matrix
    where = {int(i): k for k, g in enumerate(out) for i in g}
    unwrapped = [_unwrap(cart[g], lattice) for g in out]
    dist = structure.distance_matrix if len(structure) <= 2000 else None
    for r in rotors:
        k = where[r.center_indices[0]]
        pos = {int(i): x for i, x in zip(out[k], unwrapped[k], strict=True)}
        for lig in r.ligand_indices:
            d_group = min(float(np.linalg.norm(pos[int(lig)] - pos[int(c)]))
                          for c in r.center_indices)
            d_mi = min(float(dist[c, lig]) if dist is not None
                       else structure.get_distance(c, lig) for c in r.center_indices)
            if abs(d_group - d_mi) > 0.05:
                raise MlkitError(
                    f"rotor {r.label} at site {r.center_indices[0]} is not compact "
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


def _unwrap_like(pos_A: np.ndarray, offsets_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Positions of a group made whole like its reference, shape (n, 3).

    ``offsets_A`` are the reference positions relative to the reference's first atom;
    each atom is placed at the image whose offset from the first atom is closest to its
    reference offset. Unlike :func:`_unwrap` this holds for any group whose shape stays
    near the reference (an orientation-pinned one), also when a ligand-ligand distance
    exceeds half the cell width (NbCl6 in the 6.5 A NaNbCl6 cell: trans Cl-Cl 4.8 A),
    where the plain minimum image flips an atom to another image during the run.
    """
    d = pos_A - pos_A[0] - offsets_A
    frac = d @ np.linalg.inv(cell_A)
    frac -= np.round(frac)
    return pos_A[0] + offsets_A + frac @ cell_A


# ----------------------------------------------------------------------------- kinematics
def _inertia(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Inertia tensor (3, 3) of masses ``m`` (n,) at centred positions ``x`` (n, 3)."""
    return np.einsum("i,ij,ij->", m, x, x) * np.eye(3) - np.einsum("i,ij,ik->jk", m, x, x)


def _frame(atoms, group: np.ndarray, positions_A: np.ndarray | None = None):
    """Masses (n,), positions relative to the group COM (n, 3) and inertia tensor (3, 3)."""
    pos = atoms.positions if positions_A is None else positions_A
    m = atoms.get_masses()[group]
    r = _unwrap(np.asarray(pos)[group], atoms.cell.array)
    x = r - (m @ r) / m.sum()
    return m, x, _inertia(m, x)


def _pinv(inertia: np.ndarray) -> np.ndarray:
    if float(np.trace(inertia)) <= 1e-12:  # a single atom: no rotation
        return np.zeros((3, 3))
    return np.linalg.pinv(inertia, rcond=1e-6, hermitian=True)


def _kabsch(x_ref: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Rotation matrix R (3, 3) best mapping centred ``x_ref`` onto ``x`` (``x ~ x_ref R^T``)."""
    u, _, vt = np.linalg.svd((x_ref * m[:, None]).T @ x)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def _align_linear(x_ref: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Best-fit rotation (``x ~ x_ref R^T``) of a linear group, without spin.

    With ``x_ref_i = s_i a`` the fit ``sum_i m_i x_i . R x_ref_i = c . R a`` (``c = sum_i
    m_i s_i x_i``) is best for any ``R`` with ``R a`` along ``c``: Kabsch is degenerate (any
    spin about the axis fits) and an arbitrary spin would move nearly-linear atoms. This
    takes the smallest such turn; it is the identity exactly when the Eckart condition
    holds (``c`` along ``a``).
    """
    a = x_ref[int(np.argmax(np.einsum("ij,ij->i", x_ref, x_ref)))]
    a = a / np.linalg.norm(a)
    c = (m * (x_ref @ a)) @ x
    b = c / np.linalg.norm(c)
    axis, cos = np.cross(a, b), float(a @ b)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + cos)


def rotation_angle_deg(rotation: np.ndarray) -> float:
    """Angle (deg) of a rotation matrix, accurate down to ~1e-14 deg.

    ``atan2(sin, cos)`` from the antisymmetric part and the trace; ``arccos`` of the
    trace alone cannot resolve angles below ~1e-6 deg (``cos`` is 1 to double precision).
    """
    r = np.asarray(rotation, dtype=float)
    axis = 0.5 * np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    return float(np.degrees(np.arctan2(np.linalg.norm(axis), 0.5 * (np.trace(r) - 1.0))))


def _remove_rotation(m, x, inertia_pinv, vec, weighted: bool) -> np.ndarray:
    """Remove the rigid-rotation component of ``vec`` (n, 3) about the positions ``x``.

    ``weighted=True``: ``vec`` is momentum-like (momenta, forces): ``L = sum x x v``,
    correction ``m w x x``. ``weighted=False``: ``vec`` is a displacement:
    ``L = sum m x x d``, correction ``w x x``. ``w = I^+ L`` (``inertia_pinv = I^+``).
    With ``x`` the reference positions (Eckart) this is the mass-metric orthogonal
    projection onto the tangent space of the linear Eckart constraint.
    """
    ang = np.sum(np.cross(x, vec * (1.0 if weighted else m[:, None])), axis=0)
    omega = inertia_pinv @ ang
    corr = np.cross(omega, x)
    return vec - (m[:, None] * corr if weighted else corr)


class FixGroupRotation(FixConstraint):
    """RC: remove each group's rigid rotation (module docstring).

    Parameters
    ----------
    groups : sequence of array-like of int
        Atom indices of each rigid-rotation group (e.g. :func:`polyanion_groups`).
    reference_positions_A : sequence of ndarray, optional
        Reference geometry of each group, shape (n_group_atoms, 3) (unwrapped; any
        origin). When given, momenta, forces and step displacements are projected with
        the Eckart condition about this geometry, and after each position update the
        best-fit orientation is pinned to it (module docstring).
    projection : {"eckart", "instantaneous"}
        ``"eckart"`` (default; needs ``reference_positions_A``, otherwise the
        instantaneous projection is used): the linear Eckart constraint, exactly
        preserved by the projected velocity Verlet step. ``"instantaneous"``: the
        first-order projection about the current positions (the code before the Eckart
        change, kept for the measured comparison in
        ``experiments/constraint_energy_drift.py``); with reference positions the
        rotation is then removed from a step only by the Kabsch pin.

    Attributes
    ----------
    last_pin_angle_deg : float
        Largest turn (over the groups) applied by the orientation pin in the last
        position update.
    max_pin_angle_deg : float
        Largest turn since the last :meth:`pop_max_pin_angle_deg` (or construction).
    """

    translation = False

    def __init__(self, groups, reference_positions_A=None, projection: str = "eckart") -> None:
        self.groups = [np.asarray(g, dtype=int).copy() for g in groups]
        if any(len(g) == 0 for g in self.groups):
            raise ValueError("FixGroupRotation: empty group")
        if projection not in PROJECTIONS:
            raise ValueError(f"unknown projection {projection!r}; choose {', '.join(PROJECTIONS)}")
        self.projection = projection
        self.reference_positions_A = None
        if reference_positions_A is not None:
            refs = [np.asarray(r, dtype=float).reshape(-1, 3).copy()
                    for r in reference_positions_A]
            if [len(r) for r in refs] != [len(g) for g in self.groups]:
                raise ValueError("FixGroupRotation: reference positions do not match the groups")
            self.reference_positions_A = refs
        self.last_pin_angle_deg = 0.0
        self.max_pin_angle_deg = 0.0
        self._ref_cache: list[tuple[np.ndarray, ...]] | None = None

    @property
    def eckart(self) -> bool:
        """True when projections use the Eckart condition about the reference geometry."""
        return self.projection == "eckart" and self.reference_positions_A is not None

    def pop_max_pin_angle_deg(self) -> float:
        """Largest pin turn (deg) since the last call, and reset it to 0."""
        value, self.max_pin_angle_deg = self.max_pin_angle_deg, 0.0
        return value

    # ---- helpers
    def _reference(self, atoms) -> list[tuple[np.ndarray, ...]]:
        """Per group: masses, centred reference positions, pinv of their inertia, and the
        reference positions relative to the group's first atom (for unwrapping).
        """
        masses = atoms.get_masses()
        cache = self._ref_cache
        if cache is not None and all(np.array_equal(c[0], masses[g])
                                     for c, g in zip(cache, self.groups, strict=True)):
            return cache
        cache = []
        for g, ref in zip(self.groups, self.reference_positions_A, strict=True):
            m = masses[g]
            x_ref = ref - (m @ ref) / m.sum()
            cache.append((m, x_ref, _pinv(_inertia(m, x_ref)), ref - ref[0]))
        self._ref_cache = cache
        return cache

    def _frames(self, atoms) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(masses, positions about which rotations are removed, pinv inertia) per group."""
        if self.eckart:
            return [c[:3] for c in self._reference(atoms)]
        if self.reference_positions_A is None:
            out = []
            for g in self.groups:
                m, x, inertia = _frame(atoms, g)
                out.append((m, x, _pinv(inertia)))
            return out
        out = []
        for g, (m, _, _, offsets) in zip(self.groups, self._reference(atoms), strict=True):
            r = _unwrap_like(atoms.positions[g], offsets, atoms.cell.array)
            x = r - (m @ r) / m.sum()
            out.append((m, x, _pinv(_inertia(m, x))))
        return out

    def _project(self, atoms, vec: np.ndarray, weighted: bool, rotation: bool = True) -> None:
        for g, (m, x, inertia_pinv) in zip(self.groups, self._frames(atoms), strict=True):
            v = vec[g]
            if self.translation:
                if weighted:
                    v = v - m[:, None] * (v.sum(axis=0) / m.sum())
                else:
                    v = v - (m @ v) / m.sum()
            vec[g] = _remove_rotation(m, x, inertia_pinv, v, weighted) if rotation else v

    def _pin(self, atoms, new: np.ndarray) -> None:
        """Turn each group of ``new`` rigidly back to its reference orientation (Kabsch)."""
        worst = 0.0
        for g, (m, x_ref, inv_i, offsets) in zip(self.groups, self._reference(atoms),
                                                 strict=True):
            if len(g) < 2:
                continue
            r = _unwrap_like(new[g], offsets, atoms.cell.array)
            x = r - (m @ r) / m.sum()
            linear = np.linalg.matrix_rank(inv_i, hermitian=True) < 3
            rot = _align_linear(x_ref, x, m) if linear else _kabsch(x_ref, x, m)
            worst = max(worst, rotation_angle_deg(rot))
            new[g] += x @ rot - x
        self.last_pin_angle_deg = worst
        self.max_pin_angle_deg = max(self.max_pin_angle_deg, worst)

    # ---- ASE constraint interface
    def adjust_positions(self, atoms, new: np.ndarray) -> None:
        pinned = self.reference_positions_A is not None
        cell = atoms.cell.array
        frac = (new - atoms.positions) @ np.linalg.inv(cell)
        d = (frac - np.round(frac)) @ cell  # step displacements, blind to image changes
        d0 = d.copy()
        # Eckart: the exact (linear) projection; the pin below is then a safeguard that
        # turns by ~1e-12 deg. Instantaneous + pinned (the old scheme): the Kabsch turn
        # replaces the linearised rotation removal.
        self._project(atoms, d, weighted=False, rotation=self.eckart or not pinned)
        new += d - d0
        if pinned:
            self._pin(atoms, new)

    def adjust_momenta(self, atoms, momenta: np.ndarray) -> None:
        self._project(atoms, momenta, weighted=True)

    def adjust_forces(self, atoms, forces: np.ndarray) -> None:
        self._project(atoms, forces, weighted=True)

    def get_removed_dof(self, atoms) -> int:
        n = 0
        for g, (_, _, inertia_pinv) in zip(self.groups, self._frames(atoms), strict=True):
            if len(g) > 1:
                n += int(np.linalg.matrix_rank(inertia_pinv, hermitian=True))
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
        self._ref_cache = None
        if self.reference_positions_A is not None:
            self.reference_positions_A = refs

    def todict(self) -> dict[str, Any]:
        refs = self.reference_positions_A
        return {"name": type(self).__name__,
                "kwargs": {"groups": [g.tolist() for g in self.groups],
                           "reference_positions_A": None if refs is None
                           else [r.tolist() for r in refs],
                           "projection": self.projection}}

    def copy(self):
        return type(self)([g.copy() for g in self.groups], self.reference_positions_A,
                          projection=self.projection)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.groups)} groups, {self.projection})"


class FixGroupRotationTranslation(FixGroupRotation):
    """RTC: remove each group's rigid rotation and centre-of-mass translation."""

    translation = True


def make_constraint(kind: str, structure, mobile_ion: str = "Na",
                    projection: str = "eckart", species=None, **criteria: Any) -> list:
    """ASE constraints for one constraint mode on ``structure`` (the simulated cell).

    Parameters
    ----------
    kind : {"none", "rc", "rtc", "rtvc"}
    structure : pymatgen.core.Structure or ase.Atoms
    mobile_ion : str
    projection : {"eckart", "instantaneous"}
        RC/RTC projection (:class:`FixGroupRotation`); the default is the consistent one.
    species : sequence of str, optional
        Rotor species constrained (:func:`polyanion_groups`); default every rotor.
    **criteria
        Passed to :func:`mlkit.structures.find_rotors` (e.g. ``shapes``).

    Returns
    -------
    list
        ``[]`` for ``"none"``; otherwise one constraint object (RC/RTC: its reference
        geometry is each group as it is in ``structure``).

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
    groups = polyanion_groups(structure, mobile_ion=mobile_ion, species=species, **criteria)
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
        return [cls(groups, reference_positions_A=refs, projection=projection)]
    from ase.constraints import FixAtoms

    return [FixAtoms(indices=np.concatenate(groups))]
