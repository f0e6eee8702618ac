"""Contact policies: realized retained MRR and net profit against hand-computed values."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from churnlab.evaluation import (
    CampaignParams,
    best_k_under_budget,
    compare_policies,
    expected_incremental_profit,
    ipw_uplift,
    plot_policy_curves,
    policy_curves,
    policy_scores,
)
from churnlab.evaluation.policy import CURVE_COLUMNS

PARAMS = CampaignParams(offer_cost=4, value_months=1, contact_cost=1)  # 5 per contact
MRR = np.array([100.0, 50.0, 200.0, 10.0])
P = np.array([0.9, 0.1, 0.5, 0.3])
UPLIFT = np.array([0.2, 0.1, 0.05, 0.3])
TRUE = np.array([0.1, 0.5, 0.0, -0.2])


def test_expected_incremental_profit_by_hand():
    # uplift x MRR x 1 month - 1 - 4
    got = expected_incremental_profit(UPLIFT, MRR, PARAMS)
    assert got.tolist() == pytest.approx([15.0, 0.0, 5.0, -2.0])


def test_policy_curves_by_hand():
    scores = policy_scores(MRR, p=P, uplift=UPLIFT, params=PARAMS, true_uplift=TRUE)
    assert list(scores) == ["risk", "expected_loss", "uplift", "profit", "random", "oracle"]
    curves = policy_curves(scores, MRR, PARAMS, true_uplift=TRUE)
    assert tuple(curves.columns) == CURVE_COLUMNS
    # realized value per row: true uplift x MRR = [10, 25, 0, -2]; net = cumsum - 5 per contact
    by = {name: part.set_index("contacts") for name, part in curves.groupby("policy")}
    # risk (p): rows 0, 2, 3, 1 -> retained 10, 10, 8, 33
    assert by["risk"].retained_mrr.tolist() == pytest.approx([0, 10, 10, 8, 33])
    assert by["risk"].net_profit.tolist() == pytest.approx([0, 5, 0, -7, 13])
    # expected loss (p x MRR = 90, 5, 100, 3): rows 2, 0, 1, 3 -> 0, 10, 35, 33
    assert by["expected_loss"].net_profit.tolist() == pytest.approx([0, -5, 0, 20, 13])
    # uplift: rows 3, 0, 1, 2 -> -2, 8, 33, 33
    assert by["uplift"].net_profit.tolist() == pytest.approx([0, -7, -2, 18, 13])
    # profit (15, 0, 5, -2): rows 0, 2, 1, 3 -> 10, 10, 35, 33
    assert by["profit"].net_profit.tolist() == pytest.approx([0, 5, 0, 20, 13])
    # oracle (true profit 5, 20, -5, -7): rows 1, 0, 2, 3 -> 25, 35, 35, 33
    assert by["oracle"].net_profit.tolist() == pytest.approx([0, 20, 25, 20, 13])
    assert by["oracle"].k.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert by["oracle"].spend.tolist() == [0, 5, 10, 15, 20]

    best = best_k_under_budget(curves).set_index("policy")
    assert best.loc["oracle", ["contacts", "net_profit"]].tolist() == [2, 25]
    assert best.loc["profit", ["contacts", "net_profit"]].tolist() == [3, 20]
    assert best.loc["risk", ["contacts", "net_profit"]].tolist() == [4, 13]
    one = best_k_under_budget(curves, max_contacts=1).set_index("policy")
    # uplift's first contact loses 7: contacting nobody (k = 0) is its best within budget
    assert one.loc["uplift", ["contacts", "net_profit"]].tolist() == [0, 0]
    assert one.loc["oracle", "net_profit"] == 20
    spend = best_k_under_budget(curves, max_spend=10).set_index("policy")
    assert spend.loc["expected_loss", ["contacts", "net_profit"]].tolist() == [0, 0]
    assert spend.contacts.max() <= 2


def test_ipw_uplift_by_hand():
    # e = 2/4 treated: y x ((1 - T) / 0.5 - T / 0.5)
    got = ipw_uplift(np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0]))
    assert got.tolist() == [-2.0, 0.0, 2.0, 0.0]
    # per-row propensity: e = 0.25 for the treated churner -> -1 / 0.25
    assert ipw_uplift([1, 1], [1, 0], propensity=[0.25, 0.5]).tolist() == [-4.0, 2.0]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        ipw_uplift([1, 1], [1, 0], propensity=1.0)


def test_ipw_value_tracks_the_true_value_on_randomized_data():
    rng = np.random.default_rng(0)
    n = 20_000
    tau = rng.uniform(-0.1, 0.3, n)
    mrr = rng.lognormal(4, 0.5, n)
    treated = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.4 - treated * tau).astype(int)
    scores = {"oracle": tau * mrr}
    truth = policy_curves(scores, mrr, PARAMS, true_uplift=tau, points=4)
    ipw = policy_curves(scores, mrr, PARAMS, y=y, treated=treated, points=4)
    # the top half holds nearly all the value: about 0.2 x 60 x 10,000 retained MRR
    top = truth.contacts == n // 2
    assert ipw.retained_mrr[top].item() == pytest.approx(truth.retained_mrr[top].item(), rel=0.1)


def test_random_policy_is_seeded_and_plot_marks_each_policy():
    a = policy_scores(MRR, p=P, seed=3)["random"]
    assert np.array_equal(a, policy_scores(MRR, p=P, seed=3)["random"])
    curves = policy_curves(policy_scores(MRR, p=P, uplift=UPLIFT), MRR, PARAMS, true_uplift=TRUE)
    ax = plot_policy_curves(curves)
    assert len(ax.get_lines()) == 5 + 1  # five policies and the zero line
    plt.close("all")


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"mrr has 1 missing or negative values \(rows \[2\]\)"):
        expected_incremental_profit(UPLIFT, np.array([1.0, 2.0, np.nan, 3.0]))
    with pytest.raises(ValueError, match="give true_uplift, or the randomized outcomes"):
        policy_curves({"risk": P}, MRR)
    with pytest.raises(ValueError, match="policy 'risk' has"):
        policy_curves({"risk": P[:3]}, MRR, true_uplift=TRUE)
    with pytest.raises(ValueError, match=r"policy 'risk' has missing scores \(rows \[1\]\)"):
        policy_curves({"risk": np.array([1, np.nan, 0, 0])}, MRR, true_uplift=TRUE)


def test_compare_policies_in_one_call():
    curves, best = compare_policies(
        MRR, p=P, uplift=UPLIFT, params=PARAMS, true_uplift=TRUE, max_contacts=3
    )
    assert set(curves.policy) == {"risk", "expected_loss", "uplift", "profit", "random", "oracle"}
    # by hand in test_policy_curves_by_hand: the oracle earns 25 with 2 contacts; within 3
    # contacts risk's best is 5 (k = 1)
    best = best.set_index("policy")
    assert best.loc["oracle", ["contacts", "net_profit"]].tolist() == [2, 25]
    assert best.loc["risk", ["contacts", "net_profit"]].tolist() == [1, 5]
