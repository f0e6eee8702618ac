"""Issue 16, items 3 and 4: non-finite and mistyped numbers, numbers where timestamps belong,
and CSV timestamps with UTC offsets, on real DuckDB through the loader the CLI uses."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from churnlab.data import DataValidationError, load_customer_table, load_dataset
from tests.conftest import tiny_frames, write_frames

END = "2024-07-01"


def _as_text(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: df.astype(object) for name, df in frames.items()}


def _problems(folder: Path) -> list:
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, observed_until=END)
    return info.value.problems


def _find(problems, table, column):
    found = [p for p in problems if p.table == table and p.column == column]
    assert found, f"no problem for {table}.{column} in {[str(p) for p in problems]}"
    return found[0]


def test_non_finite_numbers_in_csv_are_listed_problems(tmp_path):
    frames = _as_text(tiny_frames())
    frames["subscriptions"].loc[1, "mrr"] = "NaN"
    frames["subscriptions"].loc[3, "mrr"] = "inf"
    frames["events"].loc[2, "duration_s"] = "Infinity"
    frames["accounts"].loc[0, "seats"] = "inf"  # crashed the cast to integer before
    problems = _problems(write_frames(frames, tmp_path / "ds", "csv"))
    mrr = _find(problems, "subscriptions", "mrr")
    assert mrr.message.startswith("2 unparseable or non-finite")
    assert "mrr='NaN'" in mrr.examples[0] and "mrr='inf'" in mrr.examples[1]
    assert "account_id=1" in mrr.examples[0] and "account_id=3" in mrr.examples[1]
    assert "duration_s='Infinity'" in _find(problems, "events", "duration_s").examples[0]
    assert _find(problems, "accounts", "seats").examples == ("account_id=1 seats='inf'",)


def test_infinite_mrr_in_parquet_is_a_listed_problem(tmp_path):
    frames = tiny_frames()
    frames["subscriptions"].loc[2, "mrr"] = math.inf
    frames["events"].loc[0, "duration_s"] = -math.inf
    frames["accounts"]["seats"] = frames["accounts"].seats.astype(float)
    frames["accounts"].loc[2, "seats"] = math.inf
    problems = _problems(write_frames(frames, tmp_path / "ds"))
    mrr = _find(problems, "subscriptions", "mrr")
    assert len(mrr.examples) == 1 and mrr.examples[0].startswith("account_id=2 ")
    assert mrr.examples[0].endswith("mrr=inf")
    assert "account_id=1" in _find(problems, "events", "duration_s").examples[0]
    assert "account_id=3" in _find(problems, "accounts", "seats").examples[0]


def test_numbers_where_timestamps_belong_are_listed_problems(tmp_path):
    frames = tiny_frames()
    # epoch seconds as int64 and float: they crashed the cast, or were read as seconds silently
    epoch = pd.Timestamp("1970-01-01")
    frames["events"]["ts"] = (frames["events"].ts - epoch) // pd.Timedelta(seconds=1)
    frames["accounts"]["signup_at"] = (frames["accounts"].signup_at - epoch).dt.total_seconds()
    problems = _problems(write_frames(frames, tmp_path / "ds"))
    ts = _find(problems, "events", "ts")
    assert "numbers where timestamps belong" in ts.message and ts.examples
    signup = _find(problems, "accounts", "signup_at")
    assert "numbers where timestamps belong" in signup.message
    assert signup.examples[0].startswith("account_id=1 signup_at=1704412800")


def test_csv_utc_offsets_are_honoured_like_parquet(tmp_path):
    frames = _as_text(tiny_frames())
    frames["events"]["ts"] = [
        "2024-01-05 15:00:00+05:00",  # 10:00 UTC
        "2024-04-01T02:00:00-0300",  # 05:00 UTC
        "2024-02-02 00:00:00Z",
        "2024-03-11 00:00:00+00:00",
        "2024-06-29 01:30:00+01:30",  # 00:00 UTC
    ]
    csv = load_dataset(write_frames(frames, tmp_path / "csv", "csv"), observed_until=END)
    got = csv.con.execute(csv.tables["events"].ts).sort_values().tolist()

    aware = tiny_frames()
    aware["events"]["ts"] = pd.to_datetime(frames["events"].ts, format="ISO8601", utc=True)
    pq = load_dataset(write_frames(aware, tmp_path / "pq"), observed_until=END)
    assert got == pq.con.execute(pq.tables["events"].ts).sort_values().tolist()
    assert got[0] == pd.Timestamp("2024-01-05 10:00")
    assert pd.Timestamp("2024-04-01 05:00") in got and pd.Timestamp("2024-06-29") in got


def test_mixed_naive_and_aware_timestamps_are_reported(tmp_path):
    frames = _as_text(tiny_frames())
    frames["events"]["ts"] = [
        "2024-01-05 15:00:00+05:00",
        "2024-04-01 02:00:00",
        "2024-02-02 00:00:00+00:00",
        "2024-03-11 00:00:00+00:00",
        "2024-06-29 00:00:00+00:00",
    ]
    problem = _find(_problems(write_frames(frames, tmp_path / "ds", "csv")), "events", "ts")
    assert "mixed timestamps: 4 with a UTC offset, 1 without" in problem.message
    assert problem.examples == ("account_id=1 ts='2024-04-01 02:00:00'",)


@pytest.mark.parametrize("literal", ["inf", "-Infinity"])
def test_single_table_non_finite_duration(tmp_path, literal):
    path = tmp_path / "crm.csv"
    pd.DataFrame(
        {"id": [1, 2, 3], "churn": ["Yes", "No", "No"], "tenure": ["3", literal, "5"]}
    ).to_csv(path, index=False)
    with pytest.raises(DataValidationError) as info:
        load_customer_table(path, id_col="id", label_col="churn", duration_col="tenure")
    problem = _find(info.value.problems, "customers", "tenure")
    assert problem.examples == (f"row 3 id='2' tenure='{literal}'",)


def test_single_table_infinite_mrr(tmp_path):
    path = tmp_path / "crm.csv"
    pd.DataFrame(
        {"id": [1, 2, 3], "churn": ["Yes", "No", "No"], "mrr": ["30.5", "20", "Infinity"]}
    ).to_csv(path, index=False)
    with pytest.raises(DataValidationError) as info:
        load_customer_table(path, id_col="id", label_col="churn")
    problem = _find(info.value.problems, "customers", "mrr")
    assert problem.examples == ("row 4 id='3' mrr='Infinity'",)
