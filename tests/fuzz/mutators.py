"""Seeded mutators of structure files and label CSVs, and the property checks (issue 12).

Shared by the CI subset (``tests/fuzz/test_fuzz_*.py``) and the long run
(``experiments/fuzz_long.py``); importable as ``fuzz.mutators`` (``tests`` is on the path).

A *case* is one mutated file: a real seed file (CIF or POSCAR; a label CSV) and one to three
named mutations, fully determined by ``(seed, index)`` so that a failing case can be rebuilt
from its id alone. The *checks* run mlkit on the case and return one outcome:

* structures -- ``read_structure``: ``parsed`` or ``refused`` (:class:`StructureError`, one
  line, naming the file); then ``validate_structure``: ``valid`` or ``refused``; then
  ``featurize_paths`` of the one file: one row with ``ok`` or ``error_row`` (one line, no
  foreign exception type in it). Anything else is ``crash``; a case over the time limit is
  ``hang``.
* labels -- ``load_labels``: ``loaded`` or ``refused`` (:class:`MlkitError`, one line,
  naming the file); anything else ``crash``, over the limit ``hang``.
"""

from __future__ import annotations

import codecs
import csv
import io
import random
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "datasets" / "demo"

#: per-case wall-time limit (s): a case over it is a hang
CASE_TIME_LIMIT_S = 20.0

# ---------------------------------------------------------------------------------------
# seeds


@dataclass(frozen=True)
class Seed:
    """A real input file to mutate.

    Parameters
    ----------
    name : str
        Short name (file stem).
    fmt : {"CIF", "POSCAR", "CSV"}
    data : bytes
        The file's bytes.
    mobile_ion : str
        Mobile ion to featurize with (``"Li"`` for OBELiX, else ``"Na"``).
    origin : str
        Where the file comes from (``demo``, ``phonondb``, ``OBELiX``).
    """

    name: str
    fmt: str
    data: bytes
    mobile_ion: str = "Na"
    origin: str = "demo"


def structure_seeds(phonondb: Path | None = None, obelix: Path | None = None,
                    max_per_source: int | None = None) -> list[Seed]:
    """Real seed structures: the demo CIFs, POSCARs written from them, and shared files.

    Parameters
    ----------
    phonondb, obelix : Path, optional
        Directories of ``phonondb_na`` POSCARs (``*.vasp``) and OBELiX CIFs to add.
    max_per_source : int, optional
        At most this many files per source (the first ones by name, so the set is fixed).
    """
    from pymatgen.core import Structure

    seeds: list[Seed] = []
    demo = sorted((DEMO / "structures").glob("*.cif"))[:max_per_source]
    for p in demo:
        seeds.append(Seed(p.stem, "CIF", p.read_bytes()))
    # the bundled data holds no POSCAR: the demo structures written as VASP 5 POSCARs
    for p in demo[::2]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen's "coordinates rounded" notice
            text = Structure.from_file(p).to(fmt="poscar")
        seeds.append(Seed(p.stem + "_POSCAR", "POSCAR", text.encode(), origin="demo-poscar"))
    for src, glob, fmt, ion, origin in ((phonondb, "*.vasp", "POSCAR", "Na", "phonondb"),
                                        (obelix, "*.cif", "CIF", "Li", "OBELiX")):
        for p in sorted(Path(src).glob(glob))[:max_per_source] if src is not None else []:
            seeds.append(Seed(p.stem, fmt, p.read_bytes(), ion, origin))
    return seeds


def label_seeds(obelix: Path | None = None) -> list[Seed]:
    """Real label CSVs: the demo labels, and OBELiX's ``train.csv`` when given."""
    seeds = [Seed("demo_labels", "CSV", (DEMO / "labels.csv").read_bytes())]
    if obelix is not None:
        seeds.append(Seed("obelix_train", "CSV", Path(obelix).read_bytes(), "Li", "OBELiX"))
    return seeds


# ---------------------------------------------------------------------------------------
# structure mutators: (rng, text or bytes, fmt) -> text or bytes

_NUM_RE = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:\(\d+\))?(?![\w.])")
ABSURD_NUMBERS = ("1e300", "-1e300", "-0", "-0.0", "0", "1e-300", "4.9e-324", "1e308",
                  "123456789012345678901234567890", "-5", "999999999")
