"""Force constants with phonopy: from a registered ML potential or from DFT force sets.

Both paths end in a :class:`PhononModel`: a :class:`phonopy.Phonopy` object with force
constants plus the provenance of how they were made. This is the only module of
:mod:`mlkit.phonons` that builds phonopy objects or calls a calculator.

Potential path
    optional relaxation of atomic positions with the same potential (symmetry kept,
    cell fixed by default), a supercell of at least ``supercell_min_atoms`` atoms,
    phonopy displacements of ``displacement_A``, forces of every displaced supercell
    from the calculator (minus the undisplaced supercell's residual forces), force
    constants from phonopy with the acoustic sum rule imposed. Results are cached per
    (structure, potential and version, settings) as a phonopy yaml file.
DFT path
    a unit cell + phonopy ``FORCE_SETS`` + DIM (+ ``PRIMITIVE_AXIS``), e.g. the layout of
    Togo's phonondb, read straight from its ``.tar.lzma`` archives.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlkit.errors import MlkitError
from mlkit.phonons.settings import PhononSettings
from mlkit.phonons.supercell import choose_supercell_matrix
from mlkit.utils import atomic_write_text, one_line

if TYPE_CHECKING:
    from phonopy import Phonopy
    from pymatgen.core import Structure

__all__ = [
    "PhononModel",
    "force_constants_from_force_sets",
    "force_constants_from_potential",
    "read_phonondb_archive",
    "relax_positions",
]

#: bump when the cached force-constant format or the way it is made changes
CACHE_SCHEMA = 1


@dataclass
class PhononModel:
    """Force constants ready for descriptors.

    Attributes
    ----------
    phonon : phonopy.Phonopy
        With ``force_constants`` set (and the displacement dataset).
    provenance : dict
        ``source`` ("dft" or "potential"), ``potential``, ``potential_version``,
        ``supercell_matrix``, ``n_supercell_atoms``, ``n_displacements``,
        ``displacement_A``, relaxation record, timings.
    structure : pymatgen Structure
        The unit cell the force constants belong to (relaxed when relaxation ran).
    """

    phonon: Phonopy
    provenance: dict[str, Any] = field(default_factory=dict)
    structure: Structure | None = None


# ---------------------------------------------------------------- conversions
def _to_phonopy_atoms(structure: Structure):
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(
        symbols=[site.specie.symbol for site in structure],
        cell=np.asarray(structure.lattice.matrix),
        scaled_positions=np.asarray(structure.frac_coords),
    )


def _to_ase(cell) -> Any:
    from ase import Atoms

    return Atoms(symbols=cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions,
                 pbc=True)


def _from_phonopy_atoms(cell) -> Structure:
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice(cell.cell), cell.symbols, cell.scaled_positions)


def _check_ordered(structure: Structure, source: str) -> None:
    if not structure.is_ordered:
        raise MlkitError(f"{source}: phonons need an ordered structure (partial occupancies found)")


def _new_phonopy(unitcell: Any, supercell_matrix: Any, primitive_matrix: Any,
                 symprec: float) -> Phonopy:
    """A Phonopy object; "auto" primitive matrices are our deliberate choice, so phonopy's
    warning about its changed default (v4) is silenced here.
    """
    import warnings

    from phonopy import Phonopy

    with warnings.catch_warnings():
        try:
            from phonopy.structure.cells import PrimitiveMatrixAutoDefaultWarning

            warnings.simplefilter("ignore", PrimitiveMatrixAutoDefaultWarning)
        except ImportError:  # older phonopy: no such warning
            pass
        return Phonopy(unitcell, supercell_matrix=supercell_matrix,
                       primitive_matrix=primitive_matrix, symprec=symprec, log_level=0)


# ---------------------------------------------------------------- potential path
def relax_positions(
    structure: Structure, calculator: Any, settings: PhononSettings
) -> tuple[Structure, dict[str, Any]]:
    """Relax atomic positions (and the cell if ``settings.relax_cell``) keeping symmetry.

    Returns
    -------
    relaxed : Structure
    record : dict
        ``relax_steps_taken``, ``relax_fmax_eV_A`` (final), ``relax_converged``,
        ``relax_max_shift_A`` (largest atomic move), ``relax_s``.
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS
    from pymatgen.io.ase import AseAtomsAdaptor

    t0 = time.perf_counter()
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    atoms.set_constraint(FixSymmetry(atoms, symprec=1e-3))
    start = atoms.get_positions().copy()
    target = FrechetCellFilter(atoms) if settings.relax_cell else atoms
    opt = BFGS(target, logfile=None, maxstep=0.1)
    converged = bool(opt.run(fmax=settings.relax_fmax_eV_A, steps=settings.relax_steps))
    fmax = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
    atoms.set_constraint()
    shift = atoms.get_positions() - start
    if not settings.relax_cell:
        # minimum-image shift in the fixed cell
        frac = np.linalg.solve(atoms.cell.array.T, shift.T).T
        shift = (frac - np.round(frac)) @ atoms.cell.array
    relaxed = AseAtomsAdaptor.get_structure(atoms)
    record = {
        "relax_steps_taken": int(opt.nsteps),
        "relax_fmax_eV_A": fmax,
        "relax_converged": converged,
        "relax_max_shift_A": float(np.linalg.norm(shift, axis=1).max()),
        "relax_s": time.perf_counter() - t0,
    }
    return relaxed, record


