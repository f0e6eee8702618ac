"""Training inside real MLflow runs (SQLite store), the leaderboard, promotion and export."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churnlab.config import SpecError, parse_spec
from churnlab.features import DRIVERS
from churnlab.tracking import (
    CHAMPION,
    PREVIOUS,
    connect,
    export_model,
    leaderboard,
    promote,
    train_and_log,
)
from churnlab.training.split import SplitError
from tests.tracking.conftest import small_spec


@pytest.fixture(scope="module")
def trained(project, small_sim):
    return {f: train_and_log(small_spec(small_sim, f)) for f in ("logistic", "lightgbm")}


def test_runs_log_everything(trained, small_sim):
    client = connect()
    for family, summary in trained.items():
        run = client.get_run(summary.run_id)
        assert run.info.status == "FINISHED"
        m = run.data.metrics
        for k in (
            "roc_auc",
            "pr_auc",
            "log_loss",
            "brier",
            "ece",
            "ece_floor",
            "ece_to_floor",
            "lift_top10",
            "capture_top10",
            "revenue_capture_top10",
            "emp",
            "emp_contact_share",
            "oracle_roc_auc",
            "oracle_gap_roc_auc",
        ):
            assert f"test_{k}" in m and f"validation_{k}" in m, k
        assert m["test_roc_auc"] > 0.65
        assert m["test_oracle_roc_auc"] > m["test_roc_auc"]
        tags = run.data.tags
        assert len(tags["mlflow.source.git.commit"]) >= 7
        assert tags["churnlab.data_digest"] and tags["churnlab.family"] == family
        assert run.data.params["model.family"] == family
        assert run.data.params["horizon_days"] == "60"
        (ds,) = run.inputs.dataset_inputs
        assert ds.dataset.digest and ds.tags[0].value == "training"
        files = {a.path for a in client.list_artifacts(summary.run_id)}
        assert {"spec.yaml", "split.json", "plots", "shap", "features", "predictions"} <= files
        plots = {a.path for a in client.list_artifacts(summary.run_id, "plots")}
        assert {
            f"plots/{p}.png" for p in ("roc", "precision_recall", "calibration", "gains_lift")
        } <= plots
        shap_files = {a.path for a in client.list_artifacts(summary.run_id, "shap")}
        assert "shap/beeswarm.png" in shap_files and "shap/driver_importance.json" in shap_files
        assert sum(p.startswith("shap/dependence_") for p in shap_files) == 5
        version = client.get_model_version("churn-small", summary.model_version)
        assert version.run_id == summary.run_id
        # the URI printed is the registered version's, what score and serve take
        assert summary.model_uri == f"models:/churn-small/{summary.model_version}"


def test_logged_model_scores_with_signature_and_reasons(trained, small_sim):
    summary = trained["lightgbm"]
    model = mlflow.pyfunc.load_model(f"models:/churn-small/{summary.model_version}")
    inputs = [c.name for c in model.metadata.get_input_schema().inputs]
    assert inputs[:3] == ["account_id", "cutoff", "mrr"] and len(inputs) > 60
    example = model.input_example
    out = model.predict(example)
    assert list(out.columns[:6]) == [
        "account_id",
        "cutoff",
        "p_churn",
        "risk_tier",
        "health_score",
        "revenue_at_risk",
    ]
    assert out.p_churn.between(0, 1).all() and set(out.risk_tier) <= {"high", "medium", "low"}
    assert {"reason_1", "hint_1", "context"} <= set(out.columns)
    assert out.driver_1.dropna().isin(DRIVERS).all()
    with pytest.raises(Exception, match="events_30d"):
        model.predict(example.drop(columns="events_30d"))


def test_leaderboard_promotion_and_export(trained, project, tmp_path):
    client = MlflowClient()
    board = leaderboard("small", "pr_auc")
    assert len(board) == 2 and board.pr_auc.is_monotonic_decreasing
    best, other = board.model_version[0], board.model_version[1]
    first = promote("small", "churn-small", "pr_auc")
    assert first.promoted and first.version == best
    assert str(client.get_model_version_by_alias("churn-small", CHAMPION).version) == best
    again = promote("small", "churn-small", "pr_auc")
    assert not again.promoted and "already the champion" in again.message
    # a metric the other model wins moves the champion and keeps the old one as previous
    flip = next(
        (
            m
            for m in ("roc_auc", "log_loss", "brier", "ece", "lift_top10")
            if leaderboard("small", m).model_version[0] == other
        ),
        None,
    )
    if flip is not None:
        moved = promote("small", "churn-small", flip)
        assert moved.promoted and moved.version == other and moved.previous == best
        assert str(client.get_model_version_by_alias("churn-small", PREVIOUS).version) == best
    # a champion registered from elsewhere with a better score is kept unless forced
    exp = client.create_experiment("elsewhere")
    strong = client.create_run(exp)
    client.log_metric(strong.info.run_id, "test_pr_auc", 0.99)
    client.set_terminated(strong.info.run_id)
    source = client.get_model_version("churn-small", best).source
    v = str(client.create_model_version("churn-small", source, run_id=strong.info.run_id).version)
    client.set_registered_model_alias("churn-small", CHAMPION, v)
    kept = promote("small", "churn-small", "pr_auc")
    assert not kept.promoted and "does not beat" in kept.message
    assert str(client.get_model_version_by_alias("churn-small", CHAMPION).version) == v
    forced = promote("small", "churn-small", "pr_auc", force=True)
    assert forced.promoted and forced.version == best and forced.previous == v
    assert str(client.get_model_version_by_alias("churn-small", PREVIOUS).version) == v

    out = export_model("models:/churn-small@champion", project / "models" / "churn-small")
    assert (out / "MLmodel").exists() and not list(out.parent.glob(".churn-small.*"))
    # loads with nothing but the installed packages, from another directory
    code = (
        "import mlflow.pyfunc, sys; m = mlflow.pyfunc.load_model(sys.argv[1]);"
        "print(m.predict(m.input_example).p_churn.round(12).tolist())"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    exported = json.loads(res.stdout.strip().splitlines()[-1].replace("'", '"'))
    live = mlflow.pyfunc.load_model("models:/churn-small@champion")
    np.testing.assert_allclose(exported, live.predict(live.input_example).p_churn.round(12))


def test_compare_and_promote_name_runs_whose_spec_chose_another_metric(trained, project):
    """Runs may be trained for different metrics (a CLI run with the default pr_auc, a spec
    asking for roc_auc): compare and promote rank by one (the latest spec's, or --metric)
    and say so in one notice line naming the runs whose spec chose another."""
    from typer.testing import CliRunner

    from churnlab.cli import app
    from churnlab.vocab import KIND_TAG, MODEL_TAG

    client = MlflowClient()
    source = client.get_model_version("churn-small", trained["lightgbm"].model_version).source
    exp = client.create_experiment("mixed")
    start = 1_700_000_000_000
    for i, (name, chose, pr, roc) in enumerate(
        (("cli-run", "pr_auc", 0.536, 0.80), ("roc-spec", "roc_auc", 0.528, 0.81))
    ):
        run = client.create_run(exp, start_time=start + i * 60_000, run_name=name,
                                tags={KIND_TAG: "training", MODEL_TAG: "churn-mixed"})  # fmt: skip
        run_id = run.info.run_id
        client.log_param(run_id, "metric", chose)
        client.log_metric(run_id, "test_pr_auc", pr)
        client.log_metric(run_id, "test_roc_auc", roc)
        if i == 0:
            client.create_registered_model("churn-mixed")
        version = client.create_model_version("churn-mixed", source, run_id=run_id).version
        client.set_tag(run_id, "churnlab.model_version", str(version))
        client.set_terminated(run_id)

    runner = CliRunner()
    res = runner.invoke(app, ["compare", "--experiment", "mixed", "--json"])
    assert res.exit_code == 0, res.output
    assert [r["run_name"] for r in json.loads(res.stdout)] == ["roc-spec", "cli-run"]
    line = "ranked by roc_auc (the metric of the latest run's spec); 1 of 2 run(s) chose"
    assert line in res.stderr and "cli-run v1 (pr_auc)" in res.stderr
    assert "roc-spec" not in res.stderr
    res = runner.invoke(app, ["compare", "--experiment", "mixed", "--metric", "pr_auc"])
    assert res.exit_code == 0, res.output
    assert "ranked by pr_auc (--metric)" in res.stderr and "roc-spec v2 (roc_auc)" in res.stderr

    res = runner.invoke(app, ["promote", "--experiment", "mixed", "--model", "churn-mixed"])
    assert res.exit_code == 0, res.output
    assert "version 2 (roc-spec, roc_auc 0.8100) is now 'champion'" in res.stdout
    assert line in res.stderr and "cli-run v1 (pr_auc)" in res.stderr
    res = runner.invoke(
        app, ["promote", "--experiment", "mixed", "--model", "churn-mixed", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert "cli-run v1 (pr_auc)" in json.loads(res.stdout)["notices"][0]


def test_failed_training_ends_failed_and_registers_nothing(project, small_sim):
    client = connect()
    before = len(client.search_model_versions("name='churn-small'"))
    spec = small_spec(
        small_sim,
        "lightgbm",
        name="broken",
        model={"family": "lightgbm", "params": {"num_leaves": -3}},
    )
    with pytest.raises(Exception, match="num_leaves"):
        train_and_log(spec)
    exp = client.get_experiment_by_name("small")
    (run,) = client.search_runs([exp.experiment_id], "attributes.run_name = 'broken'")
    assert run.info.status == "FAILED"
    assert "num_leaves" in run.data.tags["churnlab.error"]
    assert len(client.search_model_versions("name='churn-small'")) == before


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"model": {"family": "xgboost"}}, SpecError, "model.family"),
        ({"data": {"path": "/nonexistent/folder"}}, SpecError, "not found"),
        ({"horizon_days": 900}, SplitError, "horizon runs past the end of the data"),
        ({"cutoffs": "2025-01-01:2025-04-01:1M"}, SplitError, "not enough cutoffs"),
        ({"features": {"include": ["no_such_feature"]}}, SpecError, "no_such_feature"),
        ({"colour": "red"}, SpecError, "colour: Extra inputs are not permitted"),
        ({"split": {"kind": "random"}}, SpecError, "split out of time"),
    ],
)
def test_bad_specs_fail_before_any_run(project, small_sim, change, error, message, monkeypatch):
    raw = small_spec(small_sim, "logistic", experiment="bad-specs").model_dump(mode="json")
    raw.update(change)
    if error is SplitError:  # cutoffs that cannot be split fail before any feature is built

        def built(*args, **kwargs):
            raise AssertionError("features built for cutoffs that cannot be split")

        monkeypatch.setattr("churnlab.training.data.feature_frame", built)
        monkeypatch.setenv("CHURNLAB_FEATURE_CACHE", "0")
    client = connect()
    with pytest.raises(error, match=message):
        train_and_log(parse_spec(raw))
    exp = client.get_experiment_by_name("bad-specs")
    assert exp is None or not client.search_runs([exp.experiment_id])
    assert not client.search_model_versions("name='churn-bad-specs'")


def test_no_positives_in_a_split_is_refused(project, small_sim, tmp_path):
    # a single table where every validation-sized slice has churners is fine; an all-zero label is not
    x = np.random.default_rng(0).normal(size=200)  # a measure, not a row number (left out)
    crm = pd.DataFrame({"id": range(200), "churned": [0] * 199 + [1], "x": x})
    crm.to_csv(tmp_path / "crm.csv", index=False)
    spec = parse_spec(
        {
            "name": "t",
            "experiment": "bad-specs",
            "data": {"table": str(tmp_path / "crm.csv"), "id": "id", "label": "churned"},
            "model": {"family": "logistic"},
        }
    )
    with pytest.raises(SplitError, match="too few churners"):
        train_and_log(spec)


def test_sigterm_ends_the_run_killed(project, small_sim, tmp_path):
    """A scheduled job stopped mid-training leaves a KILLED run, not a RUNNING one."""
    import os
    import signal
    import time
    from pathlib import Path

    spec = tmp_path / "slow.yaml"
    spec.write_text(
        f"name: slow\nexperiment: killed\ndata: {{path: {small_sim}}}\n"
        "cutoffs: '2024-03-01:2025-06-01:1M'\nhorizon_days: 60\nsplit: {backtest_folds: 4}\n"
        "model: {family: lightgbm, params: {n_estimators: 3000, learning_rate: 0.005, "
        "early_stopping_rounds: 3000}}\n"
    )
    cli = str(Path(sys.executable).with_name("churnlab"))
    proc = subprocess.Popen(
        [cli, "train", str(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    client = connect()
    deadline = time.time() + 120
    running = None
    while time.time() < deadline and running is None:
        exp = client.get_experiment_by_name("killed")
        runs = client.search_runs([exp.experiment_id]) if exp else []
        running = next((r for r in runs if r.info.status == "RUNNING"), None)
        time.sleep(0.2)
    assert running is not None, proc.communicate(timeout=60)
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(60)
    assert proc.returncode != 0
    assert client.get_run(running.info.run_id).info.status == "KILLED"
    assert not client.search_model_versions("name='churn-killed'")


def test_cli_compare_promote_export(trained, project):
    """The thin commands over the same store: leaderboard JSON, promotion, export."""
    from pathlib import Path

    cli = str(Path(sys.executable).with_name("churnlab"))

    def run(*args):
        return subprocess.run(
            [cli, *args], capture_output=True, text=True, timeout=300, cwd=project
        )

    res = run("compare", "--experiment", "small", "--metric", "roc_auc", "--json")
    assert res.returncode == 0, res.stderr
    board = json.loads(res.stdout)
    assert [r["rank"] for r in board] == [1, 2]
    assert board[0]["roc_auc"] >= board[1]["roc_auc"]
    # logged beside the experiment, not as one of its runs (issue 18)
    kinds = {
        r.data.tags.get("churnlab.kind")
        for r in connect().search_runs([mlflow.get_experiment_by_name("small").experiment_id])
    }
    assert "leaderboard" not in kinds
    leaderboard_runs = connect().search_runs(
        [mlflow.get_experiment_by_name("small-leaderboards").experiment_id]
    )
    assert leaderboard_runs and leaderboard_runs[0].info.status == "FINISHED"
    res = run("promote", "--experiment", "small", "--model", "churn-small", "--json")
    assert res.returncode == 0 and "version" in json.loads(res.stdout)
    # the expected maximum profit ranks and promotes like any leaderboard metric (issue 20)
    res = run("compare", "--experiment", "small", "--metric", "emp", "--json")
    assert res.returncode == 0, res.stderr
    emp = [r["emp"] for r in json.loads(res.stdout)]
    assert emp == sorted(emp, reverse=True) and all(np.isfinite(emp))
    res = run("promote", "--experiment", "small", "--model", "churn-small", "--metric", "emp")
    assert res.returncode == 0, res.stderr
    assert "emp" in res.stdout and "version" in res.stdout
    res = run("export", "--model", "models:/churn-small@champion")
    assert res.returncode == 0, res.stderr
    assert (project / "models" / "churn-small" / "MLmodel").exists()
    res = run("compare", "--experiment", "nope")
    assert res.returncode == 1 and "no MLflow experiment named 'nope'" in res.stderr


def test_a_signal_while_the_run_is_created_ends_it_killed_and_named(project, monkeypatch):
    """SIGTERM arriving while MLflow creates the run (it is in the store before start_run
    returns; a loaded machine stalls there): before, the run stayed RUNNING and the command
    said no run was started. Now the signal waits for the run, which ends KILLED, named."""
    import os
    import signal

    from churnlab.tracking.runs import RunKilled, tracked_run
    from churnlab.tracking.store import connect, ensure_experiment

    experiment = ensure_experiment(connect(), "signals")
    real = mlflow.start_run

    def start_then_signal(**kwargs):
        run = real(**kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # delivered before start_run returns
        return run

    monkeypatch.setattr(mlflow, "start_run", start_then_signal)
    before = signal.getsignal(signal.SIGTERM)
    entered = []
    with pytest.raises(RunKilled) as killed, tracked_run(experiment, "r", {}):
        entered.append(True)
    assert not entered
    assert mlflow.get_run(killed.value.run_id).info.status == "KILLED"
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers are put back
