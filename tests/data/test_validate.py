"""Every bad-input class is caught, located by table and column, with example keys."""

from __future__ import annotations

import json

import ibis.expr.operations as ops
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnlab.config import parse_events
from churnlab.data import DataValidationError, VocabularyError, fit_vocabulary, load_dataset
from tests.conftest import tiny_frames, write_frames

END = "2024-07-01"


def _problems(tmp_path, frames, fmt="parquet", end=END):
    folder = write_frames(frames, tmp_path / "ds", fmt)
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, observed_until=end)
    return info.value.problems


def _find(problems, table, column):
    found = [p for p in problems if p.table == table and p.column == column]
    assert found, f"no problem for {table}.{column} in {[str(p) for p in problems]}"
    return found[0]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_clean_dataset_loads_with_summary(tmp_path, fmt):
    ds = load_dataset(write_frames(tiny_frames(), tmp_path / "ds", fmt), observed_until=END)
    s = ds.summary()
    assert s["accounts"] == 3
    assert s["churned_accounts"] == 1  # account 2 ended with no later subscription
    assert s["rows"]["events"] == 5
    assert ds["subscriptions"].mrr.type().is_floating()
    assert ds["events"].ts.type().is_timestamp()


def test_optional_tables_and_columns_give_notices_not_errors(tmp_path):
    frames = tiny_frames()
    del frames["tickets"], frames["surveys"]
    frames["events"] = frames["events"].drop(columns=["duration_s", "user_id"])
    frames["accounts"] = frames["accounts"].drop(columns=["seats", "segment"])
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until=END)
    text = "\n".join(ds.notices)
    assert "tickets not found" in text and "surveys not found" in text
    assert "duration_s" in text and "seats" in text
    assert not ds.has("tickets") and not ds.has("events", "duration_s")


def test_missing_required_table_and_column(tmp_path):
    frames = tiny_frames()
    del frames["subscriptions"]
    frames["events"] = frames["events"].drop(columns=["event_type"])
    problems = _problems(tmp_path, frames)
    _find(problems, "subscriptions", None)
    _find(problems, "events", "event_type")


def test_columns_named_otherwise_are_mapped_in_dataset_json(tmp_path):
    """An export's own column names (userId, page, created): the missing-column problem lists
    the table's columns and says how to map them; mapped in dataset.json, the dataset loads as
    if named churnlab's way; each mistake in the mapping is a problem naming it."""
    import json

    frames = tiny_frames()
    frames["events"] = frames["events"].rename(
        columns={"account_id": "userId", "event_type": "page"}
    )
    frames["accounts"] = frames["accounts"].rename(columns={"signup_at": "created"})
    problems = _problems(tmp_path, frames)
    missing = _find(problems, "events", "account_id")
    assert "the table has userId, user_id, ts, page" in missing.message
    assert '"columns": {"events": {"account_id": "its_name"}}' in missing.message

    folder = tmp_path / "ds"
    mapping = {
        "events": {"account_id": "userId", "event_type": "page"},
        "accounts": {"signup_at": "created"},
    }
    (folder / "dataset.json").write_text(json.dumps({"columns": mapping}))
    ds = load_dataset(folder, observed_until=END)
    events = ds.con.execute(ds["events"])
    assert list(events.columns[:4]) == ["account_id", "user_id", "ts", "event_type"]
    assert events.event_type.tolist() == tiny_frames()["events"].event_type.tolist()
    assert (
        ds.con.execute(ds["accounts"]).signup_at.tolist()
        == tiny_frames()["accounts"].signup_at.tolist()
    )

    bad = {
        "event": {"account_id": "userId"},
        "events": {"account_id": "user", "kind": "page", "user_id": "page"},
    }
    (folder / "dataset.json").write_text(json.dumps({"columns": bad}))
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, observed_until=END)
    messages = [p.message for p in info.value.problems]
    assert messages[0].startswith("unknown table 'event'; known: ['accounts'")
    assert messages[1].startswith("events.account_id: no column 'user' (it has ['userId'")
    assert messages[2].startswith("events.kind: 'kind' is not a column churnlab reads")
    assert messages[3].startswith("events.user_id: events has a column 'user_id' already")

    # one column of the file as two of churnlab's (a log whose userId is account and user)
    frames["events"] = frames["events"].drop(columns="user_id")
    write_frames(frames, folder)
    both = {**mapping, "events": {**mapping["events"], "user_id": "userId"}}
    (folder / "dataset.json").write_text(json.dumps({"columns": both}))
    ds = load_dataset(folder, observed_until=END)
    events = ds.con.execute(ds["events"])
    assert events.user_id.tolist() == events.account_id.tolist()
    assert events.account_id.tolist() == tiny_frames()["events"].account_id.tolist()

    # Segment's tracks: its user_id is the account, its anonymous_id the user; the name
    # user_id is free once the file's user_id is mapped away
    segment = tiny_frames()["events"].rename(columns={"user_id": "anonymous_id"})
    segment = segment.rename(columns={"account_id": "user_id"})
    swap = {**mapping, "events": {"account_id": "user_id", "user_id": "anonymous_id",
                                  "event_type": "page"}}  # fmt: skip
    frames["events"] = segment.rename(columns={"event_type": "page"})
    write_frames(frames, folder)
    (folder / "dataset.json").write_text(json.dumps({"columns": swap}))
    ds = load_dataset(folder, observed_until=END)
    events, want = ds.con.execute(ds["events"]), tiny_frames()["events"]
    assert events.account_id.tolist() == want.account_id.tolist()
    assert events.user_id.tolist() == want.user_id.tolist()


def test_every_problem_reported_at_once(tmp_path):
    frames = tiny_frames()
    frames["subscriptions"].loc[2, "mrr"] = -5.0
    frames["accounts"].loc[1, "seats"] = -1
    frames["surveys"].loc[0, "nps"] = 11
    problems = _problems(tmp_path, frames)
    assert {(p.table, p.column) for p in problems} >= {
        ("subscriptions", "mrr"),
        ("accounts", "seats"),
        ("surveys", "nps"),
    }
    nps = _find(problems, "surveys", "nps")
    assert "0-10" in nps.message and "account_id=1" in nps.examples[0]


def test_unparseable_timestamps_and_numbers_in_csv(tmp_path):
    frames = {
        k: v.astype(str).replace({"NaT": "", "nan": "", "None": ""})
        for k, v in tiny_frames().items()
    }
    frames["accounts"].loc[2, "signup_at"] = "last tuesday"
    frames["subscriptions"].loc[0, "mrr"] = "forty"
    problems = _problems(tmp_path, frames, fmt="csv")
    p = _find(problems, "accounts", "signup_at")
    assert "unparseable timestamps" in p.message and "account_id=3" in p.examples[0]
    assert "'last tuesday'" in p.examples[0]
    _find(problems, "subscriptions", "mrr")


