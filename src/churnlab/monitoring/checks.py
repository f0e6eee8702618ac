"""The checks of one scored batch against its model's reference profile: data drift per feature
and per driver, prediction drift, realized performance (labels matured) and estimated
performance (confidence-based, from the calibrated probabilities)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnlab.evaluation import bootstrap_se, classification_metrics, expected_metrics
from churnlab.evaluation.profiles import feature_drift, prediction_drift


def _by_driver(driver: np.ndarray, psi: np.ndarray, drifted: np.ndarray) -> list[dict[str, Any]]:
    """Per driver: features, drifted count, mean and max PSI (missing PSI skipped), the most
    drifted drivers first (ties: the higher mean PSI, then the driver's name)."""
    names, which = np.unique(driver, return_inverse=True)
    known = np.isfinite(psi)
    features = np.bincount(which, minlength=len(names))
    n_drifted = np.bincount(which, weights=drifted, minlength=len(names)).astype(int)
    n_known = np.bincount(which, weights=known, minlength=len(names))
    total = np.bincount(which, weights=np.where(known, psi, 0.0), minlength=len(names))
    largest = np.full(len(names), -np.inf)
    np.maximum.at(largest, which[known], psi[known])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_known > 0, total / n_known, np.nan)
    largest = np.where(n_known > 0, largest, np.nan)
    order = np.lexsort((-mean, -n_drifted))
    return [
        {
            "driver": str(names[i]),
            "features": int(features[i]),
            "drifted": int(n_drifted[i]),
            "mean_psi": float(mean[i]),
            "max_psi": float(largest[i]),
        }
        for i in order
    ]


def _summary(table: pd.DataFrame, feature_psi: float) -> dict[str, Any]:
    """Features compared, drifted (PSI at or above ``feature_psi``), their share, per driver
    the drifted count, mean and max PSI (most drifted drivers first), the top features."""
    psi = table.psi.to_numpy(dtype=float)
    drifted = psi >= feature_psi
    n, k = len(table), int(drifted.sum())
    top = table[drifted].sort_values("psi", ascending=False).head(10)
    return {
        "features": n,
        "drifted": k,
        "drifted_share": k / n if n else 0.0,
        "drivers": _by_driver(table.driver.to_numpy(dtype=str), psi, drifted),
        "top_features": [
            {"feature": r.feature, "driver": r.driver, "psi": float(r.psi)}
            for r in top.itertuples()
        ],
    }


def data_drift(
    reference: dict[str, Any], profile: dict[str, Any], feature_psi: float
) -> tuple[dict[str, Any], pd.DataFrame]:
    """PSI per feature against the reference: the summary and the table (largest first)."""
    table = feature_drift(reference, profile)
    return _summary(table, feature_psi), table.sort_values("psi", ascending=False).reset_index(
        drop=True
    )


def shift(
    reference: dict[str, Any],
    previous: dict[str, Any] | None,
    profile: dict[str, Any],
    feature_psi: float,
) -> dict[str, Any] | None:
    """The batch against the batch before it, in the same reference bins: features whose PSI
    reaches ``feature_psi`` changed suddenly. None for the first batch."""
    if previous is None:
        return None
    as_reference = {
        "features": {
            f: {"driver": entry["driver"], "shares": previous["features"][f]}
            for f, entry in reference["features"].items()
            if f in previous["features"]
        }
    }
    return _summary(feature_drift(as_reference, profile), feature_psi)


def realized_performance(
    predictions: pd.DataFrame, labels: pd.DataFrame, metric: str
) -> dict[str, Any] | None:
    """The batch's stored predictions joined to its realized labels (the model's own label
    definition): classification metrics, observed vs predicted churn rate, and the bootstrap
    standard error of ``metric``. None when no row has a label or one class is missing."""
    joined = predictions.merge(labels, on="account_id", how="inner")
    joined = joined[joined.churned_within_h.notna()]
    if joined.empty:
        return None
    y = joined.churned_within_h.astype(int).to_numpy()
    if not 0 < y.sum() < len(y):
        return None
    p = joined.p_churn.to_numpy(dtype=float)
    mrr = joined.mrr.to_numpy(dtype=float)
    out = classification_metrics(y, p, mrr if np.isfinite(mrr).all() else None)
    out["labelled_rows"] = float(len(joined))
    out[f"{metric}_se"] = bootstrap_se(y, p, metric)
    return out


def check_batch(
    reference: dict[str, Any],
    profile: dict[str, Any],
    predictions: pd.DataFrame,
    labels: pd.DataFrame | None,
    feature_psi: float,
    metric: str,
    previous: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Everything measured on one batch (no verdict yet) and its per-feature drift table;
    ``previous`` is the profile of the batch before it."""
    drift, table = data_drift(reference, profile, feature_psi)
    p = predictions.p_churn.to_numpy(dtype=float)
    result = {
        "rows": int(profile["rows"]),
        "drift": drift,
        "shift": shift(reference, previous, profile, feature_psi),
        "prediction": prediction_drift(reference, profile),
        "estimated": expected_metrics(p),
        "realized": None if labels is None else realized_performance(predictions, labels, metric),
    }
    return result, table
