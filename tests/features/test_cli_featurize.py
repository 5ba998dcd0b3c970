"""``mlkit featurize``: writes csv and parquet, prints a one-line summary."""

from __future__ import annotations

import pandas as pd
import pytest

from mlkit.cli import main


@pytest.fixture
def inputs(tmp_path, nacl, na3po4):
    d = tmp_path / "in"
    d.mkdir()
    nacl.to(filename=str(d / "nacl.cif"))
    na3po4.to(filename=str(d / "na3po4.vasp"), fmt="poscar")
    (d / "broken.cif").write_text("nonsense\n")
    return d


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_cli_writes_table(inputs, tmp_path, capsys, suffix):
    out = tmp_path / f"features.{suffix}"
    rc = main(
        [
            "featurize",
            str(inputs),
            "-o",
            str(out),
            "--no-progress",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--featurizers",
            "structural,geometry",
        ]
    )
    assert rc == 0
    df = pd.read_csv(out, keep_default_na=False) if suffix == "csv" else pd.read_parquet(out)
    assert len(df) == 3
    assert {"id", "error", "connectivity", "vpa", "aal"} <= set(df.columns)
    assert "ewald_energy_per_atom_eV" not in df.columns
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("featurized 3 structures") and "errors" in line and " s" in line


def test_cli_options_reach_the_api(inputs, tmp_path):
    out = tmp_path / "f.csv"
    rc = main(
        [
            "featurize",
            str(inputs / "nacl.cif"),
            "-o",
            str(out),
            "--no-progress",
            "--no-cache",
            "--mobile-ion",
            "Cl",
            "--disorder",
            "refuse",
            "--jobs",
            "1",
            "--max-sites",
            "100",
        ]
    )
    assert rc == 0
    row = pd.read_csv(out, keep_default_na=False).iloc[0]
    assert row["mobile_ion_fraction"] == 0.5 and row["disorder"] == "ordered"


def test_cli_bad_output_is_one_line_error(inputs, tmp_path, capsys):
    rc = main(["featurize", str(inputs), "-o", str(tmp_path / "f.xlsx"), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "must end in .csv or .parquet" in err
