"""Classification, calibration and ranking metrics for churn scores.

Scikit-learn provides the curves and scores; only what it lacks is written here: expected
calibration error and its noise floor, lift / capture in the top fraction, and the share of lost revenue captured
when ranking by expected loss (p x MRR).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from churnlab.evaluation.profit import CampaignParams, emp_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean predicted| over equal-width probability bins, weighted by
    the bins' share of rows."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    gap = np.abs(
        np.bincount(which, weights=y, minlength=bins)
        - np.bincount(which, weights=p, minlength=bins)
    )
    return float(gap.sum() / max(len(y), 1))


def ece_noise_floor(
    p: np.ndarray, draws: int | None = None, seed: int = 0, bins: int = 10
) -> float:
    """The ECE a perfectly calibrated model with these predictions would show: the mean ECE
    over ``draws`` outcome sets drawn from the predictions themselves (fixed ``seed``, so the
    same predictions give the same floor). An ECE near this floor is sampling noise, not
    miscalibration; it shrinks with the number of rows. By default 200 draws, fewer on large
    sets (at least 20; about two million rows drawn in all), where the mean varies less."""
    p = np.asarray(p, float)
    if draws is None:
        draws = int(np.clip(2_000_000 // max(len(p), 1), 20, 200))
    rng = np.random.default_rng(seed)
    return float(
        np.mean([expected_calibration_error(rng.random(len(p)) < p, p, bins) for _ in range(draws)])
    )


def top_fraction(score: np.ndarray, fraction: float) -> np.ndarray:
    """Mask of the ``fraction`` highest scores (stable order, ties broken by position)."""
    n = max(1, round(len(score) * fraction))
    order = np.argsort(-np.asarray(score), kind="stable")
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:n]] = True
    return mask


def classification_metrics(
    y: np.ndarray,
    p: np.ndarray,
    mrr: np.ndarray | None = None,
    top: float = 0.1,
    campaign: CampaignParams | None = None,
) -> dict[str, float]:
    """ROC-AUC, PR-AUC, log loss, Brier, ECE, lift and capture in the top 10% by risk; with
    ``mrr`` (some of it above 0), the share of churners' MRR captured in the top 10% by expected loss (p x MRR) and
    the expected maximum profit ``emp`` (with ``emp_contact_share``) of a retention campaign
    with the economics ``campaign`` (default ``CampaignParams``; see ``emp_score``)."""
    y, p = np.asarray(y, int), np.clip(np.asarray(p, float), 1e-7, 1 - 1e-7)
    base_rate = y.mean()
    in_top = top_fraction(p, top)
    out = {
        "rows": float(len(y)),
        "positive_rate": float(base_rate),
        "mean_p": float(p.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "lift_top10": float(y[in_top].mean() / base_rate) if base_rate > 0 else float("nan"),
        "capture_top10": float(y[in_top].sum() / max(y.sum(), 1)),
    }
    # the ECE beside what a perfectly calibrated model would show on the same rows
    out["ece_floor"] = ece_noise_floor(p)
    out["ece_to_floor"] = out["ece"] / out["ece_floor"] if out["ece_floor"] > 0 else float("nan")
    # revenue metrics need a revenue: none where every MRR is 0 (churn read from activity, a
    # table without an MRR column), which would read as a model that saves nothing
    if mrr is not None and (np.asarray(mrr, float) > 0).any():
        if np.isfinite(mrr).all():
            mrr = np.asarray(mrr, float)
            lost = (y * mrr).sum()
            by_loss = top_fraction(p * mrr, top)
            out["revenue_capture_top10"] = float((y * mrr)[by_loss].sum() / lost) if lost else 0.0
        out.update(emp_score(y, p, mrr, campaign))
    return out


def expected_metrics(p: np.ndarray, top: float = 0.1) -> dict[str, float]:
    """Confidence-based performance estimation (CBPE): the ranking metrics a batch should show
    if its probabilities are calibrated, before its labels exist.

    Each row counts as a churner with weight p and as a stayer with weight 1 - p, and
    scikit-learn's weighted ROC-AUC and average precision are taken over those rows: at every
    threshold the expected true and false positives are the sums of p and 1 - p above it (the
    estimator NannyML's CBPE uses). Valid while the batch's p stays calibrated (covariate
    shift); a change in how churn follows from the features (concept drift) shows only in the
    realized metrics."""
    p = np.clip(np.asarray(p, float), 1e-7, 1 - 1e-7)
    n = len(p)
    y = np.r_[np.ones(n), np.zeros(n)]
    score = np.r_[p, p]
    weight = np.r_[p, 1 - p]
    in_top = top_fraction(p, top)
    expected_rate = p.mean()
    return {
        "roc_auc": float(roc_auc_score(y, score, sample_weight=weight)),
        "pr_auc": float(average_precision_score(y, score, sample_weight=weight)),
        "positive_rate": float(expected_rate),
        "lift_top10": float(p[in_top].mean() / expected_rate),
        "capture_top10": float(p[in_top].sum() / p.sum()),
    }


def _ranked(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows by descending score: their labels, the sort order, and the last position of each
    run of tied scores (one threshold each, as scikit-learn's curves have)."""
    order = np.argsort(-p, kind="stable")
    ranked = p[order]
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]
    return y[order], order, ends


