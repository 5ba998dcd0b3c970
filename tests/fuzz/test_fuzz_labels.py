"""Seeded fuzz of label CSVs (issue 12): ``load_labels`` loads or raises one line naming the file.

The CI subset: 100 mutated copies of the demo ``labels.csv`` (and, with ../shared, 50 of
OBELiX's ``train.csv``), each loaded with one of several label policies (see
``fuzz.mutators``). Then the minimal inputs of what the fuzz found, each a regular test.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter

import pytest
from conftest import shared_path
from fuzz import mutators as fz

from mlkit.errors import MlkitError
from mlkit.models.dataset import LabelPolicy, load_labels

RUN_SEED = 0


def _run(seeds, n, directory):
    outcomes: Counter = Counter()
    findings = []
    cases = [fz.label_case(seeds, RUN_SEED, i) for i in range(n)]
    for case in cases:
        out = fz.check_label_case(case, directory)
        outcomes[out.outcome] += 1
        if out.is_finding:
            findings.append(f"{case.case_id} {case.mutations} {case.policy}: {out.detail}")
    return cases, outcomes, findings


def test_fuzz_demo_labels(tmp_path):
    cases, outcomes, findings = _run(fz.label_seeds(), 100, tmp_path)
    assert not findings, "\n".join(findings)
    drawn = {m for c in cases for m in c.mutations}
    assert drawn == set(fz.LABEL_MUTATIONS), drawn
    assert outcomes["loaded"] > 20 and outcomes["refused"] > 20


@pytest.mark.shared
def test_fuzz_obelix_labels(tmp_path):
    seeds = [s for s in fz.label_seeds(shared_path("obelix", "train.csv"))
             if s.origin == "OBELiX"]
    cases, outcomes, findings = _run(seeds, 50, tmp_path)
    assert not findings, "\n".join(findings)
    assert outcomes["loaded"] > 5 and outcomes["refused"] > 5


# --- minimal inputs of what the fuzz found (each misbehaved before its fix) --------------

ROWS = "a,1.5\nb,2.5\nc,0.5\n"


def _load(tmp_path, data: bytes, target: str = "y"):
    path = tmp_path / "labels.csv"
    path.write_bytes(data)
    return path, load_labels(path, LabelPolicy(target))[0]


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separated_files_load(tmp_path, sep):
    """Was: "no id column 'id' (columns: id;y)"."""
    _, y = _load(tmp_path, f"id{sep}y\n{ROWS.replace(',', sep)}".encode())
    assert y.to_dict() == {"a": 1.5, "b": 2.5, "c": 0.5}


def test_utf16_with_bom_loads(tmp_path):
    """Excel's "Unicode text" (UTF-16 with BOM, tab-separated). Was: "not a readable CSV
    ('utf-8' codec can't decode byte 0xff in position 0...)"."""
    _, y = _load(tmp_path, f"id\ty\n{ROWS.replace(',', chr(9))}".encode("utf-16"))
    assert list(y.index) == ["a", "b", "c"]
    _, y = _load(tmp_path, codecs.BOM_UTF8 + b"id,y\n" + ROWS.encode())
    assert list(y.index) == ["a", "b", "c"]


def test_padded_column_names_load(tmp_path):
    """Was: "no id column 'id' (columns:  id ,  y )"."""
    _, y = _load(tmp_path, b" id , y \n" + ROWS.encode())
    assert len(y) == 3


@pytest.mark.parametrize("data, message", [
    (b"id,y\n", "no label rows (only a header)"),
    (b"id,y\na,\nb,nan\n", "no target value in 'y' (2 rows)"),
    (b"", "empty labels file"),
    ("id,y\n\u00e9,1\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at position 5); save"),
    ("id,y\na,1\n".encode("utf-16-le"), "holds NUL bytes"),
    (b"id, id,y\na,a,1\n", "repeated column name"),
    (b"id,y\na,<1\nb,<2\n", "no usable target in 'y': every row was dropped"),
])
def test_refusals_name_the_file(tmp_path, data, message):
    """Was: a header only or all-missing targets loaded as an empty target (regression) or
    gave 'a single class ({})' (classification); latin-1 and UTF-16 without BOM gave the
    codec's message. (' id' next to 'id' clashes only since column names are stripped.)"""
    with pytest.raises(MlkitError, match=re.escape(f"labels.csv: {message}")) as info:
        _load(tmp_path, data)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "labels.csv"))
