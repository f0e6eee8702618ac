"""Exact duplicate event rows (at-least-once delivery: every column equal, the timestamp
included) are one event to every feature; the same action at another time is another."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnlab.data import load_dataset
from churnlab.features import build_features, build_observations
from tests.conftest import tiny_frames, write_frames

END = "2024-07-01"
COUNTS = ["events_7d", "events_30d", "events_90d", "active_days_30d"]


def _features(tmp_path, events, name, unique=False):
    frames = tiny_frames()
    frames["events"] = events
    folder = write_frames(frames, tmp_path / name)
    if unique:
        (folder / "dataset.json").write_text(json.dumps({"events_unique": True}))
    ds = load_dataset(folder, observed_until=END)
    obs = build_observations(ds, ["2024-04-15", "2024-06-30"], horizon_days=1)
    table, _ = build_features(ds, obs, names=["activity_windows"])
    frame = ds.con.execute(table).sort_values(["account_id", "cutoff"]).reset_index(drop=True)
    return frame[["account_id", "cutoff", *COUNTS]]


def test_duplicate_rows_count_once_and_repeats_at_another_time_count(tmp_path):
    ev = tiny_frames()["events"]
    clean = _features(tmp_path, ev, "clean")
    doubled = pd.concat([ev, ev, ev.iloc[[1]]], ignore_index=True)
    pd.testing.assert_frame_equal(_features(tmp_path, doubled, "doubled"), clean)
    # account 1's create_report again a minute later is a second action
    again = ev.iloc[[1]].assign(ts=ev.ts.iloc[1] + pd.Timedelta(minutes=1))
    more = _features(tmp_path, pd.concat([doubled, again], ignore_index=True), "again")
    row = (more.account_id == 1) & (more.cutoff == pd.Timestamp("2024-04-15"))
    assert more.loc[row, "events_30d"].item() == clean.loc[row, "events_30d"].item() + 1
    # a log whose dataset.json says it holds no duplicates is read as written
    said = _features(tmp_path, doubled, "said", unique=True)
    assert said.loc[row, "events_30d"].item() == 2 * clean.loc[row, "events_30d"].item() + 1


def _with_ids(tmp_path, events, name, cutoffs=("2024-04-15", "2024-06-30")):
    """Features of ``events`` whose tracker id is ``messageId`` (Segment), mapped in
    dataset.json as ``event_id``."""
    frames = tiny_frames()
    frames["events"] = events
    folder = write_frames(frames, tmp_path / name)
    mapping = {"columns": {"events": {"event_id": "messageId"}}}
    (folder / "dataset.json").write_text(json.dumps(mapping))
    ds = load_dataset(folder, observed_until=END)
    obs = build_observations(ds, list(cutoffs), horizon_days=1)
    table, _ = build_features(ds, obs, names=["activity_windows", "time_on_task"])
    frame = ds.con.execute(table).sort_values(["account_id", "cutoff"]).reset_index(drop=True)
    return frame[["account_id", "cutoff", *COUNTS, "time_on_task_ratio_90d"]]


def _ided() -> pd.DataFrame:
    ev = tiny_frames()["events"]
    return ev.assign(messageId=[f"m-{i}" for i in range(len(ev))])


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The features of the log with ids and no re-send."""
    return _with_ids(tmp_path_factory.mktemp("ids"), _ided(), "clean")


def test_resent_events_with_one_id_count_once_whatever_else_differs(tmp_path, clean):
    ev = _ided()
    # account 1's create_report (2024-04-01) re-sent under its id: received a day later with
    # another duration, and again three minutes later
    first = ev.iloc[[1]]
    late = first.assign(ts=first.ts + pd.Timedelta(days=1), duration_s=5.0)
    soon = first.assign(ts=first.ts + pd.Timedelta(minutes=3), user_id=1001)
    resent = pd.concat([late, ev, soon], ignore_index=True)
    pd.testing.assert_frame_equal(_with_ids(tmp_path, resent, "resent"), clean)


def test_rows_without_an_id_fall_back_to_the_exact_duplicate_rule(tmp_path, clean):
    ev = _ided()
    # account 1's create_report again, without an id (missing, empty): exact copies of it count
    # once, the same action a minute later is another event
    bare = ev.iloc[[1]].assign(messageId=None)
    copies = pd.concat([bare, bare.assign(messageId=""), bare], ignore_index=True)
    again = bare.assign(ts=bare.ts + pd.Timedelta(minutes=1))
    base = ev.drop(index=1)
    got = _with_ids(tmp_path, pd.concat([base, copies], ignore_index=True), "copies")
    pd.testing.assert_frame_equal(got, clean)
    more = _with_ids(tmp_path, pd.concat([base, copies, again], ignore_index=True), "again")
    row = (more.account_id == 1) & (more.cutoff == pd.Timestamp("2024-04-15"))
    assert more.loc[row, "events_30d"].item() == clean.loc[row, "events_30d"].item() + 1


def test_a_resend_after_a_cutoff_changes_nothing_before_it(tmp_path):
    # point in time: the earliest copy is kept, so a re-send dated at or after the cutoff
    # (here with another duration) never displaces the copy the cutoff sees
    ev = _ided()
    first = ev.iloc[[1]]
    resent = pd.concat(
        [first.assign(ts=pd.Timestamp("2024-04-15"), duration_s=1.0), ev], ignore_index=True
    )
    got = _with_ids(tmp_path, resent, "resent", cutoffs=("2024-04-15",))
    before = _with_ids(tmp_path, ev, "before", cutoffs=("2024-04-15",))
    pd.testing.assert_frame_equal(got, before)
