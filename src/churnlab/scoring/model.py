"""The MLflow pyfunc model: everything scoring needs in one object.

It carries the feature spec (builders and parameters, or the customer-table columns), the fitted
estimator with its calibration, the risk-tier thresholds chosen on the validation cutoff, the
feature descriptions and driver map for reasons, and the training MRR statistics. ``predict``
takes the feature table (one row per account and cutoff) and returns per row: ``p_churn``,
``risk_tier``, ``health_score``, ``revenue_at_risk``, ``reason_1..3`` with ``driver_1..3`` and
``contribution_1..3``, and the model name. Survival families add ``p_churn_30d``,
``p_churn_60d``, ``p_churn_90d`` and ``expected_lifetime_days`` (restricted mean survival time
up to 180 days; see ``churnlab.modeling.survival``).
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from churnlab.explain.reasons import top_reasons

DAYS_PER_MONTH = 365.25 / 12
REASONS = 3


class ChurnModel(mlflow.pyfunc.PythonModel):
    def __init__(
        self,
        estimator: Any,
        feature_spec: dict[str, Any],
        tier_thresholds: dict[str, float],
        descriptions: dict[str, str],
        drivers: dict[str, str],
        horizon_days: int,
        mrr_stats: dict[str, float],
        model_name: str,
    ):
        self.estimator = estimator
        self.feature_spec = feature_spec
        self.tier_thresholds = tier_thresholds
        self.descriptions = descriptions
        self.drivers = drivers
        self.horizon_days = horizon_days
        self.mrr_stats = mrr_stats
        self.model_name = model_name

    @property
    def features(self) -> list[str]:
        return list(self.feature_spec["features"])

    def input_columns(self) -> list[str]:
        keys = (
            ["account_id", "cutoff"]
            if self.feature_spec.get("kind") == "events"
            else ["account_id"]
        )
        return [*keys, "mrr", *self.features]

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        return self.score(model_input)

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Risk, tier, health, revenue at risk and top reasons for each row of ``frame``."""
        X = frame[self.features]
        p = self.estimator.predict_risk(X)
        values, _ = self.estimator.contributions(X)
        reasons = top_reasons(values, X, self.descriptions, self.drivers, k=REASONS)
        raw, t = self.estimator.predict_raw(X), self.tier_thresholds
        tier = np.where(raw >= t["high"], "high", np.where(raw >= t["medium"], "medium", "low"))
        mrr = (
            pd.to_numeric(frame["mrr"], errors="coerce").to_numpy(dtype=float)
            if "mrr" in frame
            else np.full(len(frame), np.nan)
        )
        out = pd.DataFrame(
            {
                "account_id": frame["account_id"].to_numpy(),
                "cutoff": frame["cutoff"].to_numpy() if "cutoff" in frame else pd.NaT,
                "p_churn": p,
                "risk_tier": tier,
                "health_score": np.round(100 * (1 - p), 1),
                "revenue_at_risk": p * mrr * self.horizon_days / DAYS_PER_MONTH,
            }
        )
        cols = [
            f"{k}_{i}" for i in range(1, REASONS + 1) for k in ("reason", "driver", "contribution")
        ]
        out[cols] = reasons[cols].to_numpy()
        for i in range(1, REASONS + 1):
            out[f"contribution_{i}"] = out[f"contribution_{i}"].astype("float64")
        out["model_name"] = self.model_name
        if getattr(self.estimator, "kind", "classifier") == "survival":
            from churnlab.modeling.survival import survival_outputs

            for col, values in survival_outputs(self.estimator, X).items():
                out[col] = values.to_numpy()
        return out
