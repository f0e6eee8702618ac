"""Gradient-boosted discrete-time hazard model (LightGBM).

Each observation is expanded into the weekly intervals it was at risk in (``expand_intervals``):
interval k covers days (7k, 7(k+1)]. A churn in interval k gives rows 0..k with the label 1 on
the last; a censoring at d days gives the intervals 0..floor(d/7), all 0, the last one weighted
by the share of it that was observed.
Follow-up is cut at ``max_intervals`` (26 weeks by default). LightGBM learns the interval hazard
h_k(x) = P(churn in k | active at its start, x) with the interval index as a feature, and
S(t | x) = prod_k (1 - h_k(x)) (within an interval, the hazard is spread evenly in log S; after
the last interval the last interval's hazard continues).

Memory: the expanded rows are never materialized. The at-risk (row, interval) pairs are two small
integer arrays, and LightGBM reads the design matrix through a ``lightgbm.Sequence`` in batches
while it bins it, so peak memory is the binned dataset (one byte per feature per interval-row),
not a float copy of the expansion.

Attributions: exact tree SHAP of the hazard model (log-odds of h_k) for each interval up to the
horizon, summed with the share of each interval inside the horizon as weight (the last interval
counts partly). They add up exactly to ``predict_log_hazard``: sum_k w_k logit h_k(x). The
interval feature's part (and the bias) goes to the per-row base value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnlab.config import threads
from churnlab.modeling.gbm import lightgbm_feature_names, lightgbm_parameters
from churnlab.modeling.survival import SurvivalChurnEstimator
from churnlab.modeling.tree_shap import _numeric_view, lightgbm_contributions

INTERVAL = "interval"
BATCH_ROWS = 65_536


def expand_intervals(
    duration: np.ndarray, event: np.ndarray, interval_days: float, max_intervals: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The at-risk (row, interval) pairs, their labels and weights, without copying features.

    Returns ``rows`` (index into the observations), ``interval`` (0-based), ``label`` (1 in the
    interval the churn fell in) and ``weight``. A censoring inside an interval adds that interval
    with label 0 and the observed share of it as weight (actuarial exposure): dropping it would
    leave the interval with its churners but without the survivors that were censored in it, and
    inflate its hazard. A churn after ``max_intervals`` intervals is a censoring at their end.

    >>> rows, k, lab, w = expand_intervals(np.array([10.0, 7.0, 15.0]), np.array([1, 1, 0]), 7, 26)
    >>> rows.tolist(), k.tolist(), lab.tolist(), np.round(w, 3).tolist()
    ([0, 0, 1, 2, 2, 2], [0, 1, 0, 0, 1, 2], [0, 1, 1, 0, 0, 0], [1.0, 1.0, 1.0, 1.0, 1.0, 0.143])
    """
    d = np.asarray(duration, dtype=float)
    e = np.asarray(event).astype(bool)
    units = d / interval_days
    churn_interval = np.maximum(np.ceil(units).astype(np.int64) - 1, 0)
    full = np.floor(units).astype(np.int64)
    exposure = units - full  # observed share of the interval a censoring falls in
    partial = ~e & (exposure > 1e-9) & (full < max_intervals)
    at_risk = np.where(e, churn_interval + 1, full + partial)
    churn_seen = e & (churn_interval < max_intervals)
    at_risk = np.minimum(at_risk, max_intervals)
    rows = np.repeat(np.arange(len(d), dtype=np.int64), at_risk)
    start = np.repeat(np.cumsum(at_risk) - at_risk, at_risk)
    interval = (np.arange(len(rows), dtype=np.int64) - start).astype(np.int32)
    ends = np.cumsum(at_risk) - 1
    label = np.zeros(len(rows), dtype=np.int8)
    label[ends[churn_seen & (at_risk > 0)]] = 1
    weight = np.ones(len(rows), dtype=np.float64)
    last_partial = partial & (at_risk > 0)
    weight[ends[last_partial]] = exposure[last_partial]
    return rows, interval, label, weight


def _at_risk_sequence(M: np.ndarray, rows: np.ndarray, interval: np.ndarray):
    import lightgbm as lgb

    class AtRisk(lgb.Sequence):
        """Rows of [features of the observation, interval index], read in batches."""

        batch_size = BATCH_ROWS

        def __len__(self) -> int:
            return len(rows)

        def __getitem__(self, idx):
            if isinstance(idx, int | np.integer):
                return np.append(M[rows[idx]], interval[idx])
            return np.column_stack([M[rows[idx]], interval[idx]])

    return AtRisk()


