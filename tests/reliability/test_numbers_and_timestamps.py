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


def test_decimal_commas_in_semicolon_and_tab_folders_are_read_on_duckdb(tmp_path):
    """A folder exported where the decimal separator is a comma (Excel in most of Europe):
    ``238,00``, ``1.500,00`` and ``42.692`` (a dot between thousands) in a semicolon CSV read
    as 238, 1500 and 42692, seats ``1.200`` as 1200 (refused before as unparseable or
    non-finite); in a TSV, ``1,250`` alone could be a thousands comma and keeps that reading."""
    frames = _as_text(tiny_frames())
    frames["subscriptions"]["mrr"] = ["238,00", "1.500,00", "42.692", "15"]
    frames["accounts"]["seats"] = ["3", "1", "1.200"]
    frames["events"]["duration_s"] = ["1,250", "20", "30", "2,500", "5"]
    folder = tmp_path / "euro"
    folder.mkdir()
    for name, df in frames.items():
        if name == "events":
            df.to_csv(folder / "events.tsv", sep="\t", index=False)
        else:
            df.to_csv(folder / f"{name}.csv", sep=";", index=False)
    ds = load_dataset(folder, observed_until=END)
    subs = ds.con.execute(ds["subscriptions"]).sort_values(["account_id", "started_at"])
    assert subs.mrr.tolist() == [238.0, 1500.0, 42692.0, 15.0]
    accounts = ds.con.execute(ds["accounts"]).sort_values("account_id")
    assert accounts.seats.tolist() == [3, 1, 1200]
    events = ds.con.execute(ds["events"]).sort_values(["account_id", "ts"])
    assert events.duration_s.tolist() == [1250.0, 20.0, 30.0, 2500.0, 5.0]
    (notice,) = [n for n in ds.notices if n.startswith("subscriptions.mrr")]
    assert "3 value(s) written with a decimal comma" in notice and "'238,00'" in notice


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
        load_customer_table(path, id_col="id", label_col="churn", mrr_col="mrr")
    problem = _find(info.value.problems, "customers", "mrr")
    assert problem.examples == ("row 4 id='3' mrr='Infinity'",)


def _epoch(frames: dict[str, pd.DataFrame], unit: str, text: bool) -> dict[str, pd.DataFrame]:
    """Every timestamp column as epoch numbers in ``unit`` (floats with fractions for seconds;
    integers otherwise), as text where ``text``."""
    out = {}
    for name, df in frames.items():
        df = df.copy()
        for col in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[col]):
                number = (df[col] - pd.Timestamp(0)) / pd.Timedelta(1, unit)
                df[col] = number if unit == "s" else number.round().astype("Int64")
                if text:
                    df[col] = df[col].astype("string").fillna("")
        out[name] = df
    return out


@pytest.mark.parametrize(
    ("unit", "fmt"), [("ms", "parquet"), ("s", "csv"), ("us", "parquet"), ("s", "parquet")]
)
def test_epoch_numbers_are_read_as_utc_times_once_dataset_json_names_their_unit(
    tmp_path, unit, fmt
):
    """Product logs often write times as epoch numbers (Segment, Mixpanel: seconds; a
    JavaScript client: milliseconds). With ``"epoch_unit"`` in dataset.json they load as the
    same UTC times (to the microsecond); a unit off by 1,000 lands outside 1990-2100 and is a
    problem naming the unit, never a dataset dated 1970 or in the year 50,000."""
    import json

    frames = tiny_frames()
    frames["events"].loc[0, "ts"] += pd.Timedelta(microseconds=250_000)  # a fraction of a second
    want = load_dataset(write_frames(frames, tmp_path / "iso"), observed_until=END)
    folder = write_frames(_epoch(frames, unit, fmt == "csv"), tmp_path / "epoch", fmt)
    (folder / "dataset.json").write_text(json.dumps({"epoch_unit": unit}))
    got = load_dataset(folder, observed_until=END)
    for name, col in [("events", "ts"), ("accounts", "signup_at"), ("subscriptions", "ended_at")]:
        a = got.con.execute(got.tables[name][col]).tolist()
        b = want.con.execute(want.tables[name][col]).tolist()
        assert [None if pd.isna(x) else x for x in a] == [None if pd.isna(x) else x for x in b]

    wrong = {"s": "ms", "ms": "s", "us": "ms"}[unit]
    (folder / "dataset.json").write_text(json.dumps({"epoch_unit": wrong}))
    ts = _find(_problems(folder), "events", "ts")
    assert ts.message.startswith("5 values that are neither ISO timestamps nor epoch ")
    assert f'"epoch_unit": {wrong!r}; is the unit right?' in ts.message
    (folder / "dataset.json").write_text(json.dumps({"epoch_unit": "minutes"}))
    (bad,) = _problems(folder)
    assert (bad.table, bad.column) == ("dataset.json", "epoch_unit")
    assert bad.message == "must be s, ms or us, not 'minutes'"


