"""Issue 16, item 2: no user-controlled text is pasted into SQL. Paths with quotes and SQL in
them, and settings from the environment, reach real DuckDB as data (bound parameters, the
relational API, DuckDB's config) or are rejected; a crafted value never runs a statement."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest

from churnlab.data import load_dataset
from churnlab.data.engines import connect
from churnlab.evaluation.metrics import oracle_risk
from churnlab.features import write_table
from tests.conftest import tiny_frames, write_frames
from tests.reliability.conftest import one_line_error, run

CRAFTED = "x'); COPY (SELECT 42 AS pwned) TO 'pwned.csv'; SELECT ('"
NAMES = ["o'brien", CRAFTED, "quote\"and'apostrophe"]


def _truth(folder):
    folder.mkdir(parents=True)
    weeks = pd.date_range("2024-01-01", periods=20, freq="7D")
    truth = pd.DataFrame(
        {"account_id": np.repeat([1, 2], len(weeks)), "week_start": np.tile(weeks, 2),
         "hazard": np.repeat([0.01, 0.05], len(weeks))}
    )  # fmt: skip
    truth.to_parquet(folder / "truth.parquet", index=False)
    return folder / "truth.parquet"


def test_oracle_risk_reads_any_folder_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    keys = pd.DataFrame({"account_id": [1, 2], "cutoff": pd.to_datetime(["2024-02-05"] * 2)})
    plain = oracle_risk(_truth(tmp_path / "plain"), keys, horizon_days=28, lead_days=7)
    np.testing.assert_allclose(plain, [1 - 0.99**4, 1 - 0.95**4])
    for name in NAMES:
        got = oracle_risk(_truth(tmp_path / name), keys, horizon_days=28, lead_days=7)
        np.testing.assert_array_equal(got, plain)
    assert not list(tmp_path.glob("pwned*"))


def test_feature_tables_are_written_to_any_folder_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = load_dataset(
        write_frames(tiny_frames(), tmp_path / "ds"), observed_until="2024-07-01"
    )
    for name in NAMES:
        for suffix in (".parquet", ".csv"):
            out = write_table(dataset, dataset.tables["accounts"], tmp_path / name / f"f{suffix}")
            back = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
            assert back.account_id.tolist() == [1, 2, 3]
    assert not list(tmp_path.glob("pwned*"))


def test_temp_folder_with_quotes_is_config_not_sql(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in NAMES:
        spill = tmp_path / "tmp" / name
        spill.mkdir(parents=True)
        monkeypatch.setattr(tempfile, "tempdir", str(spill))
        con = connect()
        assert (
            con.raw_sql("SELECT current_setting('temp_directory')")
            .fetchone()[0]
            .startswith(str(spill))
        )
    assert not list(tmp_path.glob("pwned*"))


def test_crafted_memory_limit_is_rejected_not_run(project, tiny_sim):
    crafted = "1GB'; COPY (SELECT 42 AS pwned) TO 'pwned.csv'; SET memory_limit='1GB"
    done = run("validate", str(tiny_sim), root=project, env={"CHURNLAB_DUCKDB_MEMORY": crafted})
    assert "CHURNLAB_DUCKDB_MEMORY" in one_line_error(done)
    assert not list(project.glob("pwned*"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURNLAB_DUCKDB_MEMORY", "512MiB")
        con = connect()
        assert con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] == "512.0 MiB"


def test_threads_setting_reaches_duckdb_and_a_bad_one_is_named(monkeypatch):
    """``CHURNLAB_THREADS`` caps DuckDB as it caps LightGBM; a value that is not a whole number
    is an error naming the variable, never passed on."""
    monkeypatch.setenv("CHURNLAB_THREADS", "1")
    assert connect().raw_sql("SELECT current_setting('threads')").fetchone()[0] == 1
    for bad in ("0", "two", "1; SET threads=8"):
        monkeypatch.setenv("CHURNLAB_THREADS", bad)
        with pytest.raises(ValueError, match="CHURNLAB_THREADS"):
            connect()
