"""A table given as a folder is read at any depth, as Spark's ``partitionBy`` and warehouse
exports write it (``events/dt=2024-01-05/part-0.parquet``): hidden files left out, the
partition keys the files lack read as text columns, mixed or disagreeing parts refused."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.data import DataValidationError, load_dataset
from tests.conftest import tiny_frames, write_frames

END = "2024-07-01"


def _hadoop_litter(folder):
    """What Spark, Hadoop and macOS leave beside the parts: never read (a stray part under
    ``_temporary/`` would add rows; ``.crc`` and ``.DS_Store`` are no Parquet)."""
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"\0\1junk")
    (folder / "_temporary" / "0").mkdir(parents=True)
    tiny_frames()["events"].to_parquet(folder / "_temporary" / "0" / "part-9.parquet")


def partitioned_folder(folder, frames=None, date_form=None):
    """The tiny dataset (or ``frames``) with its events partitioned by day and hour (Parquet,
    ``dt`` kept in no file) and its subscriptions partitioned by plan as CSV parts (``plan``
    in the directory names only; dates written ``date_form`` where given), each beside
    Hadoop's litter; the other tables flat."""
    frames = frames or tiny_frames()
    write_frames({k: v for k, v in frames.items() if k not in {"events", "subscriptions"}}, folder)
    events = frames["events"]
    for i, row in events.iterrows():
        part = folder / "events" / f"dt={row.ts:%Y-%m-%d}" / f"hour={row.ts:%H}"
        part.mkdir(parents=True, exist_ok=True)
        name = f"part-{i}.parquet"
        events.loc[[i]].to_parquet(part / name)
        (part / f".{name}.crc").write_bytes(b"crc")
    _hadoop_litter(folder / "events")
    subs = frames["subscriptions"].copy()
    if date_form:
        for col in ("started_at", "ended_at"):
            subs[col] = subs[col].map(lambda t: "" if pd.isna(t) else f"{t:{date_form}}")
    for plan, rows in subs.groupby("plan"):
        part = folder / "subscriptions" / f"plan={plan}"
        part.mkdir(parents=True)
        rows.drop(columns="plan").to_csv(part / "part-00000.csv", index=False)
    (folder / "subscriptions" / "_SUCCESS").write_bytes(b"")
    return folder


def _rows(frame, columns):
    table = frame[columns].sort_values(columns[:2]).reset_index(drop=True)
    return table.astype(object).where(table.notna(), None).values.tolist()


def test_a_partitioned_table_folder_reads_as_the_flat_files(tmp_path):
    """Before, the events folder above was 'required table is missing' (only a folder's top
    level was read): its rows are now those of the flat files, the day's key ``dt`` a text
    column, and the plan, written in directory names only, the subscriptions' plan (read from
    CSV parts)."""
    ds = load_dataset(partitioned_folder(tmp_path / "hive"), observed_until=END)
    want = tiny_frames()
    events = ds.con.execute(ds["events"])
    columns = ["account_id", "ts", "event_type", "duration_s"]
    assert _rows(events, columns) == _rows(want["events"], columns)  # no _temporary rows
    subs = ds.con.execute(ds["subscriptions"])
    columns = ["account_id", "started_at", "plan", "mrr", "ended_at"]
    assert _rows(subs, columns) == _rows(want["subscriptions"], columns)
    days = events.sort_values("ts")
    assert days.dt.tolist()[:2] == ["2024-01-05", "2024-02-02"] and days.hour.iloc[0] == "10"


def test_a_partition_key_the_files_hold_is_read_from_the_files(tmp_path):
    """A key that is also a column of the files (``event_type=other/`` over files with their
    own event_type) does not replace the files' values: the column is read from the files."""
    folder = write_frames({k: v for k, v in tiny_frames().items() if k != "events"}, tmp_path)
    part = folder / "events" / "event_type=other"
    part.mkdir(parents=True)
    tiny_frames()["events"].to_parquet(part / "part-0.parquet")
    ds = load_dataset(folder, observed_until=END)
    kinds = ds.con.execute(ds["events"].event_type).tolist()
    assert sorted(kinds) == ["create_report", "export", "login", "login", "login"]


def _unreadable(folder):
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, observed_until=END)
    return str(info.value)


def test_a_table_folder_mixing_formats_is_refused_naming_its_files(tmp_path):
    folder = write_frames({k: v for k, v in tiny_frames().items() if k != "events"}, tmp_path)
    events = tiny_frames()["events"]
    (folder / "events" / "dt=1").mkdir(parents=True)
    (folder / "events" / "dt=2").mkdir()
    events.to_parquet(folder / "events" / "dt=1" / "part-0.parquet")
    events.to_csv(folder / "events" / "dt=2" / "part-0.csv", index=False)
    message = _unreadable(folder)
    assert message.startswith(f"{folder / 'events'}: mixes file formats")
    assert "dt=1/part-0.parquet" in message and "dt=2/part-0.csv" in message


def test_table_parts_that_disagree_on_their_columns_are_refused_naming_two(tmp_path):
    """A part with another column (a schema changed mid-export) would be dropped or read as
    missing values by an engine: it is an error naming the table and both files."""
    folder = write_frames({k: v for k, v in tiny_frames().items() if k != "events"}, tmp_path)
    events = tiny_frames()["events"]
    for day, frame in (("dt=1", events), ("dt=2", events.rename(columns={"ts": "time"}))):
        (folder / "events" / day).mkdir(parents=True)
        frame.to_parquet(folder / "events" / day / "part-0.parquet")
    message = _unreadable(folder)
    assert message.startswith(f"{folder / 'events'}: its files disagree on their columns")
    assert "dt=1/part-0.parquet has [" in message and "dt=2/part-0.parquet has [" in message
    # a type changed between parts (ids as text in one): refused alike
    events.astype({"account_id": str}).to_parquet(folder / "events" / "dt=2" / "part-0.parquet")
    assert "account_id (string)" in _unreadable(folder)


def test_a_table_folder_with_no_part_says_what_it_reads(tmp_path):
    folder = write_frames({k: v for k, v in tiny_frames().items() if k != "events"}, tmp_path)
    (folder / "events" / "dt=1").mkdir(parents=True)
    (folder / "events" / "_SUCCESS").write_bytes(b"")
    pd.DataFrame({"a": [1]}).to_json(folder / "events" / "dt=1" / "part-0.json")
    message = _unreadable(folder)
    assert "events: required table is missing (events/ holds no Parquet or text part" in message