def test_dates_written_day_first_or_month_first_say_what_to_write(tmp_path):
    frames = _text_frames()
    frames["accounts"].loc[0, "signup_at"] = "07/22/2024 03:57 AM"
    p = _find(_problems(tmp_path, frames, fmt="csv"), "accounts", "signup_at")
    assert "ISO 8601" in p.message and "'07/22/2024 03:57 AM'" in p.examples[0]


def test_amounts_written_for_people_in_csv_are_read_as_numbers(tmp_path):
    """``$1,500.00`` or ``12.00 €`` in a CSV's mrr (a CRM or billing export) are amounts, read
    as a customer table's are, with a notice; malformed ones are still problems."""
    frames = _text_frames()
    assert len(frames["subscriptions"]) == 4
    frames["subscriptions"]["mrr"] = ["$1,500.00", "12.00 \u20ac", "99", "1,200"]
    ds = load_dataset(write_frames(frames, tmp_path / "ok", "csv"), observed_until=END)
    mrr = ds.con.execute(ds["subscriptions"].mrr).tolist()
    assert sorted(mrr) == [12.0, 99.0, 1200.0, 1500.0]
    notice = "subscriptions.mrr: 3 value(s) written with a currency symbol or thousands"
    assert any(n.startswith(notice) for n in ds.notices)
    frames["subscriptions"]["mrr"] = ["$1,5", "12.5.3", "-$-5", "1,2,3"]
    p = _find(_problems(tmp_path, frames, fmt="csv"), "subscriptions", "mrr")
    assert p.message.startswith("4 unparseable") and "mrr='$1,5'" in p.examples[0]


def test_null_markers_of_database_dumps_are_missing_values(tmp_path):
    """NULL and \\N, as SQL dumps write a missing value, read as missing where a timestamp,
    number or boolean belongs (they were unparseable timestamps), as a blank is."""
    frames = _text_frames()
    subs = frames["subscriptions"]
    active = subs.ended_at.isna() | (subs.ended_at == "")
    assert active.sum() == 2
    subs.loc[active, "ended_at"] = ["NULL", "\\N"]
    frames["events"].loc[0, "duration_s"] = "null"
    ds = load_dataset(write_frames(frames, tmp_path / "ds", "csv"), observed_until=END)
    ended = ds.con.execute(ds["subscriptions"].ended_at)
    assert ended.isna().sum() == active.sum()
    assert ds.con.execute(ds["events"].duration_s).isna().sum() == 1


def test_epoch_timestamps_are_one_problem_not_two(tmp_path):
    frames = tiny_frames()
    frames["events"]["ts"] = frames["events"].ts.astype("int64") // 10**6  # epoch milliseconds
    problems = _problems(tmp_path, frames, end=None)
    assert [p.message.split(" (")[0] for p in problems if p.table == "events"] == [
        f"{len(frames['events'])} numbers where timestamps belong"
    ]


def test_a_missing_time_written_as_zero_is_named(tmp_path):
    """One event at 1970-01-01 00:00 (a null some export wrote as 0) made an account's tenure
    55 years and the data's range 1970..; a ticket resolved then, likewise. Named, with the
    fix that fits the column."""
    frames = tiny_frames()
    frames["events"].loc[2, "ts"] = pd.Timestamp("1970-01-01")
    frames["tickets"].loc[0, "resolved_at"] = pd.Timestamp("1970-01-01")
    problems = _problems(tmp_path, frames)
    assert _find(problems, "events", "ts").message.startswith(
        "1 timestamps at exactly 1970-01-01 00:00:00, a missing time written as 0 (give the time"
    )
    assert "(write it empty)" in _find(problems, "tickets", "resolved_at").message
    frames["events"].loc[2, "ts"] = pd.Timestamp("1970-01-01 00:00:01")  # a time, if an odd one
    assert ("events", "ts") not in {(p.table, p.column) for p in _problems(tmp_path, frames)}


def test_text_tables_are_parsed_and_typed_once(tmp_path):
    """A CSV table read as a view was parsed from text again by every query (validation's
    few dozen, then every builder's): 56 s to validate 800k rows against 9 s as Parquet. It is
    parsed into the work database once, and typed there once."""
    ds = load_dataset(write_frames(tiny_frames(), tmp_path / "ds", "csv"), observed_until=END)
    for name in ("accounts", "subscriptions", "events"):
        tables = ds[name].op().find(ops.DatabaseTable)
        assert {t.name for t in tables} == {f"_churnlab_typed_{name}"}, name
    # what was read is what a Parquet folder gives
    parquet = load_dataset(write_frames(tiny_frames(), tmp_path / "pq"), observed_until=END)
    for name in ("accounts", "subscriptions", "events"):
        a = ds.con.execute(ds[name]).sort_values(list(ds[name].columns[:2]))
        b = parquet.con.execute(parquet[name]).sort_values(list(ds[name].columns[:2]))
        pd.testing.assert_frame_equal(
            a.reset_index(drop=True), b[a.columns].reset_index(drop=True), check_dtype=False
        )


def test_durations_in_milliseconds_get_a_notice(tmp_path):
    """A log's milliseconds mapped as duration_s (5 minutes read as 3.5 days) passed silently;
    where a tenth of the timed events last more than a day, a notice says what to do."""
    frames = tiny_frames()
    ds = load_dataset(write_frames(frames, tmp_path / "s"), observed_until=END)
    assert not [n for n in ds.notices if "more than a day" in n]
    frames["events"]["duration_s"] *= 1000
    ds = load_dataset(write_frames(frames, tmp_path / "ms"), observed_until=END)
    (notice,) = [n for n in ds.notices if "more than a day" in n]
    assert notice.startswith("events.duration_s: 3 of 5 timed events last more than a day")
    assert "divide by 1,000" in notice


def _text_frames() -> dict[str, pd.DataFrame]:
    return {
        k: v.astype(str).replace({"NaT": "", "nan": "", "None": ""})
        for k, v in tiny_frames().items()
    }


def test_blank_numbers_in_csv_are_missing_not_errors(tmp_path):
    frames = {
        k: v.astype(str).replace({"NaT": "", "nan": "", "None": ""})
        for k, v in tiny_frames().items()
    }
    frames["events"].loc[1, "duration_s"] = " "
    ds = load_dataset(write_frames(frames, tmp_path / "ds", "csv"), observed_until=END)
    durations = ds.con.execute(ds["events"].duration_s)
    assert durations.isna().sum() == 1


def test_duplicate_keys(tmp_path):
    frames = tiny_frames()
    frames["accounts"] = pd.concat([frames["accounts"], frames["accounts"].iloc[[0]]])
    frames["tickets"].loc[1, "ticket_id"] = 10
    problems = _problems(tmp_path, frames)
    p = _find(problems, "accounts", "account_id")
    assert "duplicate" in p.message and "account_id=1 (2 rows)" in p.examples[0]
    _find(problems, "tickets", "ticket_id")


