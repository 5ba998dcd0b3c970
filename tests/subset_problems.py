"""Shared helpers of the subset-search tests: a seeded problem and a scikit-learn fold fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

METRIC_COLS = ["f1_mean", "f1_std", "accuracy_mean", "accuracy_std", "roc_auc_mean", "roc_auc_std"]


def make_problem(n: int = 60, p: int = 7, seed: int = 1, signal: int = 3):
    """Seeded correlated features, a logistic signal in the first ``signal`` ones."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(p, p)) * 0.5 + np.eye(p)
    X = rng.normal(size=(n, p)) @ mix * rng.uniform(0.1, 10, size=p) + rng.normal(size=p)
    w = np.zeros(p)
    w[:signal] = rng.normal(size=signal)
    z = (X - X.mean(0)) / X.std(0)
    y = (z @ w + rng.normal(size=n) > 0).astype(int)
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(p)]), y


def sklearn_fold_fit(X, y, cols, train, test, C=1.0, tol=1e-10):
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=C, tol=tol, max_iter=10000))
    pipe.fit(X[np.ix_(train, cols)], y[train])
    lr = pipe[-1]
    return lr, pipe.predict(X[np.ix_(test, cols)]), pipe.decision_function(X[np.ix_(test, cols)])
