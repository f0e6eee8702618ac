"""Churn read from activity (dataset.json ``"churn": {"inactive_days": N}``), for a product
log without subscriptions: spells of activity stand in for subscriptions, point in time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from churnlab.data import DataValidationError, fit_vocabulary, load_dataset
from churnlab.features import build_features, build_observations
from tests.conftest import new_project, tiny_frames, write_frames

DAY0 = pd.Timestamp("2024-01-01 09:00")
END = "2024-04-10"  # day 100


def _events(days: dict[str, list[int | tuple[int, str]]]) -> pd.DataFrame:
    """Events at whole days after DAY0: ``view`` unless given as (day, type)."""
    rows = [
        (a, DAY0 + pd.Timedelta(days=d[0] if isinstance(d, tuple) else d),
         d[1] if isinstance(d, tuple) else "view")
        for a, ds in days.items() for d in ds
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["account_id", "ts", "event_type"])


def _folder(tmp_path, events: pd.DataFrame, rule=None, **frames) -> object:
    folder = write_frames({"events": events, **frames}, tmp_path / "log")
    rule = {"inactive_days": 30} if rule is None else rule
    (folder / "dataset.json").write_text(json.dumps({"churn": rule}))
    return folder


def test_spells_of_activity_stand_in_for_subscriptions(tmp_path):
    """a: active days 0-10, churns 30 days after its last event (day 40); b: silent for 50
    days, so it churned at day 30 and is active again from day 50; c is back exactly 30 days
    after its last event, when the rule has ended its spell (a spell's end never turns on an
    event at that instant); d: its last event is 20 days before the end, still active."""
    events = _events({"a": [0, 5, 10], "b": [0, 50], "c": [0, 30, 31], "d": [20, 80]})
    ds = load_dataset(_folder(tmp_path, events), observed_until=END)
    subs = ds.con.execute(ds["subscriptions"]).sort_values(["account_id", "started_at"])
    subs = subs.astype(object).where(subs.notna(), None)
    day = lambda d: DAY0 + pd.Timedelta(days=d)  # noqa: E731
    assert subs[["account_id", "started_at", "ended_at", "end_reason", "mrr"]].values.tolist() == [
        ["a", day(0), day(40), "inactive", 0.0],
        ["b", day(0), day(30), "inactive", 0.0],
        ["b", day(50), day(80), "inactive", 0.0],
        ["c", day(0), day(30), "inactive", 0.0],
        ["c", day(30), day(61), "inactive", 0.0],
        ["d", day(20), day(50), "inactive", 0.0],
        ["d", day(80), None, None, 0.0],
    ]
    accounts = ds.con.execute(ds["accounts"]).sort_values("account_id")
    assert accounts.signup_at.tolist() == [day(0), day(0), day(0), day(20)]
    assert any("no accounts table" in n for n in ds.notices)
    assert any("churn is read from activity" in n for n in ds.notices)

    # point in time: at day 20, a (silent for 10 days) is still active, and churns within 30
    # days; b and c churn at day 30 too; d (first event that day, 09:00) signs up after the cutoff
    obs = ds.con.execute(build_observations(ds, [DAY0.normalize() + pd.Timedelta(days=20)], 30))
    got = dict(zip(obs.account_id, obs.churned_within_h, strict=True))
    assert got == {"a": True, "b": True, "c": True}


def test_an_event_that_says_the_account_left_ends_its_spell(tmp_path):
    """``"events": ["Cancellation Confirmation"]``: e cancels on day 5 (churned then, not 30
    days later) and comes back on day 20; f is silent 40 days with no inactivity rule: still
    one spell, open. Both rules at once end a spell at whichever comes first."""
    events = _events(
        {"e": [0, (5, "Cancellation Confirmation"), 20, 22], "f": [0, 40], "g": [0, 90]}
    )
    day = lambda d: DAY0 + pd.Timedelta(days=d)  # noqa: E731
    for rule, spells in [
        (
            {"events": ["Cancellation Confirmation"]},
            [["e", day(0), day(5), "Cancellation Confirmation"], ["e", day(20), None, None],
             ["f", day(0), None, None], ["g", day(0), None, None]],
        ),
        (
            {"events": ["Cancellation Confirmation"], "inactive_days": 30},
            [["e", day(0), day(5), "Cancellation Confirmation"],
             ["e", day(20), day(52), "inactive"], ["f", day(0), day(30), "inactive"],
             ["f", day(40), day(70), "inactive"], ["g", day(0), day(30), "inactive"],
             ["g", day(90), None, None]],
        ),
    ]:  # fmt: skip
        ds = load_dataset(_folder(tmp_path, events, rule=rule), observed_until=END)
        subs = ds.con.execute(ds["subscriptions"]).sort_values(["account_id", "started_at"])
        subs = subs.astype(object).where(subs.notna(), None)
        assert subs[["account_id", "started_at", "ended_at", "end_reason"]].values.tolist() == (
            spells
        ), rule
    # a return the day after a cancel is a win-back, not a renewal within grace days: at day
    # 0's cutoff e churns within 30 days (the cancel on day 5)
    back = _events({"e": [0, (5, "Cancellation Confirmation"), 6]})
    folder = _folder(tmp_path / "next_day", back, rule={"events": ["Cancellation Confirmation"]})
    ds2 = load_dataset(folder, observed_until=END)
    obs = ds2.con.execute(build_observations(ds2, [DAY0.normalize() + pd.Timedelta(days=1)], 30))
    assert obs.churned_within_h.tolist() == [True] and obs.event.tolist() == [1]
    # the type that says the account left is not a feature (constant before any cutoff)
    assert fit_vocabulary(ds2).types == ("view",)
    (notice,) = [n for n in ds.notices if "churn is read from activity" in n]
    assert "until it churns, 30 days pass without one or at its first event of type" in notice
    folder = _folder(tmp_path, events, rule={"events": ["cancel"]})
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, observed_until=END)
    (p,) = info.value.problems
    assert p.message.startswith("events: no event of type ['cancel'] in the events")


def test_the_rule_reads_only_known_accounts_and_is_checked(tmp_path):
    """With an accounts table, events of unknown accounts are left out before spells are made;
    a dataset with subscriptions reads churn from them (both is a problem); a malformed rule
    names what is wrong."""
    frames = tiny_frames()
    events = frames["events"]
    stranger = events.iloc[[0]].assign(account_id=99)
    folder = _folder(
        tmp_path, pd.concat([events, stranger], ignore_index=True), accounts=frames["accounts"]
    )
    ds = load_dataset(folder, observed_until="2024-07-01")
    subs = ds.con.execute(ds["subscriptions"])
    assert sorted(set(subs.account_id)) == [1, 2, 3]
    assert any(n.startswith("events: 1 row(s) of 1 account(s) not in accounts") for n in ds.notices)

    write_frames({"subscriptions": frames["subscriptions"]}, folder)
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, observed_until="2024-07-01")
    (p,) = info.value.problems
    assert (p.table, p.column) == ("dataset.json", "churn")
    assert "has a subscriptions table" in p.message

    for rule, said in [
        ({"inactive_days": 0}, "inactive_days must be a whole number of days >= 1, not 0"),
        ({"inactive_days": "30"}, "not '30'"),
        ({"inactive": 30}, "unknown key(s) ['inactive']"),
        ({"events": [1]}, "events must be a list of event types, not [1]"),
        (30, "must be an object"),
        ({}, "must be an object"),
    ]:
        folder = _folder(tmp_path, events, rule=rule)
        with pytest.raises(DataValidationError) as info:
            load_dataset(folder, observed_until="2024-07-01")
        (p,) = info.value.problems
        assert said in p.message, p.message


def test_an_event_log_alone_trains_with_churn_read_from_activity(small_sim, tmp_path, monkeypatch):
    """Only events.parquet and a dataset.json (the mapping and the rule): `churnlab train`
    builds features, trains and evaluates; revenue metrics are left out (MRR unknown)."""
    folder = tmp_path / "log"
    folder.mkdir()
    (folder / "events.parquet").write_bytes((small_sim / "events.parquet").read_bytes())
    manifest = json.loads((small_sim / "dataset.json").read_text())
    manifest = {"events": manifest["events"], "churn": {"inactive_days": 30}}
    (folder / "dataset.json").write_text(json.dumps(manifest))
    new_project(tmp_path)
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = subprocess.run(
        [str(Path(sys.executable).with_name("churnlab")), "train", "--data", str(folder),
         "--cutoffs", "2024-05-01:2024-11-01:1M", "--model", "lightgbm", "--experiment", "log",
         "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    metrics = result["test_metrics"]
    assert metrics["roc_auc"] > 0.6 and metrics["positive_rate"] > 0
    assert "revenue_capture_top10" not in metrics and "emp" not in metrics
    # how much of the label the silence before the cutoff settles: the baseline to beat
    (silence,) = [line for line in out.stderr.splitlines() if "days without activity" in line]
    assert "the days since the last activity alone rank churners at ROC-AUC 0." in silence
    assert "or set lead: 30 to predict churn not yet under way" in silence


def test_a_return_dated_at_the_cutoff_is_not_seen_there(tmp_path):
    """Events at midnight (a daily roll-up, a date-only log): r churned on day 30 and is back
    exactly at the day-60 cutoff, an event of the cutoff's own instant. It is no observation
    there (it is active at day 61), and adding events dated at the cutoff changes which rows
    the cutoff has in no way (their labels, which read the future, may change)."""
    midnight = DAY0.normalize()
    day = lambda d: midnight + pd.Timedelta(days=d)  # noqa: E731
    rows = [("r", day(0)), ("s", day(0)), ("s", day(40)), ("s", day(59))]
    events = pd.DataFrame(rows, columns=["account_id", "ts"]).assign(event_type="view")
    later = pd.concat(
        [
            events,
            pd.DataFrame({"account_id": ["r", "s"], "ts": [day(60)] * 2, "event_type": "view"}),
        ]
    )
    got = []
    for log in (events, later):
        ds = load_dataset(_folder(tmp_path / str(len(log)), log), observed_until=END)
        obs = ds.con.execute(build_observations(ds, [day(60), day(61)], 30))
        got.append(obs.sort_values(["cutoff", "account_id"]).reset_index(drop=True))
    at_60 = got[1][got[1].cutoff == day(60)]
    assert at_60.account_id.tolist() == ["s"]
    assert "r" in set(got[1][got[1].cutoff == day(61)].account_id)  # back the day after
    assert got[0][got[0].cutoff == day(60)].account_id.tolist() == ["s"]


def test_events_at_or_after_the_cutoff_change_nothing_there(tmp_path):
    """A day-level log (every event at midnight) with churn after 30 quiet days, cutoff at day
    60: p's last event is exactly 30 days before it, q's 10, w's spell ended at day 40 and t
    signed up at the cutoff. Appending events dated at the cutoff and later (p back that very
    day, w back, a new type) changes neither who is active there nor any feature, including
    the ones ranking each account among the cutoff's active population."""
    midnight = DAY0.normalize()
    day = lambda d: midnight + pd.Timedelta(days=d)  # noqa: E731
    days = {"p": [0, 5, 30], "q": [0, 20, 50], "w": [0, 10], "s": [1, 40, 55, 59], "c": [3]}
    days |= {f"x{i}": list(range(i, 60, 3 + i)) for i in range(12)}
    rows = [(a, day(d), "view" if d % 2 else "post") for a, ds in days.items() for d in ds]
    rows.append(("c", day(3), "cancel"))  # an old cancel: the type the churn rule names
    events = pd.DataFrame(rows, columns=["account_id", "ts", "event_type"])
    later = [(a, day(d), t) for a in ("p", "w", "s", "x0") for d in (60, 61, 75)
             for t in ("view", "brand_new")] + [("t", day(60), "view"), ("t", day(62), "post"),
             ("q", day(60), "cancel")]  # fmt: skip
    appended = pd.concat([events, pd.DataFrame(later, columns=events.columns)])
    frames = []
    for name, log in (("before", events), ("after", appended)):
        rule = {"inactive_days": 30, "events": ["cancel"]}
        ds = load_dataset(_folder(tmp_path / name, log, rule), observed_until=END)
        obs = build_observations(ds, [day(60)], 30)
        vocabulary = fit_vocabulary(ds, before=day(60))
        table, _ = build_features(ds, obs, vocabulary=vocabulary)
        frames.append(ds.con.execute(table).sort_values("account_id").reset_index(drop=True))
    before, after = frames
    # p's 30 quiet days end at the cutoff: a row there, churning at once (back or not)
    assert {"p", "q"} <= set(before.account_id) and "w" not in set(before.account_id)
    assert before.set_index("account_id").churned_within_h["p"]
    assert before.account_id.tolist() == after.account_id.tolist()
    assert before["engagement_percentile_30d"].notna().all()
    # q's cancel logged at the cutoff's midnight: still a row there, churning within 30 days
    assert after.set_index("account_id").churned_within_h["q"]
    label = ["churned_within_h", "duration_days", "event", "label_complete"]
    pd.testing.assert_frame_equal(before.drop(columns=label), after.drop(columns=label))


