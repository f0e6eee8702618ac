"""Observations: who is active at each cutoff, labels, censoring and MRR."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.data import load_dataset
from churnlab.features import active_accounts, build_features, build_observations, parse_cutoffs
from churnlab.features.builtin.common import active_population
from churnlab.features.observations import cutoff_table
from tests.conftest import tiny_frames, write_frames

T = pd.Timestamp


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_dataset(
        write_frames(tiny_frames(), tmp_path_factory.mktemp("tiny")), observed_until="2024-07-01"
    )


def test_parse_cutoffs():
    assert parse_cutoffs("2024-01-31:2024-04-30:1M") == [
        T("2024-01-31"),
        T("2024-02-29"),
        T("2024-03-31"),
        T("2024-04-30"),
    ]
    assert parse_cutoffs("2024-01-01:2024-01-29:2W") == [
        T("2024-01-01"),
        T("2024-01-15"),
        T("2024-01-29"),
    ]
    assert len(parse_cutoffs("2024-01-01:2024-01-31:7D")) == 5
    assert parse_cutoffs("2024-03-01,2024-02-01") == [T("2024-02-01"), T("2024-03-01")]
    with pytest.raises(ValueError, match="STEP"):
        parse_cutoffs("2024-01-01:2024-02-01:1Y")
    with pytest.raises(ValueError, match="empty"):
        parse_cutoffs("2024-05-01:2024-01-01:1M")
    # 03/04/2024 is March 4 or April 3: refused, never guessed (cutoffs and the as-of date)
    assert parse_cutoffs("2024-3-1,20240401") == [T("2024-03-01"), T("2024-04-01")]
    for written in ("03/04/2024:2024-06-01:1M", "2024-01-01,03/04/2024"):
        with pytest.raises(ValueError, match=r"cannot read cutoff\(s\) \['03/04/2024'\]"):
            parse_cutoffs(written)
    from churnlab.errors import ChurnlabError
    from churnlab.features.observations import as_of_date

    with pytest.raises(ChurnlabError, match="could be March 4 or April 3"):
        as_of_date("03/04/2025")
    assert as_of_date("2025-03-04") == T("2025-03-04")


def test_labels_durations_and_mrr(tiny):
    df = tiny.con.execute(
        build_observations(tiny, ["2024-02-15", "2024-04-15", "2024-06-15"], horizon_days=30)
    )
    rows = {(r.account_id, str(r.cutoff.date())): r for r in df.itertuples()}
    # 2024-02-15: account 3 has not signed up yet
    assert {k for k in rows if k[1] == "2024-02-15"} == {(1, "2024-02-15"), (2, "2024-02-15")}
    assert rows[(1, "2024-02-15")].mrr == 45.0 and rows[(1, "2024-04-15")].mrr == 105.0
    a2 = rows[(2, "2024-04-15")]  # churns 2024-05-20: 35 days later, outside a 30-day horizon
    assert (a2.churned_within_h, a2.event, a2.duration_days, a2.label_complete) == (
        False,
        1,
        35.0,
        True,
    )
    a1 = rows[(1, "2024-04-15")]  # never churns: censored at the end of observation
    assert (a1.event, a1.duration_days) == (0, 77.0)
    # 2024-06-15: account 2 is gone; the 30-day window runs past 2024-07-01
    assert (2, "2024-06-15") not in rows
    assert not rows[(1, "2024-06-15")].label_complete


def test_subscriptions_dated_at_the_cutoff_are_data_of_that_instant(tiny):
    """Account 1 upgrades (basic ends, pro starts) at 2024-03-01's midnight and account 2's
    plan ends at 2024-05-20's: at those cutoffs, rows and MRR are what stood just before. The
    upgrade is not seen yet (MRR 45, plan basic); account 2 is a row, churning at once."""
    cut = ["2024-03-01", "2024-05-20"]
    df = tiny.con.execute(build_observations(tiny, cut, horizon_days=30))
    rows = {(r.account_id, str(r.cutoff.date())): r for r in df.itertuples()}
    assert rows[(1, "2024-03-01")].mrr == 45.0
    ended = rows[(2, "2024-05-20")]
    assert (ended.churned_within_h, ended.event, ended.duration_days) == (True, 1, 0.0)
    table, _ = build_features(tiny, build_observations(tiny, cut, 30), names=["plan"])
    plan = tiny.con.execute(table).set_index(["account_id", "cutoff"])
    assert plan.loc[(1, T("2024-03-01")), ["plan", "current_mrr"]].tolist() == ["basic", 45.0]
    assert plan.loc[(1, T("2024-03-01")), "days_on_plan"] == 56.0


def test_an_account_that_comes_back_still_churned_when_it_left(tmp_path):
    """Account 2 leaves on 2024-05-20 and subscribes again on 2024-06-10: at 2024-05-01 it
    churns within 30 days (the label reads nothing after the window, so never the return);
    while away it is not observed; from the return it is active again and open (censored).
    Account 1's upgrade (one subscription ending where the next starts) is no churn."""
    frames = tiny_frames()
    back = (
        frames["subscriptions"]
        .iloc[[2]]
        .assign(started_at=T("2024-06-10"), ended_at=pd.NaT, end_reason=None)
    )
    frames["subscriptions"] = pd.concat([frames["subscriptions"], back], ignore_index=True)
    ds = load_dataset(write_frames(frames, tmp_path / "back"), observed_until="2024-07-01")
    df = ds.con.execute(build_observations(ds, ["2024-03-15", "2024-05-01", "2024-06-01",
                                                "2024-06-15"], horizon_days=30))  # fmt: skip
    rows = {(r.account_id, str(r.cutoff.date())): r for r in df.itertuples()}
    left = rows[(2, "2024-05-01")]
    assert (left.churned_within_h, left.event, left.duration_days) == (True, 1, 19.0)
    assert (2, "2024-06-01") not in rows
    # the return dated exactly at a cutoff is data of that instant: not active there yet
    at_return = ds.con.execute(build_observations(ds, ["2024-06-10", "2024-06-11"], 30))
    assert 2 not in set(at_return.account_id[at_return.cutoff == T("2024-06-10")])
    assert 2 in set(at_return.account_id[at_return.cutoff == T("2024-06-11")])
    # nor in the population a cutoff's percentiles rank over, nor scored as of then
    pop = ds.con.execute(active_population(ds, cutoff_table([T("2024-06-10")])))
    assert set(pop.account_id) == set(at_return.account_id[at_return.cutoff == T("2024-06-10")])
    assert 2 not in set(ds.con.execute(active_accounts(ds, "2024-06-10")).account_id)
    returned = rows[(2, "2024-06-15")]
    assert (returned.event, returned.duration_days) == (0, 16.0)
    assert (rows[(1, "2024-03-15")].churned_within_h, rows[(1, "2024-03-15")].event) == (False, 0)


