"""Logistic baseline: a per-column shape transform chosen on the training rows (kept only if it
beats plain scaling on the validation rows), imputation (with missing-value indicators) and
scaling for numbers, one-hot for categoricals, L2 logistic regression
(:mod:`churnlab.modeling.preprocess`). Attributions are exact: w_j * (x_j - mean_j) on the
transformed columns, summed back to each input feature."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from churnlab.modeling.base import ChurnEstimator
from churnlab.modeling.preprocess import (  # noqa: F401  (the helpers keep their old home
    SHAPE_NAMES,
    _as_text,  # for models pickled before the preprocessing moved to its own module)
    _signed_log1p,
    choose_preprocessing,
    column_owners,
    linear_preprocessor,
)

CS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # the inverse L2 strengths C="auto" tries


class LogisticChurnModel(ChurnEstimator):
    """``C``, ``max_iter`` and ``class_weight`` are LogisticRegression's; ``extra_params`` takes
    any other of its parameters (e.g. ``l1_ratio``, ``solver``). ``C="auto"`` (default) is
    chosen on the validation ROC-AUC from ``CS`` for each candidate preprocessing (on a tie the
    stronger penalty); ``resolved_params_`` holds the kept C and ``fit_record_`` every
    candidate's validation score. ``numeric_transform`` shapes the numbers: "auto" (per column,
    kept only where it beats plain scaling on the validation ROC-AUC), "scale" or
    "signed_log1p" (:mod:`churnlab.modeling.preprocess`); the fitted ``preprocessing_``
    records what was kept, per column, with both validation scores."""

    family = "logistic"

    @classmethod
    def library_parameters(cls) -> frozenset[str] | None:
        return frozenset(LogisticRegression().get_params())

    def __init__(
        self,
        *,
        C: float | str = "auto",
        max_iter: int = 5000,
        class_weight: dict | str | None = None,
        numeric_transform: str = "auto",
        extra_params: dict[str, Any] | None = None,
        horizon_days: int | None = None,
        seed: int = 42,
    ):
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.numeric_transform = numeric_transform
        self.extra_params = extra_params
        self.horizon_days = horizon_days
        self.seed = seed

    def _fit_model(self, X, y, X_val, y_val) -> None:
        params = self._model_params()
        numeric_transform = params.pop("numeric_transform")
        auto = isinstance(params["C"], str) and params["C"] == "auto"
        grid = CS if auto else (_inverse_strength(params["C"]),)
        numeric = [c for c in X.columns if c not in self.categorical_]
        by_shape: dict[str, dict[str, float]] = {}

        def fit_and_score(shape: str):
            pre = linear_preprocessor(numeric, self.categorical_, shape).fit(X)
            Z, Z_val = pre.transform(X), pre.transform(X_val)
            fits, start = {}, None
            for C in grid:  # strongest first, each fit started from the previous optimum
                lr = _fit_from(start, Z, y, random_state=self.seed, **{**params, "C": C})
                fits[C] = (lr, roc_auc_score(y_val, lr.decision_function(Z_val)))
                start = lr
            by_shape[shape] = {f"{C:g}": round(float(s), 6) for C, (_, s) in fits.items()}
            best = max(grid, key=lambda C: fits[C][1])  # the first (strongest) of equals
            pipeline = Pipeline([("pre", pre), ("lr", fits[best][0])])
            return pipeline, pre, fits[best][1]

        self.pipeline_, self.preprocessing_ = choose_preprocessing(numeric_transform, fit_and_score)
        pre = self.pipeline_.named_steps["pre"]
        self.resolved_params_ = {"C": float(self.pipeline_.named_steps["lr"].C)}
        if auto:
            self.fit_record_ = {
                "C_validation_roc_auc": {SHAPE_NAMES[k]: v for k, v in by_shape.items()},
                "C": self.resolved_params_["C"],
            }
        Z = pre.transform(X)
        self.train_means_ = Z.mean(axis=0)
        self.column_owner_ = column_owners(pre.get_feature_names_out(), self.feature_names_in_)

    def refit_params(self) -> dict[str, Any]:
        """The preprocessing and C kept on the validation rows, fixed."""
        self._check_fitted()
        fixed = {"numeric_transform": self.preprocessing_["kept"]}
        if hasattr(self, "resolved_params_"):
            fixed["C"] = self.resolved_params_["C"]
        return fixed

    def __setstate__(self, state: dict) -> None:
        # fitted before the numbers' transform was chosen: signed log1p on every column
        if "pipeline_" in state and "preprocessing_" not in state:
            state.setdefault("numeric_transform", "signed_log1p")
        super().__setstate__(state)

    def _raw_log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.decision_function(X)

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        lr = self.pipeline_.named_steps["lr"]
        Z = self.pipeline_.named_steps["pre"].transform(X)
        w = lr.coef_[0]
        per_column = (Z - self.train_means_) * w
        out = np.zeros((len(X), len(self.feature_names_in_)))
        np.add.at(out.T, self.column_owner_, per_column.T)
        base = float(lr.intercept_[0] + self.train_means_ @ w)
        return out, np.full(len(X), base)


def _inverse_strength(value: Any) -> float:
    try:
        C = float(value)
    except (TypeError, ValueError):
        C = 0.0
    if not C > 0:
        raise ValueError(f'logistic: C must be "auto" or a number > 0, got {value!r}')
    return C


def _fit_from(start: LogisticRegression | None, Z, y, **params) -> LogisticRegression:
    """A LogisticRegression fitted from ``start``'s coefficients (a warm start along the grid
    of C: the path's next optimum is near the last one, so lbfgs needs a fraction of the
    iterations; the optimum reached is the same to the solver's tolerance)."""
    lr = LogisticRegression(**params)
    if start is None or params.get("solver", "lbfgs") != "lbfgs":
        return lr.fit(Z, y)
    lr.set_params(warm_start=True)
    lr.coef_, lr.intercept_ = start.coef_.copy(), start.intercept_.copy()
    return lr.fit(Z, y).set_params(warm_start=False)
