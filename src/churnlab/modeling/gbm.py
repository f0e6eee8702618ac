"""LightGBM with native categoricals and early stopping on the validation cutoff.
Attributions: exact tree SHAP from LightGBM's own ``pred_contrib`` (multi-threaded C++), run
once per distinct decision pattern per tree (``tree_shap``)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from churnlab.modeling.base import ChurnEstimator
from churnlab.modeling.tree_shap import lightgbm_contributions

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
    family = "lightgbm"

    def _fit_model(self, X, y, X_val, y_val) -> None:
        import lightgbm as lgb

        params = {**DEFAULTS, **(self.params or {})}
        stop = int(params.pop("early_stopping_rounds"))
        self.model_ = lgb.LGBMClassifier(
            random_state=self.seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=int(os.environ.get("CHURNLAB_THREADS", os.cpu_count() or 1)),
            verbose=-1,
            **params,
        )
        self.model_.fit(
            X,
            y,
            eval_X=X_val,
            eval_y=y_val,
            eval_metric="binary_logloss",
            categorical_feature=self.categorical_ or "auto",
            callbacks=[lgb.early_stopping(stop, verbose=False)],
        )
        self.best_iteration_ = int(self.model_.best_iteration_ or self.model_.n_estimators)

    def _classifier(self):
        return self.model_

    def _raw_log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(X, raw_score=True)

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        values = lightgbm_contributions(self.model_.booster_, X)
        return values[:, :-1], values[:, -1]
