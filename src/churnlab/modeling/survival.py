"""Survival families: the shared estimator contract, out-of-time censoring and the fold fit.

A survival family learns S(t | x), the probability that a customer is still active ``t`` days
after the cutoff, from (duration, event) pairs, so censored observations (no churn seen yet)
count as "survived at least this long" instead of being dropped. From one fit it answers every
horizon: the risk of churn within h days is 1 - S(h | x).

The raw score (``predict_raw``) is logit(1 - S(horizon_days)). As for the classifiers, the
training layer calibrates it on the validation cutoff only
(``churnlab.training.calibration``); other horizons (the pyfunc's ``p_churn_30d`` and
``p_churn_60d``) are the model's own, uncalibrated 1 - S(h): a calibration map fitted at one
horizon does not transfer to another.

Out-of-time censoring (``survival_targets``): a training row at cutoff c is followed up only to
the validation cutoff, so its duration is min(duration, validation cutoff - c) and an event
after the validation cutoff becomes a censoring there. Training cutoffs are every cutoff before
the validation cutoff, including those whose label window is still open at the validation
cutoff (classifiers must drop them; survival models use them, censored). Validation rows are
followed up to the test cutoff (used for early stopping); test rows to the end of the data.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from churnlab.modeling.base import ChurnEstimator, binary_labels, check_two_classes

log = logging.getLogger(__name__)
SCORING_HORIZONS = (30, 60, 90)  # the pyfunc's p_churn_<h>d columns
RMST_LIMIT_DAYS = 180  # expected remaining lifetime is the restricted mean up to this limit


def survival_target(duration: Any, event: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Durations (days, >= 0, finite) and events (0/1) as arrays, or an error naming the part."""
    d = np.asarray(pd.Series(duration).astype("float64"))
    e = np.asarray(pd.Series(event).astype("float64"))
    if len(d) != len(e):
        raise ValueError(f"{name}: {len(d)} durations but {len(e)} events")
    bad = ~np.isfinite(d) | (d < 0)
    if bad.any():
        raise ValueError(
            f"{name}: {int(bad.sum())} duration(s) missing, infinite or negative "
            f"(e.g. {d[bad][:3].tolist()}); survival families need a duration for every row"
        )
    if np.isnan(e).any() or not np.isin(e, (0.0, 1.0)).all():
        raise ValueError(f"{name}: events must be 0/1 (1 = churned, 0 = censored)")
    return d, e.astype(int)


class SurvivalChurnEstimator(ChurnEstimator):
    """Shared fit and prediction for survival families. Families implement ``_fit_survival``,
    ``_survival`` (S at given times for prepared rows), ``_log_hazard`` and ``_contributions``
    (additive on ``_log_hazard``)."""

    kind = "survival"
    attribution_scale = "log-hazard"

    def fit(
        self,
        X: pd.DataFrame,
        y: Any = None,
        duration: Any = None,
        event: Any = None,
        eval_set: tuple | None = None,
    ) -> SurvivalChurnEstimator:
        """Fit on (duration, event) of the training rows (``y`` is not used: censored rows have
        no complete label). ``eval_set`` is ``(X_val, y_val)`` or ``(X_val, y_val, duration_val,
        event_val)``: families that stop early use the validation durations; the calibration
        that follows fits on ``y_val``."""
        if not self.horizon_days:
            raise ValueError(
                f"{self.family}: horizon_days is needed (the risk score is 1 - S(horizon_days))"
            )
        d, e = self._training_target(X, duration, event)
        X_val, dv, ev = self._validation_rows(eval_set)
        self.__dict__.pop("fitted_", None)  # a failed refit leaves no fitted model behind
        self._learn_columns(X)
        self._fit_survival(self.prepare(X), d, e, self.prepare(X_val), dv, ev)
        self.fitted_ = True
        return self

    def _training_target(self, X: pd.DataFrame, duration: Any, event: Any):
        if duration is None or event is None:
            raise ValueError(f"{self.family}: fit needs duration= and event= (survival target)")
        d, e = survival_target(duration, event, "training")
        if len(d) != len(X):
            raise ValueError(f"training: {len(X)} rows but {len(d)} durations")
        if e.sum() == 0:
            raise ValueError("the training rows have no churn events; nothing to learn")
        return d, e

    def _validation_rows(self, eval_set: tuple | None):
        """(X_val, duration_val, event_val) from ``eval_set``, the labels checked."""
        if eval_set is None or len(eval_set) not in (2, 4):
            raise ValueError(
                f"{self.family}: fit needs eval_set=(X_validation, y_validation[, duration, "
                "event]): probability calibration uses the validation rows only"
            )
        check_two_classes(binary_labels(eval_set[1], "eval_set y"), "validation")
        if len(eval_set) == 2:
            return eval_set[0], None, None
        return eval_set[0], *survival_target(eval_set[2], eval_set[3], "validation")

    # -- prediction ----------------------------------------------------------------------------
    def predict_survival(self, X: pd.DataFrame, times: Any) -> np.ndarray:
        """S(t | x): an array of shape (rows, len(times)), uncalibrated."""
        self._check_fitted()
        times = np.atleast_1d(np.asarray(times, dtype=float))
        if (times < 0).any():
            raise ValueError("times must be >= 0 days")
        return self._survival(self.prepare(X), times)

    def predict_log_hazard(self, X: pd.DataFrame) -> np.ndarray:
        """The score ``contributions`` add up to (family-specific log-hazard scale)."""
        self._check_fitted()
        return self._log_hazard(self.prepare(X))

    def predict_expected_lifetime(
        self, X: pd.DataFrame, limit_days: int = RMST_LIMIT_DAYS
    ) -> np.ndarray:
        """Restricted mean survival time: the integral of S(t | x) over [0, limit] in days
        (expected days active within the next ``limit_days``)."""
        grid = np.arange(0, limit_days + 1, dtype=float)
        return np.trapezoid(self.predict_survival(X, grid), grid, axis=1)

    def _raw_log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """logit(1 - S(horizon_days)): what is calibrated and what risk tiers cut."""
        s = np.clip(self._survival(X, np.array([float(self.horizon_days)]))[:, 0], 1e-12, 1)
        p = np.clip(1.0 - s, 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    def _fit_survival(self, X, duration, event, X_val, duration_val, event_val) -> None:
        raise NotImplementedError  # pragma: no cover

    def _survival(self, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def _log_hazard(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover


class _HorizonRisk(ClassifierMixin, BaseEstimator):
    """A fitted survival model seen as a classifier of churn within its horizon, through the
    logit of 1 - S(horizon): what the calibration inside models pickled before calibration
    left the estimators was fitted on (kept so they load)."""

    def __init__(self, model=None):
        self.model = model

    @property
    def classes_(self):
        return np.array([0, 1])

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y):  # never called: wrapped in FrozenEstimator
        return self

    def decision_function(self, X):
        return self.model._raw_log_odds(X)

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(int)