def _structure_key(structure: Structure) -> str:
    data = {
        "lattice": np.round(structure.lattice.matrix, 8).tolist(),
        "species": [s.specie.symbol for s in structure],
        "frac": np.round(structure.frac_coords, 8).tolist(),
    }
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def _cache_path(cache_dir: Path, structure: Structure, provenance: dict[str, Any],
                settings: PhononSettings) -> Path:
    payload = {
        "schema": CACHE_SCHEMA,
        "structure": _structure_key(structure),
        "potential": [provenance.get(k, "") for k in ("potential", "potential_version",
                                                       "model_path", "dtype")],
        "settings": settings.force_constant_fields(),
    }
    key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return Path(cache_dir) / key[:2] / f"{key}.json"


def _supercell_matrix(structure: Structure, settings: PhononSettings) -> np.ndarray:
    if settings.supercell_matrix is not None:
        m = np.asarray(settings.supercell_matrix, dtype=int)
        return np.diag(m) if m.size == 3 else m.reshape(3, 3)
    return choose_supercell_matrix(structure.lattice.matrix, len(structure),
                                   settings.supercell_min_atoms)


def force_constants_from_potential(
    structure: Structure,
    calculator: Any,
    settings: PhononSettings | None = None,
    cache_dir: str | Path | None = None,
    source: str = "structure",
) -> PhononModel:
    """Finite-displacement force constants from an ASE calculator (a registered potential).

    Parameters
    ----------
    structure : Structure
        Ordered unit cell.
    calculator : ase Calculator
        From :func:`mlkit.potentials.get_calculator` (its ``mlkit_provenance`` is recorded).
    settings : PhononSettings
    cache_dir : path, optional
        Reuse / store the force sets here (keyed by structure, potential, version, settings).
    source : str
        Name for error messages (file path or id).
    """
    settings = settings or PhononSettings()
    _check_ordered(structure, source)
    prov_calc = dict(getattr(calculator, "mlkit_provenance", {}))
    provenance: dict[str, Any] = {
        "source": "potential",
        "potential": prov_calc.get("potential", type(calculator).__name__),
        "potential_version": prov_calc.get("potential_version", ""),
        "model_path": prov_calc.get("model_path", ""),
        "dtype": prov_calc.get("dtype", ""),
        "device": prov_calc.get("device", ""),
        "displacement_A": settings.displacement_A,
        "relax": settings.relax,
        "relax_cell": settings.relax_cell,
        "subtract_residual_forces": settings.subtract_residual_forces,
    }
    cache_file = None
    if cache_dir is not None:
        cache_file = _cache_path(Path(cache_dir), structure, provenance, settings)
        if cache_file.exists():
            try:
                phonon, cached_prov, relaxed = _load(cache_file, settings)
                cached_prov["cached"] = True
                return PhononModel(phonon, cached_prov, relaxed)
            except (OSError, ValueError, KeyError):
                pass  # a corrupt or foreign cache entry is recomputed

    t0 = time.perf_counter()
    if settings.relax:
        structure, record = relax_positions(structure, calculator, settings)
        provenance.update(record)
    smat = _supercell_matrix(structure, settings)
    phonon = _new_phonopy(_to_phonopy_atoms(structure), smat, "auto", settings.symprec)
    phonon.generate_displacements(distance=settings.displacement_A)
    supercells = phonon.supercells_with_displacements
    t1 = time.perf_counter()
    residual = np.zeros((len(phonon.supercell), 3))
    if settings.subtract_residual_forces:
        atoms = _to_ase(phonon.supercell)
        atoms.calc = calculator
        residual = np.asarray(atoms.get_forces(), dtype=float)
    forces = []
    for cell in supercells:
        atoms = _to_ase(cell)
        atoms.calc = calculator
        f = np.asarray(atoms.get_forces(), dtype=float)
        if not np.isfinite(f).all():
            raise MlkitError(f"{source}: potential returned non-finite forces")
        forces.append(f - residual)
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    if settings.symmetrize_fc:
        phonon.symmetrize_force_constants()
    provenance.update(
        supercell_matrix=smat.tolist(),
        n_supercell_atoms=len(phonon.supercell),
        n_displacements=len(supercells),
        residual_force_max_eV_A=float(np.linalg.norm(residual, axis=1).max()),
        forces_s=time.perf_counter() - t1,
        force_constants_s=time.perf_counter() - t0,
        cached=False,
    )
    if cache_file is not None:
        _store(phonon, provenance, cache_file)
    return PhononModel(phonon, provenance, structure)


