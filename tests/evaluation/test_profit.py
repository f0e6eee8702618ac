"""The campaign profit curve against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from churnlab.evaluation.metrics import classification_metrics
from churnlab.evaluation.profit import (
    CampaignParams,
    best_k,
    contact_profit,
    emp_score,
    profit_curve,
)

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


EMP_PARAMS = CampaignParams(offer_cost=10, acceptance_rate=0.3, value_months=1, contact_cost=1)


def test_emp_by_hand():
    y = np.array([1, 0, 1, 0])
    mrr = np.full(4, 100.0)  # CLV = 100 x 1 month
    # a perfect model contacts exactly the churners whenever that pays: per customer
    # 0.5 x E[max(0, gamma x (100 - 10) - 1)] = 0.5 x (0.3 x 90 - 1) = 13 (gamma ~ Beta(6, 14)
    # puts no weight below 1/90)
    perfect = emp_score(y, y.astype(float), mrr, EMP_PARAMS)
    assert perfect["emp"] == pytest.approx(13.0, abs=1e-6)
    assert perfect["emp_contact_share"] == pytest.approx(0.5)
    # acceptance exactly 1 (deterministic MPC): a churner contacted earns 100 - 10 - 1 = 89, a
    # stayer costs 11; by p = .9 .8 .7 .1 the top 3 earn 89 - 11 + 89 = 167, / 4 customers
    sure = CampaignParams(offer_cost=10, acceptance_rate=1.0, value_months=1, contact_cost=1)
    got = emp_score(y, np.array([0.9, 0.8, 0.7, 0.1]), mrr, sure)
    assert got["emp"] == pytest.approx(167 / 4)
    assert got["emp_contact_share"] == pytest.approx(0.75)
    assert emp_score(y, y, np.full(4, np.nan)) == {}


def test_emp_perfect_beats_random_and_is_a_classification_metric():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.1).astype(int)
    mrr = rng.lognormal(4, 1, 2000)
    perfect = emp_score(y, y.astype(float), mrr)["emp"]
    random = emp_score(y, rng.random(2000), mrr)["emp"]
    assert perfect > 10 * max(random, 0.01)
    m = classification_metrics(y, np.clip(y * 0.6 + rng.random(2000) * 0.4, 0, 1), mrr)
    assert random < m["emp"] <= perfect and 0 < m["emp_contact_share"] < 1
    assert "emp" not in classification_metrics(y, rng.random(2000))  # no MRR, no EMP
