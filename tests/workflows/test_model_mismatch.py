"""Model mismatch (issue 12): a feature table made differently from the model's inputs is
refused in one line naming what differs; ``allow_mismatch`` predicts anyway with a warning."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from mlkit.cli import main as cli_main
from mlkit.errors import MlkitError
from mlkit.features import FeaturizationSettings, feature_schema, featurize_paths, write_table
from mlkit.models.dataset import LabelPolicy, load_features
from mlkit.models.trainer import Trainer
from mlkit.workflows import load_trained_model, predict_features, predict_paths, train

DEMO = Path(__file__).resolve().parents[2] / "datasets" / "demo"
SETTINGS = FeaturizationSettings(("structural", "geometry"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mismatch")
    files = sorted((DEMO / "structures").glob("*.cif"))[:24]
    table = featurize_paths(files, SETTINGS, use_cache=False, progress=False)
    write_table(table, tmp / "train.parquet")
    train(DEMO / "labels.csv", LabelPolicy("na_bottleneck_A"), features=tmp / "train.parquet",
          featurization=SETTINGS,
          trainer=Trainer(models="logreg", outer_folds=3, n_trials=2, progress=False),
          output_dir=tmp / "out", explain=False, progress=False)
    return load_trained_model(tmp / "out" / "final_model"), files, tmp


def _one_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(MlkitError) as info:
        call(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_tables_keep_their_provenance_through_parquet_and_csv(trained, tmp_path):
    model, files, _ = trained
    table = featurize_paths(files[:2], SETTINGS, use_cache=False, progress=False)
    expected = {"featurization": SETTINGS.to_dict(), "schema": feature_schema(SETTINGS)}
    assert table.attrs["mlkit"] == expected
    for name in ("t.parquet", "t.csv"):
        write_table(table, tmp_path / name)
        assert load_features(tmp_path / name).attrs["mlkit"] == expected
    assert json.loads((tmp_path / "t.csv.mlkit.json").read_text()) == expected
    # the model stores the schema of its training table; settings.json round-trips it
    assert model.feature_schema == feature_schema(SETTINGS)
    assert model.feature_schema["code"] and model.feature_schema["row_schema"] >= 2


def test_matching_table_predicts(trained, tmp_path):
    model, files, _ = trained
    write_table(featurize_paths(files[:3], SETTINGS, use_cache=False, progress=False),
                tmp_path / "new.csv")
    out = predict_features(model, tmp_path / "new.csv")
    assert out["prediction"].notna().all() and (out["warning"] == "").all()


def test_table_of_another_mobile_ion_is_refused(trained, tmp_path):
    """Column names do not depend on the mobile ion: without provenance this predicted."""
    model, files, _ = trained
    li = featurize_paths(files[:3], SETTINGS, mobile_ion="Li", use_cache=False, progress=False)
    write_table(li, tmp_path / "li.parquet")
    msg = _one_line_error(predict_features, model, tmp_path / "li.parquet")
    assert msg.startswith(f"{tmp_path / 'li.parquet'} does not match the model: "
                          "mobile_ion 'Li' in the table, 'Na' in the model (")
    assert "--allow-feature-mismatch" in msg
    out = predict_features(model, tmp_path / "li.parquet", allow_mismatch=True)
    assert len(out) == 3  # error rows here ("no Li in structure"), but not refused
    assert out["warning"].str.contains("model mismatch allowed: mobile_ion 'Li'").all()


def test_model_of_another_mobile_ion_is_refused(trained, tmp_path):
    model, files, _ = trained
    li_model = dataclasses.replace(
        model, featurization=dataclasses.replace(model.featurization, mobile_ion="Li"))
    table = featurize_paths(files[:2], SETTINGS, use_cache=False, progress=False)
    msg = _one_line_error(predict_features, li_model, table)
    assert "feature table does not match the model: mobile_ion 'Na' in the table, 'Li' in " \
           "the model" in msg


def test_other_featurizers_disorder_and_site_limit_are_named(trained, tmp_path):
    model, files, _ = trained
    other = FeaturizationSettings(("structural", "geometry", "elemental"), disorder="majority",
                                  max_sites=100)
    table = featurize_paths(files[:2], other, use_cache=False, progress=False)
    msg = _one_line_error(predict_features, model, table)
    assert ("featurizers structural,geometry,elemental in the table, structural,geometry in "
            "the model; disorder 'majority' in the table, 'average' in the model; max_sites 100 "
            "in the table, 2000 in the model") in msg


def test_missing_and_renamed_columns_without_provenance(trained):
    """A table made elsewhere (no provenance): checked by its columns."""
    model, files, _ = trained
    table = featurize_paths(files[:2], SETTINGS, use_cache=False, progress=False)
    table.attrs.clear()
    col = model.fitted.feature_columns[0]
    renamed = table.rename(columns={col: col + "_v2"})
    msg = _one_line_error(predict_features, model, renamed)
    assert msg.startswith("feature table does not match the model: input lacks 1 training "
                          f"feature(s): {col}; columns the model does not know: {col}_v2")
    missing = table.drop(columns=[col])
    assert "input lacks 1 training feature(s)" in _one_line_error(predict_features, model,
                                                                  missing)
    # columns the model does not read are ignored
    extra = table.assign(unused_column=1.0)
    assert predict_features(model, extra)["prediction"].notna().all()


def test_other_feature_code_is_refused_before_featurizing(trained, tmp_path, capsys):
    model, files, tmp = trained
    old = dataclasses.replace(model, feature_schema={**model.feature_schema, "code": "0" * 16,
                                                     "mlkit": "0.0.1"})
    msg = _one_line_error(predict_paths, old, files[:2], use_cache=False, progress=False)
    assert msg.startswith("this mlkit's featurization does not match the model: feature code "
                          f"{model.feature_schema['code']} (mlkit ")
    assert f"here, {'0' * 16} (mlkit 0.0.1) in the model" in msg
    out = predict_paths(old, files[:2], use_cache=False, progress=False, allow_mismatch=True)
    assert out["prediction"].notna().all() and out["warning"].str.contains("feature code").all()
    # the CLI: one line, exit 2; with the flag it predicts
    old.save(tmp_path / "old_model")
    args = ["predict", "--model", str(tmp_path / "old_model"), *map(str, files[:2]), "-o",
            str(tmp_path / "p.csv"), "--no-cache", "--no-progress"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlkit predict: error: this mlkit's featurization does not match")
    assert len(err.splitlines()) == 1
    assert cli_main([*args, "--allow-feature-mismatch"]) == 0
    assert pd.read_csv(tmp_path / "p.csv")["warning"].str.contains("feature code").all()


def test_a_model_without_a_schema_is_not_checked(trained):
    """Models saved before the schema was recorded: the settings still match by construction."""
    model, files, _ = trained
    old = dataclasses.replace(model, feature_schema={})
    out = predict_paths(old, files[:2], use_cache=False, progress=False)
    assert out["prediction"].notna().all() and (out["warning"] == "").all()


def test_train_refuses_a_table_made_with_other_settings(trained, tmp_path):
    _, files, _ = trained
    li = featurize_paths(files, SETTINGS, mobile_ion="Li", use_cache=False, progress=False)
    write_table(li, tmp_path / "li.csv")
    kwargs = dict(trainer=Trainer(models="logreg", outer_folds=3, n_trials=2, progress=False),
                  explain=False, progress=False)
    msg = _one_line_error(train, DEMO / "labels.csv", LabelPolicy("na_bottleneck_A"),
                          features=tmp_path / "li.csv", featurization=SETTINGS,
                          output_dir=tmp_path / "a", **kwargs)
    assert msg.startswith(f"{tmp_path / 'li.csv'} was made with other featurization settings "
                          "than given: mobile_ion 'Li' in the table, 'Na' given")
    # no settings given: the table's are stored, so predict featurizes as the table was made
    small = dataclasses.replace(SETTINGS, max_sites=500)
    write_table(featurize_paths(files, small, use_cache=False, progress=False),
                tmp_path / "small.csv")
    res = train(DEMO / "labels.csv", LabelPolicy("na_bottleneck_A"),
                features=tmp_path / "small.csv", output_dir=tmp_path / "b", **kwargs)
    assert res.model.featurization == small
    assert res.model.feature_schema == feature_schema(small)
