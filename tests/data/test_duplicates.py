"""``validate``'s notices on the event log: exact duplicate rows (at-least-once delivery),
accounts without any event, users under more than one account."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from churnlab.cli import app
from tests.conftest import tiny_frames, write_frames

END = "2024-07-01"


def _frames() -> dict[str, pd.DataFrame]:
    frames = tiny_frames()
    ev = frames["events"]
    # two rows delivered twice, one three times; user 1001 also acts under account 3
    twice = pd.concat([ev.iloc[[0, 3]], ev.iloc[[3]]])
    shared = ev.iloc[[4]].assign(user_id=1001, ts=pd.Timestamp("2024-06-30"))
    frames["events"] = pd.concat([ev, twice, shared], ignore_index=True)
    acc = frames["accounts"]
    frames["accounts"] = pd.concat(
        [acc, acc.iloc[[0]].assign(account_id=4, signup_at=pd.Timestamp("2024-06-01"))],
        ignore_index=True,
    )
    frames["subscriptions"] = pd.concat(
        [
            frames["subscriptions"],
            frames["subscriptions"]
            .iloc[[1]]
            .assign(account_id=4, started_at=pd.Timestamp("2024-06-01")),
        ],
        ignore_index=True,
    )
    return frames


def test_validate_counts_duplicate_events_silent_accounts_and_shared_users(tmp_path):
    folder = write_frames(_frames(), tmp_path / "ds")
    res = CliRunner().invoke(app, ["validate", str(folder), "--end", END, "--json"])
    assert res.exit_code == 0, res.output
    notices = json.loads(res.output)["notices"]
    dup = [n for n in notices if "exact duplicate" in n]
    assert len(dup) == 1, notices
    assert dup[0].startswith("events: 3 exact duplicate row(s) (33.3% of 9; 2 event(s)")
    assert "account_id=1 ts=2024-01-05 10:00:00 event_type='login' (2 rows)" in dup[0]
    assert "account_id=3 ts=2024-03-11 00:00:00 event_type='login' (3 rows)" in dup[0]
    assert "features count each such event once" in dup[0]
    silent = [n for n in notices if "no event at all" in n]
    assert silent == [
        "accounts: 1 of 4 account(s) have no event at all (e.g. 4): their activity counts "
        "are 0 (never used the product, or logged under another id?)"
    ]
    shared = [n for n in notices if "more than one account" in n]
    assert len(shared) == 1 and "1 of 4 user(s)" in shared[0]
    assert "user_id=1001 in 2 accounts (1 .. 3)" in shared[0]


def test_a_clean_log_gets_none_of_these_notices(tmp_path):
    folder = write_frames(tiny_frames(), tmp_path / "ds")
    res = CliRunner().invoke(app, ["validate", str(folder), "--end", END, "--json"])
    assert res.exit_code == 0, res.output
    text = "\n".join(json.loads(res.output)["notices"])
    assert "duplicate" not in text and "no event at all" not in text
    assert "more than one account" not in text


def test_validate_counts_repeated_event_ids_and_id_less_copies(tmp_path):
    frames = tiny_frames()
    ev = frames["events"].assign(insert_id=["a-0", "a-1", "a-2", "a-3", "a-4"])
    # account 1's create_report re-sent twice (received later, another duration); account 3's
    # export written twice without an id
    resent = ev.iloc[[1, 1]].assign(ts=pd.Timestamp("2024-04-01 00:05"), duration_s=1.0)
    bare = ev.iloc[[4, 4]].assign(insert_id="")
    frames["events"] = pd.concat([ev, resent, bare], ignore_index=True)
    folder = write_frames(frames, tmp_path / "ds")
    (folder / "dataset.json").write_text(
        json.dumps({"columns": {"events": {"event_id": "insert_id"}}})
    )
    res = CliRunner().invoke(app, ["validate", str(folder), "--end", END, "--json"])
    assert res.exit_code == 0, res.output
    dup = [n for n in json.loads(res.output)["notices"] if "duplicate" in n]
    assert len(dup) == 1, dup
    assert dup[0].startswith(
        "events: 2 row(s) repeat the event_id of another row of the same account "
        "(22.2% of 9; 1 id(s) written more than once), e.g. account_id=1 event_id='a-1' "
        "event_type='create_report' (3 rows, ts 2024-04-01 00:00:00 to 2024-04-01 00:05:00)"
    )
    assert "1 exact duplicate row(s) without an event_id (11.1% of 9;" in dup[0]
    assert "account_id=3 ts=2024-06-29 00:00:00 event_type='export' (2 rows)" in dup[0]
    assert "features count each event_id once (its earliest row)" in dup[0]