def test_a_renewal_dated_the_day_after_is_no_churn_and_the_grace_can_be_set(tmp_path):
    """Date-only exports date a renewal the day after the last period's end: a gap of up to
    ``churn.grace_days`` (default 1) is no churn; ``0`` counts it, and a long grace merges a
    return within it (account 2, back 21 days after leaving)."""
    import json

    frames = tiny_frames()
    subs = frames["subscriptions"]
    subs.loc[0, "ended_at"] = T("2024-02-29")  # account 1's upgrade, dated the day after
    back = subs.iloc[[2]].assign(started_at=T("2024-06-10"), ended_at=pd.NaT, end_reason=None)
    frames["subscriptions"] = pd.concat([subs, back], ignore_index=True)
    folder = write_frames(frames, tmp_path / "grace")
    labels = {}
    for grace in (None, 0, 30):
        rule = {} if grace is None else {"churn": {"grace_days": grace}}
        (folder / "dataset.json").write_text(json.dumps(rule))
        ds = load_dataset(folder, observed_until="2024-07-01")
        df = ds.con.execute(build_observations(ds, ["2024-02-15", "2024-05-01"], 30))
        labels[grace] = {
            (r.account_id, str(r.cutoff.date())): r.churned_within_h for r in df.itertuples()
        }
    assert labels[None][(1, "2024-02-15")] is False and labels[0][(1, "2024-02-15")] is True
    assert labels[None][(2, "2024-05-01")] is True and labels[30][(2, "2024-05-01")] is False
    # a label is complete once the data cover its window and the grace days after it: a
    # window ending on the data's last day could still see a renewal the day after
    for grace, complete in ((None, False), (0, True)):
        rule = {} if grace is None else {"churn": {"grace_days": grace}}
        (folder / "dataset.json").write_text(json.dumps(rule))
        ds = load_dataset(folder, observed_until="2024-07-01")
        df = ds.con.execute(build_observations(ds, ["2024-06-01"], 30))
        assert df.label_complete.tolist() == [complete] * len(df), grace


