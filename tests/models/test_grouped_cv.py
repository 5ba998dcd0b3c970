"""Grouped CV: no group on both sides of any split, and leakage that random folds reward."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlkit.cli import main as cli_main
from mlkit.errors import MlkitError
from mlkit.models.dataset import DatasetReport, load_groups
from mlkit.models.nested_cv import nested_cv, outer_splits, split_train_val
from mlkit.models.trainer import Trainer


def _leaky(n_groups: int = 12, per_group: int = 5, seed: int = 0):
    """Rows of one group share a constant offset of y and a group code in the features.

    The code says which group a row is in but nothing transferable about the offset
    (offsets are drawn independently of the codes): a model can only *memorise* the
    offset of a group it has seen. Random folds put group mates in training; grouped
    folds do not, so the grouped error is the spread of the offsets.
    """
    rng = np.random.default_rng(seed)
    offset = rng.normal(scale=3.0, size=n_groups)
    code = rng.permutation(n_groups).astype(float)
    g = np.repeat(np.arange(n_groups), per_group)
    n = len(g)
    X = pd.DataFrame({"code": code[g] + 0.01 * rng.normal(size=n),
                      "code2": code[g] ** 2}, index=[f"s{i}" for i in range(n)])
    y = pd.Series(offset[g] + 0.1 * rng.normal(size=n), index=X.index)
    groups = pd.Series([f"fam{k}" for k in g], index=X.index)
    return X, y, groups


def test_grouped_splits_keep_groups_whole_outer_and_inner():
    X, y, groups = _leaky()
    g = groups.to_numpy()
    folds = outer_splits(y, "regression", 4, seed=0, groups=g)
    assert len(folds) == 4
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(len(y)))
    for trval, test in folds:
        assert not set(g[trval]) & set(g[test])
        assert len(set(g[test])) == 3  # 12 groups of 5 rows over 4 folds
        tr, va = split_train_val(y.iloc[trval], "regression", 0.2, seed=1, groups=g[trval])
        assert not set(g[trval][tr]) & set(g[trval][va])
        assert len(set(g[trval][va])) == 2  # 20 % of 9 groups, rounded up by sklearn
    # unequal groups: fold sizes balanced (one group of 20 rows, 20 groups of 1 row)
    uneven = np.array(["big"] * 20 + [f"g{i}" for i in range(20)])
    sizes = [len(t) for _, t in outer_splits(pd.Series(np.zeros(40)), "regression", 2, seed=3,
                                             groups=uneven)]
    assert sizes == [20, 20]
    # classification: stratified by class and grouped
    yc = pd.Series((y > y.median()).astype(int))
    for trval, test in outer_splits(yc, "classification", 3, seed=0, groups=g):
        assert not set(g[trval]) & set(g[test])
    with pytest.raises(ValueError, match="exceeds the number of groups"):
        outer_splits(y, "regression", 13, seed=0, groups=g)


def test_random_folds_reward_memorised_groups_grouped_folds_do_not():
    X, y, groups = _leaky()
    kw = dict(outer_folds=4, n_trials=2, seed=0, progress=False)
    rand = nested_cv(X, y, "rf", "regression", **kw)
    grouped = nested_cv(X, y, "rf", "regression", groups=groups, **kw)
    assert grouped.grouped and not rand.grouped
    for split in grouped.splits:  # ids of the three parts come from disjoint groups
        parts = [set(groups.loc[split[k]]) for k in ("train", "val", "test")]
        assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    # random folds: the group mates in training give the offset (0.60 measured; the
    # noise is 0.1, 2 Optuna trials leave the forest coarse); grouped folds: unseen
    # groups, the error is of the order of the offsets' spread (2.39 measured)
    assert rand.mean["mae"] < 0.9
    assert grouped.mean["mae"] > 1.8
    assert grouped.mean["mae"] > 3 * rand.mean["mae"]


def test_trainer_fit_takes_groups_as_data_not_a_param():
    X, y, groups = _leaky(n_groups=8, per_group=4)
    t = Trainer(models="logreg", outer_folds=4, n_trials=2, progress=False)
    assert "groups" not in t.get_params()
    shuffled = groups.sample(frac=1.0, random_state=0)  # a Series is aligned on X's index
    t.fit(X, y, groups=shuffled)
    assert t.n_groups_ == 8 and any("grouped CV: 8 groups" in n for n in t.notes_)
    for split in t.cv_results_["logreg"].splits:
        assert not set(groups.loc[split["test"]]) & set(groups.loc[split["train"]])
    assert Trainer(models="logreg", outer_folds=3, n_trials=2, progress=False).fit(
        X, y).n_groups_ is None
    with pytest.raises(MlkitError, match="fewer than outer_folds=4"):
        Trainer(models="logreg", outer_folds=4).fit(X, y, groups=["a", "b", "c"] * 10 + ["a"] * 2)
    with pytest.raises(MlkitError, match="groups has 3 entries"):
        Trainer(models="logreg", outer_folds=3).fit(X, y, groups=["a", "b", "c"])


def test_load_groups_rows_without_a_group_are_their_own_group(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("id,sigma,Family\na,1e-3,garnet\nb,1e-4,garnet\nc,1e-5,\nd,1e-6,NASICON\n"
                   "e,1e-6,na\n")
    report = DatasetReport()
    g = load_groups(csv, "Family", ["a", "b", "c", "d", "e"], report=report)
    assert g.to_dict() == {"a": "garnet", "b": "garnet", "c": "id:c", "d": "NASICON",
                           "e": "id:e"}
    assert report.notes == ["groups from 'Family': 4 distinct over 5 rows (2 row(s) without "
                            "a group, each its own group)"]
    with pytest.raises(MlkitError, match="no group column 'family'"):
        load_groups(csv, "family", ["a"])
    with pytest.raises(MlkitError, match="1 id\\(s\\) without a row: z"):
        load_groups(csv, "Family", ["a", "z"])


def test_cli_train_group_column(tmp_path, capsys):
    X, y, groups = _leaky(n_groups=6, per_group=4)
    feats = X.reset_index(names="id").assign(source="", error="")
    feats.to_parquet(tmp_path / "f.parquet")
    labels = pd.DataFrame({"id": X.index, "y": y.to_numpy(), "family": groups.to_numpy()})
    labels.loc[0, "family"] = ""  # own group
    labels.to_csv(tmp_path / "labels.csv", index=False)
    rc = cli_main(["train", "--labels", str(tmp_path / "labels.csv"), "--features",
                   str(tmp_path / "f.parquet"), "--target", "y", "--task", "regression",
                   "--group-column", "family", "--models", "logreg", "--outer-folds", "3",
                   "--n-trials", "2", "--no-track", "--no-progress", "--no-explain",
                   "--output-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "groups from 'family': 7 distinct over 24 rows (1 row(s) without a group" in out
    assert "grouped CV: 7 groups" in out
