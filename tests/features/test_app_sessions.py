"""An app's own session ids (Sparkify's ``sessionId``) define the sessions instead of
inactivity gaps."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.data import Vocabulary, load_dataset
from churnlab.features import build_features, build_observations
from churnlab.features.cube import sessions_expr
from tests.conftest import write_frames

T0 = pd.Timestamp("2024-03-01 10:00")


def app_log(folder, with_ids: bool = True):
    """Account 1: session 7 with events 20 minutes apart for an hour and a half (one
    session, though the gaps would split it at 15 minutes), then session 8 at 23:50 running
    past midnight (split there). Account 2: two events without a session id."""
    minutes = [0, 20, 40, 60, 80]
    rows = [(1, 7, T0 + pd.Timedelta(minutes=m), "play", 30.0) for m in minutes]
    late = pd.Timestamp("2024-03-01 23:50")
    rows += [(1, 8, late, "play", 30.0), (1, 8, late + pd.Timedelta(minutes=20), "play", 30.0)]
    rows += [(2, None, T0, "play", 30.0), (2, None, T0 + pd.Timedelta(minutes=5), "play", 30.0)]
    events = pd.DataFrame(
        rows, columns=["account_id", "session_id", "ts", "event_type", "duration_s"]
    )
    if not with_ids:
        events = events.drop(columns="session_id")
    folder = write_frames({"events": events}, folder)
    (folder / "dataset.json").write_text('{"churn": {"inactive_days": 60}}')
    return folder


def test_sessions_come_from_the_apps_own_ids(tmp_path):
    vocab = Vocabulary(types=("play",), session_gap_minutes=15)
    ds = load_dataset(app_log(tmp_path / "ids"), observed_until="2024-04-01")
    s = ds.con.execute(sessions_expr(ds, vocab)).sort_values("start").reset_index(drop=True)
    # account 2's day has no session id: its events make the gap sessions (one, 5 minutes)
    assert s.account_id.tolist() == [1, 2, 1, 1]
    # 80 minutes between first and last event + the last one's 30 s; 23:50 split at midnight
    assert s.length_s.tolist() == [80 * 60 + 30.0, 5 * 60 + 30.0, 30.0, 30.0]
    gaps = load_dataset(app_log(tmp_path / "gaps", with_ids=False), observed_until="2024-04-01")
    assert len(gaps.con.execute(sessions_expr(gaps, vocab))) == 5 + 2 + 1  # 15-minute gaps
    table, _ = build_features(ds, build_observations(ds, ["2024-03-10"], 30), vocabulary=vocab)
    f = ds.con.execute(table).set_index("account_id")
    assert f.sessions_30d.tolist() == [3, 1]
    assert not [n for n in ds.notices if "session_id" in n and "not read" in n]


def amplitude_log(folder, ids_as_text: bool = False):
    """An Amplitude export's ``session_id``: -1 for an event outside a session. Account 1
    (user a): events at 08:00 and 23:00 every day, all -1. Account 2 (user b): the same
    events, each its own session (Amplitude's ids are the session's start in epoch ms).
    Account 3 (user c): on day 1 a session of 20 minutes and a server-side event (-1) at
    15:00; on day 2 only events without an id (-1, empty), 10 minutes apart."""
    rows = []
    for d in range(10):
        day = pd.Timestamp("2024-03-01") + pd.Timedelta(days=d)
        for h in (8, 23):
            ts = day + pd.Timedelta(hours=h)
            rows.append((1, "a", ts, "view", -1))
            rows.append((2, "b", ts, "view", int(ts.timestamp() * 1000)))
    c1, c2 = pd.Timestamp("2024-03-01 10:00"), pd.Timestamp("2024-03-02 10:00")
    rows += [(3, "c", c1, "view", 555), (3, "c", c1 + pd.Timedelta(minutes=20), "view", 555)]
    rows += [(3, "c", pd.Timestamp("2024-03-01 15:00"), "invoice_paid", -1)]
    rows += [(3, "c", c2, "view", -1), (3, "c", c2 + pd.Timedelta(minutes=10), "view", None)]
    events = pd.DataFrame(rows, columns=["account_id", "user_id", "ts", "event_type", "session_id"])
    if ids_as_text:  # ids of another tool, written as text: "" and "-1" are no session either
        events["session_id"] = events.session_id.map(
            lambda v: "" if pd.isna(v) else "-1" if v == -1 else f"s{int(v)}"
        )
    else:
        events["session_id"] = events.session_id.astype("Int64")
    folder = write_frames({"events": events}, folder)
    (folder / "dataset.json").write_text('{"churn": {"inactive_days": 60}}')
    return folder


@pytest.mark.parametrize("ids_as_text", [False, True])
def test_amplitudes_minus_one_is_no_session(tmp_path, ids_as_text):
    """Amplitude's -1 (and an empty id) is no session: not one session per user and day
    (08:00 to 23:00, 900 minutes). A day without any session id gets the gap sessions; on a
    day with real sessions, an event without an id is in none of them."""
    vocab = Vocabulary(types=("view", "invoice_paid"), session_gap_minutes=30)
    ds = load_dataset(amplitude_log(tmp_path / "amp", ids_as_text), observed_until="2024-04-01")
    [notice] = [n for n in ds.notices if "session id" in n]
    assert notice.startswith("events: 23 of 45 events (51%) have no session id")
    s = ds.con.execute(sessions_expr(ds, vocab)).sort_values(["account_id", "start"])
    by_account = s.groupby("account_id").length_s.agg(["count", "max"])
    assert by_account.loc[1].tolist() == [20, 0.0]  # as account 2 with its real ids
    assert by_account.loc[2].tolist() == [20, 0.0]
    # day 1: the 20-minute session only (the 15:00 event is in none); day 2: one gap session
    assert s[s.account_id == 3].length_s.tolist() == [20 * 60.0, 10 * 60.0]
    table, _ = build_features(ds, build_observations(ds, ["2024-03-12"], 30), vocabulary=vocab)
    f = ds.con.execute(table).set_index("account_id").sort_index()
    assert f.sessions_30d.tolist() == [20, 20, 2]
    assert f.max_session_min_30d.tolist() == [0.0, 0.0, 20.0]
    assert f.total_session_hours_30d.tolist() == [0.0, 0.0, 0.5]
