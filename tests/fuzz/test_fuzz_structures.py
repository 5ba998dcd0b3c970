"""Seeded fuzz of structure files (issue 12): every input gives a result or one line.

The CI subset: 200 mutated bundled files (demo CIFs and POSCARs written from them) and,
with ../shared, 100 mutated phonondb_na POSCARs and OBELiX CIFs; each goes through
``read_structure`` + ``validate_structure`` and ``featurize_paths`` (see
``fuzz.mutators``). Then a CLI batch mixing good and fuzzed files, and the minimal inputs
of the crashes the fuzz found, each a regular test. The long run is
``experiments/fuzz_long.py``.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_path
from fuzz import mutators as fz

from mlkit.cli import main
from mlkit.errors import StructureError
from mlkit.features import META_COLUMNS, featurize_paths
from mlkit.structures import read_structure, validate_structure

RUN_SEED = 0


def _run(cases: list[fz.Case], directory: Path) -> tuple[Counter, list[str]]:
    outcomes: Counter = Counter()
    findings = []
    for case in cases:
        out = fz.check_structure_case(case, directory)
        outcomes[(out.stage, out.outcome)] += 1
        if out.is_finding:
            findings.append(f"{case.case_id} {case.seed.name} {case.mutations}: {out.stage} "
                            f"{out.outcome}: {out.detail}")
    return outcomes, findings


def test_fuzz_bundled_structures(tmp_path):
    seeds = fz.structure_seeds()
    cases = [fz.structure_case(seeds, RUN_SEED, i) for i in range(200)]
    t0 = time.perf_counter()
    outcomes, findings = _run(cases, tmp_path)
    assert not findings, "\n".join(findings)
    # not vacuous: every mutation was drawn and every outcome happened
    drawn = {m for c in cases for m in c.mutations}
    assert drawn >= set(fz.STRUCTURE_MUTATIONS) - {"many_sites"}, drawn
    assert outcomes[("read", "refused")] > 30
    assert outcomes[("validate", "refused")] > 10
    assert outcomes[("featurize", "ok")] > 10
    assert time.perf_counter() - t0 < 60


@pytest.mark.shared
def test_fuzz_shared_structures(tmp_path):
    seeds = fz.structure_seeds(phonondb=shared_path("phonondb_na", "structures"),
                               obelix=shared_path("obelix", "cifs_train"), max_per_source=30)
    seeds = [s for s in seeds if s.origin in ("phonondb", "OBELiX")]
    cases = [fz.structure_case(seeds, RUN_SEED, i) for i in range(100)]
    outcomes, findings = _run(cases, tmp_path)
    assert not findings, "\n".join(findings)
    assert {c.seed.origin for c in cases} == {"phonondb", "OBELiX"}
    assert outcomes[("read", "refused")] > 10 and outcomes[("featurize", "ok")] > 5


def test_cli_batch_of_good_and_fuzzed_files(tmp_path, capsys):
    """One row per input, an error row for each bad one, no traceback, exit status 0."""
    seeds = fz.structure_seeds()
    good = sorted((fz.DEMO / "structures").glob("*x1p00.cif"))[:4]
    bad_dir = tmp_path / "fuzzed"
    bad_dir.mkdir()
    fuzzed = [fz.structure_case(seeds, 1, i).write(bad_dir) for i in range(30)]
    out = tmp_path / "features.csv"
    rc = main(["featurize", *map(str, good + fuzzed), "-o", str(out), "--no-progress",
               "--no-cache", "--time-limit-s", "20"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Traceback" not in captured.out + captured.err
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == len(good) + len(fuzzed)
    assert list(table["id"]) == [p.stem for p in good + fuzzed]
    assert (table["error"].iloc[: len(good)] == "").all()
    for path, error in zip(fuzzed, table["error"].iloc[len(good):], strict=True):
        try:
            validate_structure(read_structure(path), str(path))
        except StructureError:
            assert error and "\n" not in error  # refused: an error row, one line
    assert (table["error"] != "").sum() >= 10
    assert captured.out.strip().splitlines()[-1].startswith(f"featurized {len(table)} structures")


# --- minimal inputs of the crashes found by the fuzz (each failed before its fix) ---------

CIF = """data_x
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Na1 Na 0 0 0 1
{second}
"""

POSCAR = """NaCl
1.0
5.64 0 0
0 5.64 0
0 0 5.64
Na Cl
{counts}
Direct
0 0 0
{coord}
"""


def _featurize_one(path: Path) -> pd.Series:
    table = featurize_paths([path], use_cache=False, progress=False, time_limit_s=20)
    assert len(table) == 1
    return table.iloc[0]


@pytest.mark.parametrize("symbol", ["Q", "Xx"])
def test_unknown_element_is_refused(tmp_path, symbol):
    """Was: read as a dummy species, then 'structural: ValueError: 'Q' is not a valid Element'."""
    path = tmp_path / "unknown.cif"
    path.write_text(CIF.format(second=f"Cl1 {symbol} 0.5 0.5 0.5 1"))
    structure = read_structure(path)
    with pytest.raises(StructureError,
                       match=rf"^{path}: unknown element '{symbol}' at site \d \(not in the "):
        validate_structure(structure, str(path))
    row = _featurize_one(path)
    assert row["error"].startswith(f"unknown element '{symbol}'")
    assert row.iloc[len(META_COLUMNS):].isna().all()


def test_absurd_fractional_coordinate_is_refused(tmp_path):
    """Was: accepted, and polyanion_inertia_amu_A2 came out infinite."""
    path = tmp_path / "far.vasp"
    path.write_text(POSCAR.format(counts="1 1", coord="0.5 0.5 1e300"))
    with pytest.raises(StructureError, match=r"absurd fractional coordinate 1e\+300 \(site Cl1"):
        validate_structure(read_structure(path), str(path))
    row = _featurize_one(path)
    assert row["error"].startswith("absurd fractional coordinate")
    assert not any(math.isinf(v) for v in row.iloc[len(META_COLUMNS):].astype(float))
    # unwrapped coordinates of a few cells stay accepted
    ok = tmp_path / "unwrapped.vasp"
    ok.write_text(POSCAR.format(counts="1 1", coord="0.5 0.5 -2.5"))
    validate_structure(read_structure(ok), str(ok))


def test_poscar_counts_beyond_the_file_are_refused_at_once(tmp_path):
    """Was: pymatgen allocated the declared 3e8 sites (~20 s, ~5 GB) before failing."""
    path = tmp_path / "counts.vasp"
    path.write_text(POSCAR.format(counts="300000000 1", coord="0.5 0.5 0.5"))
    t0 = time.perf_counter()
    with pytest.raises(StructureError, match="counts line declares 300000001 sites but the "
                                             "file has 10 lines"):
        read_structure(path)
    assert time.perf_counter() - t0 < 2


def test_cif_error_keeps_the_cause_on_pymatgens_second_line(tmp_path):
    """Was: 'No structure parsed for section 1 in CIF.' (the cause, on line 2, dropped)."""
    path = tmp_path / "flat.cif"
    path.write_text(CIF.format(second="Cl1 Cl 0.5 0.5 0.5 1").replace(
        "_cell_length_b 5.64", "_cell_length_b 0"))
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert str(info.value) == (f"{path}: cannot parse as CIF: No structure parsed for section "
                               "1 in CIF. Singular matrix")
