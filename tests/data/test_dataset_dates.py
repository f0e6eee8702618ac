"""Dates written day first (13.01.2025, as a European Excel saves them) or month first in a
dataset's CSV date columns are read when the column's values decide the order, as a single
customer table reads them; an undecided column stays a problem naming it."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.data import DataValidationError, load_dataset
from tests.conftest import tiny_frames, write_frames

END = "2024-07-01"


def _subscriptions_csv(tmp_path, form, frames=None):
    """The tiny dataset with its subscriptions as an Excel CSV (``;``), dates as ``form``."""
    frames = frames or tiny_frames()
    folder = write_frames({k: v for k, v in frames.items() if k != "subscriptions"}, tmp_path)
    subs = frames["subscriptions"].copy()
    for col in ("started_at", "ended_at"):
        subs[col] = subs[col].map(lambda t: "" if pd.isna(t) else form(t))
    subs["mrr"] = subs["mrr"].map(lambda v: f"{v:.2f}".replace(".", ","))
    subs.to_csv(folder / "subscriptions.csv", sep=";", index=False)
    return folder


def _decided_frames():
    """Tiny frames whose subscription starts include a day above 12 (2024-03-15)."""
    frames = tiny_frames()
    frames["subscriptions"].loc[3, "started_at"] = pd.Timestamp("2024-03-15 09:30")
    return frames


def _read(folder):
    ds = load_dataset(folder, observed_until=END)
    subs = ds.con.execute(ds["subscriptions"].order_by(["account_id", "started_at"]))
    return ds, subs


def test_day_first_dates_in_a_dataset_csv_are_read_with_a_notice(tmp_path):
    """Before, 15.03.2024 was 'unparseable timestamps' here though a customer table read it."""
    want = _decided_frames()["subscriptions"].sort_values(["account_id", "started_at"])
    ds, subs = _read(
        _subscriptions_csv(tmp_path, lambda t: f"{t:%d.%m.%Y %H:%M}", _decided_frames())
    )
    assert subs.started_at.tolist() == want.started_at.tolist()
    assert subs.ended_at.isna().tolist() == want.ended_at.isna().tolist()
    assert subs.ended_at.dropna().tolist() == want.ended_at.dropna().tolist()
    (notice,) = [n for n in ds.notices if n.startswith("subscriptions.started_at:")]
    assert "4 date(s) read day first" in notice and "'15.03.2024 09:30' is 2024-03-15" in notice
    # ended_at decides on its own values (20.05.2024): read day first too
    assert any(n.startswith("subscriptions.ended_at: 2 date(s) read day first") for n in ds.notices)


def test_month_first_dates_and_two_digit_years_are_read_when_decided(tmp_path):
    want = _decided_frames()["subscriptions"].sort_values(["account_id", "started_at"])
    ds, subs = _read(
        _subscriptions_csv(tmp_path, lambda t: f"{t:%m/%d/%y %H:%M}", _decided_frames())
    )
    assert subs.started_at.tolist() == want.started_at.tolist()
    assert any("read month first" in n for n in ds.notices)


@pytest.mark.parametrize("form", ["%d.%m.%Y", "%m/%d/%y"])
def test_dates_whose_order_the_values_do_not_decide_stay_a_problem(tmp_path, form):
    """Every day and month at most 12 (05.01.2024: May 1 or January 5?): refused, naming the
    column and example rows, never guessed. Before, DuckDB's own cast read 01/05/24 as
    the year 1 (May 24), silently."""
    with pytest.raises(DataValidationError) as info:
        load_dataset(_subscriptions_csv(tmp_path, lambda t: f"{t:{form}}"), observed_until=END)
    (problem,) = [p for p in info.value.problems if p.column == "started_at"]
    assert "unparseable timestamps" in problem.message
    assert f"'{pd.Timestamp('2024-01-05'):{form}}'" in str(problem)
    assert "could be March 4 or April 3" in problem.message
