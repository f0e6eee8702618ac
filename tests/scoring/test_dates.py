"""Dates outside the data: scoring before the first sign-up or after the end, an unreadable
as-of date, and what the command line prints for them (one line, the date and the data's
range, nothing written, user text printed as given)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlab.cli import app
from churnlab.data import load_dataset
from churnlab.scoring import ScoringError, score_job

runner = CliRunner()


@pytest.fixture(scope="module")
def covers(trained) -> str:
    ds = load_dataset(trained.data)
    first, end = ds.first_signup(), ds.observed_until
    return f"the data covers {first.date()} to {end.date()}"


def _score(trained, tmp_path, as_of: str):
    out = tmp_path / "scores.parquet"
    res = runner.invoke(
        app,
        ["score", "--model", trained.uri, "--data", str(trained.data), "--as-of", as_of,
         "--out", str(out)],
    )  # fmt: skip
    assert not out.exists() and list(tmp_path.iterdir()) == []
    return res


@pytest.mark.parametrize("as_of", ["2020-01-01", "first day"])
def test_score_before_the_data_names_the_date_and_the_range(trained, covers, tmp_path, as_of):
    if as_of == "first day":
        as_of = covers.split()[3]  # the day of the first sign-up: nobody had signed up before it
    res = _score(trained, tmp_path, as_of)
    assert res.exit_code == 1
    assert f"no accounts active on {as_of}" in res.output and covers in res.output
    assert "Traceback" not in res.output and "2 dimensional" not in res.output
    with pytest.raises(ScoringError, match=f"no accounts active on {as_of}"):
        score_job(trained.uri, data=trained.data, as_of=as_of)


def test_score_after_the_data_names_the_range(trained, covers, tmp_path):
    res = _score(trained, tmp_path, "2031-01-01")
    assert res.exit_code == 1
    assert "2031-01-01" in res.output and "after the end of observation" in res.output
    assert covers in res.output


def test_an_unreadable_as_of_date_is_named_as_such(trained, tmp_path):
    res = _score(trained, tmp_path, "yesterday")
    assert res.exit_code == 1
    assert res.output.strip() == (
        "error: " + f"{trained.data}: cannot read the as-of date 'yesterday': give a date like "
        "2026-01-01"
    )
    assert "cutoff" not in res.output


def test_user_text_in_errors_is_printed_as_given(trained, tmp_path):
    # rich markup and emoji codes in a user's text stay text: no style, no emoji
    odd = "[bold]2024:end:[/bold]"
    res = _score(trained, tmp_path, odd)
    assert res.exit_code == 1
    assert f"cannot read the as-of date {odd!r}" in res.output
    assert "\N{END WITH LEFTWARDS ARROW ABOVE}" not in res.output


def test_an_empty_feature_table_is_refused(trained, tmp_path):
    import pandas as pd

    empty = tmp_path / "none.parquet"
    pd.DataFrame({"account_id": pd.Series([], dtype="int64")}).to_parquet(empty)
    res = runner.invoke(app, ["score", "--model", trained.uri, "--features", str(empty)])
    assert res.exit_code == 1 and f"feature table {empty} has no rows" in res.output
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    res = runner.invoke(app, ["score", "--model", trained.uri, "--features", str(blank)])
    assert res.exit_code == 1 and f"feature table {blank} is an empty file" in res.output


def test_without_an_as_of_date_scoring_uses_the_last_midnight_of_the_data(trained, tmp_path):
    """A dataset that names no end of observation ends at its latest event, in the middle of a
    day: scoring without --as-of uses that day's midnight (the partial day left out, features
    read whole days) instead of refusing a date the user never gave."""
    data = tmp_path / "data"
    shutil.copytree(trained.data, data)
    manifest = json.loads((data / "dataset.json").read_text())
    del manifest["observed_until"]
    (data / "dataset.json").write_text(json.dumps(manifest))
    end = load_dataset(data).observed_until
    assert end != end.normalize()  # the latest event is not at midnight: the case is real
    out = tmp_path / "scores.csv"
    res = runner.invoke(
        app, ["score", "--model", trained.uri, "--data", str(data), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out).cutoff.unique().tolist() == [str(end.date())]