def _basic_dates(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Sign-ups as Parquet integers 20240105, subscription dates as text "20240105" (KKBox's
    and many warehouses' way of writing a date)."""
    out = {name: df.copy() for name, df in frames.items()}
    out["accounts"]["signup_at"] = out["accounts"].signup_at.dt.strftime("%Y%m%d").astype(int)
    subs = out["subscriptions"]
    for col in ("started_at", "ended_at"):
        subs[col] = subs[col].dt.strftime("%Y%m%d").astype(object).where(subs[col].notna(), "")
    return out


def test_dates_written_yyyymmdd_are_read_and_impossible_ones_named(tmp_path):
    frames = tiny_frames()
    folder = write_frames(_basic_dates(frames), tmp_path / "ds")
    subs = _basic_dates(frames)["subscriptions"]
    (folder / "subscriptions.parquet").unlink()
    subs.to_csv(folder / "subscriptions.csv", index=False)
    ds = load_dataset(folder, observed_until=END)
    signup = ds.con.execute(ds["accounts"].order_by("account_id").signup_at)
    assert signup.tolist() == frames["accounts"].signup_at.dt.floor("D").tolist()
    got = ds.con.execute(ds["subscriptions"].order_by(["account_id", "started_at"]))
    want = frames["subscriptions"].sort_values(["account_id", "started_at"])
    assert got.started_at.tolist() == want.started_at.dt.floor("D").tolist()
    assert got.ended_at.isna().tolist() == want.ended_at.isna().tolist()
    # 31 February is no date; 20240105 with an epoch unit is what the unit says
    subs.loc[1, "started_at"] = "20240231"
    subs.to_csv(folder / "subscriptions.csv", index=False)
    problem = _find(_problems(folder), "subscriptions", "started_at")
    assert "unparseable timestamps" in problem.message and "20240231" in str(problem)


def test_problems_of_mapped_columns_name_the_files_own_columns(tmp_path):
    """A column mapped in dataset.json (``started_at`` is the file's ``transaction_date``) is
    reported under both names, and its example rows in the file's names."""
    import json

    frames = _basic_dates(tiny_frames())
    subs = frames.pop("subscriptions").rename(
        columns={"account_id": "msno", "started_at": "transaction_date"}
    )
    subs.loc[2, "transaction_date"] = "someday"
    folder = write_frames(frames, tmp_path / "ds")
    subs.to_csv(folder / "subscriptions.csv", index=False)
    mapping = {"subscriptions": {"account_id": "msno", "started_at": "transaction_date"}}
    (folder / "dataset.json").write_text(json.dumps({"columns": mapping}))
    problem = _find(_problems(folder), "subscriptions", "started_at")
    text = str(problem)
    assert text.startswith("subscriptions.started_at (your transaction_date): ")
    assert "transaction_date='someday'" in text and "msno=" in text
    assert "account_id=" not in text and "started_at=" not in text


def test_ids_written_as_floats_and_null_words_in_text_read_as_meant(tmp_path):
    """An events CSV whose account ids pandas wrote as floats (``1.0``: the column had a
    blank), and ``NULL``/``\\N`` (database dumps' missing value) as event types and end
    reasons: the ids match the accounts' integers, the words are missing values."""
    frames = tiny_frames()
    folder = write_frames(frames, tmp_path / "ds")
    ev = frames["events"].astype({"account_id": float}).astype({"account_id": str})
    ev.loc[0, "event_type"], ev.loc[1, "event_type"] = "NULL", "\\N"
    (folder / "events.parquet").unlink()
    ev.to_csv(folder / "events.csv", index=False)
    subs = frames["subscriptions"].astype({"end_reason": object})
    subs["end_reason"] = subs.end_reason.where(subs.end_reason.notna(), "NULL")
    (folder / "subscriptions.parquet").unlink()
    subs.to_csv(folder / "subscriptions.csv", index=False)
    assert ev.account_id.iloc[0].endswith(".0")
    ds = load_dataset(folder, observed_until=END)
    assert ds["events"].account_id.type().is_integer()
    assert ds.con.execute(ds["events"].count()) == len(ev) - 2
    types = set(ds.con.execute(ds["events"].event_type))
    assert not types & {"NULL", "\\N"} and not [n for n in ds.notices if "unknown account" in n]
    assert any("2 event(s) without an event_type" in n for n in ds.notices)
    reasons = ds.con.execute(ds["subscriptions"].end_reason)
    assert "NULL" not in set(reasons) and reasons.isna().sum() == subs.end_reason.eq("NULL").sum()
