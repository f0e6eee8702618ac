"""The campaign profit curve against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from churnlab.evaluation.profit import CampaignParams, best_k, contact_profit, profit_curve

PARAMS = CampaignParams(offer_cost=10, acceptance_rate=0.5, value_months=1, contact_cost=1)


def test_contact_profit_by_hand():
    # churner worth 100: 0.5 * (100 - 10) - 1 = 44; stayer: -10 - 1 = -11
    got = contact_profit(np.array([1, 0]), np.array([100.0, 100.0]), PARAMS)
    assert got.tolist() == [44.0, -11.0]


def test_rankings_and_best_k():
    p = np.array([0.9, 0.6, 0.3])
    mrr = np.array([20.0, 1000.0, 10.0])
    churned = np.array([0, 1, 0])
    curve = profit_curve(p, mrr, PARAMS, churned=churned)
    # by risk: -11 (stayer), then +494 (churner worth 1000), then -11
    assert curve.profit_by_risk.tolist() == [0.0, -11.0, 483.0, 472.0]
    # by expected loss (p x value): 600, 18, 3 -> the big account first
    assert curve.profit_by_expected_loss.tolist() == [0.0, 494.0, 483.0, 472.0]
    best = best_k(p, mrr, PARAMS, churned=churned)
    assert best["risk"]["k"] == 2 and best["expected_loss"]["k"] == 1
    assert best["expected_loss"]["profit"] == pytest.approx(494.0)


def test_expected_profit_uses_probabilities_without_labels():
    p, mrr = np.array([0.5]), np.array([100.0])
    curve = profit_curve(p, mrr, PARAMS)
    assert curve.profit_by_risk.iloc[-1] == pytest.approx(0.5 * 0.5 * 90 - 0.5 * 10 - 1)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="acceptance_rate"):
        CampaignParams(acceptance_rate=1.5)
    with pytest.raises(ValueError, match="differ in length"):
        profit_curve(np.ones(3), np.ones(2))