def test_cancellation_requested_outside_the_subscription(tmp_path):
    """canceled_at (when the customer asked to cancel) before the start or after the end is a
    problem naming the column and the rows; a request on the end's day (cancelled at once) or
    before a later end (at the period's end) is not."""
    frames = tiny_frames()
    ts = pd.Timestamp
    frames["subscriptions"]["canceled_at"] = [
        ts("2024-03-01"),  # account 1's basic: canceled when it ended
        ts("2024-05-02"),  # account 1's open pro: a cancellation scheduled for later
        ts("2024-06-01"),  # account 2: after its end (2024-05-20)
        ts("2024-02-01"),  # account 3: before its start (2024-03-10)
    ]
    problems = [p for p in _problems(tmp_path, frames) if p.column == "canceled_at"]
    assert [(p.table, p.message.split(" (")[0]) for p in problems] == [
        ("subscriptions", "1 subscription(s) canceled before they start"),
        ("subscriptions", "1 subscription(s) canceled after they end"),
    ]
    assert problems[0].examples[0].startswith("account_id=3 ")
    assert problems[1].examples[0].startswith("account_id=2 ")
    assert "canceled_at=2024-06-01" in problems[1].examples[0]
    frames["subscriptions"].loc[2:3, "canceled_at"] = [ts("2024-05-10"), ts("2024-04-01")]
    ds = load_dataset(write_frames(frames, tmp_path / "ok"), observed_until=END)
    assert ds.con.execute(ds["subscriptions"]).canceled_at.notna().all()


def test_subscription_ending_before_start(tmp_path):
    frames = tiny_frames()
    subs = frames["subscriptions"]
    subs.loc[2, "ended_at"] = pd.Timestamp("2024-01-15")  # account 2 ends before it starts
    subs.loc[0, "ended_at"] = pd.Timestamp("2024-03-15")  # account 1 overlaps its next plan
    problems = _problems(tmp_path, frames)
    assert "end before they start" in _find(problems, "subscriptions", "ended_at").message
    # an overlap is no problem: subscriptions held at once (see test_concurrent_subscriptions)
    assert [p for p in problems if p.table == "subscriptions"] == [
        _find(problems, "subscriptions", "ended_at")
    ]


def test_concurrent_subscriptions_are_read_as_held_at_once(tmp_path):
    """A plan with an add-on and a second product (subscriptions overlapping in time, as most
    billing systems export them) load with a notice instead of failing validation; MRR at a
    date is their total, the plan that of the largest, and churn the end of the last one."""
    from churnlab.analytics.retention import mrr_snapshots
    from churnlab.features import build_features, build_observations

    ts = pd.Timestamp
    frames = tiny_frames()
    extra = pd.DataFrame(
        {
            "account_id": [3, 2],
            "plan": ["addon", "analytics"],
            "mrr": [300.0, 20.0],
            "billing_period": ["monthly", "monthly"],
            "started_at": [ts("2024-04-01"), ts("2024-03-01")],
            "ended_at": [ts("2024-06-01"), ts("2024-06-10")],
            "end_reason": [None, "too_expensive"],
        }
    )
    frames["subscriptions"] = pd.concat([frames["subscriptions"], extra], ignore_index=True)
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until="2024-07-01")
    (notice,) = [n for n in ds.notices if "held at once" in n]
    assert notice.startswith("subscriptions: 2 subscription(s)") and "account_id=2" in notice

    obs = ds.con.execute(build_observations(ds, ["2024-04-15", "2024-06-05"], horizon_days=60))
    rows = {(r.account_id, str(r.cutoff.date())): r for r in obs.itertuples()}
    assert rows[(3, "2024-04-15")].mrr == 2700.0 and rows[(2, "2024-04-15")].mrr == 35.0
    assert rows[(3, "2024-06-05")].mrr == 2400.0  # the add-on ended
    # account 2 churns when its last subscription ends (06-10), not when the first does (05-20)
    a2 = rows[(2, "2024-04-15")]
    assert (a2.event, a2.duration_days, a2.churned_within_h) == (1, 56.0, True)
    assert rows[(2, "2024-06-05")].mrr == 20.0  # still a customer after its first plan ended

    feats, _ = build_features(ds, build_observations(ds, ["2024-04-15"], 60), names=["plan"])
    f = ds.con.execute(feats).set_index("account_id")
    assert (f.loc[3, "plan"], f.loc[3, "current_mrr"]) == ("enterprise", 2700.0)
    assert (f.loc[2, "plan"], f.loc[2, "current_mrr"]) == ("analytics", 35.0)
    snap = mrr_snapshots(ds, [ts("2024-05-01")]).set_index("account_id").mrr
    assert snap.to_dict() == {1: 105.0, 2: 35.0, 3: 2700.0}


def _renewals(frames: dict[str, pd.DataFrame], plan: bool = True) -> dict[str, pd.DataFrame]:
    """Account 2's basic plan renewed twice, each paid a day before the last period ends, with
    an add-on of another plan bought meanwhile; account 3 with a second seat of its plan
    bought at the same instant."""
    ts = pd.Timestamp
    subs = frames["subscriptions"]
    subs = subs[subs.account_id != 2]
    rows = pd.DataFrame(
        {
            "account_id": [2, 2, 2, 2, 3],
            "plan": ["basic", "basic", "basic", "analytics", "enterprise"],
            "mrr": [15.0, 15.0, 15.0, 20.0, 100.0],
            "billing_period": ["monthly"] * 4 + ["annual"],
            "started_at": [
                ts("2024-02-01"),
                ts("2024-03-01"),  # paid the day before 03-02
                ts("2024-03-31"),  # paid the day before 04-01
                ts("2024-03-15"),  # the add-on
                ts("2024-03-10"),  # the second seat, bought with the first
            ],
            "ended_at": [
                ts("2024-03-02"),
                ts("2024-04-01"),
                ts("2024-05-20"),
                ts("2024-06-10"),
                pd.NaT,
            ],
            "end_reason": [None, None, "too_expensive", None, None],
        }
    )
    frames["subscriptions"] = pd.concat([subs, rows], ignore_index=True)
    if not plan:
        frames["subscriptions"] = frames["subscriptions"].drop(columns="plan")
    return frames