class LightGBMSurvivalModel(SurvivalChurnEstimator):
    """The keywords up to ``early_stopping_rounds`` are LightGBM parameters (as for
    ``LightGBMChurnModel``); ``interval_days`` and ``max_intervals`` set the discrete-time
    grid; ``extra_params`` takes any other LightGBM parameter."""

    family = "lightgbm_survival"

    @classmethod
    def library_parameters(cls) -> frozenset[str] | None:
        return lightgbm_parameters()

    def __init__(
        self,
        *,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 200,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.7,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        interval_days: float = 7,
        max_intervals: int = 26,
        extra_params: dict[str, Any] | None = None,
        horizon_days: int | None = None,
        seed: int = 42,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.interval_days = interval_days
        self.max_intervals = max_intervals
        self.extra_params = extra_params
        self.horizon_days = horizon_days
        self.seed = seed

    def _fit_survival(self, X, duration, event, X_val, duration_val, event_val) -> None:
        import lightgbm as lgb

        params = self._model_params()
        self.interval_days_ = float(params.pop("interval_days"))
        self.max_intervals_ = int(params.pop("max_intervals"))
        if self.interval_days_ * self.max_intervals_ < self.horizon_days:
            raise ValueError(
                f"lightgbm_survival: interval_days x max_intervals "
                f"({self.interval_days_:g} x {self.max_intervals_}) must cover the "
                f"{self.horizon_days}-day horizon"
            )
        stop = int(params.pop("early_stopping_rounds"))
        rounds = int(params.pop("n_estimators"))
        if duration_val is None:
            raise ValueError("lightgbm_survival: early stopping needs the validation durations")
        names = self._lightgbm_names()
        cats = [self.feature_names_in_.index(c) for c in self.categorical_]
        lgb_params = {
            "objective": "binary",
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": threads(),
            "verbose": -1,
            **params,
        }

        def dataset(Xp, d, e, reference=None):
            rows, k, label, weight = expand_intervals(
                d, e, self.interval_days_, self.max_intervals_
            )
            seq = _at_risk_sequence(_numeric_view(Xp), rows, k.astype(np.float64))
            return lgb.Dataset(
                seq,
                label=label,
                weight=weight,
                feature_name=names,
                categorical_feature=cats,
                reference=reference,
                params={"verbose": -1, "seed": self.seed},
                free_raw_data=True,
            ), len(rows)

        train_set, n_train = dataset(X, duration, event)
        val_set, n_val = dataset(X_val, duration_val, event_val, reference=train_set)
        self.expanded_rows_ = {"train": n_train, "validation": n_val}
        self.booster_ = lgb.train(
            lgb_params,
            train_set,
            num_boost_round=rounds,
            valid_sets=[val_set],
            callbacks=[lgb.early_stopping(stop, verbose=False)],
        )
        self.best_iteration_ = int(self.booster_.best_iteration or rounds)

    def _lightgbm_names(self) -> list[str]:
        """The booster's column names: the features' (as LightGBM takes them), then the
        interval's (suffixed where a feature is named ``interval`` too)."""
        return lightgbm_feature_names([*self.feature_names_in_, INTERVAL])

    def _interval_matrix(self, M: np.ndarray, k: int) -> pd.DataFrame:
        frame = pd.DataFrame(M, columns=self._lightgbm_names()[:-1])
        frame.insert(M.shape[1], self._lightgbm_names()[-1], np.full(len(M), float(k)))
        return frame

    def _hazards(self, X: pd.DataFrame, intervals: int) -> np.ndarray:
        """Interval hazards h_k(x) for k < ``intervals``: (rows, intervals)."""
        M = _numeric_view(X)
        best = self.best_iteration_
        out = np.empty((len(X), intervals))
        for k in range(intervals):
            Mk = np.column_stack([M, np.full(len(M), float(k))])
            out[:, k] = self.booster_.predict(Mk, num_iteration=best)
        return out

    def _survival(self, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        K = self.max_intervals_
        h = np.clip(self._hazards(X, K), 0.0, 1 - 1e-12)
        log_s = np.log1p(-h)
        cum = np.column_stack([np.zeros(len(X)), np.cumsum(log_s, axis=1)])
        units = np.asarray(times, dtype=float) / self.interval_days_
        full = np.minimum(np.floor(units).astype(int), K)
        part = units - full  # in [0, 1) inside the window; >= 0 past it
        return np.exp(cum[:, full] + part * log_s[:, np.minimum(full, K - 1)])

    def _horizon_weights(self) -> np.ndarray:
        """Share of each interval inside the horizon: 1, ..., 1, partial, 0, ..."""
        units = self.horizon_days / self.interval_days_
        return np.clip(units - np.arange(self.max_intervals_), 0.0, 1.0)

    def _log_hazard(self, X: pd.DataFrame) -> np.ndarray:
        w = self._horizon_weights()
        used = np.flatnonzero(w > 0)
        M = _numeric_view(X)
        best = self.best_iteration_
        out = np.zeros(len(X))
        for k in used:
            Mk = np.column_stack([M, np.full(len(M), float(k))])
            out += w[k] * self.booster_.predict(Mk, raw_score=True, num_iteration=best)
        return out

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        w = self._horizon_weights()
        used = np.flatnonzero(w > 0)
        M = _numeric_view(X)
        p, n = len(self.feature_names_in_), len(X)
        # one call over every (row, interval) pair: the decision patterns repeat across them
        stacked = pd.concat([self._interval_matrix(M, k) for k in used], ignore_index=True)
        phi = lightgbm_contributions(self.booster_, stacked).reshape(len(used), n, p + 2)
        phi = np.tensordot(w[used], phi, axes=1)
        return phi[:, :p], phi[:, p] + phi[:, p + 1]  # the interval's part and the bias: base
