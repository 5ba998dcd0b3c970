"""The CLI shell: version, entry point, error policy, one spelling of the shared options."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from importlib.metadata import version

import pandas as pd
import pytest
from conftest import shared_path  # noqa: F401  (import path check)
from pymatgen.core import Lattice, Structure

from mlkit.cli import build_parser, main
from mlkit.errors import MlkitError


def test_version_comes_from_package_metadata(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlkit {version('mlkit')}"


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "mlkit", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "usage: mlkit" in out.stdout


def test_mlkit_errors_are_one_line_but_a_bug_keeps_its_traceback(tmp_path, monkeypatch, capsys):
    import mlkit.features

    def user_error(*args, **kwargs):
        raise MlkitError("bad input\nsecond line")

    monkeypatch.setattr(mlkit.features, "featurize_paths", user_error)
    argv = ["featurize", str(tmp_path), "-o", str(tmp_path / "t.csv"), "--no-progress"]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == "mlkit featurize: error: bad input second line"

    def bug(*args, **kwargs):
        raise KeyError("a real bug")

    monkeypatch.setattr(mlkit.features, "featurize_paths", bug)
    with pytest.raises(KeyError, match="a real bug"):
        main(argv)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for name, sub in action.choices.items():
        nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            out.update({f"{name} {k}": v for k, v in nested[0].choices.items()})
        else:
            out[name] = sub
    return out


def test_parallelism_has_one_spelling_in_every_verb(capsys):
    verbs = _subparsers(build_parser())
    with_workers = {name for name, p in verbs.items()
                    if any("jobs" in s for a in p._actions for s in a.option_strings)}
    assert {"featurize", "train", "subsets", "predict"} <= with_workers
    for name in sorted(with_workers):
        p = verbs[name]
        visible = {s for a in p._actions if a.help != argparse.SUPPRESS for s in a.option_strings}
        assert "--jobs" in visible, name
        assert not {"--n-jobs", "--cv-jobs"} & visible, name
    args = build_parser().parse_args(
        ["train", "--labels", "l.csv", "--features", "f.csv", "--target", "t", "--cv-jobs", "3"])
    assert args.jobs == 3
    assert "--cv-jobs is deprecated; use --jobs" in capsys.readouterr().err


def test_featurization_and_label_options_build_the_settings_values():
    from mlkit.cli.options import featurization_from_args, label_policy_from_args
    from mlkit.features import FeaturizationSettings
    from mlkit.models.dataset import LabelPolicy

    common = ["--labels", "l.csv", "--target", "cls", "--featurizers", "structural,geometry",
              "--mobile-ion", "K", "--disorder", "majority", "--max-sites", "50",
              "--threshold", "0.5", "--duplicates", "first"]
    expected = FeaturizationSettings(("structural", "geometry"), "K", "majority", 50)
    for verb in (["train", "--structures", "d"], ["subsets", "--structures", "d"],
                 ["featurize", "d", "-o", "x.csv"]):
        argv = verb + (common if verb[0] != "featurize" else common[4:12])
        args = build_parser().parse_args(argv)
        assert featurization_from_args(args) == expected, verb[0]
        if verb[0] != "featurize":
            policy = label_policy_from_args(args)
            assert policy == LabelPolicy("cls", threshold=0.5, duplicates="first"), verb[0]


@pytest.mark.slow
def test_subsets_from_structures_honours_the_featurizers(tmp_path, capsys):
    """``mlkit subsets --structures`` used to pass only the mobile ion (issue 8)."""
    d = tmp_path / "cifs"
    d.mkdir()
    rows = []
    for i, a in enumerate((5.3, 5.4, 5.5, 5.6, 5.7, 5.8, 5.9, 6.0, 6.1, 6.2)):
        s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", "Cl"],
                                      [[0, 0, 0], [0.5, 0.5, 0.5]])
        s.to(filename=str(d / f"s{i}.cif"))
        rows.append({"id": f"s{i}", "fast": int(a > 5.75)})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "out"
    rc = main(["subsets", "--labels", str(tmp_path / "labels.csv"), "--structures", str(d),
               "--target", "fast", "--featurizers", "structural", "--cv", "2",
               "--max-features", "1", "--jobs", "1", "-o", str(out), "--no-progress",
               "--cache-dir", str(tmp_path / "cache")])
    printed = capsys.readouterr().out
    assert rc == 0
    from mlkit.features import FEATURIZERS

    structural = FEATURIZERS["structural"]().feature_labels()
    n_features = int(re.search(r"10 samples x (\d+) features", printed).group(1))
    assert 0 < n_features <= len(structural)  # the five default groups give > 40 columns
    features = set(json.loads((out / "best.json").read_text())["features"])
    assert features and features <= set(structural)
