"""``monitor`` on the ``none`` scenario: 20 weekly batches of an unchanged business."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from churnlab.data import load_dataset
from churnlab.features import build_observations
from churnlab.monitoring import EXIT_RETRAIN, monitor
from churnlab.tracking.store import connect
from tests.monitoring.conftest import (
    HORIZON,
    NAME,
    _project,
    scenario_project,
    score_batches,
)

WEEKS = [str(d.date()) for d in pd.date_range("2024-11-01", periods=20, freq="7D")]


@pytest.fixture(scope="module")
def unchanged(champion, tmp_path_factory):
    root, data = scenario_project(champion, tmp_path_factory, "none")
    mp = _project(root)
    score_batches(champion.uri, data, WEEKS)
    result = monitor(champion.uri, data=data)
    yield root, data, result
    mp.undo()


def test_few_false_alarms_on_an_unchanged_business(unchanged):
    _, _, result = unchanged
    assert [b["batch_date"] for b in result.batches] == WEEKS
    flagged = [(b["batch_date"], b["reasons"]) for b in result.batches if b["verdict"] != "ok"]
    assert len(flagged) <= 1, flagged
    assert result.overall["verdict"] in ("ok", "warn")
    assert result.exit_code == 0


def _stored_predictions(run_id: str) -> pd.DataFrame:
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="monitoring/predictions.parquet"
    )
    return pd.read_parquet(local)


def test_realized_metrics_equal_a_recomputation_from_stored_predictions(unchanged):
    _, data, result = unchanged
    matured = [b for b in result.batches if b["matured"]]
    end = load_dataset(data).observed_until
    assert len(matured) == sum(pd.Timestamp(d) + pd.Timedelta(days=HORIZON) <= end for d in WEEKS)
    assert len(matured) >= 10
    for batch in matured[:3] + matured[-1:]:
        pred = _stored_predictions(batch["run_id"])
        obs = (
            build_observations(load_dataset(data), [batch["batch_date"]], HORIZON)
            .to_pandas()
            .query("label_complete")
        )
        joined = pred.merge(obs[["account_id", "churned_within_h"]], on="account_id")
        y = joined.churned_within_h.astype(int).to_numpy()
        p = joined.p_churn.to_numpy()
        realized = batch["realized"]
        assert realized["labelled_rows"] == len(joined)
        assert realized["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert realized["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
        assert realized["positive_rate"] == pytest.approx(y.mean(), abs=1e-12)
        assert realized["mean_p"] == pytest.approx(p.mean(), abs=1e-6)
        # ECE by hand: ten equal-width bins of p, |churners - sum of p| summed, over rows
        bins = np.minimum((p * 10).astype(int), 9)
        gaps = [abs(y[bins == b].sum() - p[bins == b].sum()) for b in range(10)]
        assert realized["ece"] == pytest.approx(sum(gaps) / len(y), abs=1e-9)
        top = np.argsort(-p, kind="stable")[: round(len(p) * 0.1)]
        assert realized["lift_top10"] == pytest.approx(y[top].mean() / y.mean(), abs=1e-9)


def test_estimated_roc_auc_is_close_to_realized_on_matured_batches(unchanged):
    _, _, result = unchanged
    matured = [b for b in result.batches if b["matured"]]
    gaps = np.array([b["estimated"]["roc_auc"] - b["realized"]["roc_auc"] for b in matured])
    se = np.array([b["realized"]["roc_auc_se"] for b in matured])
    # about 800 accounts a batch: the realized value itself moves by about 0.02 (its bootstrap
    # standard error), so each batch is held to 0.03 or two of its standard errors, and the
    # estimate must be right on average
    assert np.all(np.abs(gaps) <= np.maximum(0.03, 2 * se)), (gaps, se)
    assert abs(gaps.mean()) <= 0.02 and np.abs(gaps).mean() <= 0.03, gaps
    # immature batches carry the estimate alone
    assert all(b["realized"] is None for b in result.batches if not b["matured"])


def test_results_are_logged_as_time_series(unchanged):
    _, _, result = unchanged
    client = mlflow.MlflowClient()
    history = client.get_metric_history(result.run_id, "estimated_roc_auc")
    dates = [str(pd.Timestamp(m.timestamp, unit="ms").date()) for m in history]
    assert sorted(dates) == WEEKS
    run = client.get_run(result.run_id)
    assert run.data.tags["churnlab.verdict"] == result.overall["verdict"]


def test_cli_json_and_exit_code(unchanged, champion):
    root, data, result = unchanged
    done = subprocess.run(
        [sys.executable, "-m", "churnlab.cli", "monitor", "--model", champion.uri,
         "--data", str(data), "--json", "--no-log"],
        capture_output=True, text=True, timeout=300, cwd=root,
    )  # fmt: skip
    out = json.loads(done.stdout)
    assert done.returncode == (EXIT_RETRAIN if out["overall"]["verdict"] == "retrain" else 0)
    assert out["overall"]["verdict"] == result.overall["verdict"]
    assert len(out["batches"]) == len(WEEKS)
    # piped text: whole batch dates and the verdict in words, no markup tags printed
    text = subprocess.run(
        [sys.executable, "-m", "churnlab.cli", "monitor", "--model", champion.uri,
         "--data", str(data), "--no-log"],
        capture_output=True, text=True, timeout=300, cwd=root,
    ).stdout  # fmt: skip
    assert all(week in text for week in WEEKS), text
    assert f"version {champion.version}: {result.overall['verdict']} (" in text
    assert "[/]" not in text and "[green]" not in text, text


def test_report_section_shows_the_latest_pass(unchanged):
    from churnlab.analytics.report import RunInfo, _monitoring_section

    _, _, result = unchanged
    run = RunInfo("-", "lightgbm", "monitoring-tests", result.ref.name, result.ref.version)
    section = _monitoring_section(run)
    assert result.overall["verdict"] in section["intro"]
    figures = section["blocks"][0]["figures"]
    assert figures and len(figures[0]["png"]) > 1000  # base64 PNG
    assert all(week in section["blocks"][1]["table"] for week in WEEKS)
    empty = _monitoring_section(RunInfo("-", "x", "x", "no-such-model", "1"))
    assert empty["notices"] == ["no monitoring run for this model"]


def test_no_logged_batches_is_a_clear_error(champion, in_project, tmp_path):
    from churnlab.monitoring import MonitoringError

    in_project(champion.root)
    with pytest.raises(MonitoringError, match="score --log"):
        monitor(champion.uri, data=None, log_run=False)


def test_in_sample_and_repeated_batches_are_named_and_kept_out(champion, tmp_path_factory):
    """fuzz7 repro_2: a back-fill at the validation cutoff counted as a matured production
    batch and as the previous batch of the first real one; repro_1: the same data logged again
    for the same date replaced the batch silently."""
    from churnlab.cli.monitor import _in_sample_line

    root, data = scenario_project(champion, tmp_path_factory, "none")
    mp = _project(root)
    try:
        training = mlflow.MlflowClient().get_model_version(NAME, champion.version).run_id
        reference = f"runs:/{training}/monitoring/reference.json"
        validation = mlflow.artifacts.load_dict(reference)["cutoffs"][-1]
        back_fill, *_ = score_batches(champion.uri, data, [validation, *WEEKS[:2]])
        (again,) = score_batches(champion.uri, data, WEEKS[1:2])  # a stale export
        result = monitor(champion.uri, data=data, log_run=False)
    finally:
        mp.undo()
    assert [b["batch_date"] for b in result.batches] == WEEKS[:2]
    assert result.overall["in_sample"] == {
        "until": validation,
        "batches": [{"batch_date": validation, "run_id": back_fill}],
    }
    first, newest = result.batches
    assert first["shift"] is None  # not compared with the in-sample batch
    assert newest["run_id"] == again and newest["verdict"] != "ok"
    assert f"logged again by run {again} (logged " in newest["reasons"][0]
    assert "from the same data" in newest["reasons"][0]
    assert any(r.startswith(f"{WEEKS[1]}: logged again") for r in result.overall["reasons"])
    line = _in_sample_line(result.overall)  # what `churnlab monitor` prints
    assert line.startswith(f"left out 1 in-sample batch(es), dated on or before {validation}")
    assert line.endswith(f": {validation} (run {back_fill})")


def _without_accounts(data, out, drop) -> None:
    """A copy of the dataset folder ``data`` at ``out`` with the accounts ``drop`` removed
    from every table (as a GDPR deletion or a wrong export would)."""
    import shutil

    shutil.copytree(data, out)
    for table in out.glob("*.parquet"):
        frame = pd.read_parquet(table)
        if "account_id" in frame.columns:
            frame[~frame.account_id.isin(drop)].to_parquet(table, index=False)


def test_labels_of_other_accounts_are_refused_not_a_retrain(unchanged, champion, tmp_path):
    """fuzz11 repro_3: realized metrics were computed on whichever stored predictions shared an
    account id with --data (112 of 181 rows of another business, 97 of 181 with half the
    accounts removed), silently, and the verdict became retrain (exit 3)."""
    from churnlab.monitoring import MonitoringError

    root, data, result = unchanged
    first = next(b for b in result.batches if b["matured"])
    assert first["labels"]["missing"] == 0
    assert first["labels"]["labelled"] == first["labels"]["batch_rows"] == first["rows"]
    accounts = pd.read_parquet(data / "accounts.parquet").account_id
    half = tmp_path / "half"
    _without_accounts(data, half, accounts.iloc[::2])
    mp = _project(root)
    try:
        connect()  # this project's store: an earlier test may have pointed MLflow elsewhere
        scored = _stored_predictions(first["run_id"]).account_id
        with pytest.raises(MonitoringError) as caught:
            monitor(champion.uri, data=half, log_run=False)
        # a few accounts deleted since: measured, and the shortfall reported
        few = tmp_path / "few"
        _without_accounts(data, few, scored.iloc[:3])
        partial = monitor(champion.uri, data=few, log_run=False)
    finally:
        mp.undo()
    message = str(caught.value)
    assert f"batch {first['batch_date']} of {NAME} version {champion.version}" in message
    assert f"of its {first['rows']} scored accounts have no label in {half}" in message
    assert f"scored from {data.resolve()}" in message and "e.g. account_id " in message
    same = next(b for b in partial.batches if b["batch_date"] == first["batch_date"])
    assert same["labels"]["missing"] == 3 and same["labels"]["labelled"] == first["rows"] - 3
    assert same["realized"]["labelled_rows"] == first["rows"] - 3
    assert same["labels"]["missing_examples"] == [str(v) for v in scored.iloc[:3]]
    # the scheduled job: an error it can tell from a retrain, one line on stderr; text output
    # names a partial match (in-process: test_cli_json_and_exit_code runs the real process)
    from typer.testing import CliRunner

    from churnlab.cli import app

    cli = ["monitor", "--model", champion.uri, "--no-log"]
    mp = _project(root)
    try:
        done = CliRunner().invoke(app, [*cli, "--data", str(half)])
        text = CliRunner().invoke(app, [*cli, "--data", str(few)])
    finally:
        mp.undo()
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit), (
        done.exception,
        done.stdout,
        done.stderr,
    )
    assert done.stderr.startswith("error: batch ") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert text.exception is None or isinstance(text.exception, SystemExit), text.exception
    assert (
        f"batch {first['batch_date']}: realized on {first['rows'] - 3:,} of its "
        f"{first['rows']:,} scored accounts; 3 have no label in {few}" in text.stdout
    ), text.stdout