def test_a_log_alone_without_a_churn_rule_is_told_how_it_is_read(tmp_path):
    events = _events({"a": [0, 5], "b": [0]})
    folder = write_frames({"events": events}, tmp_path / "log")
    (folder / "tracks.csv").write_text("x\n1\n")
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, observed_until=END)
    by_table = {p.table: p.message for p in info.value.problems}
    assert set(by_table) == {"accounts", "subscriptions"}
    assert '{"churn": {"inactive_days": 30}}' in by_table["subscriptions"]
    assert "the folder holds events.parquet, tracks.csv" in by_table["accounts"]


def test_an_event_from_the_future_is_a_problem_where_it_would_set_the_end(tmp_path):
    """Without observed_until the latest event ends the data: one event with a device clock in
    2031 would make every label read years that have not come. A problem naming it."""
    events = _events({"a": [0, 5, 10], "b": [0, 50]})
    future = pd.DataFrame({"account_id": ["b"], "ts": [pd.Timestamp("2031-03-01")],
                           "event_type": ["view"]})  # fmt: skip
    folder = _folder(tmp_path, pd.concat([events, future]))
    with pytest.raises(DataValidationError) as err:
        load_dataset(folder)
    message = str(err.value)
    assert "events.ts: 1 event(s) dated after today" in message
    assert "account_id='b'" in message and "2031-03-01" in message
    assert load_dataset(_folder(tmp_path / "clean", events)).observed_until == DAY0 + pd.Timedelta(
        days=50
    )


def test_cancel_events_alone_name_the_accounts_that_went_silent(tmp_path):
    """With churn read from cancel events alone, an account that stops without cancelling
    stays active for ever: validate counts those silent 90 days at the end (fuzz8)."""
    events = _events({"e": [0, 95], "f": [0, 5], "g": [0, (6, "cancel")], "h": [0, 3]})
    folder = _folder(tmp_path, events, rule={"events": ["cancel"]})
    ds = load_dataset(folder, observed_until=END)  # day 100: f and h silent 95 and 97 days
    (notice,) = [n for n in ds.notices if "had no event for" in n]
    assert notice.startswith("events: 2 of the 3 accounts active at the end of the data have")
    assert '"inactive_days"' in notice
    rule = {"events": ["cancel"], "inactive_days": 30}
    ds = load_dataset(_folder(tmp_path / "both", events, rule=rule), observed_until=END)
    assert not [n for n in ds.notices if "had no event for" in n]
