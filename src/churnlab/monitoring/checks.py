"""The checks of one scored batch against its model's reference profile: data drift per feature
and per driver, prediction drift, realized performance (labels matured) and estimated
performance (confidence-based, from the calibrated probabilities)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from churnlab.evaluation import classification_metrics, expected_metrics
from churnlab.evaluation.profiles import feature_drift, prediction_drift

BOOTSTRAP_DRAWS = 50
_SCORERS = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}


def data_drift(
    reference: dict[str, Any], profile: dict[str, Any], feature_psi: float
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Per feature PSI (the table) and its summary: features compared, drifted (PSI at or
    above ``feature_psi``), their share, and per driver the drifted count, mean and max PSI
    (drivers with the most drifted features first)."""
    table = feature_drift(reference, profile)
    table["drifted"] = table.psi >= feature_psi
    by_driver = (
        table.groupby("driver")
        .agg(
            features=("feature", "size"),
            drifted=("drifted", "sum"),
            mean_psi=("psi", "mean"),
            max_psi=("psi", "max"),
        )
        .reset_index()
        .sort_values(["drifted", "mean_psi"], ascending=False)
    )
    n, k = len(table), int(table.drifted.sum())
    top = table[table.drifted].sort_values("psi", ascending=False).head(10)
    summary = {
        "features": n,
        "drifted": k,
        "drifted_share": k / n if n else 0.0,
        "drivers": [
            {
                "driver": r.driver,
                "features": int(r.features),
                "drifted": int(r.drifted),
                "mean_psi": float(r.mean_psi),
                "max_psi": float(r.max_psi),
            }
            for r in by_driver.itertuples()
        ],
        "top_features": [
            {"feature": r.feature, "driver": r.driver, "psi": float(r.psi)}
            for r in top.itertuples()
        ],
    }
    return summary, table.sort_values("psi", ascending=False).reset_index(drop=True)


def bootstrap_se(y: np.ndarray, p: np.ndarray, metric: str, seed: int = 0) -> float:
    """Standard error of a ranking metric over bootstrap resamples of the rows (fixed seed)."""
    scorer = _SCORERS[metric]
    rng = np.random.default_rng(seed)
    n, values = len(y), []
    for _ in range(BOOTSTRAP_DRAWS):
        idx = rng.integers(0, n, n)
        if 0 < y[idx].sum() < n:
            values.append(scorer(y[idx], p[idx]))
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


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
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Everything measured on one batch (no verdict yet) and its per-feature drift table."""
    drift, table = data_drift(reference, profile, feature_psi)
    p = predictions.p_churn.to_numpy(dtype=float)
    result = {
        "rows": int(profile["rows"]),
        "drift": drift,
        "prediction": prediction_drift(reference, profile),
        "estimated": expected_metrics(p),
        "realized": None if labels is None else realized_performance(predictions, labels, metric),
    }
    return result, table