def test_a_renewal_paid_before_the_period_ends_is_no_second_subscription(tmp_path):
    """A later subscription of the same account and plan starting while the last one is in
    force (a renewal charged a day early, fuzz6 repro_6) replaces it from its start: MRR is
    not counted twice, the renewal is no churn and no new start. An add-on (another plan) and
    a second seat of the plan bought at the same instant are still held at once."""
    from churnlab.analytics.retention import mrr_snapshots
    from churnlab.data import coverage_spells
    from churnlab.features import build_features, build_observations

    ts = pd.Timestamp
    ds = load_dataset(write_frames(_renewals(tiny_frames()), tmp_path / "ds"), observed_until=END)

    cutoffs = ["2024-03-02", "2024-04-01", "2024-05-25"]
    obs = ds.con.execute(build_observations(ds, cutoffs, horizon_days=30))
    rows = {(r.account_id, str(r.cutoff.date())): r for r in obs.itertuples()}
    # the overlap days: one basic plan (15), with the add-on from 03-15 (20)
    assert rows[(2, "2024-03-02")].mrr == 15.0 and rows[(2, "2024-04-01")].mrr == 35.0
    assert rows[(2, "2024-05-25")].mrr == 20.0  # the basic plan ended, the add-on did not
    assert rows[(3, "2024-04-01")].mrr == 2500.0  # two seats bought together
    for cutoff in cutoffs:  # no churn at a renewal: the cover ends with the add-on
        a2 = rows[(2, cutoff)]
        assert (a2.event, a2.churned_within_h) == (1, cutoff == "2024-05-25")
        assert a2.duration_days == (ts("2024-06-10") - ts(cutoff)).days
    spells = ds.con.execute(coverage_spells(ds)).set_index("account_id")
    assert (spells.loc[2, "started_at"], spells.loc[2, "ended_at"]) == (
        ts("2024-02-01"),
        ts("2024-06-10"),
    )

    feats, _ = build_features(ds, build_observations(ds, cutoffs[:2], 30), names=["plan"])
    f = ds.con.execute(feats).set_index(["account_id", "cutoff"]).sort_index()
    assert f.loc[(2, ts("2024-03-02")), "current_mrr"] == 15.0
    assert f.loc[(2, ts("2024-04-01")), ["plan", "current_mrr"]].tolist() == ["analytics", 35.0]
    assert f.loc[(3, ts("2024-04-01")), "current_mrr"] == 2500.0
    snap = mrr_snapshots(ds, [ts("2024-03-01"), ts("2024-04-01")])
    snap = snap.set_index([snap.month.dt.strftime("%m-%d"), "account_id"]).mrr.to_dict()
    assert snap == {
        ("03-01", 1): 105.0,
        ("03-01", 2): 15.0,  # the day the first renewal starts: once
        ("04-01", 1): 105.0,
        ("04-01", 2): 35.0,
        ("04-01", 3): 2500.0,
    }
    (renewed,) = [n for n in ds.notices if "renewed before they end" in n]
    assert renewed.startswith("subscriptions: 2 subscription(s)") and "same plan" in renewed
    assert "ended_at=2024-03-02 00:00:00 renewed_at=2024-03-01 00:00:00" in renewed
    (held,) = [n for n in ds.notices if "held at once" in n]
    assert "account_id=2" in held and "account_id=3" in held


def test_without_a_plan_column_a_later_subscription_in_force_is_a_renewal(tmp_path):
    """A billing export without plan names (KKBox-style transactions): nothing tells an add-on
    from a renewal, so an account's rows are read as one plan: a later row starting while one
    is in force renews it. Rows starting at the same instant are still held at once."""
    from churnlab.features import build_observations

    ds = load_dataset(
        write_frames(_renewals(tiny_frames(), plan=False), tmp_path / "ds"), observed_until=END
    )
    obs = ds.con.execute(build_observations(ds, ["2024-03-02", "2024-04-01"], 30))
    mrr = obs.set_index(["account_id", obs.cutoff.dt.strftime("%Y-%m-%d")]).mrr
    # 03-15: the unnamed add-on renews the basic plan (20), then the basic plan renews it
    assert mrr[(2, "2024-03-02")] == 15.0 and mrr[(2, "2024-04-01")] == 15.0
    assert mrr[(3, "2024-04-01")] == 2500.0
    (renewed,) = [n for n in ds.notices if "renewed before they end" in n]
    assert renewed.startswith("subscriptions: 3 subscription(s)") and "no plan column" in renewed


def test_unknown_accounts(tmp_path):
    """Subscriptions of unknown accounts are a problem; events, tickets and surveys of a few
    unknown accounts (a product logs people who are not customers) are left out with a
    notice; where most of an activity table's accounts are unknown, the ids are written
    differently: a problem that says so."""
    frames = tiny_frames()
    frames["events"].loc[4, "account_id"] = 99
    frames["subscriptions"].loc[3, "account_id"] = 55
    frames["tickets"]["account_id"] = [101, 103]  # every ticket's account unknown
    problems = _problems(tmp_path, frames)
    assert _find(problems, "subscriptions", "account_id").examples == ("account_id=55",)
    tickets = _find(problems, "tickets", "account_id")
    assert tickets.examples == ("account_id=101", "account_id=103")
    assert "ids written the same way" in tickets.message
    assert not [p for p in problems if p.table == "events"]


def test_ids_written_in_another_case_or_with_spaces_are_said_to_be(tmp_path):
    """' ACME-1' in one table for 'acme-1' in another was refused with a hint about types,
    leading zeros and prefixes; the problem says they match once case and spaces are ignored."""
    frames = tiny_frames()
    for name in ("accounts", "subscriptions", "events", "tickets"):
        frames[name]["account_id"] = frames[name].account_id.map(lambda i: f"AcMe-{i}")
    frames["subscriptions"]["account_id"] = " " + frames["subscriptions"].account_id.str.upper()
    message = _find(_problems(tmp_path, frames), "subscriptions", "account_id").message
    assert "match an account once spaces around the id and case are ignored, e.g. ' ACME-1' " in (
        message
    )
    assert "for 'AcMe-1'" in message


def test_events_of_a_few_unknown_accounts_are_left_out_with_a_notice(tmp_path):
    frames = tiny_frames()
    frames["events"].loc[4, "account_id"] = 99
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until=END)
    (notice,) = [n for n in ds.notices if "not in accounts" in n]
    assert notice.startswith("events: 1 row(s) of 1 account(s) not in accounts left out")
    assert "account_id=99" in notice
    assert sorted(ds.con.execute(ds["events"].account_id)) == [1, 1, 2, 3]
    # with the file's own column mapped, the notice names the file's column, as problems do
    import json

    folder = write_frames(
        {**frames, "events": frames["events"].rename(columns={"account_id": "customer_ref"})},
        tmp_path / "mapped",
    )
    (folder / "dataset.json").write_text(
        json.dumps({"columns": {"events": {"account_id": "customer_ref"}}})
    )
    ds = load_dataset(folder, observed_until=END)
    (notice,) = [n for n in ds.notices if "not in accounts" in n]
    assert "customer_ref=99" in notice and "account_id=" not in notice


def test_timestamps_after_data_end(tmp_path):
    frames = tiny_frames()
    frames["tickets"].loc[1, "created_at"] = pd.Timestamp("2024-09-01")
    problems = _problems(tmp_path, frames)
    p = _find(problems, "tickets", "created_at")
    assert "after the data's end" in p.message and "ticket_id=11" in p.examples[0]


def test_paid_churn_and_mrr_are_told_apart_from_trial_only_accounts(tmp_path):
    frames = tiny_frames()
    subs = frames["subscriptions"]
    subs.loc[subs.account_id == 2, ["plan", "mrr"]] = ["trial", 0.0]  # a trial that ended
    s = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until=END).summary()
    assert (s["subscribed_accounts"], s["churned_accounts"]) == (3, 1)
    assert (s["paying_accounts"], s["paying_churned_accounts"]) == (2, 0)
    assert s["mrr"] == {"median": 105.0, "max": 2400.0}


