"""Survival families through real MLflow runs: metrics, plots, pyfunc columns, leaderboard,
and the single-table command line (duration column + label as the event). Classifiers and
survival models on one leaderboard: ``make train compare`` on the demo (README)."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest

from churnlab.tracking import connect, leaderboard, train_and_log
from tests.conftest import new_project
from tests.tracking.conftest import small_spec

SURVIVAL_METRICS = (
    "c_index_harrell",
    "c_index_uno",
    "auc_30d",
    "auc_60d",
    "ibs",
    "ibs_km_reference",
)


@pytest.fixture(scope="module")
def trained(project, small_sim):
    specs = {
        "cox": small_spec(small_sim, "cox"),
        "lightgbm_survival": small_spec(
            small_sim,
            "lightgbm_survival",
            model={
                "family": "lightgbm_survival",
                "params": {"n_estimators": 80, "learning_rate": 0.1, "min_child_samples": 50},
            },
        ),
    }
    return {family: train_and_log(spec) for family, spec in specs.items()}


def test_survival_runs_log_survival_metrics_and_plots(trained):
    client = connect()
    for family in ("cox", "lightgbm_survival"):
        run = client.get_run(trained[family].run_id)
        assert run.info.status == "FINISHED"
        m = run.data.metrics
        for k in (*SURVIVAL_METRICS, "roc_auc", "pr_auc", "ece"):
            assert np.isfinite(m[f"test_{k}"]), (family, k)
        assert m["test_c_index_harrell"] > 0.7 and m["test_auc_30d"] > 0.7
        # the test cutoff is followed up for 61 days here: no 90-day AUC rather than a wrong one
        assert "test_auc_90d" not in m
        assert m["test_ibs"] < m["test_ibs_km_reference"]  # covariates beat no covariates
        plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert {"plots/survival_by_decile.png", "plots/survival_samples.png"} <= plots
        assert ("plots/cox_hazard_ratios.png" in plots) == (family == "cox")
        files = {a.path for a in client.list_artifacts(run.info.run_id, "survival")}
        assert "survival/deciles.json" in files


def test_survival_pyfunc_adds_horizon_risks_and_lifetime(trained):
    summary = trained["lightgbm_survival"]
    model = mlflow.pyfunc.load_model(f"models:/churn-small/{summary.model_version}")
    outputs = [c.name for c in model.metadata.get_output_schema().inputs]
    extra = ["p_churn_30d", "p_churn_60d", "p_churn_90d", "expected_lifetime_days"]
    assert set(extra) <= set(outputs)
    out = model.predict(model.input_example)
    assert (out.p_churn_30d <= out.p_churn_60d + 1e-12).all()
    assert (out.p_churn_60d <= out.p_churn_90d + 0.05).all()  # 90d is the calibrated horizon
    assert out.expected_lifetime_days.between(0, 180).all()
    # the spec's horizon is 60 days: p_churn is the calibrated 60-day risk
    np.testing.assert_allclose(out.p_churn, out.p_churn_60d)


def test_leaderboard_ranks_survival_models_on_the_classification_metrics(trained):
    # the same columns and ranking as for classifiers (tests/tracking/test_runs.py), plus C/IBS
    board = leaderboard("small", "pr_auc")
    assert set(board.family) == {"cox", "lightgbm_survival"}
    assert board.pr_auc.is_monotonic_decreasing and board.pr_auc.notna().all()
    assert board.c_index_harrell.notna().all() and board.ibs.notna().all()
    by_ibs = leaderboard("small", "ibs")  # lower is better
    assert by_ibs.ibs.is_monotonic_increasing


def test_train_single_table_survival_cli(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    n = 1000
    contract = rng.choice(["monthly", "annual"], n)
    usage = rng.normal(0, 1, n)
    rate = np.exp(-4.5 + 1.2 * (contract == "monthly") - 0.7 * usage)
    t = rng.exponential(1 / rate)
    follow = rng.uniform(30, 400, n)  # days from signup to the export date
    signup = pd.Timestamp("2025-06-30") - pd.to_timedelta(follow.round(), "D")
    pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(n)],
            "contract": contract,
            "usage": usage,
            # the export date minus the tenure for every active customer: the target again
            "signup_date": signup.strftime("%Y-%m-%d"),
            "tenure_days": np.minimum(t, follow).round(1),
            "churned": (t <= follow).astype(int),
        }
    ).to_csv(tmp_path / "crm.csv", index=False)
    new_project(tmp_path)
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from typer.testing import CliRunner

    from churnlab.cli import app

    args = ["train", "--table", str(tmp_path / "crm.csv"), "--id", "id", "--label", "churned"]
    res = CliRunner().invoke(
        app, [*args, "--duration", "tenure_days", "--model", "cox", "--experiment", "crm", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    m = out["test_metrics"]
    assert m["c_index_harrell"] > 0.65 and m["roc_auc"] > 0.65
    # the signup date is left out of the cox model, said and recorded; usage is kept
    (notice,) = [n for n in out["notices"] if "nearly determine the duration" in n]
    assert "'signup_date' (|Spearman| 1.000" in notice and "usage" not in notice
    tags = mlflow.get_run(out["run_id"]).data.tags
    assert list(json.loads(tags["churnlab.duration_twins"])) == ["signup_date"]
    assert tags["churnlab.features_dropped"] == "signup_date"
    assert mlflow.get_run(out["run_id"]).data.params["n_features"] == "2"
    # without a duration column a survival family is refused before any run starts
    res = CliRunner().invoke(app, [*args, "--model", "lightgbm_survival", "--experiment", "crm"])
    assert res.exit_code == 1 and "data.duration" in res.output
    connect()
    assert mlflow.search_runs(experiment_names=["crm"]).shape[0] == 1
