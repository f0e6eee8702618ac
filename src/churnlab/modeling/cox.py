"""Penalized Cox proportional hazards (lifelines) on the logistic model's preprocessing.

log h(t | x) = log h0(t) + beta . (z - mean(z)), with z the preprocessed inputs (numbers shaped
per column where that beats plain scaling on the validation C-index, imputed with missing
indicators, scaled; one-hot categoricals). Attributions are exact on the
log partial hazard: beta_j * (z_j - mean_j), summed back to each input feature; base 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnlab.errors import ChurnlabError
from churnlab.modeling.preprocess import (
    choose_preprocessing,
    column_owners,
    linear_preprocessor,
)
from churnlab.modeling.survival import SurvivalChurnEstimator

DURATION, EVENT = "_duration_days", "_event"


class CoxConvergenceError(ChurnlabError):
    """The Newton-Raphson fit did not converge (usually collinear or separating features)."""


class CoxChurnModel(SurvivalChurnEstimator):
    """``penalizer`` and ``l1_ratio`` are CoxPHFitter's; ``step_size`` and ``max_steps`` its
    Newton-Raphson fit options (lifelines' defaults when None). ``numeric_transform`` shapes the
    numbers as for the logistic family ("auto", "scale" or "signed_log1p",
    :mod:`churnlab.modeling.preprocess`), judged on the validation C-index; ``preprocessing_``
    records the choice. No other parameter is taken."""

    family = "cox"

    def __init__(
        self,
        *,
        penalizer: float = 0.1,
        l1_ratio: float = 0.0,
        step_size: float | None = None,
        max_steps: int | None = None,
        numeric_transform: str = "auto",
        horizon_days: int | None = None,
        seed: int = 42,
    ):
        self.penalizer = penalizer
        self.l1_ratio = l1_ratio
        self.step_size = step_size
        self.max_steps = max_steps
        self.numeric_transform = numeric_transform
        self.horizon_days = horizon_days
        self.seed = seed

    def _fit_survival(self, X, duration, event, X_val, duration_val, event_val) -> None:
        from lifelines.utils import concordance_index

        params = self._model_params()
        numeric_transform = params.pop("numeric_transform")
        numeric = [c for c in X.columns if c not in self.categorical_]
        validated = duration_val is not None and event_val is not None and event_val.sum() > 0

        def fit_and_score(shape: str):
            fitted = self._fit_design(X, duration, event, params, numeric, shape)
            if not validated:
                return fitted, fitted["preprocessor_"], float("nan")
            Z = fitted["preprocessor_"].transform(X_val)[:, fitted["keep_"]]
            log_hazard = fitted["cph_"].predict_log_partial_hazard(
                pd.DataFrame(Z, columns=fitted["columns_"])
            )
            score = concordance_index(duration_val, -log_hazard.to_numpy(), event_val)
            return fitted, fitted["preprocessor_"], score

        fitted, self.preprocessing_ = choose_preprocessing(
            numeric_transform, fit_and_score, validated=validated
        )
        self.__dict__.update(fitted)

    def _fit_design(self, X, duration, event, params, numeric, shape) -> dict:
        """The Cox fit on ``linear_preprocessor(numeric, categorical, shape)``: the fitted
        attributes, not yet set."""
        from lifelines import CoxPHFitter
        from lifelines.exceptions import ConvergenceError

        pre = linear_preprocessor(numeric, self.categorical_, shape).fit(X)
        Z = pre.transform(X)
        names = pre.get_feature_names_out()
        # constant columns (an all-present feature's missing indicator) carry no information
        # and make the Hessian singular
        keep = np.flatnonzero(Z.std(axis=0) > 1e-12)
        columns = [str(n) for n in names[keep]]
        df = pd.DataFrame(Z[:, keep], columns=columns)
        df[DURATION], df[EVENT] = duration, event
        fit_options = {k: params[k] for k in ("step_size", "max_steps") if params.get(k)}
        cph = CoxPHFitter(penalizer=params["penalizer"], l1_ratio=params["l1_ratio"])
        try:
            cph.fit(df, DURATION, EVENT, fit_options=fit_options or None)
        except (ConvergenceError, np.linalg.LinAlgError) as exc:
            reason = str(exc).splitlines()[0].split(". ")[0]
            raise CoxConvergenceError(
                f"cox: the fit did not converge with penalizer={params['penalizer']} "
                f"({reason}); raise model.params.penalizer (e.g. to "
                f"{max(params['penalizer'] * 10, 0.1):g}) or drop collinear features"
            ) from None
        return {
            "preprocessor_": pre,
            "keep_": keep,
            "columns_": columns,
            "column_owner_": column_owners(columns, self.feature_names_in_),
            "cph_": cph,
            "train_means_": Z[:, keep].mean(axis=0),
        }

    def refit_params(self) -> dict[str, Any]:
        """The preprocessing kept on the validation rows, fixed."""
        self._check_fitted()
        return {"numeric_transform": self.preprocessing_["kept"]}

    def __setstate__(self, state: dict) -> None:
        # fitted before the numbers' transform was chosen: signed log1p on every column
        if "cph_" in state and "preprocessing_" not in state:
            state.setdefault("numeric_transform", "signed_log1p")
        super().__setstate__(state)

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:
        Z = self.preprocessor_.transform(X)[:, self.keep_]
        return pd.DataFrame(Z, columns=self.columns_, index=X.index)

    def _survival(self, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        S = self.cph_.predict_survival_function(self._design(X), times=times).T.to_numpy(copy=True)
        # lifelines holds the first event time's value before it; S(0) is 1 by definition
        S[:, np.asarray(times) <= 0] = 1.0
        return S

    def _log_hazard(self, X: pd.DataFrame) -> np.ndarray:
        return self.cph_.predict_log_partial_hazard(self._design(X)).to_numpy()

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        Z = self._design(X).to_numpy()
        beta = self.cph_.params_.to_numpy()
        per_column = (Z - self.train_means_) * beta
        out = np.zeros((len(X), len(self.feature_names_in_)))
        np.add.at(out.T, self.column_owner_, per_column.T)
        return out, np.zeros(len(X))

    @property
    def summary(self) -> pd.DataFrame:
        """lifelines' coefficient table (coef, exp(coef), CIs, p) per design column."""
        self._check_fitted()
        return self.cph_.summary

    def plot_hazard_ratios(self, ax=None, top: int = 20):
        """Hazard ratios with 95% intervals for the ``top`` columns by |coef| (lifelines)."""
        import matplotlib.pyplot as plt

        self._check_fitted()
        ax = ax if ax is not None else plt.subplots(figsize=(7, 0.3 * top + 1.5))[1]
        cols = self.cph_.params_.abs().sort_values(ascending=False).index[:top].tolist()
        self.cph_.plot(columns=cols, hazard_ratios=True, ax=ax)
        ax.set_title(f"Cox hazard ratios (top {len(cols)} by |coef|, 95% CI)")
        return ax