def _prices(annual_mrr: float) -> dict[str, pd.DataFrame]:
    """Six accounts on one plan: three monthly at 120, three annual at ``annual_mrr``."""
    frames = tiny_frames()
    ids = list(range(1, 7))
    frames["accounts"] = pd.DataFrame({"account_id": ids, "signup_at": pd.Timestamp("2024-01-05")})
    frames["subscriptions"] = pd.DataFrame(
        {
            "account_id": ids,
            "plan": "pro",
            "mrr": [120.0] * 3 + [annual_mrr] * 3,
            "billing_period": ["monthly"] * 3 + ["annual"] * 3,
            "started_at": pd.Timestamp("2024-01-05"),
            "ended_at": pd.NaT,
        }
    )
    for name in ("events", "tickets", "surveys"):
        frames[name] = frames[name][frames[name].account_id.isin(ids)]
    return frames


def test_an_annual_price_written_as_mrr_gets_a_notice(tmp_path):
    # Stripe keeps an annual plan's price per year: 1,440 read as MRR is 12x the revenue
    wrong = load_dataset(write_frames(_prices(1440.0), tmp_path / "a"), observed_until=END)
    (notice,) = [n for n in wrong.notices if n.startswith("subscriptions.mrr")]
    assert "12.0x" in notice and "annual 1,440.00 vs monthly 120.00" in notice
    right = load_dataset(write_frames(_prices(100.0), tmp_path / "b"), observed_until=END)
    assert not [n for n in right.notices if n.startswith("subscriptions.mrr")]


def test_subscription_ends_after_the_data_are_read_as_still_in_force(tmp_path):
    """A contract's term or a cancellation scheduled past the data's end (as billing exports
    write them) is not a problem: the subscription was in force when the data end, so the
    account has not churned (censored), as at every cutoff before the end was known."""
    from churnlab.features import build_observations

    frames = tiny_frames()
    frames["subscriptions"].loc[1, "ended_at"] = pd.Timestamp("2024-12-01")  # account 1
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until=END)
    (notice,) = [n for n in ds.notices if "end after the data's end" in n]
    assert notice.startswith("subscriptions: 1 subscription(s)") and "account_id=1" in notice
    obs = ds.con.execute(build_observations(ds, ["2024-06-15"], horizon_days=30))
    a1 = obs.set_index("account_id").loc[1]
    assert (a1.event, a1.duration_days, a1.churned_within_h) == (0, 16.0, False)


def test_empty_table(tmp_path):
    frames = tiny_frames()
    frames["events"] = frames["events"].iloc[0:0]
    _find(_problems(tmp_path, frames), "events", None)


def test_an_optional_table_with_no_rows_is_none(tmp_path):
    """A later snapshot with no tickets this time: read as none (ticket counts 0), with a
    notice, not refused (a required table with no rows still is)."""
    from churnlab.features import build_features, build_observations

    frames = tiny_frames()
    frames["tickets"] = frames["tickets"].iloc[0:0]
    ds = load_dataset(write_frames(frames, tmp_path / "csv", "csv"), observed_until=END)
    assert "tickets: no rows (read as none)" in ds.notices
    table, used = build_features(
        ds, build_observations(ds, ["2024-05-01"], 30), names=["support_tickets"]
    )
    got = ds.con.execute(table)
    assert [b.name for b in used] == ["support_tickets"] and (got.tickets_90d == 0).all()


def test_negative_durations(tmp_path):
    frames = tiny_frames()
    frames["events"].loc[0, "duration_s"] = -3.0
    assert "negative" in _find(_problems(tmp_path, frames), "events", "duration_s").message


def test_observed_until_defaults_to_latest_event(tmp_path):
    ds = load_dataset(write_frames(tiny_frames(), tmp_path / "ds"))
    assert ds.observed_until == pd.Timestamp("2024-06-29")
    assert any("observed_until not given" in n for n in ds.notices)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    as_string=st.booleans(),
    prefix=st.text(alphabet="abcXYZ-_", min_size=0, max_size=4),
)
def test_ids_may_be_integers_or_strings(tmp_path_factory, as_string, prefix):
    frames = tiny_frames()
    if as_string:
        for df in frames.values():
            df["account_id"] = prefix + "A" + df["account_id"].astype(str)
    ds = load_dataset(write_frames(frames, tmp_path_factory.mktemp("ids")), observed_until=END)
    assert ds.summary()["churned_accounts"] == 1


def test_integer_ids_stored_as_text_join_integer_ids(tmp_path):
    frames = tiny_frames()
    frames["events"]["account_id"] = frames["events"]["account_id"].astype(str)
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until=END)
    assert ds["events"].account_id.type().is_integer()
    assert ds.summary()["accounts"] == 3


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_ids_with_leading_zeros_stay_as_written(tmp_path, fmt):
    """Customer numbers like 00123 are text, not the integer 123: features (and so scores)
    carry the ids the user's own systems use. Plain whole numbers still become integers."""
    from churnlab.features import build_features, build_observations

    frames = tiny_frames()
    for name in ("accounts", "subscriptions", "events", "tickets", "surveys"):
        frames[name]["account_id"] = frames[name]["account_id"].map(lambda i: f"{i:05d}")
    ds = load_dataset(write_frames(frames, tmp_path / "ds", fmt), observed_until=END)
    assert ds["accounts"].account_id.type().is_string()
    assert ds.summary()["accounts"] == 3 and ds.summary()["churned_accounts"] == 1
    obs = build_observations(ds, ["2024-04-15"], 30)
    table, _ = build_features(ds, obs, names=["activity_windows"])
    assert sorted(ds.con.execute(table).account_id) == ["00001", "00002", "00003"]


def test_duckdb_file_source(tmp_path):
    import duckdb

    path = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(path))
    for name, df in tiny_frames().items():
        con.register("df", df)
        con.execute(f"create table {name} as select * from df")
        con.unregister("df")
    con.close()
    ds = load_dataset(path, observed_until=END)
    assert ds.summary()["accounts"] == 3


def test_latin1_csv_in_a_folder_is_named_and_read_with_its_encoding(tmp_path):
    import json

    frames = tiny_frames()
    frames["accounts"]["segment"] = ["smb", "pymé", "enterprise"]
    folder = write_frames(frames, tmp_path / "d", "csv")
    text = (folder / "accounts.csv").read_text(encoding="utf-8")
    (folder / "accounts.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(DataValidationError) as caught:
        load_dataset(folder)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'accounts.csv'}: is not utf-8 text")
    assert '"encoding": "latin-1" in the folder\'s dataset.json' in message
    ds = load_dataset(folder, encoding="latin-1")
    assert "pymé" in set(ds.con.execute(ds["accounts"])["segment"])
    (folder / "dataset.json").write_text(json.dumps({"encoding": "latin-1"}))
    ds = load_dataset(folder)  # every command reads the folder alike
    assert "pymé" in set(ds.con.execute(ds["accounts"])["segment"])


