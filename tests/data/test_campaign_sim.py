"""The simulator's randomized retention campaigns: the table it writes, the offer's effect on
the churn hazard it draws from, and the oracle uplift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.data import load_dataset
from churnlab.data.simulate import SimulationParams, oracle_uplift, simulate
from churnlab.data.simulate.campaigns import (
    CONTACT_COST,
    DISCOUNT,
    DISCOUNT_MONTHS,
    EFFECT_MULTIPLIER,
    EFFECT_SEGMENTS,
    EFFECT_WEEKS,
    OFFER,
)
from churnlab.features import build_observations


@pytest.fixture(scope="module")
def tables(small_sim):
    read = {n: pd.read_parquet(small_sim / f"{n}.parquet") for n in ("campaigns", "truth")}
    return read["campaigns"], read["truth"]


def test_campaigns_are_monthly_randomized_contacts_at_month_end(small_sim, tables):
    cp, _ = tables
    ds = load_dataset(small_sim)  # validates: known accounts, both arms, nothing after the end
    assert ds.summary()["campaigns"]["rows"] == len(cp)
    assert (cp.ts == cp.ts.dt.normalize() + pd.Timedelta(hours=12)).all()
    assert ((cp.ts + pd.Timedelta(days=1)).dt.day == 1).all()  # the month's last day
    arms = cp.groupby("campaign", observed=True).treated.agg(["sum", "size"])
    assert len(arms) >= 12
    assert ((arms["sum"] - arms["size"] / 2).abs() <= 0.5).all()  # half treated, complete split
    assert not cp.duplicated(["account_id", "campaign"]).any()
    treated = cp[cp.treated]
    assert (treated.offer == OFFER).all() and cp[~cp.treated].offer.isna().all()
    assert (cp[~cp.treated].cost == 0).all() and (treated.cost > CONTACT_COST).all()


def test_treated_cost_is_contact_plus_discount_on_mrr_in_force(small_sim, tables):
    cp, _ = tables
    subs = pd.read_parquet(small_sim / "subscriptions.parquet")
    t = cp[cp.treated].merge(subs, on="account_id")
    t = t[(t.started_at <= t.ts) & (t.ended_at.isna() | (t.ended_at > t.ts))]
    expected = (CONTACT_COST + DISCOUNT * DISCOUNT_MONTHS * t.mrr).round(2)
    assert np.allclose(t.cost, expected)
    assert (t.billing_period == "monthly").all() and (t.plan != "trial").all()


def test_the_offer_scales_the_decision_hazard_the_simulator_draws_from(tables):
    """In the weeks of a treated account's offer, the recorded weekly hazard of a healthy
    monthly account is failed payments + abrupt share x min(decision hazard x effect, 1); for
    control accounts it is the same with no multiplier: the effect acts on the process."""
    cp, truth = tables
    abrupt = SimulationParams().abrupt_share
    rows = cp.merge(truth, on="account_id")
    after = rows.week_start - rows.ts
    rows = rows[
        (after > pd.Timedelta(0))
        & (after < pd.Timedelta(days=7 * (EFFECT_WEEKS - 1)))
        & ~rows.disengaging
        & (rows.decide_hazard > 0)
        & (rows.hazard < 1)
    ]
    m = np.where(rows.treated, rows.effect, 1.0)
    expected = rows.involuntary_hazard + abrupt * np.minimum(rows.decide_hazard * m, 1.0)
    # weeks of a trial end or an annual renewal add their own terms; the rest match exactly
    match = np.isclose(rows.hazard, expected, rtol=1e-4, atol=1e-6)
    assert match.mean() > 0.99
    moved = rows[match & rows.treated & (rows.effect != 1)]
    assert len(moved) > 100
    unscaled = moved.involuntary_hazard + abrupt * moved.decide_hazard
    assert not np.isclose(moved.hazard, unscaled, rtol=1e-3).any()


def test_truth_carries_each_accounts_effect_and_segment(tables):
    _, truth = tables
    per_account = truth.groupby("account_id").agg(
        effect=("effect", "nunique"), segment=("effect_segment", "nunique")
    )
    assert (per_account == 1).all().all()
    seg = truth.drop_duplicates("account_id")
    assert set(seg.effect_segment.astype(str)) == set(EFFECT_SEGMENTS)
    lookup = dict(zip(EFFECT_SEGMENTS, EFFECT_MULTIPLIER, strict=True))
    assert np.allclose(seg.effect, seg.effect_segment.astype(str).map(lookup))


def test_oracle_uplift_is_zero_without_effect_negative_for_do_not_disturb(small_sim):
    ds = load_dataset(small_sim)
    obs = ds.con.execute(build_observations(ds, "2024-04-01:2025-02-01:2M", 90))
    oracle = oracle_uplift(ds, obs, 90)
    assert len(oracle) == len(obs) and (oracle.account_id.to_numpy() == obs.account_id).all()
    by = oracle.groupby("effect_segment").uplift
    assert (by.get_group("sure_thing") == 0).all() and (by.get_group("lost_cause") == 0).all()
    dnd, pers = by.get_group("do_not_disturb"), by.get_group("persuadable")
    assert (dnd <= 0).all() and dnd.mean() < -0.01
    assert (pers >= 0).all() and pers.mean() > 0.01
    # the folder (reading truth.parquet and dataset.json) gives the same numbers
    assert np.allclose(oracle_uplift(small_sim, obs, 90).uplift, oracle.uplift)


def test_campaigns_can_be_left_out(tmp_path):
    from typer.testing import CliRunner

    from churnlab.cli import app

    args = ["simulate", "--accounts", "300", "--months", "4", "--seed", "2", "--json"]
    on = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "on")])
    off = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "off"), "--no-campaigns"])
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    assert (tmp_path / "on" / "campaigns.parquet").exists()
    assert not (tmp_path / "off" / "campaigns.parquet").exists()
    # the accounts, and the weekly process until the first offer acts (the week after the
    # 2024-01-31 contact), are the same either way
    for table, before in (("accounts", None), ("truth", "week_start < '2024-02-05'")):
        on_off = [pd.read_parquet(tmp_path / name / f"{table}.parquet") for name in ("on", "off")]
        if before:
            on_off = [t.query(before) for t in on_off]
        pd.testing.assert_frame_equal(on_off[0], on_off[1])


def test_oracle_needs_truth_with_effects(tmp_path, small_sim):
    simulate(tmp_path / "s", SimulationParams(accounts=40, months=3, seed=1, campaigns=False))
    assert not (tmp_path / "s" / "campaigns.parquet").exists()
    keys = pd.DataFrame({"account_id": [1], "cutoff": [pd.Timestamp("2024-03-01")]})
    got = oracle_uplift(tmp_path / "s", keys, 30)  # truth still has every account's effect
    assert got.columns.tolist() == ["account_id", "cutoff", "uplift", "effect", "effect_segment"]
    with pytest.raises(FileNotFoundError, match="no truth table"):
        oracle_uplift(tmp_path, keys, 30)
