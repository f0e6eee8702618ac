"""fuzz14: an event type the model reads renamed by the product team shortly before a batch
(findings 1, 3, 5): scoring names the rename with counts, the batch's own dataset.json
``events.group`` maps the new name onto the model's, and the notices reach ``--json`` and the
logged scoring run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlab.cli import app
from churnlab.scoring import load_model, score_job

runner = CliRunner()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def core(trained) -> str:
    """The event type the model reads that the log has most of."""
    types = load_model(trained.uri).model.feature_spec.vocabulary.types
    events = pd.read_parquet(trained.data / "events.parquet", columns=["event_type"])
    counts = events.event_type.value_counts()
    return max(types, key=lambda t: counts.get(t, 0))


def _renamed(trained, core: str, dst: Path, days: int | None) -> Path:
    """A copy of the data whose ``core`` events of the last ``days`` days (all: None) are
    called ``<core> v2``."""
    data = _copy(trained.data, dst)
    events = pd.read_parquet(data / "events.parquet")
    events["event_type"] = events.event_type.astype(str)
    when = events.ts >= pd.Timestamp(trained.observed_until) - pd.Timedelta(days=days or 10**5)
    events.loc[when & (events.event_type == core), "event_type"] = f"{core} v2"
    events.to_parquet(data / "events.parquet", index=False)
    return data


@pytest.fixture(scope="module")
def original(trained):
    return score_job(trained.uri, data=trained.data, as_of=trained.observed_until)


@pytest.fixture(scope="module")
def recent(trained, core, tmp_path_factory) -> Path:
    return _renamed(trained, core, tmp_path_factory.mktemp("renamed") / "data", days=14)


def test_a_rename_two_weeks_before_the_batch_is_named_with_counts(trained, core, recent, original):
    """repro_1: the old name still has events in the 90 days, the new one is a small share of
    them, and scores moved with no notice naming either."""
    job = score_job(trained.uri, data=recent, as_of=trained.observed_until)
    moved = job.scores.p_churn.to_numpy() != pytest.approx(original.scores.p_churn.to_numpy())
    assert moved  # the rename does change the scores
    (notice,) = [n for n in job.summary["notices"] if "collapsed" in n]
    assert repr(core) in notice and repr(f"{core} v2") in notice
    assert "0% in the last 7 days (0 of " in notice and "last event" in notice
    group = json.dumps({"events": {"group": {core: [core, f"{core} v2"]}}})
    assert group in notice  # the fix that works (test below)
    # the unchanged data say nothing about event types
    assert not [n for n in original.summary["notices"] if "event type" in n]


def test_the_batch_group_maps_a_new_name_onto_the_models(trained, core, recent, original):
    """repro_5: the batch's own events.group was ignored (the model's stored grouping won), so
    the advice "map the new names" changed nothing."""
    manifest_path = recent.parent / "mapped" / "dataset.json"
    mapped = _copy(recent, manifest_path.parent)
    manifest = json.loads(manifest_path.read_text())
    manifest.setdefault("events", {})["group"] = {core: [core, f"{core} v2"]}
    manifest_path.write_text(json.dumps(manifest))
    job = score_job(trained.uri, data=mapped, as_of=trained.observed_until)
    assert job.scores.account_id.tolist() == original.scores.account_id.tolist()
    assert job.scores.p_churn.to_numpy() == pytest.approx(original.scores.p_churn.to_numpy())
    assert (job.scores.risk_tier == original.scores.risk_tier).all()
    said = " ".join(job.summary["notices"])
    assert "events.group is applied" in said and "collapsed" not in said


def test_vocabulary_notices_reach_json_and_the_logged_run(trained, core, tmp_path):
    """repro_3: a type the model reads with no event at all was only a log warning: --json
    said "notices": [] and the logged scoring run had nothing."""
    data = _renamed(trained, core, tmp_path / "data", days=None)
    as_of = "2025-01-20"  # a batch date no other test logs
    res = runner.invoke(
        app,
        [
            "score", "--model", trained.uri, "--data", str(data), "--as-of", as_of,
            "--out", str(tmp_path / "s.parquet"), "--json", "--log",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    (gone,) = [n for n in summary["notices"] if "have no event" in n]
    assert repr(core) in gone and repr(f"{core} v2") in gone
    logged = mlflow.artifacts.load_dict(f"runs:/{summary['run_id']}/summary.json")
    assert gone in logged["notices"]