def test_examples_of_event_rows_name_their_time():
    """Events have no key: an example names the account and the row's time, so that examples
    of one account are rows the user can find, not the same id repeated."""
    import tempfile
    from pathlib import Path

    frames = tiny_frames()
    frames["events"].loc[[0, 1], "duration_s"] = -5.0  # two rows of account 1
    problems = _problems(Path(tempfile.mkdtemp()), frames)
    examples = _find(problems, "events", "duration_s").examples
    assert len(examples) == 2 and len(set(examples)) == 2
    assert all(e.startswith("account_id=1 ts=") and "duration_s=-5.0" in e for e in examples)


def test_events_without_a_type_are_left_out_unless_none_has_one(tmp_path):
    frames = tiny_frames()
    frames["events"].loc[[0, 1], "event_type"] = None  # two rows of account 1
    ds = load_dataset(write_frames(frames, tmp_path / "some"), observed_until=END)
    (notice,) = [n for n in ds.notices if "without an event_type" in n]
    assert notice.startswith("events: 2 event(s) without an event_type (40.0% of the events")
    assert "account_id=1 ts=2024-01-05" in notice
    assert sorted(ds.con.execute(ds["events"].account_id)) == [2, 3, 3]
    frames["events"]["event_type"] = None  # a log with no types at all: a problem
    problems = _problems(tmp_path / "all", frames)
    assert "5 null values" in _find(problems, "events", "event_type").message


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_events_without_an_account_are_left_out_with_a_notice(tmp_path, fmt):
    # a product log's anonymous events (before sign-in): not attributable, not an error
    frames = tiny_frames()
    events = frames["events"]
    frames["events"] = events.astype({"account_id": "object"})
    frames["events"].loc[[0, 1], "account_id"] = None
    ds = load_dataset(write_frames(frames, tmp_path / "ds", fmt), observed_until=END)
    assert len(ds.con.execute(ds["events"])) == len(events) - 2
    share = 2 / len(events)
    (notice,) = [n for n in ds.notices if "without an account_id" in n]
    assert notice == (
        f"events: 2 event(s) without an account_id ({share:.1%} of the events: anonymous, e.g. "
        "before sign-in) are left out; type(s) found only there: 'create_report'"
    )
    # a role naming that type is told why no account has it (fuzz8: Sparkify's Login)
    section = parse_events({"roles": {"core_action": ["create_report"]}})
    with pytest.raises(VocabularyError, match="'create_report' occurs only on events without"):
        fit_vocabulary(ds, section)
    # a missing account elsewhere stays an error, named once (not also an unknown account)
    frames["tickets"] = frames["tickets"].astype({"account_id": "object"})
    frames["tickets"].loc[0, "account_id"] = None
    problems = _problems(tmp_path / "t", frames, fmt)
    assert [(p.table, p.column) for p in problems] == [("tickets", "account_id")]


def _compressed_folder(folder, zstd=True):
    """The tiny dataset with its tables as gzip, TSV and zstd text (as large exports come)."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    forms = {
        "accounts": ".csv",
        "subscriptions": ".tsv",
        "events": "/part-0.csv.gz",  # a folder of parts, as Spark and warehouses export
        "tickets": ".tsv.gz",
        "surveys": ".csv.zst" if zstd else ".csv",
    }
    (folder / "events").mkdir(exist_ok=True)
    events = tiny_frames()["events"]
    (folder / "events" / "part-1.csv.gz").write_bytes(
        gzip.compress(events.iloc[3:].to_csv(index=False).encode())
    )
    for name, df in tiny_frames().items():
        suffix = forms[name]
        df = df.iloc[:3] if name == "events" else df
        text = df.to_csv(index=False, sep="\t" if ".tsv" in suffix else ",")
        if suffix.endswith(".gz"):
            (folder / f"{name}{suffix}").write_bytes(gzip.compress(text.encode()))
        elif suffix.endswith(".zst"):
            import duckdb

            plain = folder / f"_{name}.csv"
            plain.write_text(text)
            duckdb.execute(
                "COPY (SELECT * FROM read_csv(?, all_varchar=true)) TO '"
                + str(folder / f"{name}{suffix}")
                + "' (FORMAT csv, COMPRESSION zstd)",
                [str(plain)],
            )
            plain.unlink()
        else:
            (folder / f"{name}{suffix}").write_text(text)
    return folder


def test_tables_as_gzip_tsv_and_zstd_text_are_read(tmp_path):
    """A folder whose event log is a folder of .csv.gz parts (and other tables .tsv, .tsv.gz,
    .csv.zst) reads as the same tables as the Parquet folder; before, each was 'required
    table is missing' beside the files."""
    ds = load_dataset(_compressed_folder(tmp_path / "text"), observed_until=END)
    ref = load_dataset(write_frames(tiny_frames(), tmp_path / "pq"), observed_until=END)
    for name in ("accounts", "subscriptions", "events", "tickets", "surveys"):
        got = ds.con.execute(ds[name]).sort_values(list(ds[name].columns)[:2])
        want = ref.con.execute(ref[name]).sort_values(list(ref[name].columns)[:2])
        assert len(got) == len(want) and list(got.columns) == list(want.columns), name
        assert got.astype(str).values.tolist() == want.astype(str).values.tolist(), name


def test_a_missing_table_names_the_files_it_was_not_read_from(tmp_path):
    folder = write_frames(tiny_frames(), tmp_path / "ds")
    (folder / "events.parquet").rename(folder / "Events.parquet")
    (folder / "events.xml").write_text("<events/>")
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder, observed_until=END)
    (p,) = [p for p in err.value.problems if p.table == "events"]
    assert p.message.startswith("required table is missing (found Events.parquet, events.xml;")
    assert "events.csv.gz" in p.message and "events.csv.gz" in str(err.value)


def test_subscriptions_without_plan_names_load(tmp_path):
    """A billing export with amounts but no plan names: the plan feature is all null (left
    out at training as a degenerate column), MRR and the other billing features are built."""
    from churnlab.analytics.survival_curves import survival_table
    from churnlab.features import build_features, build_observations

    frames = tiny_frames()
    frames["subscriptions"] = frames["subscriptions"].drop(columns="plan")
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until=END)
    assert any("optional column(s) plan not found" in n for n in ds.notices)
    obs = build_observations(ds, ["2024-04-15"], 30)
    table, _ = build_features(ds, obs, names=["plan", "billing_period"])
    f = ds.con.execute(table).set_index("account_id")
    assert f.plan.isna().all() and f.current_mrr.tolist() == [105.0, 15.0, 2400.0]
    assert f.billing_period.tolist() == ["monthly", "monthly", "annual"]
    assert "plan" not in survival_table(ds).columns


