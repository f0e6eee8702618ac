"""Probability calibration of a fitted estimator, on the validation rows only.

The estimators (``churnlab.modeling``) fit the model and give a raw score, ``predict_raw``:
log-odds for the classifiers, logit(1 - S(horizon)) for the survival families.
``CalibratedChurnModel`` maps that score to the probability of churn within the trained
horizon, fitted on the validation cutoff (``sigmoid``: Platt scaling on the margin, so a
strictly increasing map; ``isotonic``). Training returns it and the pyfunc carries it.

>>> model = CalibratedChurnModel(estimator.fit(X, y, eval_set=(X_val, y_val)))  # doctest: +SKIP
>>> p = model.fit(X_val, y_val).predict_risk(X_test)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.utils.metaestimators import available_if

from churnlab.modeling import (
    ChurnEstimator,
    NotFittedError,
    SurvivalChurnEstimator,
    binary_labels,
    check_two_classes,
)
from churnlab.modeling.survival import SCORING_HORIZONS

METHODS = ("isotonic", "sigmoid")


def _estimator_has(name: str):
    return lambda self: hasattr(self.estimator, name)


class CalibratedChurnModel(BaseEstimator):
    """A fitted ``estimator`` and the calibration of its raw score (``method``), fitted by
    ``fit(X_val, y_val)`` on the validation rows; the estimator is not refitted.

    ``predict_risk`` is calibrated at the trained horizon; ``score`` gives risk, raw score and
    attributions from one column preparation (what scoring uses); ``extra_outputs`` the
    family's own score columns. ``predict_raw``, ``contributions`` and, where the family has
    them, ``predict_survival``, ``predict_log_hazard``, ``predict_expected_lifetime``,
    ``summary`` and ``plot_hazard_ratios`` are the estimator's."""

    def __init__(self, estimator: ChurnEstimator | None = None, method: str = "sigmoid"):
        self.estimator = estimator
        self.method = method

    def fit(
        self, X_val: pd.DataFrame, y_val: Any, sample_weight: np.ndarray | None = None
    ) -> CalibratedChurnModel:
        """Calibrate the estimator's raw score on the validation rows (``sample_weight``: a
        weight per row, e.g. by the recency of its cutoff)."""
        if self.method not in METHODS:
            raise ValueError(f"calibration must be 'isotonic' or 'sigmoid', not {self.method!r}")
        y = binary_labels(y_val, "y_val")
        check_two_classes(y, "validation")
        raw = self.estimator.predict_raw(X_val)
        calibrator = CalibratedClassifierCV(FrozenEstimator(_RawScore()), method=self.method)
        with warnings.catch_warnings():
            # the weights are for the calibration only: the estimator is frozen, as meant
            warnings.filterwarnings("ignore", "Since FrozenEstimator does not", UserWarning)
            calibrator.fit(raw[:, None], y, sample_weight=sample_weight)
        # one calibrator (a frozen estimator) of the one positive-class score: the map from the
        # raw score to the probability that calibrator.predict_proba applies
        self.calibration_map_ = _single_map(calibrator)
        return self

    @classmethod
    def from_legacy(cls, estimator: ChurnEstimator) -> CalibratedChurnModel:
        """The calibrated model of an estimator pickled before calibration left the estimators:
        its ``calibrator_`` (a CalibratedClassifierCV of the model's raw score) moves out of it
        into the returned model, which predicts exactly as the old estimator did."""
        legacy = estimator.__dict__.pop("calibrator_")
        estimator.__dict__.pop("calibration", None)
        model = cls(estimator, legacy.method)
        model.calibration_map_ = _single_map(legacy)
        return model

    # -- prediction ----------------------------------------------------------------------------
    def predict_risk(self, X: pd.DataFrame, horizon_days: int | None = None) -> np.ndarray:
        """P(churn within ``horizon_days``): calibrated at the trained horizon (the default);
        for survival families other horizons are the model's uncalibrated 1 - S(h)."""
        h = self._other_horizon(horizon_days)
        if h is None:
            return self._calibrated(self.estimator.predict_raw(X))
        return 1.0 - self.estimator.predict_survival(X, [h])[:, 0]

    def score(
        self, X: pd.DataFrame, contributions: bool = True
    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame | None]:
        """Calibrated risk, raw score and (``contributions``) the attributions per feature,
        from one column preparation."""
        if contributions:
            raw, values, _ = self.estimator.predict_raw_and_contributions(X)
        else:
            raw, values = self.estimator.predict_raw(X), None
        return self._calibrated(raw), raw, values

    def extra_outputs(self, X: pd.DataFrame) -> pd.DataFrame:
        """The family's own score columns. Survival families: ``p_churn_<h>d`` for 30/60/90
        days (calibrated at the trained horizon, 1 - S(h) elsewhere) and
        ``expected_lifetime_days`` (restricted mean survival time up to 180 days);
        classifiers: none."""
        if not isinstance(self.estimator, SurvivalChurnEstimator):
            return pd.DataFrame(index=X.index)
        out = {f"p_churn_{h}d": self.predict_risk(X, h) for h in SCORING_HORIZONS}
        out["expected_lifetime_days"] = self.estimator.predict_expected_lifetime(X)
        return pd.DataFrame(out, index=X.index)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_raw(X)

    def fit_choices(self) -> dict[str, Any]:
        """The estimator's choices and, for a model refitted on training and validation rows
        (single tables), ``refit``: its rows and the parameters fixed from the first fit. A
        refitted model's preprocessing and fit records are the first fit's: the refit saw the
        validation rows, so its own validation scores would be in-sample."""
        choices = self.estimator.fit_choices()
        if getattr(self, "refit_", None):
            chosen = self.refit_["chosen_on_validation"]
            choices.update({k: chosen[k] for k in ("preprocessing", "fit") if k in chosen})
            choices["refit"] = self.refit_
        return choices

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        return self.estimator.contributions(X)

    @available_if(_estimator_has("predict_survival"))
    def predict_survival(self, X: pd.DataFrame, times: Any) -> np.ndarray:
        return self.estimator.predict_survival(X, times)

    @available_if(_estimator_has("predict_log_hazard"))
    def predict_log_hazard(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_log_hazard(X)

    @available_if(_estimator_has("predict_expected_lifetime"))
    def predict_expected_lifetime(self, X: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        return self.estimator.predict_expected_lifetime(X, **kwargs)

    @available_if(_estimator_has("plot_hazard_ratios"))
    def plot_hazard_ratios(self, ax=None, **kwargs: Any):
        return self.estimator.plot_hazard_ratios(ax=ax, **kwargs)

    @property
    def summary(self) -> pd.DataFrame:
        return self.estimator.summary

    @property
    def family(self) -> str:
        return self.estimator.family

    @property
    def kind(self) -> str:
        return self.estimator.kind

    @property
    def attribution_scale(self) -> str:
        return self.estimator.attribution_scale

    @property
    def horizon_days(self) -> int | None:
        return self.estimator.horizon_days

    # -- helpers -------------------------------------------------------------------------------
    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        if not hasattr(self, "calibration_map_"):
            raise NotFittedError(
                "this CalibratedChurnModel is not calibrated yet; call fit(X_val, y_val)"
            )
        # a model refitted on more rows (single tables) carries the first fit's calibration
        # and the line that puts its raw score on the first fit's scale
        slope, intercept = getattr(self, "alignment_", (1.0, 0.0))
        return np.asarray(self.calibration_map_.predict(raw * slope + intercept), dtype=float)

    def _other_horizon(self, horizon_days: int | None) -> int | None:
        """None for the trained horizon; another horizon for survival families; an error for
        classifiers, which predict one horizon only."""
        trained = self.estimator.horizon_days
        if not horizon_days or not trained or horizon_days == trained:
            return None
        if not isinstance(self.estimator, SurvivalChurnEstimator):
            raise ValueError(
                f"this {self.estimator.family} model predicts churn within {trained} days; "
                f"for other horizons ({horizon_days}) train a survival family or another model"
            )
        return horizon_days


class _RawScore(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose decision function is its single input column: the estimator's
    raw score, so the calibration maps that score (sigmoid: Platt scaling on the margin)."""

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y) -> _RawScore:  # never called: wrapped in FrozenEstimator
        return self

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X)[:, 0]

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)


def _single_map(calibrator: CalibratedClassifierCV):
    """The fitted map from raw score to probability inside a CalibratedClassifierCV of a
    frozen binary classifier."""
    (calibrated,) = calibrator.calibrated_classifiers_
    (mapping,) = calibrated.calibrators
    return mapping
