"""A log rolled up per account, day and event type with a ``count`` (a warehouse's daily usage
table) builds the features a raw log does, from its counts; what needs each event's own time
(sessions, time on task) is skipped with a notice, never built from rows as if they were events."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from churnlab.data import Vocabulary, fit_vocabulary, load_dataset
from churnlab.features import build_features, build_observations
from churnlab.features.engine import select_builders

CUTOFFS = ["2024-05-01", "2024-08-01"]
PER_EVENT = {"sessions", "onboarding", "first_session", "time_on_task"}


@pytest.fixture(scope="module")
def logs(small_sim, tmp_path_factory):
    """The small simulation as it stands, and with its events rolled up per (account, user,
    day, event type): a count, the day's date, the events' total duration, a row of count 0."""
    rolled = tmp_path_factory.mktemp("rollup") / "daily"
    shutil.copytree(small_sim, rolled)
    ev = pd.read_parquet(small_sim / "events.parquet")
    ev["day"] = ev.ts.dt.floor("D")
    daily = (
        ev.groupby(["account_id", "user_id", "day", "event_type"], observed=True, dropna=False)
        .agg(n=("ts", "size"), duration_s=("duration_s", "sum"))
        .reset_index()
        .rename(columns={"day": "ts"})
    )
    empty = daily.iloc[[0]].assign(ts=pd.Timestamp("2024-07-30"), n=0, event_type="login")
    pd.concat([daily, empty]).to_parquet(rolled / "events.parquet", index=False)
    manifest = json.loads((rolled / "dataset.json").read_text())
    manifest["columns"] = {"events": {"count": "n"}}  # the file's own name for it
    (rolled / "dataset.json").write_text(json.dumps(manifest))
    assert len(daily) < 0.8 * len(ev) and daily.n.max() > 5
    return load_dataset(small_sim), load_dataset(rolled), int(daily.n.sum())


def _built(ds):
    vocabulary = fit_vocabulary(ds, before=pd.Timestamp(CUTOFFS[-1]))
    _, skipped = select_builders(ds, vocabulary=vocabulary)
    obs = build_observations(ds, CUTOFFS, horizon_days=90)
    table, used = build_features(ds, obs, vocabulary=vocabulary)
    frame = ds.con.execute(table).sort_values(["account_id", "cutoff"]).reset_index(drop=True)
    return frame, {b.name for b in used}, skipped, vocabulary


def test_a_rolled_up_log_builds_the_raw_logs_features_from_its_counts(logs):
    raw, rolled, total = logs
    assert int(rolled.con.execute(rolled["events"]["count"].sum())) == total
    assert rolled.summary()["events"] == total and "events" not in raw.summary()
    assert not [n for n in rolled.notices if "not read" in n]  # count is read
    assert "events: 1 row(s) with a count of 0 (no event) are left out" in rolled.notices
    want, want_used, _, want_vocabulary = _built(raw)
    got, got_used, skipped, vocabulary = _built(rolled)
    assert vocabulary.types == want_vocabulary.types  # events per type, not rows per type
    # the model remembers the log was rolled up: scoring refuses a batch without counts
    assert vocabulary.counted and not want_vocabulary.counted
    assert Vocabulary.from_dict(vocabulary.to_dict()).counted
    assert want_used - got_used == PER_EVENT
    for name in PER_EVENT:
        (notice,) = [n for n in skipped if f"builder {name} skipped" in n]
        assert "one row per event (events has a count" in notice
    shared = [c for c in got.columns if c in want.columns]
    assert len(shared) > 100 and set(got.columns) <= set(want.columns)
    # whole-day windows and counts read the same; "per session" ratios are per derived
    # session, which a rolled-up day is not; the days since an event count from its day
    since = [c for c in shared if c.startswith("days_since")]
    onboarding = ["days_to_first_core_action", "core_actions_first_30d"]
    equal = [
        c for c in shared if not c.endswith("_per_session_30d") and c not in [*since, *onboarding]
    ]
    pd.testing.assert_frame_equal(got[equal], want[equal], check_dtype=False)
    late = (got[since] - want[since]).to_numpy(dtype=float, na_value=0.0)
    assert len(since) > 5 and ((late >= 0) & (late < 1)).all()
    # onboarding counts from the sign-up day: the same to within that day
    first = got.days_to_first_core_action - want.days_to_first_core_action
    assert (got.days_to_first_core_action.dropna() >= 0).all() and (first.abs().dropna() < 1).all()
    counts = got.core_actions_first_30d.corr(want.core_actions_first_30d)
    assert counts > 0.98, counts
    per_type = [c for c in equal if c.endswith("_30d") and c not in ("events_30d",)]
    assert (got[per_type].to_numpy() > 1).any()  # counts, not rows: more than one per day
    assert np.isfinite(got.select_dtypes("number").to_numpy(dtype=float, na_value=0)).all()


def test_a_count_that_is_negative_or_missing_is_a_problem_naming_rows(tmp_path):
    from churnlab.data import DataValidationError
    from tests.conftest import tiny_frames, write_frames

    frames = tiny_frames()
    ev = frames["events"]
    frames["events"] = ev.assign(count=[-2, None, *[3] * (len(ev) - 2)])
    with pytest.raises(DataValidationError) as info:
        load_dataset(write_frames(frames, tmp_path / "ds"), observed_until="2024-07-01")
    text = str(info.value)
    assert "events.count" in text and "account_id=" in text, text


def test_a_wide_rollup_reads_each_count_column_as_an_event_type(tmp_path):
    """One row per account and day with a column per measure (KKBox's num_25 ...
    num_100): listing the columns as counts (``"count": [...]``) reads each as an event type
    with that count. Written as CSV, with empty cells for none, it builds the features the same
    log in the long form builds; the mapping's mistakes are problems naming them."""
    from churnlab.data import DataValidationError, SimulationParams, simulate
    from tests.conftest import add_events_mapping

    # a smaller simulation than the session's: two CSV logs are written and read (49 s on it)
    small_sim = tmp_path / "sim"
    simulate(small_sim, SimulationParams(accounts=300, months=9, seed=7))
    add_events_mapping(small_sim)

    ev = pd.read_parquet(small_sim / "events.parquet")
    ev["ts"] = ev.ts.dt.floor("D")
    keys = ["account_id", "ts"]  # per account (a contact has no user)
    long = ev.groupby([*keys, "event_type"], observed=True).size().rename("count").reset_index()
    wide = long.pivot_table(index=keys, columns="event_type", values="count", observed=True)
    wide = wide.reset_index()
    wide.columns.name = None
    types = [c for c in wide.columns if c not in keys]
    assert len(types) > 5 and wide[types].isna().any().any()  # days without some types
    folders = {}
    for form, table in (("long", long), ("wide", wide.rename(columns={"ts": "day"}))):
        folder = tmp_path / form
        shutil.copytree(small_sim, folder)
        (folder / "events.parquet").unlink()
        table.to_csv(folder / "events.csv", index=False)
        manifest = json.loads((folder / "dataset.json").read_text())
        if form == "wide":
            manifest["columns"] = {"events": {"ts": "day", "count": types}}
        (folder / "dataset.json").write_text(json.dumps(manifest))
        folders[form] = folder
    want, want_used, _, want_vocabulary = _built(load_dataset(folders["long"]))
    got, got_used, _, vocabulary = _built(load_dataset(folders["wide"]))
    assert vocabulary.types == want_vocabulary.types and got_used == want_used
    pd.testing.assert_frame_equal(got, want[got.columns], check_dtype=False)
    assert list(got.columns) == list(want.columns)

    manifest = json.loads((folders["wide"] / "dataset.json").read_text())
    manifest["columns"]["events"]["count"] = [types[0], "num_985"]
    manifest["columns"]["events"]["event_type"] = types[1]
    (folders["wide"] / "dataset.json").write_text(json.dumps(manifest))
    with pytest.raises(DataValidationError) as info:
        load_dataset(folders["wide"])
    text = str(info.value)
    assert "events.count: no column(s) ['num_985']" in text
    assert "the table may not have or map an event_type column too" in text
    del manifest["columns"]["events"]["count"], manifest["columns"]["events"]["event_type"]
    (folders["wide"] / "dataset.json").write_text(json.dumps(manifest))
    with pytest.raises(DataValidationError) as info:  # the error names the way out
        load_dataset(folders["wide"])
    assert '"columns": {"events": {"count": ["num_25", "num_100"]}}' in str(info.value)