def test_accounts_without_signup_dates_take_the_first_subscription_or_event(tmp_path):
    """A CRM export without creation dates: each sign-up is the account's first subscription
    or first event, whichever is earlier (known then: point in time)."""
    from churnlab.features import build_observations

    frames = tiny_frames()
    frames["accounts"] = frames["accounts"].drop(columns="signup_at")
    frames["events"].loc[2, "ts"] = pd.Timestamp("2024-01-20")  # account 2: before its plan
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until=END)
    assert any("no signup_at column" in n for n in ds.notices)
    acc = ds.con.execute(ds["accounts"]).set_index("account_id").signup_at
    assert acc.to_dict() == {
        1: pd.Timestamp("2024-01-05"),  # first subscription, the same day as its first event
        2: pd.Timestamp("2024-01-20"),  # first event, before its first subscription
        3: pd.Timestamp("2024-03-10"),
    }
    obs = ds.con.execute(build_observations(ds, ["2024-02-15"], 30))
    assert sorted(obs.account_id) == [1, 2]


def test_a_plan_and_an_add_on_bought_together_are_no_duplicate(tmp_path):
    """Two subscriptions of one account starting at the same instant (one checkout) are held
    at once; a row repeated whole (an export written twice) is a duplicate."""
    frames = tiny_frames()
    subs = frames["subscriptions"]
    addon = subs.iloc[[3]].assign(plan="addon", mrr=300.0)  # account 3, same start
    frames["subscriptions"] = pd.concat([subs, addon], ignore_index=True)
    ds = load_dataset(write_frames(frames, tmp_path / "ok"), observed_until=END)
    assert len(ds.con.execute(ds["subscriptions"])) == 5
    frames["subscriptions"] = pd.concat([subs, subs.iloc[[0]]], ignore_index=True)
    key = "account_id,started_at,plan,mrr,ended_at"
    p = _find(_problems(tmp_path / "dup", frames), "subscriptions", key)
    assert p.message == "1 duplicate key(s)" and p.examples[0].startswith("account_id=1 ")
    assert p.examples[0].endswith("(2 rows)")


def test_billing_periods_as_exports_write_them(tmp_path):
    """'Monthly', 'yearly', '12 months', 'Quarterly' read as monthly / annual / quarterly (before,
    'yearly' was an unknown value and its renewal was counted as a month's); a period churnlab
    does not know keeps its text and gets no renewal date rather than a monthly guess."""
    from churnlab.features import build_features, build_observations

    frames = tiny_frames()
    frames["subscriptions"]["billing_period"] = [" Monthly", "weekly", "Quarterly", "12 months"]
    ds = load_dataset(write_frames(frames, tmp_path / "ds", "csv"), observed_until=END)
    subs = ds.con.execute(ds["subscriptions"]).sort_values(["account_id", "started_at"])
    assert subs.billing_period.tolist() == ["monthly", "weekly", "quarterly", "annual"]
    assert any("['weekly'] are not among" in n for n in ds.notices)
    table, _ = build_features(
        ds, build_observations(ds, ["2024-04-15"], 30), names=["billing_period"]
    )
    f = ds.con.execute(table).set_index("account_id")
    assert pd.isna(f.days_to_renewal.loc[1])  # weekly: no renewal date
    assert f.days_to_renewal.loc[2] == 16.0  # quarterly since 2024-02-01: renews 05-01
    assert f.days_to_renewal.loc[3] == 329.0  # annual since 2024-03-10


def test_plan_changes_in_the_wording_of_an_export(tmp_path):
    from churnlab.features import build_features, build_observations

    frames = tiny_frames()
    frames["subscriptions"]["end_reason"] = ["Upgraded to Pro", None, "too_expensive", None]
    ds = load_dataset(write_frames(frames, tmp_path / "ds", "csv"), observed_until=END)
    obs = build_observations(ds, ["2024-04-15"], 30)
    table, _ = build_features(ds, obs, names=["plan_changes"])
    f = ds.con.execute(table).set_index("account_id")
    assert f.upgrades_365d.to_dict() == {1: 1, 2: 0, 3: 0}
    assert f.downgrades_365d.sum() == 0


def test_ticket_categories_and_severities_in_another_case_or_spelling(tmp_path):
    from churnlab.features import build_features, build_observations

    frames = tiny_frames()
    frames["tickets"]["category"] = ["Bug", "How-To"]
    frames["tickets"]["severity"] = [" HIGH", "Low"]
    ds = load_dataset(write_frames(frames, tmp_path / "ds", "csv"), observed_until=END)
    tk = ds.con.execute(ds["tickets"]).sort_values("ticket_id")
    assert tk.category.tolist() == ["bug", "how_to"] and tk.severity.tolist() == ["high", "low"]
    assert not [n for n in ds.notices if "are not among" in n]
    obs = build_observations(ds, ["2024-04-15"], 30)
    table, _ = build_features(ds, obs, names=["bug_tickets", "severe_bugs", "support_tickets"])
    f = ds.con.execute(table).set_index("account_id")
    assert f.loc[1, "bug_tickets_365d"] == 1 and f.loc[1, "severe_bug_tickets_90d"] == 1
    assert f.loc[3, "how_to_tickets_90d"] == 1


def test_a_malformed_dataset_json_is_a_problem_naming_it(tmp_path):
    """Invalid JSON, anything but an object (a traceback before), and unknown keys (a
    misspelled observed_until silently moved the data's end) are problems naming the file."""
    folder = write_frames(tiny_frames(), tmp_path / "ds")
    for text, said in [
        ("[]", "must be a JSON object ({...}), not list"),
        ('{"a": 1,, }', "is not valid JSON: Expecting property name"),
        ('{"observed_untill": "2024-06-01"}', "unknown key(s) 'observed_untill' (did you mean"),
    ]:
        (folder / "dataset.json").write_text(text)
        with pytest.raises(DataValidationError) as info:
            load_dataset(folder, observed_until=END)
        (p,) = info.value.problems
        assert p.table == "dataset.json" and said in p.message, p.message
        assert info.value.source.endswith("dataset.json")
    (folder / "dataset.json").write_text('{"notes": "our export of 2024-07-01"}')
    load_dataset(folder, observed_until=END)


