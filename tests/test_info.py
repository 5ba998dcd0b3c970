"""``mlkit info``: what a bug report needs, read from this environment (nothing downloaded)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from mlkit.cli import main
from mlkit.potentials import POTENTIALS
from mlkit.potentials.registry import default_weights, is_installed

REPO = Path(__file__).resolve().parents[1]


def test_info_json_reports_this_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["mlkit"]["version"] == version("mlkit")
    assert info["python"] == sys.version.split()[0]
    for dist in ("numpy", "pandas", "scikit-learn", "pymatgen", "mlflow"):
        assert info["packages"][dist] == version(dist), dist
    assert info["cache_dir"] == str((tmp_path / "cache" / "features").resolve())
    assert info["tracking_uri"] == f"sqlite:///{tmp_path / 'x.db'}"
    by_name = {p["name"]: p for p in info["potentials"]}
    assert list(by_name) == list(POTENTIALS)
    for name, spec in POTENTIALS.items():
        p = by_name[name]
        assert p["installed"] == is_installed(name)
        if not p["installed"]:
            assert p["status"].startswith(f"package {spec.package} not installed")
            assert p["weights"] is None
        elif spec.needs_weights:
            assert "--model-path" in p["status"]
        else:  # bundled weights: the file is reported only when it exists on disk
            assert p["status"] == "ready" and Path(p["weights"]).is_file()
    import torch

    assert info["torch"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_bundled_weights_are_found_without_importing_the_package():
    installed = [n for n, s in POTENTIALS.items() if s.weights_glob and is_installed(n)]
    if not installed:
        pytest.skip("no potential with bundled weights installed")
    code = ("import sys; from mlkit.potentials.registry import default_weights; "
            f"w = [default_weights(n) for n in {installed!r}]; "
            "assert all(p is not None and p.is_file() for p in w), w; "
            "print(sorted(m for m in ('torch', 'chgnet', 'sevenn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert default_weights("mace") is None  # weights never ship with the package


def test_info_text_is_one_line_per_item(capsys):
    assert main(["info", "--no-device"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"mlkit:        {version('mlkit')}")
    for key in ("python:", "packages:", "potentials:", "device:       (not checked)",
                "cache:", "tracking:"):
        assert key in text, key
    for name in POTENTIALS:
        assert f"\n  {name} " in text
