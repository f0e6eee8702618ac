"""Contact decisions from expected gains: positive gains only, at least the minimum gain, the
budget's best (ties in row order); the policy's economics override the model's."""

from __future__ import annotations

import numpy as np
import pytest

from churnlab.scoring import ContactPolicy, ScoringError, contact_actions


def test_positive_gains_are_contacted_without_a_budget():
    gain = np.array([3.0, 0.0, -2.0, np.nan, 0.5])
    assert contact_actions(gain).tolist() == ["contact", "skip", "skip", "skip", "contact"]


def test_budget_takes_the_best_gains_ties_in_row_order():
    gain = np.array([4.0, 9.0, 4.0, 4.0, -1.0])
    assert contact_actions(gain, budget=3).tolist() == [
        "contact", "contact", "contact", "skip", "skip",
    ]  # fmt: skip
    assert (contact_actions(gain, budget=0) == "skip").all()
    assert (contact_actions(gain, budget=100) == "contact").sum() == 4


def test_min_gain_and_budget_together():
    gain = np.array([1.0, 6.0, 8.0, 5.0])
    assert contact_actions(gain, min_gain=5.0).tolist() == ["skip", "contact", "contact", "contact"]
    assert contact_actions(gain, budget=1, min_gain=5.0).tolist() == [
        "skip", "skip", "contact", "skip",
    ]  # fmt: skip
    # a negative minimum does not make losses worth a contact
    assert contact_actions(np.array([-1.0, 2.0]), min_gain=-5.0).tolist() == ["skip", "contact"]


def test_policy_economics_and_bad_values():
    defaults = {"value_months": 12.0, "contact_cost": 1.0, "offer_cost": 50.0}
    params = ContactPolicy(offer_cost=0.0).campaign(defaults)
    assert (params.value_months, params.contact_cost, params.offer_cost) == (12.0, 1.0, 0.0)
    assert ContactPolicy.from_json(ContactPolicy(budget=3).to_json()) == ContactPolicy(budget=3)
    with pytest.raises(ScoringError, match="budget must be"):
        ContactPolicy(budget=-1)
    with pytest.raises(ScoringError, match="min_gain must be a finite number"):
        ContactPolicy(min_gain=float("nan"))
    with pytest.raises(ScoringError, match="value_months"):
        ContactPolicy(value_months=0.0).campaign(defaults)


def test_decision_options_need_an_uplift_model(tmp_path):
    from typer.testing import CliRunner

    from churnlab.cli import app

    res = CliRunner().invoke(
        app, ["score", "--features", str(tmp_path / "x.parquet"), "--budget", "5"]
    )
    assert res.exit_code != 0
    assert "--budget: only with --uplift-model" in res.output
