"""Tests that need ../shared data carry ``@pytest.mark.shared`` and skip when it is absent.

The runtime guard is ``shared_path`` (tests/shared_data.py, re-exported by conftest): it
fails an unmarked caller and skips a marked one when the data is absent. The static check
below makes every test module reach ../shared through it, not through a path of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import shared_path

TESTS = Path(__file__).resolve().parent


def test_unmarked_test_reading_shared_data_fails():
    with pytest.raises(pytest.fail.Exception,
                       match=r"test_unmarked_test_reading_shared_data_fails reads \.\./shared "
                             r"data but lacks @pytest.mark.shared"):
        shared_path("phonondb_na")


@pytest.mark.shared
def test_marked_test_skips_with_a_reason_when_the_data_is_absent():
    with pytest.raises(pytest.skip.Exception,
                       match=r"needs \.\./shared/datasets/no-such-set/x \(absent"):
        shared_path("no-such-set", "x")


def _strings(tree: ast.Module) -> list[str]:
    """String constants of a module, docstrings left out."""
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and node.body
        and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings]


def _uses_shared_path(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "shared_path" and isinstance(n.ctx, ast.Load)
               for n in ast.walk(tree))


def _has_shared_marker(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "shared"
               and isinstance(n.value, ast.Attribute) and n.value.attr == "mark"
               for n in ast.walk(tree))


def test_shared_data_is_reached_only_through_shared_path_and_marked():
    own_paths, unmarked, users = [], [], []
    for path in sorted(TESTS.rglob("*.py")):
        if path in {TESTS / "conftest.py", TESTS / "shared_data.py", Path(__file__)}:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        name = str(path.relative_to(TESTS))
        strings = _strings(tree)
        if any(s == "shared" or "shared/datasets" in s for s in strings) or (
                not _uses_shared_path(tree) and {"phonondb_na", "obelix"} & set(strings)):
            own_paths.append(name)
        if _uses_shared_path(tree):
            users.append(name)
            if not _has_shared_marker(tree):
                unmarked.append(name)
    assert not own_paths, f"build ../shared paths with conftest.shared_path: {own_paths}"
    assert not unmarked, f"modules read ../shared without @pytest.mark.shared: {unmarked}"
    assert len(users) >= 5, users  # the scan sees the known users
