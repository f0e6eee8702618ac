"""``retrain``: a challenger on the newest complete cutoffs against the champion on the same
window; promoted only when it wins, and the registry always keeps a champion."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from churnlab.config import parse_spec
from churnlab.monitoring.retrain import RetrainError, newest_cutoffs, retrain
from churnlab.tracking.store import connect
from tests.monitoring.conftest import (
    HORIZON,
    NAME,
    TRAIN_CUTOFFS,
    _project,
    scenario_project,
)


def _spec(data, **monitoring):
    return parse_spec(
        {
            "name": "lightgbm",
            "experiment": "monitoring-tests",
            "registered_model": NAME,
            "data": {"path": str(data)},
            "cutoffs": TRAIN_CUTOFFS,
            "horizon_days": HORIZON,
            "model": {"family": "lightgbm", "params": {"n_estimators": 80}},
            "monitoring": monitoring,
        }
    )


def test_newest_cutoffs_move_the_range_forward_on_its_grid(tmp_path):
    spec = _spec(tmp_path)
    moved = newest_cutoffs(spec, pd.Timestamp("2025-09-01")).split(",")
    assert len(moved) == 8  # as many as 2024-03-01:2024-10-01:1M
    assert moved[-1] == "2025-07-01"  # the last month start with 60 days of labels by 2025-09-01
    assert moved[0] == "2024-12-01"
    with pytest.raises(RetrainError, match="START:END:STEP"):
        newest_cutoffs(
            spec.model_copy(update={"cutoffs": "2024-03-01,2024-04-01"}), pd.Timestamp("2025-09-01")
        )


@pytest.fixture(scope="module")
def price_project(champion, tmp_path_factory):
    root, data = scenario_project(champion, tmp_path_factory, "price_increase")
    mp = _project(root)
    yield root, data
    mp.undo()


def test_a_challenger_that_cannot_clear_the_margin_leaves_the_champion(price_project, champion):
    root, data = price_project
    result = retrain(_spec(data, promote_margin=0.99), root=root)
    assert not result.promoted
    assert "does not beat" in result.message
    connect()
    kept = mlflow.MlflowClient().get_model_version_by_alias(NAME, "champion")
    assert str(kept.version) == champion.version
    # both were scored on the same rows of a window after everything the champion saw
    assert pd.Timestamp(result.window) > pd.Timestamp(TRAIN_CUTOFFS.split(":")[1])
    assert result.champion["rows"] == result.challenger["rows"] == result.extra["rows"]


def test_promotion_follows_the_comparison(price_project, champion):
    root, data = price_project
    before = str(mlflow.MlflowClient().get_model_version_by_alias(NAME, "champion").version)
    result = retrain(_spec(data), root=root)
    gain = result.challenger["pr_auc"] - result.champion["pr_auc"]
    lost = result.champion["revenue_capture_top10"] - result.challenger["revenue_capture_top10"]
    assert result.promoted == (gain > 0 and lost <= 0.01), result.message
    champion_now = str(mlflow.MlflowClient().get_model_version_by_alias(NAME, "champion").version)
    if result.promoted:
        assert champion_now == result.challenger_version
        previous = mlflow.MlflowClient().get_model_version_by_alias(NAME, "previous")
        assert str(previous.version) == before
    else:
        assert champion_now == before
    run = mlflow.MlflowClient().get_run(result.run_id)
    assert run.data.metrics["challenger_pr_auc"] == pytest.approx(result.challenger["pr_auc"])
    assert run.data.tags["churnlab.promoted"] == str(result.promoted).lower()


def test_a_challenger_that_is_the_champion_itself_is_not_compared(price_project, champion):
    root, data = price_project
    first = retrain(_spec(data), root=root)  # its run reused when an earlier test trained it
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(NAME, "champion", first.challenger_version)
    again = retrain(_spec(data), root=root)  # same spec, data, code and seed: the same version
    assert again.challenger_version == again.champion_version == first.challenger_version
    assert not again.promoted
    assert "the champion itself" in again.message, again.message
    assert again.champion == again.challenger == {}
    kept = client.get_model_version_by_alias(NAME, "champion")
    assert str(kept.version) == first.challenger_version
