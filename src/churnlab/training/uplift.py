"""One fold of an uplift family: fit on the randomized training rows, estimate the uplift on the validation and test rows and measure it there
(Qini, AUUC, uplift at k; with the simulator's oracle uplift also the correlation with the
true effect and the share of the oracle policy's value).

``training.train`` runs it inside its one fold loop for the ``UPLIFT_FAMILIES``; the frame
holds randomized observations only, with their ``treated`` status
(:func:`churnlab.training.data.with_treatment`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from churnlab.config import ExperimentSpec
from churnlab.data.simulate import oracle_uplift as true_uplift
from churnlab.evaluation import uplift_metrics
from churnlab.modeling import UpliftEstimator, make_uplift_estimator
from churnlab.training.data import TrainingData
from churnlab.training.split import Split, SplitError

log = logging.getLogger(__name__)
PREDICTION_COLUMNS = ["account_id", "cutoff", "mrr"]


def uplift_estimator_for(spec: ExperimentSpec) -> UpliftEstimator:
    """The spec's uplift family with its params, horizon and seed."""
    return make_uplift_estimator(
        spec.model.family,
        dict(spec.model.params),
        horizon_days=spec.horizon_days,
        seed=spec.seed,
    )


def check_arms(split: Split, treated: pd.Series) -> None:
    """Every part needs treated and control rows: the learner fits one outcome per arm, and
    the metrics compare the arms."""
    for part, mask in split.masks.items():
        arms = set(treated[mask].astype(int).unique())
        missing = [name for arm, name in ((1, "treated"), (0, "control")) if arm not in arms]
        if missing:
            where = f" (cutoffs {', '.join(split.cutoffs.get(part, []))})"
            raise SplitError(f"split part '{part}'{where} has no {' or '.join(missing)} rows")


def fit_uplift_fold(
    spec: ExperimentSpec, data: TrainingData, split: Split
) -> tuple[UpliftEstimator, dict[str, pd.DataFrame], dict[str, dict[str, float]]]:
    """The fitted uplift estimator, and per part (validation, test) its predictions
    (keys, MRR, ``y``, ``treated``, ``uplift``, and ``oracle_uplift`` on simulated data) and
    metrics."""
    frame, X = data.frame, data.frame[data.features]
    y = frame.churned_within_h.fillna(False).astype(int)
    t = frame.treated.astype(int)
    tr, va = split.masks["train"], split.masks["validation"]
    log.info(
        "%s: %d training rows (%d treated), %d validation rows",
        spec.model.family, int(tr.sum()), int(t[tr].sum()), int(va.sum()),
    )  # fmt: skip
    # base models choose their rounds by cross-validation on the training rows: a campaign's
    # validation cutoff has too few randomized rows to stop on; it measures the model
    est = uplift_estimator_for(spec).fit(X[tr], y[tr], t[tr])
    preds, metrics = {}, {}
    for part in ("validation", "test"):
        m = split.masks[part]
        pred = frame.loc[m, PREDICTION_COLUMNS].assign(
            y=y[m].to_numpy(), treated=t[m].to_numpy(), uplift=est.predict_uplift(X[m])
        )
        truth = oracle_uplift(spec, data, pred)
        if truth is not None:
            pred["oracle_uplift"] = truth
        metrics[part] = uplift_metrics(
            pred.y.to_numpy(), pred.treated.to_numpy(), pred.uplift.to_numpy(), truth
        )
        preds[part] = pred
    return est, preds, metrics


def oracle_uplift(
    spec: ExperimentSpec, data: TrainingData, pred: pd.DataFrame
) -> np.ndarray | None:
    """The simulator's true uplift of the rows of ``pred`` (None for real data)."""
    if data.truth_path is None:
        return None
    truth = true_uplift(data.truth_path, pred[["account_id", "cutoff"]], spec.horizon_days)
    values = truth["uplift"].to_numpy(dtype=float)
    return values if np.isfinite(values).all() else None