def test_subscriptions_tied_on_their_dates_make_one_spell_on_every_row_order():
    """A plan and an add-on bought and cancelled together are tied rows: the spells are the same
    whatever order the engine hands them to its windows in (before, 5 of 200,000 accounts in a
    run had their January spell stretched over the June return, and two spells at July's
    cutoff: duplicate observation rows)."""
    import ibis
    import numpy as np

    from churnlab.data import Dataset, coverage_spells

    n = 200_000
    ids = np.arange(n)
    rows = pd.DataFrame(
        {
            "account_id": np.concatenate([ids, ids, ids]),
            "started_at": [T("2024-01-01")] * n + [T("2024-06-01")] * (2 * n),
            "ended_at": [T("2024-02-01")] * n + [T("2024-09-01")] * (2 * n),
        }
    ).sample(frac=1, random_state=0)
    con = ibis.duckdb.connect()
    ds = Dataset(
        con=con,
        tables={"subscriptions": con.create_table("subscriptions", rows)},
        observed_until=T("2025-01-01"),
        source="ties",
    )
    spells = con.execute(coverage_spells(ds))
    assert len(spells) == 2 * n
    assert (
        (spells.ended_at - spells.started_at)
        .isin([T("2024-02-01") - T("2024-01-01"), T("2024-09-01") - T("2024-06-01")])
        .all()
    )


def test_horizon_and_lead(tiny):
    df = tiny.con.execute(build_observations(tiny, ["2024-04-15"], horizon_days=40)).set_index(
        "account_id"
    )
    assert df.loc[2, "churned_within_h"]
    # a lead gap of 40 days: the churn on 2024-05-20 falls inside the gap, so no label
    df = tiny.con.execute(
        build_observations(tiny, ["2024-04-15"], horizon_days=30, lead_days=40)
    ).set_index("account_id")
    assert pd.isna(df.loc[2, "churned_within_h"]) and not df.loc[2, "label_complete"]
    df = tiny.con.execute(
        build_observations(tiny, ["2024-04-15"], horizon_days=30, lead_days=10)
    ).set_index("account_id")
    assert df.loc[2, "churned_within_h"]  # (04-25, 05-25]


def test_cutoff_after_data_end_is_rejected(tiny):
    with pytest.raises(ValueError, match="end of observation"):
        build_observations(tiny, ["2024-08-01"], horizon_days=30)


def test_small_sim_positive_rate(small_sim):
    ds = load_dataset(small_sim)
    df = ds.con.execute(build_observations(ds, "2024-04-01:2025-04-01:3M", 60))
    assert not df.duplicated(["account_id", "cutoff"]).any()
    complete = df[df.label_complete]
    assert 0.03 < complete.churned_within_h.mean() < 0.4
    assert (df.duration_days > 0).all()
    # a churn inside the window is an event within the horizon
    pos = complete[complete.churned_within_h]
    assert (pos.event == 1).all() and (pos.duration_days <= 60).all()
