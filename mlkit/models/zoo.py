"""The model zoo: four model families, each with an Optuna search space.

========== ======================================= ==========================================
name       classification                          regression
========== ======================================= ==========================================
logreg     ``LogisticRegression`` (lbfgs)          ``Ridge`` (the linear counterpart)
rf         ``RandomForestClassifier``              ``RandomForestRegressor``
xgboost    ``XGBClassifier`` (hist)                ``XGBRegressor`` (hist)
lightgbm   ``LGBMClassifier``                      ``LGBMRegressor``
========== ======================================= ==========================================

Every model runs single-threaded (``n_jobs=1``) and is seeded. Search spaces are
sized for small materials data sets (tens to hundreds of rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlkit.errors import MlkitError


@dataclass(frozen=True)
class ModelSpec:
    """A model family: ``build(task, params, seed)`` and ``suggest(trial, task) -> params``."""

    name: str
    build: Callable[[str, dict[str, Any], int], Any]
    suggest: Callable[[Any, str], dict[str, Any]]
    linear: bool = False


def _logreg_build(task: str, params: dict[str, Any], seed: int):
    if task == "classification":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=5000, random_state=seed, **params)
    from sklearn.linear_model import Ridge

    return Ridge(random_state=seed, **params)


def _logreg_suggest(trial, task: str) -> dict[str, Any]:
    if task == "classification":
        return {
            "C": trial.suggest_float("C", 1e-3, 1e2, log=True),
            "class_weight": trial.suggest_categorical("class_weight", [None, "balanced"]),
        }
    return {"alpha": trial.suggest_float("alpha", 1e-3, 1e3, log=True)}


def _rf_build(task: str, params: dict[str, Any], seed: int):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return cls(random_state=seed, n_jobs=1, **params)


def _rf_suggest(trial, task: str) -> dict[str, Any]:
    params = {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=50),
        "max_depth": trial.suggest_int("max_depth", 2, 16),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 8),
        "max_features": trial.suggest_categorical("max_features", ["sqrt", 0.5, 1.0]),
    }
    if task == "classification":
        params["class_weight"] = trial.suggest_categorical("class_weight", [None, "balanced"])
    return params


def _xgb_build(task: str, params: dict[str, Any], seed: int):
    import xgboost as xgb

    cls = xgb.XGBClassifier if task == "classification" else xgb.XGBRegressor
    return cls(random_state=seed, n_jobs=1, tree_method="hist", verbosity=0, **params)


def _xgb_suggest(trial, task: str) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=50),
        "max_depth": trial.suggest_int("max_depth", 2, 6),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 5.0, log=True),
    }


def _lgbm_build(task: str, params: dict[str, Any], seed: int):
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
    return cls(random_state=seed, n_jobs=1, verbose=-1, subsample_freq=1, **params)


def _lgbm_suggest(trial, task: str) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=50),
        "num_leaves": trial.suggest_int("num_leaves", 4, 31),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 20),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


MODELS: dict[str, ModelSpec] = {
    "logreg": ModelSpec("logreg", _logreg_build, _logreg_suggest, linear=True),
    "rf": ModelSpec("rf", _rf_build, _rf_suggest),
    "xgboost": ModelSpec("xgboost", _xgb_build, _xgb_suggest),
    "lightgbm": ModelSpec("lightgbm", _lgbm_build, _lgbm_suggest),
}


def get_model(name: str) -> ModelSpec:
    """Look up a model family by name (error lists the known names)."""
    try:
        return MODELS[name]
    except KeyError:
        raise MlkitError(f"unknown model {name!r} (known: {', '.join(MODELS)})") from None


def parse_models(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"logreg,rf"`` or a list -> validated list of model names (order kept, no repeats)."""
    names = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    names = [n for n in names if n]
    if not names:
        raise MlkitError("no model given")
    out: list[str] = []
    for n in names:
        get_model(n)
        if n not in out:
            out.append(n)
    return out
