"""Metrics: the library ones agree with scikit-learn, the ones written here are hand-checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from churnlab.evaluation import (
    bootstrap_se,
    classification_metrics,
    expected_calibration_error,
    gains_table,
    oracle_risk,
)


def test_ece_by_hand():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.55])
    # bins: [0,.1): 2 rows, mean p .05, rate 0 -> |.1 - 0| ; [.5,.6): p .55 rate 1 ; [.9,1): p .95 rate 1
    assert expected_calibration_error(y, p) == pytest.approx((0.1 + 0.45 + 0.05) / 4)
    assert expected_calibration_error(y, y.astype(float)) == 0


def test_lift_capture_and_revenue_capture():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1] * 2)
    p = np.linspace(0.9, 0.0, 20)  # rows 0 and 10 churn; row 0 has the top score
    mrr = np.ones(20)
    mrr[10] = 100.0
    m = classification_metrics(y, p, mrr)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    # top 10% = 2 rows (0, 1): one of 4 churners -> capture .25, lift .5 / .2
    assert m["capture_top10"] == pytest.approx(0.25)
    assert m["lift_top10"] == pytest.approx(0.5 / 0.2)
    # churners 0, 9, 10, 19 lose 1 + 1 + 100 + 1; by expected loss rows 10 (.43 x 100) and 0
    # (.9 x 1) rank first and hold 101 of it
    assert m["revenue_capture_top10"] == pytest.approx(101 / 103)


def test_gains_table_ends_at_everything():
    y = np.array([1, 0, 1, 0])
    g = gains_table(y, np.array([0.9, 0.8, 0.7, 0.1]))
    assert g.captured.iloc[-1] == 1.0 and g.captured.iloc[0] == 0.5


def test_oracle_risk_by_hand(tmp_path):
    truth = pd.DataFrame(
        {
            "account_id": [1, 1, 1, 2],
            "week_start": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-01"]),
            "hazard": [0.1, 0.2, 0.5, 0.3],
        }
    )
    truth.to_parquet(tmp_path / "truth.parquet")
    keys = pd.DataFrame(
        {
            "account_id": [1, 2, 3],
            "cutoff": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01"]),
        }
    )
    p = oracle_risk(tmp_path / "truth.parquet", keys, horizon_days=14)
    assert p[0] == pytest.approx(1 - 0.9 * 0.8)  # weeks starting before 2024-01-15
    assert p[1] == pytest.approx(0.3)
    assert np.isnan(p[2])


def test_ece_noise_floor_is_what_a_calibrated_model_shows_and_is_reported():
    """A model whose outcomes are drawn from its own probabilities sits at the floor (ratio
    about 1); a miscalibrated one sits well above it; the floor shrinks with more rows."""
    from churnlab.evaluation.metrics import classification_metrics, ece_noise_floor

    rng = np.random.default_rng(3)
    p = rng.beta(1, 6, 2000)
    ratios = [classification_metrics(rng.random(2000) < p, p)["ece_to_floor"] for _ in range(20)]
    assert 0.8 < np.mean(ratios) < 1.2
    shifted = classification_metrics(rng.random(2000) < p, np.clip(p * 1.6, 0, 1))
    assert shifted["ece_to_floor"] > 2
    assert shifted["ece_floor"] == pytest.approx(ece_noise_floor(np.clip(p * 1.6, 1e-7, 1)))
    big = rng.beta(1, 6, 50_000)
    assert ece_noise_floor(big) < ece_noise_floor(p) / 3
    assert ece_noise_floor(p) == ece_noise_floor(p)  # seeded: the same predictions, the same floor


@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc"])
@pytest.mark.parametrize("rounding", [None, 2])  # 2: many tied scores
def test_bootstrap_se_is_scikit_learns_metric_over_the_resamples(metric, rounding):
    rng = np.random.default_rng(7)
    p = rng.random(1500)
    p = np.round(p, rounding) if rounding else p
    y = (rng.random(1500) < 0.3 * p).astype(int)
    scorer = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}[metric]
    # the same resamples drawn the plain way, each scored by scikit-learn
    draws, values = np.random.default_rng(0), []
    for _ in range(50):
        idx = draws.integers(0, len(y), len(y))
        values.append(scorer(y[idx], p[idx]))
    assert bootstrap_se(y, p, metric) == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    assert np.isnan(bootstrap_se(np.r_[1, 0], np.r_[0.2, 0.1], metric, draws=1))
