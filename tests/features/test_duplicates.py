"""Exact duplicate event rows (at-least-once delivery: every column equal, the timestamp
included) are one event to every feature; the same action at another time is another."""

from __future__ import annotations

import json

import pandas as pd

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
