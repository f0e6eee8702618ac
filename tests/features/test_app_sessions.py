"""An app's own session ids (Sparkify's ``sessionId``) define the sessions instead of
inactivity gaps."""

from __future__ import annotations

import pandas as pd

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
    assert s.account_id.tolist() == [1, 1, 1]  # account 2's events have no session
    # 80 minutes between first and last event + the last one's 30 s; 23:50 split at midnight
    assert s.length_s.tolist() == [80 * 60 + 30.0, 30.0, 30.0]
    gaps = load_dataset(app_log(tmp_path / "gaps", with_ids=False), observed_until="2024-04-01")
    assert len(gaps.con.execute(sessions_expr(gaps, vocab))) == 5 + 2 + 1  # 15-minute gaps
    table, _ = build_features(ds, build_observations(ds, ["2024-03-10"], 30), vocabulary=vocab)
    f = ds.con.execute(table).set_index("account_id")
    assert f.sessions_30d.tolist() == [3, 0]
    assert not [n for n in ds.notices if "session_id" in n and "not read" in n]
