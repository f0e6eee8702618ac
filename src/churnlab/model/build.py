"""The deployable model of a training result: feature spec, calibrated estimator, risk-tier
thresholds, reason texts and drivers, MRR statistics, registered name, and the reference
profile of the validation rows that monitoring compares scored batches against."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnlab.evaluation import bootstrap_se, expected_metrics
from churnlab.evaluation.profiles import reference_profile
from churnlab.model.pyfunc import ChurnModel
from churnlab.training import TrainResult
from churnlab.vocab import TIERS


def build_reference(result: TrainResult, model: ChurnModel) -> dict[str, Any]:
    """The validation rows' profile: feature bins, predictions, tiers and metrics, with the
    label definition (horizon, lead) monitoring needs to join realized labels."""
    data, spec = result.data, result.spec
    valid, test = result.predictions["validation"], result.predictions["test"]
    X = data.frame.loc[valid.index, data.features]
    p = valid.p.to_numpy(dtype=float)
    mrr = valid.mrr.to_numpy(dtype=float) if "mrr" in valid else np.full(len(valid), np.nan)
    tiers = model.tiers(result.estimator.predict_raw(X), p, mrr)
    return reference_profile(
        X,
        data.drivers,
        valid.p.to_numpy(dtype=float),
        tiers,
        TIERS,
        metrics=result.folds[0].metrics["validation"],
        expected=expected_metrics(valid.p.to_numpy(dtype=float)),
        # the out-of-time test metrics and how much they move by chance: what a batch's
        # realized performance is held against
        test_metrics=result.folds[0].metrics["test"],
        test_metrics_se={
            m: bootstrap_se(test.y.to_numpy(dtype=int), test.p.to_numpy(dtype=float), m)
            for m in ("roc_auc", "pr_auc")
        },
        horizon_days=spec.horizon_days,
        lead_days=spec.lead_days,
        cutoffs=sorted({str(pd.Timestamp(c).date()) for c in valid.cutoff.dropna().unique()}),
    )


def build_pyfunc(result: TrainResult) -> ChurnModel:
    """The pyfunc that scoring loads, from what ``training.train`` returned."""
    data = result.data
    mrr = data.frame.loc[result.split.masks["train"], "mrr"]
    model = ChurnModel(
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
    model.reference = build_reference(result, model)
    return model
