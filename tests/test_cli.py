from __future__ import annotations

import subprocess
import sys

from conftest import shared_path  # noqa: F401  (import path check)

from mlkit.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "mlkit 0.1.0" in capsys.readouterr().out


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "mlkit", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "usage: mlkit" in out.stdout
