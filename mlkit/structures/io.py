"""Reading structures: CIF, POSCAR/CONTCAR (``*.vasp``), pymatgen JSON and extxyz.

The row id of a structure is its file stem (``Path(path).stem``), e.g.
``mp-28178_POSCAR-unitcell.vasp`` -> ``mp-28178_POSCAR-unitcell``.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import re
import warnings
from collections.abc import Sequence
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from mlkit.errors import StructureError

__all__ = ["STRUCTURE_SUFFIXES", "collect_paths", "read_structure", "structure_id", "file_format"]

#: File suffixes recognised when a directory or glob is expanded.
STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".json", ".extxyz", ".xyz")
#: File-name prefixes recognised as VASP structure files whatever their suffix.
VASP_PREFIXES = ("POSCAR", "CONTCAR")

_GLOB_CHARS = set("*?[")
_MAX_REASON_CHARS = 160


def structure_id(path: str | Path) -> str:
    """Row id of a structure file: its stem (everything before the last suffix).

    ``mp-1_POSCAR-unitcell.vasp`` -> ``mp-1_POSCAR-unitcell``.
    """
    return Path(path).stem


def file_format(path: str | Path) -> str | None:
    """Format name (``"CIF"``, ``"POSCAR"``, ``"JSON"``, ``"extxyz"``) guessed from the file name.

    Returns ``None`` when the name is not recognised.
    """
    p = Path(path)
    name = p.name
    suffix = p.suffix.lower()
    if suffix == ".cif":
        return "CIF"
    if suffix in (".vasp", ".poscar") or name.upper().startswith(VASP_PREFIXES):
        return "POSCAR"
    if suffix == ".json":
        return "JSON"
    if suffix in (".extxyz", ".xyz"):
        return "extxyz"
    return None


def _is_structure_file(path: Path) -> bool:
    return path.is_file() and file_format(path) is not None


def collect_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files, directories and glob patterns into a list of structure files.

    Parameters
    ----------
    paths : sequence of str or Path
        Each entry is a file (kept whatever its name), a directory (its recognised
        structure files, non-recursive, sorted by name) or a glob pattern (``**``
        allowed; only recognised structure files are kept).

    Returns
    -------
    list of Path
        Order of the arguments, duplicates removed.

    Raises
    ------
    FileNotFoundError
        An entry is neither an existing file/directory nor a glob that matches a structure file.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for entry in paths:
        p = Path(entry)
        if p.is_file():
            add(p)
        elif p.is_dir():
            found = sorted((q for q in p.iterdir() if _is_structure_file(q)), key=lambda q: q.name)
            if not found:
                raise FileNotFoundError(f"{p}: directory holds no structure files")
            for q in found:
                add(q)
        elif _GLOB_CHARS & set(str(entry)):
            found = sorted(Path(m) for m in glob.glob(str(entry), recursive=True))
            found = [q for q in found if _is_structure_file(q)]
            if not found:
                raise FileNotFoundError(f"{entry}: pattern matches no structure files")
            for q in found:
                add(q)
        else:
            raise FileNotFoundError(f"{entry}: no such file or directory")
    return out


def _short(exc: BaseException) -> str:
    # every line: pymatgen puts the cause on the second one ("No structure parsed for
    # section 1 in CIF.\nSingular matrix")
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if len(msg) > _MAX_REASON_CHARS:
        msg = msg[: _MAX_REASON_CHARS - 3] + "..."
    return msg


def _check_cif_occupancies(parser: Any) -> None:
    """Refuse negative or non-numeric occupancies (pymatgen silently drops such sites)."""
    for block in parser.as_dict().values():
        occupancies = block.get("_atom_site_occupancy")
        if occupancies is None:
            continue
        occupancies = [occupancies] if isinstance(occupancies, str) else occupancies
        labels = block.get("_atom_site_label") or ["?"] * len(occupancies)
        labels = [labels] if isinstance(labels, str) else labels
        for label, text in zip(labels, occupancies, strict=False):
            if text in ("?", "."):
                continue
            try:
                value = float(re.sub(r"\(\d+\)$", "", text))
            except ValueError:
                raise ValueError(f"site {label}: occupancy {text!r} is not a number") from None
            if not value > 0:
                raise ValueError(f"site {label}: occupancy {value:g} is not positive")


def _read_cif(path: Path) -> Structure:
    from pymatgen.io.cif import CifParser

    parser = CifParser(path, occupancy_tolerance=1.05)
    _check_cif_occupancies(parser)
    structures = parser.parse_structures(primitive=False, on_error="raise")
    if not structures:
        raise ValueError("no structure in file")
    return structures[0]


def site_count_lower_bound(path: str | Path) -> int | None:
    """A cheap lower bound on the sites in a structure file, without parsing it.

    POSCAR: the sum of the counts line; extxyz: the first line; CIF: the rows of the
    ``_atom_site_`` loop (symmetry can only add sites). ``None`` when the format gives no
    cheap count (JSON) or the file does not look like its format: the full parse decides.
    """
    p = Path(path)
    fmt = file_format(p)
    try:
        if fmt == "POSCAR":
            with open(p, encoding="utf-8", errors="replace") as fh:
                lines = [next(fh, "") for _ in range(7)]
            for line in (lines[5], lines[6]):
                parts = line.split()
                if parts and all(x.isdigit() for x in parts):
                    return sum(int(x) for x in parts)
            return None
        if fmt == "extxyz":
            with open(p, encoding="utf-8", errors="replace") as fh:
                first = fh.readline().strip()
            return int(first) if first.isdigit() else None
        if fmt == "CIF":
            return _cif_atom_rows(p)
    except (OSError, StopIteration):
        return None
    return None


def _cif_atom_rows(path: Path) -> int:
    """Rows of the first loop that declares ``_atom_site_fract_x`` (0 if none)."""
    rows, in_loop, is_atoms, header = 0, False, False, False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.lower() == "loop_":
                if is_atoms and rows:
                    return rows
                in_loop, is_atoms, header = True, False, True
                continue
            if in_loop and header and line.startswith("_"):
                is_atoms |= line.lower().startswith("_atom_site_fract_x")
                continue
            header = False
            if in_loop and is_atoms:
                if line.startswith(("_", "data_")):
                    return rows
                rows += 1
            elif line.startswith("_"):
                in_loop = False
    return rows


def _read_poscar(path: Path) -> Structure:
    from pymatgen.io.vasp import Poscar

    # pymatgen allocates the declared sites before reading them: a counts line of 3e8
    # takes ~20 s and ~5 GB before "list index out of range"
    declared = site_count_lower_bound(path)
    if declared is not None:
        with open(path, "rb") as fh:
            n_lines = sum(1 for _ in fh)
        if declared > n_lines:
            raise ValueError(
                f"counts line declares {declared} sites but the file has {n_lines} lines")
    return Poscar.from_file(path, check_for_potcar=False).structure


def _read_json(path: Path) -> Structure:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if isinstance(data, dict) and "structure" in data and "lattice" not in data:
        data = data["structure"]
    if not isinstance(data, dict) or "lattice" not in data or "sites" not in data:
        raise ValueError("not a pymatgen Structure dict (needs 'lattice' and 'sites')")
    return Structure.from_dict(data)


def _read_extxyz(path: Path) -> Structure:
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = read(path, index=0, format="extxyz")
    if not all(atoms.pbc) or atoms.cell.rank < 3:
        raise ValueError("no periodic 3D cell (needs Lattice=... and pbc)")
    return AseAtomsAdaptor.get_structure(atoms)


_READERS = {"CIF": _read_cif, "POSCAR": _read_poscar, "JSON": _read_json, "extxyz": _read_extxyz}


def read_structure(path: str | Path) -> Structure:
    """Read one periodic structure from a file.

    The format comes from the file name: ``*.cif`` (CIF), ``*.vasp``/``POSCAR*``/``CONTCAR*``
    (VASP), ``*.json`` (pymatgen ``Structure.as_dict()``), ``*.extxyz``/``*.xyz`` (extended XYZ
    with a lattice). Files of unknown name are tried as CIF, POSCAR, JSON and extxyz in turn.
    Parser warnings (CIF especially) are silenced; a failure raises one line.

    Parameters
    ----------
    path : str or Path
        Structure file.

    Returns
    -------
    Structure
        The structure as stored (CIF: conventional cell, not reduced to primitive; partial
        occupancies kept).

    Raises
    ------
    StructureError
        ``"<path>: cannot parse as CIF: <short reason>"`` (or POSCAR/JSON/extxyz), or
        ``"<path>: no such file"``.
    """
    p = Path(path)
    if not p.is_file():
        raise StructureError(str(path), "no such file")
    fmt = file_format(p)
    candidates = [fmt] if fmt is not None else list(_READERS)
    reason = ""
    for name in candidates:
        try:
            with warnings.catch_warnings(), redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                logging.disable(logging.WARNING)
                try:
                    structure = _READERS[name](p)
                finally:
                    logging.disable(logging.NOTSET)
        except Exception as exc:  # noqa: BLE001 - any parser failure becomes one line
            reason = f"cannot parse as {name}: {_short(exc)}"
            continue
        if not isinstance(structure, Structure):
            reason = f"cannot parse as {name}: not a periodic structure"
            continue
        return structure
    if fmt is None:
        reason = f"unrecognised file type (tried CIF, POSCAR, JSON, extxyz; last: {reason})"
    raise StructureError(str(path), reason)
