"""The documentation site builds in strict mode (broken links, stale API references fail)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _mkdocs() -> str | None:
    local = Path(sys.executable).with_name("mkdocs")
    return str(local) if local.exists() else shutil.which("mkdocs")


def test_cli_reference_covers_every_verb():
    sys.path.insert(0, str(REPO / "docs" / "hooks"))
    try:
        import mkdocs_hooks
    finally:
        sys.path.remove(str(REPO / "docs" / "hooks"))
    text = mkdocs_hooks.cli_reference()
    for verb in ("featurize", "train", "subsets", "predict", "md run", "md analyze",
                 "label md", "label phonons", "info"):
        assert f"## `mlkit {verb}`" in text, verb
    assert "--mobile-ion" in text and "usage: mlkit" in text


@pytest.mark.skipif(_mkdocs() is None, reason="mkdocs not installed (pip install 'mlkit[docs]')")
def test_mkdocs_build_strict(tmp_path):
    out = subprocess.run([_mkdocs(), "build", "--strict", "--site-dir", str(tmp_path / "site")],
                         cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    site = tmp_path / "site"
    assert "mlkit info" in (site / "cli.html").read_text()
    api = (site / "reference" / "api.html").read_text()
    assert "label_phonons" in api and ":func:" not in api
    assert "Quick start (fresh machine)" in (site / "index.html").read_text()
