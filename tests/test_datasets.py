"""The bundled data sets: every label row traceable to its structure and its run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlkit.structures import read_structure

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
ROTATION = DATASETS / "phonondb_na_rotation"
PROVENANCE = ["potential", "potential_version", "temperature_K", "timestep_fs",
              "production_ps", "seed", "supercell", "n_atoms", "mlkit_version"]


@pytest.fixture(scope="module")
def labels() -> pd.DataFrame:
    return pd.read_csv(ROTATION / "labels.csv")


def test_every_label_row_has_its_structure_and_nothing_else(labels):
    files = {p.stem for p in (ROTATION / "structures").glob("*.vasp")}
    assert set(labels["id"]) == files
    assert labels["id"].is_unique
    predict = {p.stem for p in (ROTATION / "predict").glob("*.vasp")}
    assert predict and not predict & files  # predicted structures were not trained on


def test_rotation_label_is_the_category_rule_and_intervals_bracket_values(labels):
    assert set(labels["category"]) <= {1, 2, 3}
    assert (labels["rotation"] == labels["category"].isin([1, 2]).astype(int)).all()
    assert (labels["c_t_ref_low"] <= labels["c_t_ref"] + 1e-12).all()
    assert (labels["c_t_ref"] <= labels["c_t_ref_high"] + 1e-12).all()
    assert set(labels["rotation_decision"]) <= {"yes", "no", "undecided"}


def test_every_row_carries_the_provenance_of_its_run(labels):
    assert labels[PROVENANCE].notna().all().all()
    assert set(labels["potential"]) == {"chgnet"}
    assert set(labels["temperature_K"]) <= {800.0, 1300.0}


def test_structures_read_and_match_the_labelled_atom_counts(labels):
    row = labels.iloc[0]
    s = read_structure(ROTATION / "structures" / f"{row['id']}.vasp")
    assert len(s) == row["n_atoms"]  # supercell 1x1x1: the MD cell is the file's cell
    assert s.composition.reduced_formula == row["formula"]


def test_phonon_table_covers_the_labelled_structures(labels):
    ph = pd.read_csv(ROTATION / "phonon_msd.csv")
    assert set(labels["id"]) <= set(ph["id"])
    assert (ph["ph_mobile_msd_mean_A2_800K"] > 0).all()
    readme = (ROTATION / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Togo" in readme