NON_FINITE = ("nan", "NaN", "inf", "-inf", "Infinity", "-Infinity")
UNKNOWN_ELEMENTS = ("Xx", "Zz", "Q", "X", "D", "T", "Og", "Uue", "Na+", "na", "NA", "123", "?",
                    "Na1", "Cl-")
CIF_CELL_KEYS = ("_cell_length_a", "_cell_length_b", "_cell_length_c")
CIF_ANGLE_KEYS = ("_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma")


def _numbers(text: str) -> list[re.Match[str]]:
    return list(_NUM_RE.finditer(text))


def _replace_span(text: str, m: re.Match[str], new: str) -> str:
    return text[: m.start()] + new + text[m.end():]


def _replace_numbers(rng: random.Random, text: str, choices: tuple[str, ...]) -> str:
    nums = _numbers(text)
    if not nums:
        return text + "\n" + rng.choice(choices) + "\n"
    for m in sorted(rng.sample(nums, k=min(len(nums), rng.choice((1, 1, 2, 3)))),
                    key=lambda m: -m.start()):
        text = _replace_span(text, m, rng.choice(choices))
    return text


def absurd_number(rng: random.Random, text: str, fmt: str) -> str:
    """Replace one to three numbers anywhere with 1e300, -0, 1e-300, 30 digits, ..."""
    return _replace_numbers(rng, text, ABSURD_NUMBERS)


def nan_inf(rng: random.Random, text: str, fmt: str) -> str:
    """Replace one to three numbers with nan / inf spellings."""
    return _replace_numbers(rng, text, NON_FINITE)


def _atom_lines(lines: list[str], fmt: str) -> list[int]:
    """Indices of atom rows (CIF ``_atom_site_`` loop rows; POSCAR coordinate lines)."""
    if fmt == "POSCAR":
        start = _poscar_coord_start(lines)
        if start is None:
            return []
        return [i for i in range(start, len(lines)) if len(lines[i].split()) >= 3]
    out, in_atoms, header = [], False, False
    for i, line in enumerate(lines):
        s = line.strip()
        if s.lower() == "loop_":
            in_atoms, header = False, True
            continue
        if header and s.startswith("_"):
            in_atoms |= s.lower().startswith("_atom_site_fract")
            continue
        header = False
        if in_atoms and s and not s.startswith(("_", "#", "loop_", "data_")):
            out.append(i)
        elif s.startswith(("_", "data_")):
            in_atoms = False
    return out


def _poscar_coord_start(lines: list[str]) -> int | None:
    """Index of the first coordinate line (after ``Direct``/``Cartesian``), if any."""
    for i in range(6, min(len(lines), 12)):
        if lines[i].strip()[:1].lower() in ("d", "c", "k"):
            return i + 1
    return None


