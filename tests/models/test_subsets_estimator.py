"""ExhaustiveSubsetSearch is a scikit-learn estimator: the library's checks, clone, pipelines."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from subset_problems import make_problem

from mlkit.models.subsets import ExhaustiveSubsetSearch, exhaustive_subset_search


# every check applies; the only one not run is check_array_api_input, which scikit-learn
# skips itself unless SCIPY_ARRAY_API is set (the numba kernel needs numpy arrays anyway)
@parametrize_with_checks([ExhaustiveSubsetSearch(cv=3, max_features=2, chunk_size=4, n_jobs=1)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_get_params_and_pipeline():
    X, y = make_problem(p=5)
    sel = ExhaustiveSubsetSearch(cv=4, max_features=3, chunk_size=8, n_jobs=1, C=2.0)
    params = sel.get_params()
    assert params["C"] == 2.0 and params["max_features"] == 3 and params["progress"] is False
    twin = clone(sel).set_params(C=0.5)
    assert twin.C == 0.5 and sel.C == 2.0 and not hasattr(twin, "support_")
    with pytest.raises(NotFittedError):
        twin.get_support()

    pipe = make_pipeline(sel, LogisticRegression()).fit(X, y)
    fitted = pipe[0]
    ref = exhaustive_subset_search(X, y, cv=4, max_features=3, chunk_size=8, n_jobs=1, C=2.0,
                                   progress=False)
    assert fitted.best_bitmask_ == int(ref.best["bitmask"])
    assert pipe[-1].n_features_in_ == int(fitted.support_.sum()) <= 3
    assert list(pipe[:-1].get_feature_names_out()) == fitted.best_subset_
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_pandas_output_keeps_names():
    X, y = make_problem(p=4)
    sel = ExhaustiveSubsetSearch(cv=3, n_jobs=1).set_output(transform="pandas").fit(X, y)
    out = sel.transform(X)
    assert list(out.columns) == sel.best_subset_ and list(out.index) == list(X.index)
    np.testing.assert_array_equal(sel.feature_names_in_, X.columns.to_numpy())


def test_library_leaves_matplotlib_backend_alone(tmp_path):
    """Plotting a result must not switch the user's backend (Figure API, no pyplot)."""
    X, y = make_problem(p=3)
    res = exhaustive_subset_search(X, y, cv=3, progress=False, n_jobs=1)
    original = matplotlib.get_backend()
    matplotlib.use("svg")  # a user's choice that is not Agg
    try:
        png = res.plot_curve(tmp_path / "c.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(original)
    assert png.read_bytes()[:4] == b"\x89PNG"
