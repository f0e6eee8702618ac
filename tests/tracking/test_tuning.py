"""``churnlab tune`` on a real MLflow store: parent run with nested trial runs, the final model
registered like a training run (compared, promoted), and a study that survives SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from churnlab.tracking import connect, leaderboard, promote
from churnlab.tracking.tuning import TRIAL_KIND, optuna_storage, tune_and_log
from tests.tracking.conftest import small_spec

FAST = {"n_estimators": 40, "early_stopping_rounds": 20}
CUTOFFS = "2024-10-01:2025-06-01:1M"  # 3 training cutoffs: features build faster
CLI = str(Path(sys.executable).with_name("churnlab"))


@pytest.fixture(scope="module")
def one_thread():
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_THREADS", "1")  # two threads on a shared 2-core box are far slower
    yield
    mp.undo()


@pytest.fixture(scope="module")
def tuned(project, small_sim, one_thread):
    spec = small_spec(
        small_sim,
        "lightgbm",
        experiment="tuned",
        cutoffs=CUTOFFS,
        model={"family": "lightgbm", "params": FAST},
    )
    return tune_and_log(spec, trials=3)


def test_tune_logs_parent_trials_and_a_registered_model(tuned, project):
    client = connect()
    parent = client.get_run(tuned.run.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["churnlab.kind"] == "training"
    assert parent.data.tags["churnlab.tuned"] == "true"
    m, params = parent.data.metrics, parent.data.params
    assert m["tuning_best_validation_pr_auc"] == pytest.approx(tuned.best_value)
    assert "test_pr_auc" in m and "validation_pr_auc" in m
    # the final model is trained with the best params (fixed spec params kept)
    for k, v in tuned.best_params.items():
        assert params[f"model.params.{k}"] == str(v)
        assert params[f"tuning.best.{k}"] == str(v)
    assert params["model.params.n_estimators"] == "40"
    # the final model's validation score is the best trial's (same params, seed, rows)
    assert m["validation_pr_auc"] == pytest.approx(tuned.best_value)

    trials = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    assert len(trials) == 3
    assert {r.data.tags["churnlab.kind"] for r in trials} == {TRIAL_KIND}
    states = {r.data.tags["optuna.state"]: r.info.status for r in trials}
    assert set(states) <= {"complete", "pruned", "failed"}
    done = [r for r in trials if r.data.tags["optuna.state"] == "complete"]
    assert max(r.data.metrics["validation_pr_auc"] for r in done) == pytest.approx(tuned.best_value)
    assert all(set(r.data.params) == set(tuned.best_params) for r in trials)

    names = {a.path for a in client.list_artifacts(parent.info.run_id, "tuning")}
    assert {
        "tuning/trials.csv",
        "tuning/optimization_history.png",
        "tuning/param_importances.png",
        "tuning/parallel_coordinate.png",
    } <= names
    assert (project / "optuna.db").exists() and optuna_storage(project) == project / "optuna.db"

    # it competes with plain training runs: on the leaderboard and promotable
    board = leaderboard("tuned")
    assert board.run_name.tolist() == ["lightgbm-tuned"]
    outcome = promote("tuned", "churn-tuned")
    assert outcome.promoted and outcome.version == tuned.run.model_version


def _counts(db: Path, study: str) -> dict[str, int]:
    if not db.exists():
        return {}
    with sqlite3.connect(db) as con:
        try:
            rows = con.execute(
                "select t.state, count(*) from trials t join studies s using (study_id) "
                "where s.study_name = ? group by t.state",
                (study,),
            ).fetchall()
        except sqlite3.OperationalError:  # tables not made yet
            return {}
    return dict(rows)


def test_sigterm_keeps_trials_and_rerun_resumes(project, small_sim, one_thread, tmp_path):
    spec = tmp_path / "resume.yaml"
    spec.write_text(
        f"name: resume\nexperiment: resumed\ndata: {{path: {small_sim}}}\n"
        f"cutoffs: '{CUTOFFS}'\nhorizon_days: 60\n"
        "model: {family: lightgbm, params: {n_estimators: 60, early_stopping_rounds: 20}}\n"
        "tuning: {pruner: none}\n"
    )
    db = project / "optuna.db"
    env = {**os.environ, "CHURNLAB_THREADS": "1"}
    proc = subprocess.Popen(
        [CLI, "tune", str(spec), "--trials", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=project,
    )
    deadline = time.time() + 120
    while time.time() < deadline and _counts(db, "resumed.resume").get("COMPLETE", 0) < 2:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    assert _counts(db, "resumed.resume").get("COMPLETE", 0) >= 2
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert b"resume" in stderr

    client = connect()
    exp = client.get_experiment_by_name("resumed")
    parents = client.search_runs(
        [exp.experiment_id], filter_string="tags.`churnlab.kind` = 'training'"
    )
    assert [r.info.status for r in parents] == ["KILLED"]
    study = optuna.load_study(study_name="resumed.resume", storage=f"sqlite:///{db}")
    kept = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(kept) >= 2
    assert all(t.state.is_finished() for t in study.trials)  # the interrupted one is FAIL

    # same command, budget just above what is kept: resumes and finishes
    budget = len(kept) + 2
    res = subprocess.run(
        [CLI, "tune", str(spec), "--trials", str(budget), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["new_trials"] == 2
    study = optuna.load_study(study_name="resumed.resume", storage=f"sqlite:///{db}")
    assert len([t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]) == budget
    assert out["trials"]["complete"] + out["trials"]["pruned"] == budget
    assert {"best_params", "best_validation_pr_auc", "test_metrics"} <= set(out)
    runs = client.search_runs([exp.experiment_id])
    assert not [r for r in runs if r.info.status == "RUNNING"]
    statuses = sorted(r.info.status for r in runs if r.data.tags.get("churnlab.kind") == "training")
    assert statuses == ["FINISHED", "KILLED"]


def test_cli_rejects_a_bad_search_space_before_anything_runs(small_sim, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        f"name: bad\ndata: {{path: {small_sim}}}\ncutoffs: '{CUTOFFS}'\n"
        "model: {family: lightgbm}\n"
        "search_space: {num_leaves: {type: int, low: 63, high: 7}, eta: {type: float}}\n"
    )
    env = {**os.environ, "CHURNLAB_HOME": str(tmp_path)}
    res = subprocess.run(
        [CLI, "tune", str(spec)], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 1
    assert "search_space.num_leaves" in res.stderr and "search_space.eta" in res.stderr
    assert not (tmp_path / "optuna.db").exists() and not (tmp_path / "mlflow.db").exists()