def _counted_score(
    y_ranked: np.ndarray, counts: np.ndarray, ends: np.ndarray, metric: str
) -> float:
    """ROC-AUC or average precision of a resample given as each row's count: the same curve
    scikit-learn draws for the resampled rows (true and false positives summed over every
    threshold, integers, so exact), without its per-call input checks."""
    tps = np.cumsum(counts * y_ranked)[ends].astype(float)
    fps = np.cumsum(counts * (1 - y_ranked))[ends].astype(float)
    if metric == "roc_auc":
        tpr, fpr = np.r_[0.0, tps] / tps[-1], np.r_[0.0, fps] / fps[-1]
        return float(np.trapezoid(tpr, fpr))
    seen = tps + fps
    precision = np.divide(tps, seen, out=np.zeros_like(tps), where=seen != 0)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def bootstrap_scores(
    y: np.ndarray, p: np.ndarray, metric: str = "roc_auc", draws: int = 50, seed: int = 0
) -> np.ndarray:
    """ROC-AUC (``roc_auc``) or average precision (``pr_auc``) of each of ``draws`` bootstrap
    resamples of the rows (fixed ``seed``; resamples with one class only are skipped). The
    resamples depend only on ``seed`` and the number of rows, so two scores of the same rows
    get the same resamples: their differences are a paired bootstrap.

    Each resample is counted on the rows sorted once (``_counted_score``): the values equal
    scikit-learn's ``roc_auc_score`` / ``average_precision_score`` of the resampled rows up to
    float rounding (tests/evaluation/test_metrics.py), at a fraction of the time."""
    if metric not in ("roc_auc", "pr_auc"):
        raise KeyError(metric)
    y, p = np.asarray(y, int), np.asarray(p, float)
    y_ranked, order, ends = _ranked(y, p)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        idx = rng.integers(0, len(y), len(y))
        positives = y[idx].sum()
        if 0 < positives < len(y):
            counts = np.bincount(idx, minlength=len(y))[order]
            values.append(_counted_score(y_ranked, counts, ends, metric))
    return np.asarray(values, float)


def bootstrap_se(
    y: np.ndarray, p: np.ndarray, metric: str = "roc_auc", draws: int = 50, seed: int = 0
) -> float:
    """Standard error of ROC-AUC (``roc_auc``) or average precision (``pr_auc``) over
    bootstrap resamples of the rows (fixed seed): how much the metric moves by chance alone."""
    values = bootstrap_scores(y, p, metric, draws, seed)
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def gains_table(y: np.ndarray, score: np.ndarray, points: int = 100) -> pd.DataFrame:
    """Cumulative gains and lift at each share of customers contacted, highest score first."""
    y = np.asarray(y, float)
    order = np.argsort(-np.asarray(score), kind="stable")
    captured = np.cumsum(y[order]) / max(y.sum(), 1)
    share = np.arange(1, len(y) + 1) / len(y)
    idx = np.unique(np.linspace(0, len(y) - 1, min(points, len(y))).astype(int))
    return pd.DataFrame(
        {
            "share_contacted": share[idx],
            "captured": captured[idx],
            "lift": captured[idx] / share[idx],
        }
    )


def oracle_risk(
    truth_path: str | Path, keys: pd.DataFrame, horizon_days: int, lead_days: int = 0
) -> np.ndarray:
    """The simulator's true P(churn in the label window) for each (account_id, cutoff) row:
    1 - prod(1 - weekly hazard) over the weeks starting in [cutoff + lead, cutoff + lead + h).
    The best score any model could reach; NaN where the truth table has no weeks."""
    import duckdb

    con = duckdb.connect()
    con.register("keys", keys[["account_id", "cutoff"]].reset_index(drop=True))
    # the path goes through DuckDB's API and the windows as bound parameters: no text of the
    # caller's is ever part of the SQL
    con.register("truth", con.read_parquet(str(Path(truth_path))))
    q = """
        SELECT k.account_id, k.cutoff,
               1 - exp(sum(ln(greatest(1 - t.hazard, 1e-12)))) AS p
        FROM keys k JOIN truth t
          ON t.account_id = k.account_id
         AND t.week_start >= k.cutoff + to_days(CAST($lead AS INTEGER))
         AND t.week_start <  k.cutoff + to_days(CAST($until AS INTEGER))
        GROUP BY 1, 2
    """
    found = con.execute(q, {"lead": int(lead_days), "until": int(lead_days + horizon_days)}).df()
    merged = keys[["account_id", "cutoff"]].merge(found, on=["account_id", "cutoff"], how="left")
    return merged.p.to_numpy(dtype=float)
