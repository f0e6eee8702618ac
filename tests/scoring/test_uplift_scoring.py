"""Uplift end to end on a small simulation with randomized campaigns: an uplift family trained,
logged and registered like a churn model; batch scoring with a second (uplift) model adds
``uplift``, ``expected_gain`` and ``action`` under a budget or a minimum gain; the REST server
answers the same rows with the same decisions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from churnlab.config import parse_spec
from churnlab.model import UpliftModel
from churnlab.scoring import ContactPolicy, ScoringError, build_scoring_features, score_job
from churnlab.scoring.load import load_model
from churnlab.scoring.serve import invoke, start_server, stop_server
from tests.conftest import new_project

CUTOFFS = "2024-03-01:2025-06-01:1M"
CHURN, UPLIFT = "churn-small", "uplift-small"


def _spec(small_sim, family: str, name: str, **extra):
    return parse_spec(
        {
            "name": family,
            "experiment": "uplift-tests",
            "registered_model": name,
            "data": {"path": str(small_sim)},
            "cutoffs": CUTOFFS,
            "horizon_days": 60,
            "model": {"family": family, "params": {"n_estimators": 150}},
            **extra,
        }
    )


@pytest.fixture(scope="module")
def models(small_sim, tmp_path_factory):
    """A churn model and an uplift model (T-learner) trained, registered and aliased
    ``champion`` in a throwaway project."""
    from churnlab.tracking import train_and_log
    from churnlab.tracking.store import connect

    root = tmp_path_factory.mktemp("uplift-project")
    new_project(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_HOME", str(root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    churn = train_and_log(_spec(small_sim, "lightgbm", CHURN), root=root)
    uplift_spec = _spec(
        small_sim, "uplift_t", UPLIFT, uplift={"contact_cost": 10.0, "offer_cost": 20.0}
    )
    uplift = train_and_log(uplift_spec, root=root)
    client = mlflow.MlflowClient()
    connect()
    client.set_registered_model_alias(CHURN, "champion", churn.model_version)
    client.set_registered_model_alias(UPLIFT, "champion", uplift.model_version)
    yield {"churn": churn, "uplift": uplift, "root": root, "data": small_sim}
    mp.undo()


def test_uplift_run_logs_metrics_plots_and_a_registered_model(models):
    summary = models["uplift"]
    for key in ("test_qini", "test_auuc", "test_uplift_at_10", "validation_qini"):
        assert np.isfinite(summary.metrics[key]), key
    # simulated data: the oracle's Qini beside the model's, and the correlation with the truth
    assert "test_oracle_qini" in summary.metrics and "test_true_uplift_corr" in summary.metrics
    client = mlflow.MlflowClient()
    run = client.get_run(summary.run_id)
    assert "test_best_net_profit_profit" in run.data.metrics
    names = {a.path for a in client.list_artifacts(summary.run_id, "plots")}
    assert {"plots/qini.png", "plots/uplift_by_decile.png", "plots/policy_curves.png"} <= names
    version = client.get_model_version(UPLIFT, summary.model_version)
    assert version.tags["family"] == "uplift_t"
    reqs = mlflow.pyfunc.get_model_dependencies(f"models:/{UPLIFT}/{summary.model_version}")
    assert any(line.startswith("econml==") for line in Path(reqs).read_text().splitlines())


@pytest.fixture(scope="module")
def rows(models, tmp_path_factory):
    """The test cutoff's feature rows with both models' columns, as a prepared table."""
    as_of = models["uplift"].split["test"]["cutoffs"][0]
    churn = load_model(f"models:/{CHURN}@champion")
    uplift = load_model(f"models:/{UPLIFT}@champion", kind=UpliftModel)
    a = build_scoring_features(churn.model, models["data"], as_of)
    b = build_scoring_features(uplift.model, models["data"], as_of)
    both = a.merge(b, on=["account_id", "cutoff", "mrr"], suffixes=("", "_u"))
    both = both[[c for c in both.columns if not c.endswith("_u")]]
    table = tmp_path_factory.mktemp("rows") / "rows.parquet"
    both.to_parquet(table, index=False)
    return both, table


def test_batch_decisions_under_a_budget(models, rows):
    as_of = models["uplift"].split["test"]["cutoffs"][0]
    job = score_job(  # the uplift model's features built from the raw data
        f"models:/{CHURN}@champion",
        data=models["data"],
        as_of=as_of,
        uplift_model=f"models:/{UPLIFT}@champion",
        contact_policy=ContactPolicy(budget=7),
    )
    s = job.scores
    assert {"uplift", "expected_gain", "action"} <= set(s.columns)
    assert s.uplift.notna().all() and set(s.action) <= {"contact", "skip"}
    # expected gain = uplift x MRR x 12 - (10 + 20), the uplift spec's economics
    mrr = s[["account_id"]].merge(rows[0][["account_id", "mrr"]], on="account_id").mrr
    np.testing.assert_allclose(s.expected_gain, s.uplift * mrr * 12.0 - 30.0, atol=1e-9)
    contacted = s[s.action == "contact"]
    positive = int((s.expected_gain > 0).sum())
    assert len(contacted) == min(7, positive)
    if len(contacted):
        assert contacted.expected_gain.min() >= s[s.action == "skip"].expected_gain.max()
    assert job.summary["uplift"]["contacts"] == len(contacted)


def test_min_gain_and_economics_from_the_job(rows):
    policy = ContactPolicy(min_gain=5.0, offer_cost=0.0, contact_cost=0.0, value_months=24)
    s = score_job(
        f"models:/{CHURN}@champion",
        features=rows[1],
        uplift_model=f"models:/{UPLIFT}@champion",
        contact_policy=policy,
    ).scores
    mrr = rows[0].mrr.to_numpy()
    np.testing.assert_allclose(s.expected_gain, s.uplift * mrr * 24.0, atol=1e-9)
    assert ((s.action == "contact") == (s.expected_gain >= 5.0)).all()
    with pytest.raises(ScoringError, match="is not an uplift model"):
        score_job(
            f"models:/{CHURN}@champion",
            features=rows[1],
            uplift_model=f"models:/{CHURN}@champion",
        )


def test_rest_answers_the_decisions_batch_scoring_makes(rows):
    frame, table = rows
    policy = ContactPolicy(budget=4)
    batch = score_job(
        f"models:/{CHURN}@champion",
        features=table,
        uplift_model=f"models:/{UPLIFT}@champion",
        contact_policy=policy,
        reasons=False,
    ).scores
    process, url = start_server(
        f"models:/{CHURN}@champion",
        uplift_model=f"models:/{UPLIFT}@champion",
        policy=policy,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # every float as Python writes it (shortest exact form): pandas' to_json rounds to
        # 10 digits, which moves a few rows across a tree's split
        sent = frame.assign(cutoff=frame.cutoff.dt.strftime("%Y-%m-%dT%H:%M:%S")).astype(object)
        records = sent.where(sent.notna(), None).to_dict("records")
        answer = pd.DataFrame(invoke(url, records, params={"reasons": False})["predictions"])
    finally:
        stop_server(process)
    assert answer.account_id.tolist() == batch.account_id.tolist()
    for col in ("uplift", "expected_gain"):
        np.testing.assert_allclose(answer[col].astype(float), batch[col], rtol=0, atol=1e-12)
    assert answer.action.tolist() == batch.action.tolist()
    assert (answer.action == "contact").sum() == min(4, int((batch.expected_gain > 0).sum()))
