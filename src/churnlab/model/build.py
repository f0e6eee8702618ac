"""The deployable model of a training result: feature spec, calibrated estimator, risk-tier
thresholds, reason texts and drivers, MRR statistics, registered name."""

from __future__ import annotations

from churnlab.model.pyfunc import ChurnModel
from churnlab.training import TrainResult


def build_pyfunc(result: TrainResult) -> ChurnModel:
    """The pyfunc that scoring loads, from what ``training.train`` returned."""
    data = result.data
    mrr = data.frame.loc[result.split.masks["train"], "mrr"]
    return ChurnModel(
        estimator=result.estimator,
        feature_spec=data.feature_spec,
        tier_thresholds=result.tier_thresholds,
        descriptions=data.descriptions,
        drivers=data.drivers,
        horizon_days=result.spec.horizon_days,
        mrr_stats={
            "mean": float(mrr.mean()) if mrr.notna().any() else float("nan"),
            "median": float(mrr.median()) if mrr.notna().any() else float("nan"),
        },
        model_name=result.spec.model_name,
        reasons=data.reasons,
        reason_settings=result.spec.reasons,
        tier_basis=result.tier_basis,
        loss_thresholds=result.loss_thresholds,
    )