def _store(phonon: Phonopy, provenance: dict[str, Any], cache_file: Path) -> None:
    """Unit cell, supercell and primitive matrices and the full-precision force sets (JSON)."""
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    unit = phonon.unitcell
    first = phonon.dataset["first_atoms"]
    data = {
        "schema": CACHE_SCHEMA,
        "symbols": list(unit.symbols),
        "lattice": np.asarray(unit.cell).tolist(),
        "frac": np.asarray(unit.scaled_positions).tolist(),
        "supercell_matrix": np.asarray(phonon.supercell_matrix).tolist(),
        "primitive_matrix": np.asarray(phonon.primitive_matrix).tolist(),
        "symprec": phonon.symmetry.tolerance,
        "first_atoms": [{"number": int(d["number"]),
                         "displacement": np.asarray(d["displacement"]).tolist(),
                         "forces": np.asarray(d["forces"]).tolist()} for d in first],
        "provenance": provenance,
    }
    # json writes floats with repr precision: reloading gives bit-identical force constants
    atomic_write_text(cache_file, json.dumps(data, default=str))


def _load(cache_file: Path, settings: PhononSettings) -> tuple[Phonopy, dict[str, Any], Any]:
    from phonopy.structure.atoms import PhonopyAtoms

    data = json.loads(cache_file.read_text())
    if data.get("schema") != CACHE_SCHEMA:
        raise ValueError("cache schema")
    unit = PhonopyAtoms(symbols=data["symbols"], cell=data["lattice"],
                        scaled_positions=data["frac"])
    phonon = _new_phonopy(unit, data["supercell_matrix"], data["primitive_matrix"],
                          data["symprec"])
    phonon.dataset = {"natom": len(phonon.supercell), "first_atoms": [
        {"number": d["number"], "displacement": np.array(d["displacement"]),
         "forces": np.array(d["forces"])} for d in data["first_atoms"]]}
    phonon.produce_force_constants()
    if settings.symmetrize_fc:
        phonon.symmetrize_force_constants()
    return phonon, data["provenance"], _from_phonopy_atoms(unit)


