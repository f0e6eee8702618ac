"""The optional campaigns table: a clean one loads and is summarized; every bad input is named by
table, column and example rows, and `churnlab validate` exits non-zero with the message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlab.cli import app
from churnlab.data import load_dataset
from tests.conftest import tiny_frames, write_frames

END = "2024-07-01"
ts = pd.Timestamp


def campaigns() -> pd.DataFrame:
    """Two campaigns, both arms each, over the tiny dataset's three accounts."""
    return pd.DataFrame(
        {
            "account_id": [1, 2, 3, 1, 3],
            "ts": [ts("2024-03-31 12:00")] * 3 + [ts("2024-04-30 12:00")] * 2,
            "campaign": ["c-03", "c-03", "c-03", "c-04", "c-04"],
            "treated": [True, False, True, False, True],
            "offer": ["discount", None, "discount", None, "discount"],
            "cost": [12.0, 0.0, 30.0, 0.0, 30.0],
        }
    )


def _folder(tmp_path: Path, cp: pd.DataFrame, fmt: str = "parquet") -> Path:
    return write_frames({**tiny_frames(), "campaigns": cp}, tmp_path / "ds", fmt)


def _validate(folder: Path, *args: str):
    return CliRunner().invoke(app, ["validate", str(folder), "--end", END, *args])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_clean_campaigns_load_and_are_summarized(tmp_path, fmt):
    folder = _folder(tmp_path, campaigns(), fmt)
    ds = load_dataset(folder, observed_until=END)
    assert ds["campaigns"].treated.type().is_boolean()
    assert ds["campaigns"].cost.type().is_floating()
    summary = ds.summary()["campaigns"]
    assert summary["rows"] == 5 and summary["campaigns"] == 2 and summary["accounts"] == 3
    assert summary["treated_share"] == pytest.approx(3 / 5)
    res = _validate(folder)
    assert res.exit_code == 0, res.output
    assert "campaigns" in res.output and "60% treated" in res.output
    data = json.loads(_validate(folder, "--json").stdout)
    assert data["campaigns"]["campaigns"] == 2


def test_text_booleans_are_read(tmp_path):
    cp = campaigns().astype({"treated": str})
    cp["treated"] = ["TRUE", "0", "yes", "false", "1"]
    ds = load_dataset(_folder(tmp_path, cp, "csv"), observed_until=END)
    got = ds.con.execute(ds["campaigns"].order_by(["campaign", "account_id"]).treated)
    assert got.tolist() == [True, False, True, False, True]


def test_a_dataset_without_campaigns_has_a_notice_not_an_error(tmp_path):
    ds = load_dataset(write_frames(tiny_frames(), tmp_path / "ds"), observed_until=END)
    assert any("campaigns not found" in n for n in ds.notices)
    assert "campaigns" not in ds.summary()


def _break(case: str) -> pd.DataFrame:
    cp = campaigns()
    if case == "unknown account":
        cp.loc[1, "account_id"] = 99
    elif case == "after the end":
        cp.loc[[3, 4], "ts"] = ts("2024-08-31")
    elif case == "one arm":
        cp.loc[3, "treated"] = True
    elif case == "null campaign":
        cp.loc[2, "campaign"] = None
    elif case == "null ts":
        cp.loc[2, "ts"] = pd.NaT
    elif case == "duplicate":
        cp.loc[1, "account_id"] = 1
    elif case == "negative cost":
        cp.loc[2, "cost"] = -5.0
    elif case == "non-boolean":
        cp = cp.astype({"treated": object})
        cp.loc[2, "treated"] = "maybe"
    elif case == "missing column":
        cp = cp.drop(columns=["treated"])
    return cp


# (case, table.column the problem names, text of the message, an example the message shows)
CASES = [
    ("unknown account", "campaigns.account_id", "1 unknown account(s)", "account_id=99"),
    ("after the end", "campaigns.ts", "timestamp(s) after the data's end", "campaign='c-04'"),
    ("one arm", "campaigns.treated", "1 campaign(s) with one arm only", "campaign='c-04' (2 treated, 0 control)"),
    ("null campaign", "campaigns.campaign", "1 null values in a required column", "account_id=3"),
    ("null ts", "campaigns.ts", "1 null values in a required column", "account_id=3"),
    ("duplicate", "campaigns.account_id,campaign", "1 duplicate key(s)", "account_id=1 campaign='c-03' (2 rows)"),
    ("negative cost", "campaigns.cost", "1 negative values", "cost=-5.0"),
    ("non-boolean", "campaigns.treated", "1 non-boolean values", "treated='maybe'"),
    ("missing column", "campaigns.treated", "required column is missing", ""),
]  # fmt: skip


@pytest.mark.parametrize(("case", "where", "message", "example"), CASES, ids=[c[0] for c in CASES])
def test_bad_campaigns_fail_validate_naming_table_column_and_rows(
    tmp_path, case, where, message, example
):
    fmt = "csv" if case == "non-boolean" else "parquet"
    res = _validate(_folder(tmp_path, _break(case), fmt))
    assert res.exit_code == 1, res.output
    line = next((ln for ln in res.output.splitlines() if where + ":" in ln), None)
    assert line is not None, res.output
    assert message in line and example in line, line


def test_validate_process_exits_non_zero_with_every_campaign_problem(tmp_path):
    cp = campaigns()
    cp.loc[1, "account_id"] = 99
    cp.loc[3, "treated"] = True
    cli = str(Path(sys.executable).with_name("churnlab"))
    out = subprocess.run(
        [cli, "validate", str(_folder(tmp_path, cp)), "--end", END],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert "campaigns.account_id: 1 unknown account(s)" in out.stderr + out.stdout
    assert "campaigns.treated: 1 campaign(s) with one arm only" in out.stderr + out.stdout
