"""An event log that begins after some accounts signed up (kept from a retention date, exported
"since October"): the features over days it does not hold are unknown for those accounts, not
zero, and the younger accounts' features are untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churnlab.data import Vocabulary, load_dataset
from churnlab.features import build_features, build_observations
from tests.conftest import write_frames

LOG_START = pd.Timestamp("2024-01-01")
CUTOFFS = ["2024-01-20", "2024-02-15", "2024-04-15"]  # 19, 45 and 105 days of log
VOCAB = Vocabulary(types=("login", "post"), roles={"session_start": ("login",)})


def older_than_log(folder: Path, signups: list[str] | None = None) -> Path:
    """Accounts 1 and 2 signed up in 2023, account 3 inside the log; each account logs in and
    posts once a day, every day the log holds from its sign-up on: no trend at all."""
    signups = signups or ["2023-06-01", "2023-09-15", "2024-02-10"]
    accounts = pd.DataFrame({"account_id": [1, 2, 3], "signup_at": pd.to_datetime(signups)})
    end = pd.Timestamp("2024-06-30")
    rows = []
    for a, signup in zip(accounts.account_id, accounts.signup_at, strict=True):
        for day in pd.date_range(max(signup, LOG_START).normalize(), end, freq="D"):
            rows += [(a, day + pd.Timedelta(hours=9), "login", 600.0)]
            rows += [(a, day + pd.Timedelta(hours=9, minutes=5), "post", 60.0)]
    events = pd.DataFrame(rows, columns=["account_id", "ts", "event_type", "duration_s"])
    subscriptions = accounts.assign(
        plan="basic", mrr=10.0, started_at=accounts.signup_at, ended_at=pd.NaT
    ).drop(columns="signup_at")
    return write_frames(
        {"accounts": accounts, "subscriptions": subscriptions, "events": events}, folder
    )


def by_key(path: Path) -> pd.DataFrame:
    """The feature table at :data:`CUTOFFS`, indexed by (cutoff date, account)."""
    ds = load_dataset(path, observed_until="2024-07-01")
    table, _ = build_features(ds, build_observations(ds, CUTOFFS, 30), vocabulary=VOCAB)
    frame = ds.con.execute(table)
    return frame.set_index([frame.cutoff.dt.strftime("%Y-%m-%d"), "account_id"]).sort_index()


def test_windows_reaching_before_the_log_are_unknown_for_older_accounts(tmp_path):
    f = by_key(older_than_log(tmp_path / "ds"))
    old = [("2024-02-15", 1), ("2024-02-15", 2)]
    # 45 days of log: the 30-day counts are known, the 90-day ones and the trends are not
    assert f.loc[old, "events_30d"].tolist() == [60, 60]
    assert f.loc[old, "n_post_30d"].tolist() == [30, 30]
    for col in (
        "events_90d",
        "n_post_90d",
        "sessions_90d",
        "activity_ratio_30_60",
        "post_trend_30_60",
    ):
        assert f.loc[old, col].isna().all(), col
    # 19 days: not even the 30-day counts; the 7-day ones are
    assert f.loc[("2024-01-20", 1), "events_30d"] != f.loc[("2024-01-20", 1), "events_30d"]
    assert f.loc[("2024-01-20", 1), "events_7d"] == 14
    # 105 days: every window is held, and a constant behaviour reads as constant
    later = f.loc[[("2024-04-15", 1), ("2024-04-15", 2)]]
    assert later.events_90d.tolist() == [180, 180]
    np.testing.assert_allclose(later.activity_ratio_30_60, 1.0)
    np.testing.assert_allclose(later.post_trend_30_60, 1.0)
    # onboarding is unknown at every cutoff: the log holds nothing of their first days
    assert f.xs(1, level="account_id").logins_first_10d.isna().all()
    assert f.xs(2, level="account_id").first_session_min.isna().all()
    # the account that signed up inside the log keeps its values
    young = f.loc[("2024-04-15", 3)]
    assert young.logins_first_10d == 10 and young.events_90d == 2 * 65
    assert pd.isna(young.activity_ratio_30_60)  # 65 days of tenure: unknown as before


def test_a_log_covering_every_sign_up_changes_nothing(tmp_path):
    """A log that began with the accounts (the first sign-up three days before the first
    event: a quiet start, not a cut): no notice, and the 90-day counts at 45 days of log are
    the counts of every event, as before."""
    path = older_than_log(tmp_path / "ds", ["2023-12-29", "2024-01-03", "2024-02-10"])
    ds = load_dataset(path, observed_until="2024-07-01")
    assert ds.log_start() is None
    assert not [n for n in ds.notices if "log begins" in n]
    f = by_key(path)
    assert f.loc[("2024-02-15", 1), "events_90d"] == 2 * 45


def test_validate_says_where_the_log_begins(tmp_path):
    ds = load_dataset(older_than_log(tmp_path / "ds"), observed_until="2024-07-01")
    assert ds.log_start() == (LOG_START, 2)
    (notice,) = [n for n in ds.notices if "log begins" in n]
    assert "2024-01-01, after 2 of 3 accounts signed up" in notice
    assert "before 2024-03-31" in notice