# ---------------------------------------------------------------- DFT path
def force_constants_from_force_sets(
    unitcell: Structure,
    force_sets: str | Path,
    supercell_matrix: np.ndarray | list[int],
    primitive_matrix: Any = "auto",
    symmetrize_fc: bool = True,
    source: str = "force sets",
    symprec: float = 1e-5,
) -> PhononModel:
    """Force constants from a phonopy ``FORCE_SETS`` (text or path) and its unit cell.

    Parameters
    ----------
    unitcell : Structure
        The unit cell the displacements refer to (``POSCAR-unitcell``).
    force_sets : str or Path
        Path of a ``FORCE_SETS`` file, or its text.
    supercell_matrix : array_like
        DIM: 3 diagonal integers or 9 integers.
    primitive_matrix : "auto", array_like or None
        Phonopy's ``PRIMITIVE_AXIS``.
    """
    from phonopy.file_IO import parse_FORCE_SETS, parse_FORCE_SETS_from_strings

    _check_ordered(unitcell, source)
    t0 = time.perf_counter()
    m = np.asarray(supercell_matrix, dtype=int)
    smat = np.diag(m) if m.size == 3 else m.reshape(3, 3)
    phonon = _new_phonopy(_to_phonopy_atoms(unitcell), smat, primitive_matrix, symprec)
    natom = len(phonon.supercell)
    try:
        if isinstance(force_sets, Path) or (isinstance(force_sets, str) and "\n" not in force_sets):
            dataset = parse_FORCE_SETS(force_sets, natom=natom)
        else:
            dataset = parse_FORCE_SETS_from_strings(force_sets, natom=natom)
    except Exception as exc:  # noqa: BLE001 - phonopy raises many types on bad files
        raise MlkitError(f"{source}: unreadable FORCE_SETS ({one_line(exc)})") from exc
    phonon.dataset = dataset
    phonon.produce_force_constants()
    if symmetrize_fc:
        phonon.symmetrize_force_constants()
    first = dataset["first_atoms"] if "first_atoms" in dataset else []
    disp = [np.linalg.norm(d["displacement"]) for d in first]
    provenance = {
        "source": "dft",
        "potential": "",
        "potential_version": "",
        "supercell_matrix": smat.tolist(),
        "n_supercell_atoms": natom,
        "n_displacements": len(first),
        "displacement_A": float(np.mean(disp)) if disp else float("nan"),
        "relax": False,
        "force_constants_s": time.perf_counter() - t0,
        "cached": False,
    }
    return PhononModel(phonon, provenance, unitcell)


def _parse_conf(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip().upper()] = value.strip()
    return out


def read_phonondb_archive(path: str | Path) -> dict[str, Any]:
    """Unit cell, FORCE_SETS text, DIM and PRIMITIVE_AXIS from a phonondb archive.

    Reads ``.tar.lzma`` (legacy LZMA "alone" format), ``.tar.xz``, ``.tar.gz`` or a plain
    directory in place, without unpacking to disk.

    Returns
    -------
    dict
        ``unitcell`` (Structure), ``force_sets`` (str), ``supercell_matrix`` (list of int),
        ``primitive_matrix`` ("auto", None or 3x3 list), ``has_born`` (bool), ``source``.
    """
    from pymatgen.io.vasp import Poscar

    path = Path(path)
    wanted = {"POSCAR-unitcell", "FORCE_SETS", "phonopy.conf", "BORN"}
    files: dict[str, str] = {}
    try:
        if path.is_dir():
            for name in wanted:
                hits = list(path.rglob(name))
                if hits:
                    files[name] = hits[0].read_text()
        else:
            raw = path.read_bytes()
            if path.name.endswith((".lzma", ".xz")):
                raw = lzma.decompress(raw, format=lzma.FORMAT_AUTO)
            with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as tar:
                for member in tar.getmembers():
                    name = Path(member.name).name
                    if member.isfile() and name in wanted:
                        handle = tar.extractfile(member)
                        if handle is not None:
                            files[name] = handle.read().decode()
    except (OSError, lzma.LZMAError, tarfile.TarError, UnicodeDecodeError) as exc:
        raise MlkitError(f"{path}: unreadable phonon archive ({one_line(exc)})") from exc
    missing = {"POSCAR-unitcell", "FORCE_SETS", "phonopy.conf"} - set(files)
    if missing:
        raise MlkitError(f"{path}: phonon archive lacks {sorted(missing)}")
    conf = _parse_conf(files["phonopy.conf"])
    if "DIM" not in conf:
        raise MlkitError(f"{path}: phonopy.conf has no DIM")
    dim = [int(x) for x in conf["DIM"].split()]
    prim: Any = "auto"
    if "PRIMITIVE_AXIS" in conf or "PRIMITIVE_AXES" in conf:
        text = conf.get("PRIMITIVE_AXIS", conf.get("PRIMITIVE_AXES", "auto"))
        if text.lower() == "auto":
            prim = "auto"
        else:
            from fractions import Fraction

            prim = np.array([float(Fraction(x)) for x in text.split()]).reshape(3, 3).tolist()
    unitcell = Poscar.from_str(files["POSCAR-unitcell"]).structure
    return {
        "unitcell": unitcell,
        "force_sets": files["FORCE_SETS"],
        "supercell_matrix": dim,
        "primitive_matrix": prim,
        "has_born": "BORN" in files,
        "source": str(path),
    }