def swap_columns(rng: random.Random, text: str, fmt: str) -> str:
    """Swap two whitespace-separated columns in some or all atom rows (or lattice rows)."""
    lines = text.split("\n")
    rows = _atom_lines(lines, fmt) or [i for i, s in enumerate(lines) if len(s.split()) >= 3]
    if not rows:
        return text
    width = min(len(lines[i].split()) for i in rows)
    if width < 2:
        return text
    a, b = rng.sample(range(width), 2)
    chosen = rows if rng.random() < 0.5 else rng.sample(rows, k=max(1, len(rows) // 3))
    if fmt == "POSCAR" and rng.random() < 0.3:
        chosen = [i for i in range(2, 5) if i < len(lines) and len(lines[i].split()) >= 3]
    for i in chosen:
        parts = lines[i].split()
        if len(parts) > max(a, b):
            parts[a], parts[b] = parts[b], parts[a]
            lines[i] = "  " + "  ".join(parts)
    return "\n".join(lines)


def huge_cell(rng: random.Random, text: str, fmt: str) -> str:
    """Multiply cell lengths (CIF) or the scale factor / a lattice row (POSCAR) by 1e3..1e300."""
    factor = rng.choice(("1e3", "1e6", "1e12", "1e30", "1e300"))
    lines = text.split("\n")
    if fmt == "POSCAR":
        if len(lines) > 4 and rng.random() < 0.5:
            lines[1] = f"  {factor}"
        elif len(lines) > 4:
            i = rng.randrange(2, 5)
            lines[i] = "  ".join(f"{float(x) * float(factor):.17g}" if _is_float(x) else x
                                 for x in lines[i].split())
        return "\n".join(lines)
    keys = rng.sample(CIF_CELL_KEYS, k=rng.choice((1, 3)))
    for i, line in enumerate(lines):
        parts = line.split()
        if parts and parts[0] in keys and len(parts) > 1 and _is_float(parts[1]):
            lines[i] = f"{parts[0]}   {float(parts[1]) * float(factor):.17g}"
    return "\n".join(lines)


def zero_cell(rng: random.Random, text: str, fmt: str) -> str:
    """A zero (or flat) cell: a length 0, an angle 0 or 180, a zero scale or lattice row."""
    lines = text.split("\n")
    if fmt == "POSCAR":
        if len(lines) <= 4:
            return text
        what = rng.choice(("scale0", "scale-0", "row", "coplanar"))
        if what == "scale0":
            lines[1] = "  0.0"
        elif what == "scale-0":
            lines[1] = "  -0"
        elif what == "row":
            lines[rng.randrange(2, 5)] = "  0.0  0.0  0.0"
        else:
            lines[4] = lines[3]
        return "\n".join(lines)
    if rng.random() < 0.6:
        key, value = rng.choice(CIF_CELL_KEYS), rng.choice(("0", "0.0", "-0", "1e-12", "-5.0"))
    else:
        key, value = rng.choice(CIF_ANGLE_KEYS), rng.choice(("0", "180", "360", "-90", "1e-9"))
    for i, line in enumerate(lines):
        parts = line.split()
        if parts and parts[0] == key:
            lines[i] = f"{key}   {value}"
    return "\n".join(lines)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def unknown_element(rng: random.Random, text: str, fmt: str) -> str:
    """Replace an element symbol (one site or a whole species) with Xx, Q, D, Og, Na+, ..."""
    new = rng.choice(UNKNOWN_ELEMENTS)
    lines = text.split("\n")
    if fmt == "POSCAR":
        for i in (0, 5):
            if i < len(lines):
                parts = lines[i].split()
                if parts and all(p.isalpha() for p in parts):
                    parts[rng.randrange(len(parts))] = new
                    lines[i] = " " + " ".join(parts)
        return "\n".join(lines)
    rows = _atom_lines(lines, fmt)
    if not rows:
        return text
    chosen = [rng.choice(rows)] if rng.random() < 0.5 else rows
    old = lines[chosen[0]].split()[0]
    for i in chosen:
        parts = lines[i].split()
        if parts and parts[0] == old:
            parts[0] = new
            lines[i] = "  " + "  ".join(parts)
    return "\n".join(lines)


def duplicate_sites(rng: random.Random, text: str, fmt: str) -> str:
    """Repeat atom rows (a few, or all of them up to ~3x; POSCAR counts updated or not)."""
    lines = text.split("\n")
    rows = _atom_lines(lines, fmt)
    if not rows:
        return text
    copies = rng.choice((1, 1, 2, 3))
    chosen = rng.sample(rows, k=min(len(rows), rng.choice((1, 2, len(rows)))))
    extra = [lines[i] for i in chosen for _ in range(copies)]
    at = rows[-1] + 1
    lines[at:at] = extra
    if fmt == "POSCAR" and rng.random() < 0.5 and len(lines) > 6:
        for i in (5, 6):
            parts = lines[i].split()
            if parts and all(p.isdigit() for p in parts):
                parts[-1] = str(int(parts[-1]) + len(extra))
                lines[i] = "  " + "  ".join(parts)
                break
    return "\n".join(lines)


def many_sites(rng: random.Random, text: str, fmt: str) -> str:
    """Claim or hold more sites than ``max_sites``: a huge POSCAR count, or ~2,100 atom rows."""
    lines = text.split("\n")
    if fmt == "POSCAR":
        for i in (5, 6):
            if i < len(lines):
                parts = lines[i].split()
                if parts and all(p.isdigit() for p in parts):
                    parts[0] = rng.choice(("2001", "99999", "300000000", "999999999999",
                                           "100000000000000000000"))
                    lines[i] = "  " + "  ".join(parts)
                    break
        return "\n".join(lines)
    rows = _atom_lines(lines, fmt)
    if not rows:
        return text
    extra = []
    for k in range(2100):
        parts = lines[rows[k % len(rows)]].split()
        if len(parts) >= 2:
            parts[1] = f"X{k}"
        extra.append("  " + "  ".join(parts))
    at = rows[-1] + 1
    lines[at:at] = extra
    return "\n".join(lines)


def delete_lines(rng: random.Random, text: str, fmt: str) -> str:
    """Delete one to five random lines (a header line, a lattice row, an atom row, ...)."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 5)):
        if len(lines) > 1:
            del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


def line_endings(rng: random.Random, text: str, fmt: str) -> str:
    """Windows (CRLF) or old Mac (CR) line endings."""
    return text.replace("\n", rng.choice(("\r\n", "\r")))


# byte-level mutators: (rng, bytes, fmt) -> bytes


def truncate(rng: random.Random, data: bytes, fmt: str) -> bytes:
    """Cut the file at a random byte (possibly 0 or mid-number)."""
    return data[: rng.randint(0, max(0, len(data) - 1))]


def byte_flip(rng: random.Random, data: bytes, fmt: str) -> bytes:
    """XOR one to sixteen random bytes with a random non-zero value."""
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        out[rng.randrange(len(out))] ^= rng.randint(1, 255)
    return bytes(out)


def wrong_encoding(rng: random.Random, data: bytes, fmt: str) -> bytes:
    """UTF-16 (with or without BOM), UTF-32, UTF-8 BOM, or latin-1 bytes in a comment."""
    text = data.decode("utf-8", errors="replace")
    what = rng.choice(("utf-16", "utf-16-le", "utf-32", "bom", "latin-1", "latin-1-title"))
    if what == "bom":
        return codecs.BOM_UTF8 + data
    if what == "latin-1":
        return ("# r\u00e9sum\u00e9 \u00c5ngstr\u00f6m \u00b1 0.1\n" + text).encode("latin-1",
                                                                                    "replace")
    if what == "latin-1-title":
        first, _, rest = text.partition("\n")
        return (first + " \u00e9\u00e8\u00b5\n" + rest).encode("latin-1", "replace")
    return text.encode(what)


def empty(rng: random.Random, data: bytes, fmt: str) -> bytes:
    """An empty file, or whitespace only."""
    return rng.choice((b"", b"\n", b"   \n\n\t\n", b"\x00"))


def garbage(rng: random.Random, data: bytes, fmt: str) -> bytes:
    """Random bytes (1 B to 8 kB), sometimes behind the file's own first line."""
    junk = rng.randbytes(rng.choice((1, 16, 512, 8192)))
    if rng.random() < 0.3:
        return data.split(b"\n", 1)[0] + b"\n" + junk
    return junk


TEXT_MUTATORS: dict[str, Callable[[random.Random, str, str], str]] = {
    "swap_columns": swap_columns,
    "absurd_number": absurd_number,
    "nan_inf": nan_inf,
    "huge_cell": huge_cell,
    "zero_cell": zero_cell,
    "unknown_element": unknown_element,
    "duplicate_sites": duplicate_sites,
    "many_sites": many_sites,
    "delete_lines": delete_lines,
    "line_endings": line_endings,
}
BYTE_MUTATORS: dict[str, Callable[[random.Random, bytes, str], bytes]] = {
    "truncate": truncate,
    "byte_flip": byte_flip,
    "wrong_encoding": wrong_encoding,
    "empty": empty,
    "garbage": garbage,
}
#: every structure mutation, in report order; ``wrong_suffix`` renames the file
STRUCTURE_MUTATIONS = (*TEXT_MUTATORS, *BYTE_MUTATORS, "wrong_suffix")
#: rare in the draw: a 2,100-row CIF takes seconds to parse
_RARE = {"many_sites": 0.25, "empty": 0.5, "wrong_suffix": 0.5}


@dataclass(frozen=True)
class Case:
    """One mutated file.

    Attributes
    ----------
    case_id : str
        ``s<seed>-<index>`` (structures) or ``l<seed>-<index>`` (labels).
    seed : Seed
        The file it was made from.
    mutations : tuple of str
        Mutation names in the order applied.
    data : bytes
        The mutated bytes.
    suffix : str
        File suffix to write it with (``.cif``, ``.vasp``, ``.csv``, or a wrong one).
    policy : dict
        Label cases: :class:`~mlkit.models.dataset.LabelPolicy` keywords.
    """

    case_id: str
    seed: Seed
    mutations: tuple[str, ...]
    data: bytes
    suffix: str
    policy: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """Report bucket: the mutation, or ``combo`` for several."""
        return self.mutations[0] if len(self.mutations) == 1 else "combo"

    @property
    def file_name(self) -> str:
        """A unique name: ``<case_id>_<kind>_<seed name><suffix>``."""
        return f"{self.case_id}_{self.kind}_{self.seed.name[:40]}{self.suffix}"

    def write(self, directory: Path) -> Path:
        """Write the case into ``directory``; returns the path."""
        path = Path(directory) / self.file_name
        path.write_bytes(self.data)
        return path


def _draw(rng: random.Random, names: Iterable[str]) -> str:
    names = list(names)
    while True:
        name = rng.choice(names)
        if rng.random() < _RARE.get(name, 1.0):
            return name


def structure_case(seeds: list[Seed], run_seed: int, index: int) -> Case:
    """The structure case ``index`` of the seeded run ``run_seed`` (deterministic)."""
    rng = random.Random(f"structure:{run_seed}:{index}")
    seed = rng.choice(seeds)
    n = 1 if rng.random() < 0.75 else rng.choice((2, 3))
    text_names = [_draw(rng, TEXT_MUTATORS) for _ in range(n)]
    byte_name = None
    if n == 1 and rng.random() < 0.45:
        text_names, byte_name = [], _draw(rng, (*BYTE_MUTATORS, "wrong_suffix"))
    elif n > 1 and rng.random() < 0.3:
        text_names[-1:], byte_name = [], _draw(rng, ("truncate", "byte_flip", "wrong_encoding"))
    text = seed.data.decode("utf-8", errors="surrogateescape")
    for name in text_names:
        text = TEXT_MUTATORS[name](rng, text, seed.fmt)
    data = text.encode("utf-8", errors="surrogateescape")
    suffix = ".cif" if seed.fmt == "CIF" else ".vasp"
    if byte_name == "wrong_suffix":
        suffix = rng.choice((".vasp", ".json", ".xyz", ".txt") if seed.fmt == "CIF"
                            else (".cif", ".json", ".extxyz", ""))
    elif byte_name is not None:
        data = BYTE_MUTATORS[byte_name](rng, data, seed.fmt)
    names = (*text_names, *([byte_name] if byte_name else []))
    return Case(f"s{run_seed}-{index:05d}", seed, names, data, suffix)


# ---------------------------------------------------------------------------------------
# label CSV mutators: (rng, rows as list of lists, header) -> bytes

MIXED_CELLS = ("abc", "<1e-5", ">0.1", "", "nan", "NA", "inf", "-inf", "1,5", "1e400", "TRUE",
               "0x10", " 3 ", "1_000", "--1", "1e", "\u2212" "0.5", "0.5 S/cm", "None", "[1]",
               "1.0.0", "\u00a0", "yes")


def _write_csv(header: list[str], rows: list[list[str]], **kwargs) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=kwargs.pop("lineterminator", "\n"), **kwargs)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _label_col(header: list[str], rng: random.Random, policy: dict) -> int:
    target = policy.get("target")
    return header.index(target) if target in header else rng.randrange(len(header))


def _lbl_delimiter(rng, header, rows, policy) -> bytes:
    sep = rng.choice((";", "\t", "|", " "))
    if sep == ";" and rng.random() < 0.5:  # European: decimal comma too
        rows = [[c.replace(".", ",") for c in r] for r in rows]
    return _write_csv(header, rows, delimiter=sep).encode()


def _lbl_bom(rng, header, rows, policy) -> bytes:
    return codecs.BOM_UTF8 + _write_csv(header, rows).encode()


def _lbl_encoding(rng, header, rows, policy) -> bytes:
    rows = [list(r) for r in rows]
    if rows and len(rows[0]) > 1:
        rows[rng.randrange(len(rows))][1] = "Na\u2083Y\u00c5\u00e9"
    text = _write_csv(header, rows)
    enc = rng.choice(("utf-16", "utf-16-le", "latin-1", "cp1252", "utf-32"))
    return text.encode(enc, errors="replace")


def _lbl_quoting(rng, header, rows, policy) -> bytes:
    what = rng.choice(("all", "embedded_sep", "unbalanced", "newline", "doubled"))
    rows = [list(r) for r in rows]
    if what == "all":
        return _write_csv(header, rows, quoting=csv.QUOTE_ALL).encode()
    if not rows:
        return _write_csv(header, rows).encode()
    r = rng.randrange(len(rows))
    col = rng.randrange(len(rows[r]))
    if what == "embedded_sep":
        rows[r][col] = rows[r][col] + ",x"
    elif what == "newline":
        rows[r][col] = rows[r][col] + "\nsecond line"
    elif what == "doubled":
        rows[r][col] = '"' + rows[r][col] + '"'
    text = _write_csv(header, rows)
    if what == "unbalanced":
        lines = text.split("\n")
        k = rng.randrange(len(lines))
        lines[k] = '"' + lines[k]
        text = "\n".join(lines)
    return text.encode()


def _lbl_duplicate_ids(rng, header, rows, policy) -> bytes:
    rows = [list(r) for r in rows]
    if rows:
        for _ in range(rng.choice((1, 3))):
            dup = list(rng.choice(rows))
            col = _label_col(header, rng, policy)
            if rng.random() < 0.5 and 0 < col < len(dup):
                dup[col] = rng.choice(("0", "1", "0.5", "abc"))
            if rng.random() < 0.3:
                dup[0] = dup[0].upper() if rng.random() < 0.5 else f" {dup[0]} "
            rows.insert(rng.randrange(len(rows) + 1), dup)
    return _write_csv(header, rows).encode()


def _lbl_missing_ids(rng, header, rows, policy) -> bytes:
    rows = [list(r) for r in rows]
    header = list(header)
    what = rng.choice(("blank", "drop_column", "rename_column", "whitespace"))
    if what == "blank" and rows:
        for r in rng.sample(rows, k=min(len(rows), rng.choice((1, 3)))):
            r[0] = rng.choice(("", " ", "nan", "NA"))
    elif what == "drop_column":
        header, rows = header[1:], [r[1:] for r in rows]
    elif what == "rename_column":
        header[0] = rng.choice(("ID", " id", "id ", "Id", "", "material_id"))
    else:
        header = [f" {h} " for h in header]
    return _write_csv(header, rows).encode()


def _lbl_mixed_types(rng, header, rows, policy) -> bytes:
    rows = [list(r) for r in rows]
    col = _label_col(header, rng, policy)
    k = rng.choice((1, 2, 5, len(rows)))
    for r in rng.sample(rows, k=min(len(rows), k)):
        if col < len(r):
            r[col] = rng.choice(MIXED_CELLS)
    return _write_csv(header, rows).encode()


def _lbl_ragged(rng, header, rows, policy) -> bytes:
    rows = [list(r) for r in rows]
    for r in rng.sample(rows, k=min(len(rows), rng.choice((1, 3)))):
        if rng.random() < 0.5:
            r.extend(["extra"] * rng.randint(1, 3))
        else:
            del r[rng.randrange(1, len(r)):]
    return _write_csv(header, rows).encode()


def _lbl_empty(rng, header, rows, policy) -> bytes:
    return rng.choice((b"", b"\n", b"\n\n\n", b" ", b"\xef\xbb\xbf"))


def _lbl_header_only(rng, header, rows, policy) -> bytes:
    text = ",".join(header)
    return (text + rng.choice(("", "\n", "\n\n", "\r\n"))).encode()


def _lbl_truncate(rng, header, rows, policy) -> bytes:
    data = _write_csv(header, rows).encode()
    return data[: rng.randint(0, len(data) - 1)]


def _lbl_byte_flip(rng, header, rows, policy) -> bytes:
    return byte_flip(rng, _write_csv(header, rows).encode(), "CSV")


def _lbl_garbage(rng, header, rows, policy) -> bytes:
    return garbage(rng, _write_csv(header, rows).encode(), "CSV")


def _lbl_line_endings(rng, header, rows, policy) -> bytes:
    return _write_csv(header, rows, lineterminator=rng.choice(("\r\n", "\r"))).encode()


LABEL_MUTATORS: dict[str, Callable[..., bytes]] = {
    "delimiter": _lbl_delimiter,
    "bom": _lbl_bom,
    "encoding": _lbl_encoding,
    "quoting": _lbl_quoting,
    "duplicate_ids": _lbl_duplicate_ids,
    "missing_ids": _lbl_missing_ids,
    "mixed_types": _lbl_mixed_types,
    "ragged_rows": _lbl_ragged,
    "empty": _lbl_empty,
    "header_only": _lbl_header_only,
    "truncate": _lbl_truncate,
    "byte_flip": _lbl_byte_flip,
    "garbage": _lbl_garbage,
    "line_endings": _lbl_line_endings,
}
#: label CSV mutations in report order
LABEL_MUTATIONS = tuple(LABEL_MUTATORS)
#: mutations that change the rows but keep a well-formed file (may be stacked)
_LABEL_STACKABLE = ("duplicate_ids", "missing_ids", "mixed_types", "ragged_rows")


def _label_policies(seed: Seed) -> list[dict]:
    if seed.name == "obelix_train":
        return [{"target": "Ionic conductivity (S cm-1)", "id_column": "ID"},
                {"target": "Ionic conductivity (S cm-1)", "target_transform": "log10",
                 "censored": "value", "id_column": "ID"},
                {"target": "Ionic conductivity (S cm-1)", "threshold": 1e-4, "id_column": "ID",
                 "non_numeric": "drop", "duplicates": "first"}]
    return [{"target": "na_bottleneck_A"},
            {"target": "open_path"},
            {"target": "na_bottleneck_A", "target_transform": "log10", "censored": "value"},
            {"target": "na_bottleneck_A", "threshold": 0.75, "non_numeric": "drop"},
            {"target": "open_path", "task": "classification", "duplicates": "first"},
            {"target": "prototype"}]


def label_case(seeds: list[Seed], run_seed: int, index: int) -> Case:
    """The label case ``index`` of the seeded run ``run_seed`` (deterministic)."""
    rng = random.Random(f"labels:{run_seed}:{index}")
    seed = rng.choice(seeds)
    policy = rng.choice(_label_policies(seed))
    table = list(csv.reader(io.StringIO(seed.data.decode("utf-8-sig"))))
    header, rows = table[0], table[1:]
    if rng.random() < 0.25:
        names = rng.sample(_LABEL_STACKABLE, k=2)
        data = b""
        for name in names:  # the first on the table, the second on its output re-read
            data = LABEL_MUTATORS[name](rng, header, rows, policy)
            parsed = list(csv.reader(io.StringIO(data.decode())))
            header, rows = (parsed[0], parsed[1:]) if parsed else (header, [])
    else:
        names = [rng.choice(LABEL_MUTATIONS)]
        data = LABEL_MUTATORS[names[0]](rng, header, rows, policy)
    return Case(f"l{run_seed}-{index:05d}", seed, tuple(names), data, ".csv", policy)


# ---------------------------------------------------------------------------------------
# the property checks

#: an exception type name (``ValueError``, ``KeyError``, ...) leaking into an error text
FOREIGN_EXCEPTION_RE = re.compile(
    r"(?:^|: )([A-Z][A-Za-z]*(?:Error|Exception|Iteration|Interrupt|Warning))\b(?::|$)")


@dataclass
class Outcome:
    """The result of one case.

    Attributes
    ----------
    stage : str
        Where the case ended (``read``, ``validate``, ``featurize``, ``labels``).
    outcome : str
        ``ok`` / ``parsed`` / ``refused`` / ``error_row`` / ``loaded``, or a finding:
        ``crash`` or ``hang``.
    detail : str
        The one-line message or the problem found.
    """

    stage: str
    outcome: str
    detail: str = ""

    @property
    def is_finding(self) -> bool:
        """True for a crash or a hang."""
        return self.outcome in ("crash", "hang")


def _message_problem(message: str, path: Path) -> str:
    """Why an error message breaks the contract ("" when it is fine)."""
    if "\n" in message or "\r" in message:
        return "message spans several lines"
    if str(path) not in message:
        return "message does not name the file"
    return ""


def check_read(path: Path, time_limit_s: float = CASE_TIME_LIMIT_S):
    """``read_structure`` then ``validate_structure`` on one file.

    Returns
    -------
    (Outcome, Structure or None)
        ``parsed`` or ``refused`` (stage ``read``/``validate``), ``crash`` or ``hang``.
    """
    from mlkit.errors import StructureError
    from mlkit.structures import read_structure, validate_structure
    from mlkit.utils import TimeLimitExceeded, time_limit

    structure = None
    stage = "read"
    try:
        with time_limit(time_limit_s):
            structure = read_structure(path)
            stage = "validate"
            validate_structure(structure, str(path))
    except TimeLimitExceeded:
        return Outcome(stage, "hang", f"over {time_limit_s:g} s"), None
    except StructureError as exc:
        problem = _message_problem(str(exc), path)
        if problem:
            return Outcome(stage, "crash", f"{problem}: {str(exc)[:300]!r}"), None
        return Outcome(stage, "refused", str(exc)[len(str(path)) + 2:]), None
    except Exception as exc:  # noqa: BLE001 - the finding
        return Outcome(stage, "crash", f"{type(exc).__name__}: {str(exc)[:300]}"), None
    return Outcome(stage, "parsed"), structure


def check_featurize(path: Path, mobile_ion: str = "Na", featurizers: str = "default",
                    time_limit_s: float = CASE_TIME_LIMIT_S) -> Outcome:
    """``featurize_paths`` of one file: exactly one row; its error one line, no foreign type."""
    import math

    from mlkit.features import META_COLUMNS, featurize_paths

    try:
        table = featurize_paths([path], use_cache=False, progress=False,
                                time_limit_s=time_limit_s, featurizers=featurizers,
                                mobile_ion=mobile_ion)
    except Exception as exc:  # noqa: BLE001 - the finding
        return Outcome("featurize", "crash", f"{type(exc).__name__}: {str(exc)[:300]}")
    if len(table) != 1 or table.loc[0, "id"] != path.stem:
        return Outcome("featurize", "crash", f"{len(table)} rows for one file")
    row = table.iloc[0]
    error = str(row["error"])
    if "time limit of" in error:
        return Outcome("featurize", "hang", error)
    for col in ("error", "rotation_screen_reason"):
        text = str(row[col])
        if "\n" in text or "\r" in text:
            return Outcome("featurize", "crash", f"{col} spans several lines: {text[:200]!r}")
        for piece in text.split("; "):
            m = FOREIGN_EXCEPTION_RE.search(piece)
            if m:
                return Outcome("featurize", "crash", f"{col}: {piece[:300]}")
    values = row.iloc[len(META_COLUMNS):].astype(float)
    if any(math.isinf(v) for v in values):
        bad = [c for c, v in values.items() if math.isinf(v)]
        return Outcome("featurize", "crash", f"infinite feature(s) {', '.join(bad[:5])}")
    return Outcome("featurize", "error_row" if error else "ok", error)


def check_structure_case(case: Case, directory: Path, featurize: bool = True,
                         featurizers: str = "default") -> Outcome:
    """Write the case, run :func:`check_read` then (when asked) :func:`check_featurize`.

    The featurize stage runs whatever the read stage said: the pipeline must turn an
    unreadable file into an error row as well.
    """
    path = case.write(directory)
    read, _ = check_read(path)
    if read.is_finding or not featurize:
        return read
    feat = check_featurize(path, case.seed.mobile_ion, featurizers)
    if feat.is_finding:
        return feat
    if read.outcome == "refused":
        return read
    return feat


def check_label_case(case: Case, directory: Path,
                     time_limit_s: float = CASE_TIME_LIMIT_S) -> Outcome:
    """Write the case and load it with its policy: ``loaded`` or a one-line ``refused``."""
    from mlkit.errors import MlkitError
    from mlkit.models.dataset import LabelPolicy, load_labels
    from mlkit.utils import TimeLimitExceeded, time_limit

    path = case.write(directory)
    try:
        with time_limit(time_limit_s):
            y, _report = load_labels(path, LabelPolicy(**case.policy))
    except TimeLimitExceeded:
        return Outcome("labels", "hang", f"over {time_limit_s:g} s")
    except MlkitError as exc:
        problem = _message_problem(str(exc), path)
        if problem:
            return Outcome("labels", "crash", f"{problem}: {str(exc)[:300]!r}")
        return Outcome("labels", "refused", str(exc)[len(str(path)) + 2:])
    except Exception as exc:  # noqa: BLE001 - the finding
        return Outcome("labels", "crash", f"{type(exc).__name__}: {str(exc)[:300]}")
    if len(y) == 0:
        return Outcome("labels", "loaded", "no rows")
    return Outcome("labels", "loaded", f"{len(y)} rows")
