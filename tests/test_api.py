"""The public API: ``import mlkit`` stays light, the verbs are exported, the quickstart runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import mlkit

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "sklearn", "mlflow", "torch", "pymatgen", "matplotlib")


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_mlkit_is_light_and_the_api_is_lazy():
    code = ("import sys, time; t = time.perf_counter(); import mlkit; "
            "dt = time.perf_counter() - t; "
            f"heavy = {HEAVY!r}; "
            "before = [m for m in heavy if m in sys.modules]; "
            "fns = [mlkit.featurize, mlkit.train, mlkit.predict, mlkit.subsets, "
            "mlkit.label_md, mlkit.label_phonons, mlkit.info]; "
            "after = [m for m in heavy if m in sys.modules]; "
            "print(before, after, 'mlkit.api' in sys.modules, round(dt, 3))")
    out = _run(code)
    assert out.startswith("[] [] True "), out  # nothing heavy, even after the API resolved
    assert float(out.split()[-1]) < 2.0  # typically 0.1 s; generous on a loaded machine


def test_api_names_are_exported():
    assert set(mlkit.API) <= set(dir(mlkit)) and set(mlkit.API) <= set(mlkit.__all__)
    from mlkit import api

    assert mlkit.train is api.train and mlkit.label_phonons is api.label_phonons
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mlkit.nope  # noqa: B018


def test_featurize_takes_paths_or_structures(tmp_path):
    from pymatgen.core import Structure

    files = sorted((REPO / "datasets" / "demo" / "structures").glob("Na3P*x1p00.cif"))
    by_path = mlkit.featurize(files, use_cache=False, output=tmp_path / "f.csv")
    by_obj = mlkit.featurize({f.stem: Structure.from_file(f) for f in files}, use_cache=False)
    assert (tmp_path / "f.csv").is_file()
    cols = [c for c in by_path.columns if c not in ("source",)]
    pd.testing.assert_frame_equal(by_path[cols], by_obj[cols])
    # the settings keywords reach the featurizers (no Li in a sodium compound)
    li = mlkit.featurize(files[:1], mobile_ion="Li", featurizers="structural", use_cache=False)
    assert list(li.columns[-9:]) == ["vpa", "density_g_cm3", "packing_fraction",
                                    "free_volume_per_atom_A3", "lattice_anisotropy",
                                    "atoms_per_cell", "mobile_ion_fraction",
                                    "mobile_ion_density_per_nm3", "spacegroup_number"]
    assert li.at[0, "mobile_ion_fraction"] == 0.0
    assert by_path.at[0, "mobile_ion_fraction"] > 0.0


@pytest.mark.slow
def test_quickstart_example_runs(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "docs" / "examples" / "quickstart.py"),
                          str(tmp_path / "work")], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "featurized 50 structures" in out.stdout
    assert "registered models:/demo_api@champion (version 1)" in out.stdout
    assert "best subset: F1" in out.stdout
    pred = pd.read_csv(tmp_path / "work" / "predictions.csv", keep_default_na=False)
    assert len(pred) == 5 and (pred["error"] == "").all()
    assert pred["probability"].between(0, 1).all()
    assert (tmp_path / "work" / "subsets" / "best.json").is_file()
