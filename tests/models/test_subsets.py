"""Exhaustive subset search: agreement with scikit-learn, resume, Dask, generic path, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from subset_problems import make_problem

from mlkit.errors import MlkitError
from mlkit.models.subsets import (
    ExhaustiveSubsetSearch,
    exhaustive_subset_search,
    write_outputs,
)


def test_resume_after_stop_and_after_deleted_chunks(tmp_path):
    X, y = make_problem(p=7)
    kw = {"cv": 5, "chunk_size": 16, "progress": False, "n_jobs": 2}
    fresh = exhaustive_subset_search(X, y, **kw).table
    ck = tmp_path / "ck"
    part = exhaustive_subset_search(X, y, checkpoint_dir=ck, max_chunks=3, **kw)
    assert not part.complete and len(list(ck.glob("chunk_*.parquet"))) == 3
    assert len(part.table) < len(fresh)
    full = exhaustive_subset_search(X, y, checkpoint_dir=ck, **kw)
    assert full.complete
    pd.testing.assert_frame_equal(full.table, fresh)
    # lose some finished chunks: a rerun recomputes exactly those
    files = sorted(ck.glob("chunk_*.parquet"))
    for f in files[1::3]:
        f.unlink()
    again = exhaustive_subset_search(X, y, checkpoint_dir=ck, **kw)
    pd.testing.assert_frame_equal(again.table, fresh)
    assert again.table["bitmask"].is_unique
    pd.testing.assert_frame_equal(again.best_by_size, full.best_by_size)
    # a different search may not reuse the directory
    with pytest.raises(MlkitError, match="different search"):
        exhaustive_subset_search(X, y, checkpoint_dir=ck, C=2.0, **kw)


@pytest.mark.parametrize("processes", [False, True])
def test_dask_localcluster_gives_identical_table(processes):
    distributed = pytest.importorskip("distributed")
    X, y = make_problem(p=7)
    kw = {"cv": 5, "chunk_size": 16, "progress": False}
    local = exhaustive_subset_search(X, y, n_jobs=1, **kw)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = exhaustive_subset_search(X, y, dask_client=client, **kw)
    pd.testing.assert_frame_equal(remote.table, local.table)
    pd.testing.assert_frame_equal(remote.best_by_size, local.best_by_size)


def test_max_features_restricts_sizes():
    X, y = make_problem(p=7)
    full = exhaustive_subset_search(X, y, cv=5, chunk_size=16, progress=False).table
    part = exhaustive_subset_search(X, y, cv=5, chunk_size=16, max_features=3, progress=False)
    assert len(part.table) == sum(math.comb(7, k) for k in range(1, 4))
    ref = full[full["n_features"] <= 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.table, ref)


def test_outputs_plot_and_estimator_wrapper(tmp_path):
    X, y = make_problem(p=6)
    sel = ExhaustiveSubsetSearch(cv=5, chunk_size=16).fit(X, y)
    res = sel.results_
    assert sel.best_subset_ == res.features_of(sel.best_bitmask_)
    assert sel.best_score_ == res.table["f1_mean"].max()
    assert list(sel.get_feature_names_out()) == sel.best_subset_
    np.testing.assert_array_equal(sel.transform(X), X[sel.best_subset_].to_numpy())
    paths = write_outputs(res, tmp_path / "out")
    back = pd.read_parquet(paths["table"])
    pd.testing.assert_frame_equal(back, res.table)
    png = paths["curve"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert len(pd.read_csv(paths["best_by_size"])) == 6


def test_bad_input_errors():
    X, y = make_problem(p=4, n=40)
    with pytest.raises(MlkitError, match="binary target"):
        exhaustive_subset_search(X, np.arange(40) % 3, progress=False)
    y1 = np.zeros(40, int)
    y1[0] = 1
    with pytest.raises(MlkitError, match=r"1 member\)"):
        exhaustive_subset_search(X, y1, progress=False)
    Xn = X.copy()
    Xn.iloc[3, 2] = np.nan
    with pytest.raises(MlkitError, match="NaN/inf feature value.*f2"):
        exhaustive_subset_search(Xn, y, progress=False)
    with pytest.raises(MlkitError, match="non-numeric"):
        exhaustive_subset_search(X.assign(s="a"), y, progress=False)
    with pytest.raises(MlkitError, match="power of two"):
        exhaustive_subset_search(X, y, chunk_size=10, progress=False)
    with pytest.raises(MlkitError, match="unknown metric"):
        exhaustive_subset_search(X, y, metric="mcc", progress=False)
    with pytest.raises(MlkitError, match="40 rows but y has 39"):
        exhaustive_subset_search(X, y[:-1], progress=False)


def test_killed_search_resumes_without_loss_or_duplicates(tmp_path):
    """SIGKILL a running search (separate process), then finish it from its chunk files."""
    import subprocess
    import sys
    import time

    ck = tmp_path / "ck"
    script = (
        "import numpy as np, pandas as pd\n"
        "from mlkit.models.subsets import exhaustive_subset_search\n"
        "rng = np.random.default_rng(5)\n"
        "X = pd.DataFrame(rng.normal(size=(40, 8)), columns=[f'f{j}' for j in range(8)])\n"
        "y = (X['f0'] + rng.normal(size=40) > 0).astype(int)\n"
        f"exhaustive_subset_search(X, y, cv=3, chunk_size=4, n_jobs=1, progress=False,\n"
        f"    estimator='logreg_sklearn', checkpoint_dir={str(ck)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 50
        while len(list(ck.glob("chunk_*.parquet"))) < 3 and time.time() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.wait()
    n_before = len(list(ck.glob("chunk_*.parquet")))
    assert 3 <= n_before < 64, n_before
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(40, 8)), columns=[f"f{j}" for j in range(8)])
    y = (X["f0"] + rng.normal(size=40) > 0).astype(int)
    kw = {"cv": 3, "chunk_size": 4, "progress": False, "estimator": "logreg_sklearn"}
    resumed = exhaustive_subset_search(X, y, checkpoint_dir=ck, **kw)
    fresh = exhaustive_subset_search(X, y, **kw)
    assert resumed.complete and len(resumed.table) == 255
    pd.testing.assert_frame_equal(resumed.table, fresh.table)


def test_many_features_with_max_features_and_size_limit():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(40, 40)), columns=[f"c{j}" for j in range(40)])
    y = (X["c7"] + 0.5 * rng.normal(size=40) > 0).astype(int)
    res = exhaustive_subset_search(X, y, cv=4, max_features=2, progress=False)
    t = res.table
    assert len(t) == 40 + math.comb(40, 2) and t["bitmask"].dtype == np.uint64
    assert t["n_features"].max() == 2 and res.n_not_converged == 0
    assert "c7" in res.features_of(int(res.best_by_size.iloc[0]["bitmask"]))
    with pytest.raises(MlkitError, match="set max_features"):
        exhaustive_subset_search(X.assign(**{f"d{j}": X["c0"] * j for j in range(1, 5)}), y,
                                 progress=False)