def test_an_empty_table_file_is_named_as_empty(tmp_path):
    """A 0-byte events.csv (a failed export) is one line naming the file, not three 'required
    column is missing' problems about columns called column0."""
    from churnlab.data.dataset import UnreadableTableError

    folder = write_frames(tiny_frames(), tmp_path / "ds")
    (folder / "events.parquet").unlink()
    (folder / "events.csv").write_text("")
    with pytest.raises(UnreadableTableError) as info:
        load_dataset(folder, observed_until=END)
    assert str(info.value) == (
        f"{folder / 'events.csv'}: is an empty file (not even a header line): export the table "
        "again"
    )


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    """subscriptions.csv with mrr twice (in any case): before, one was dropped silently; a
    customer table with Contract twice too."""
    from churnlab.data import load_customer_table
    from churnlab.data.dataset import UnreadableTableError

    frames = tiny_frames()
    frames["subscriptions"] = frames["subscriptions"].assign(MRR=1.0)
    folder = write_frames(frames, tmp_path / "ds", "csv")
    with pytest.raises(UnreadableTableError, match=r"the header line names \['mrr', 'MRR'\] more"):
        load_dataset(folder, observed_until=END)
    table = tmp_path / "crm.csv"
    table.write_text("id,Contract,Contract,churn\n1,a,b,Yes\n2,a,b,No\n")
    with pytest.raises(UnreadableTableError, match=r"names \['Contract'\] more than once"):
        load_customer_table(table, id_col="id", label_col="churn")
    # Parquet too: DuckDB would read one as count_1 and the count read might be the other
    folder = write_frames(tiny_frames(), tmp_path / "pq")
    events = pd.read_parquet(folder / "events.parquet").assign(COUNT=2, count=1)
    events.to_parquet(folder / "events.parquet", index=False)
    with pytest.raises(UnreadableTableError, match=r"names the column\(s\) \['COUNT', 'count'\]"):
        load_dataset(folder, observed_until=END)
    pd.DataFrame({"id": [1, 2], "Plan": "a", "plan": "b", "churn": ["Yes", "No"]}).to_parquet(
        tmp_path / "crm.parquet"
    )
    with pytest.raises(UnreadableTableError, match=r"\['Plan', 'plan'\] more than once"):
        load_customer_table(tmp_path / "crm.parquet", id_col="id", label_col="churn")


def test_churn_rate_is_over_the_accounts_that_ever_subscribed(tmp_path):
    """An account that never held a subscription (a free user, where the paid spells are the
    subscriptions) cannot churn: the summary's rate leaves it out of the denominator."""
    frames = tiny_frames()
    frames["accounts"] = pd.concat(
        [frames["accounts"], frames["accounts"].iloc[[0]].assign(account_id=4)], ignore_index=True
    )
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until=END)
    s = ds.summary()
    assert (s["accounts"], s["subscribed_accounts"], s["churned_accounts"]) == (4, 3, 1)
    assert s["churn_rate"] == pytest.approx(1 / 3)


def amplitude_json_events(folder, several: bool = False):
    """``tiny_frames``' events as an Amplitude raw export writes them, gzipped JSON lines: the
    account inside ``groups: {"company": ["<id>"]}`` (``{}`` for an anonymous event), the time
    in ``event_time``, properties in a nested ``event_properties``. ``several``: one event's
    list holds two companies."""
    import gzip
    import json

    frames = tiny_frames()
    folder = write_frames(frames, folder, "csv")
    (folder / "events.csv").unlink()
    with gzip.open(folder / "events.jsonl.gz", "wt") as out:
        for i, r in enumerate(frames["events"].itertuples()):
            company = [r.account_id, 99] if several and i == 1 else [r.account_id]
            row = {
                "user_id": r.user_id,
                "event_time": str(r.ts),
                "event_type": r.event_type,
                "groups": {"company": company},
                "event_properties": {"plan": "pro", "n": i},
            }
            out.write(json.dumps(row) + "\n")
        anonymous = {"event_time": "2024-02-01 00:00:00", "event_type": "login", "groups": {}}
        out.write(json.dumps(anonymous) + "\n")
    return frames, folder


def _map_events(folder, account_id: str) -> None:
    mapping = {"events": {"account_id": account_id, "ts": "event_time"}}
    (folder / "dataset.json").write_text(json.dumps({"columns": mapping}))


def test_a_dotted_name_maps_a_field_inside_a_json_object(tmp_path):
    """Amplitude's ``groups.company`` read as the account: a list of one value is that value;
    objects nobody maps read as their JSON text."""
    frames, folder = amplitude_json_events(tmp_path / "amp")
    _map_events(folder, "groups.company")
    ds = load_dataset(folder, observed_until=END)
    got = ds.con.execute(ds["events"]).sort_values(["ts", "event_type"]).reset_index(drop=True)
    want = frames["events"].sort_values(["ts", "event_type"]).reset_index(drop=True)
    assert got.account_id.tolist() == want.account_id.tolist()  # the {} event left out
    assert got.ts.tolist() == want.ts.tolist()
    assert "plan" in got.event_properties[0]  # an object nobody maps: its text
    assert "groups" in got.columns  # kept, as its text, named unread
    assert [n for n in ds.notices if "groups" in n and "not read" in n]


def test_a_mapped_json_object_or_list_of_several_values_is_a_problem_naming_it(tmp_path):
    """``"account_id": "groups"`` names an object, not a value; a list holding two companies
    cannot be one account: both are problems naming table, column and examples."""
    _, folder = amplitude_json_events(tmp_path / "obj")
    _map_events(folder, "groups")
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder, observed_until=END)
    assert "events.account_id: 'groups' is a nested object (fields ['company'])" in str(err.value)
    assert "such as groups.company" in str(err.value)
    _map_events(folder, "groups.firm")
    with pytest.raises(
        DataValidationError, match=r"'groups' has no field 'firm' \(it has \['company'\]\)"
    ):
        load_dataset(folder, observed_until=END)
    _, folder = amplitude_json_events(tmp_path / "several", several=True)
    _map_events(folder, "groups.company")
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder, observed_until=END)
    message = str(err.value)
    assert (
        "events.account_id: 'groups.company' is a list of several values in 1 row(s) of events"
        in message
    )
    assert "99" in message and "flatten the table" in message


@pytest.mark.parametrize("suffix", [".jsonl", ".json.gz"])
def test_a_json_lines_table_reads_as_its_csv_does(tmp_path, suffix):
    """An app's export in JSON lines (Sparkify's log): read as text, as the same table in CSV
    is, an empty string missing; an empty or broken file is named."""
    frames = tiny_frames()
    csv = load_dataset(write_frames(frames, tmp_path / "csv", "csv"), observed_until=END)
    folder = write_frames(frames, tmp_path / "json", "csv")
    (folder / "events.csv").unlink()
    events = frames["events"].assign(ts=frames["events"].ts.astype(str))
    events["user_id"] = events.user_id.astype(object)
    events.loc[0, "user_id"] = ""  # a blank field, as in Sparkify's logged-out rows
    events.to_json(folder / f"events{suffix}", orient="records", lines=True)
    got = load_dataset(folder, observed_until=END)
    want = csv.con.execute(csv["events"]).assign(user_id=lambda d: d.user_id.where(d.index > 0))
    pd.testing.assert_frame_equal(got.con.execute(got["events"]), want, check_dtype=False)
    (folder / f"events{suffix}").unlink()
    (folder / "events.jsonl").write_text('{"account_id": 1, "ts": "2024-01-05"\n')
    with pytest.raises(DataValidationError, match=r"events.jsonl: is not JSON lines"):
        load_dataset(folder, observed_until=END)
