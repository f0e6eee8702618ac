"""LightGBM with native categoricals and early stopping on the validation cutoff.
Attributions: exact tree SHAP from LightGBM's own ``pred_contrib`` (multi-threaded C++), run
once per distinct decision pattern per tree (``tree_shap``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from churnlab.modeling.base import ChurnEstimator
from churnlab.modeling.tree_shap import lightgbm_contributions, small_batch_threads

DEFAULTS = {
    "n_estimators": 2000,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.7,
    "reg_lambda": 1.0,
    "early_stopping_rounds": 100,
}


class LightGBMChurnModel(ChurnEstimator):
    """``callbacks``: extra LightGBM callbacks run after each boosting round (the tuning pruner
    uses this); models meant for logging are made without them."""

    family = "lightgbm"

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        calibration: str = "sigmoid",
        horizon_days: int | None = None,
        seed: int = 42,
        callbacks: list[Callable] | None = None,
    ):
        super().__init__(params, calibration, horizon_days, seed)
        self.callbacks = callbacks

    def _fit_model(self, X, y, X_val, y_val) -> None:
        import lightgbm as lgb

        params = {
            "random_state": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "n_jobs": int(os.environ.get("CHURNLAB_THREADS", os.cpu_count() or 1)),
            "verbose": -1,
            **DEFAULTS,
            **(self.params or {}),
        }
        stop = int(params.pop("early_stopping_rounds"))
        self.model_ = lgb.LGBMClassifier(**params)
        self.model_.fit(
            X,
            y,
            eval_X=X_val,
            eval_y=y_val,
            eval_metric="binary_logloss",
            categorical_feature=self.categorical_ or "auto",
            callbacks=[lgb.early_stopping(stop, verbose=False), *(self.callbacks or [])],
        )
        self.best_iteration_ = int(self.model_.best_iteration_ or self.model_.n_estimators)

    def _classifier(self):
        return _LogOdds(self.model_)

    def _raw_log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(X, raw_score=True, **small_batch_threads(len(X)))

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        values = lightgbm_contributions(self.model_.booster_, X)
        return values[:, :-1], values[:, -1]


class _LogOdds(ClassifierMixin, BaseEstimator):
    """The fitted LightGBM model seen through its raw log-odds, so sigmoid calibration is
    Platt scaling on the margin (as for the logistic model), not on probabilities."""

    def __init__(self, model=None):
        self.model = model

    @property
    def classes_(self):
        return self.model.classes_

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y):  # never called: the model is fitted (wrapped in FrozenEstimator)
        return self

    def decision_function(self, X):
        return self.model.predict(X, raw_score=True, **small_batch_threads(len(X)))

    def predict_proba(self, X):
        return self.model.predict_proba(X)

    def predict(self, X):
        return self.model.predict(X)
