"""Issue 18, section 5: a second identical ``train``/``tune`` reuses its finished run (no new
run, no new version; ``--force`` retrains), pruned trials are FINISHED runs tagged pruned,
``compare`` keeps its leaderboard out of the training experiment, and experiments are
model-training experiments for the MLflow UI. Real SQLite MLflow store, real Optuna, real git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from churnlab.tracking import connect, ensure_experiment, log_leaderboard, train_and_log
from churnlab.tracking.registry import leaderboard_experiment
from churnlab.tracking.reuse import REUSE_TAG, code_version, run_key
from churnlab.tracking.store import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG
from churnlab.tracking.tuning import PRUNED_TAG, TrialLogger, reused_tuning, tune_and_log
from tests.tracking.conftest import small_spec

CUTOFFS = "2024-10-01:2025-06-01:1M"  # 3 training cutoffs: a small, fast frame
CLI = str(Path(sys.executable).with_name("churnlab"))
FAST = {"n_estimators": 30, "early_stopping_rounds": 10}


@pytest.fixture(scope="module")
def one_thread():
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_THREADS", "1")
    yield
    mp.undo()


def _spec(small_sim, **extra):
    return small_spec(small_sim, "logistic", experiment="reuse", cutoffs=CUTOFFS, **extra)


def _versions(client, name: str) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{name}'"))


def _runs(client, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id]) if exp else []


@pytest.fixture(scope="module")
def first(project, small_sim, one_thread):
    return train_and_log(_spec(small_sim))


def test_second_train_reuses_the_run_and_force_retrains(first, project, small_sim):
    client = connect()
    assert not first.reused
    run = client.get_run(first.run_id)
    assert run.data.tags[REUSE_TAG] and run.data.tags["churnlab.model_version"] == "1"
    runs_before = {r.info.run_id for r in _runs(client, "reuse")}

    again = train_and_log(_spec(small_sim))
    assert again.reused
    assert (again.run_id, again.model_version) == (first.run_id, first.model_version)
    assert again.metrics["test_pr_auc"] == pytest.approx(first.metrics["test_pr_auc"])
    assert again.split == first.split
    assert {r.info.run_id for r in _runs(client, "reuse")} == runs_before
    assert _versions(client, "churn-reuse") == ["1"]

    forced = train_and_log(_spec(small_sim), force=True)
    assert not forced.reused and forced.run_id != first.run_id
    assert _versions(client, "churn-reuse") == ["1", "2"]
    # the latest matching run is reused from now on
    assert train_and_log(_spec(small_sim)).run_id == forced.run_id
    # unless its version was deleted: then the next one that still has its version
    client.delete_model_version("churn-reuse", forced.model_version)
    assert train_and_log(_spec(small_sim)).run_id == first.run_id


def test_cli_says_it_reused_in_one_line(first, project, small_sim, tmp_path):
    spec = tmp_path / "logistic.yaml"
    spec.write_text(
        f"name: logistic\nexperiment: reuse\ndata: {{path: {small_sim}}}\n"
        f"cutoffs: '{CUTOFFS}'\nhorizon_days: 60\nmodel: {{family: logistic, params: {{}}}}\n"
    )
    client = connect()
    versions = _versions(client, "churn-reuse")
    res = subprocess.run(
        [CLI, "train", str(spec)], capture_output=True, text=True, cwd=project, timeout=300
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1, res.stdout
    assert lines[0].startswith("logistic: reused run ")
    assert "churn-reuse version" in lines[0] and "--force" in lines[0]
    assert _versions(client, "churn-reuse") == versions


def test_the_key_covers_spec_data_code_and_seed(small_sim):
    spec = _spec(small_sim)
    base = run_key(spec, "d1", "c1", command="train")
    assert base == run_key(_spec(small_sim), "d1", "c1", command="train")
    assert base != run_key(spec, "d2", "c1", command="train")
    assert base != run_key(spec, "d1", "c2", command="train")
    assert base != run_key(_spec(small_sim, seed=1), "d1", "c1", command="train")
    assert base != run_key(_spec(small_sim, horizon_days=30), "d1", "c1", command="train")
    assert base != run_key(spec, "d1", "c1", command="tune", trials=20)


def test_code_version_of_a_dirty_tree_names_its_changes(tmp_path):
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    (tmp_path / "a.py").write_text("x = 1\n")
    for args in (["init", "-q"], ["add", "a.py"], ["commit", "-qm", "one"]):
        subprocess.run([*git, *args], cwd=tmp_path, check=True)
    clean = code_version(tmp_path)
    assert len(clean) == 40 and "dirty" not in clean
    (tmp_path / "a.py").write_text("x = 2\n")
    dirty = code_version(tmp_path)
    assert dirty.startswith(f"{clean}-dirty:") and dirty == code_version(tmp_path)
    (tmp_path / "a.py").write_text("x = 3\n")
    assert code_version(tmp_path) not in (clean, dirty)
    (tmp_path / "a.py").write_text("x = 1\n")
    assert code_version(tmp_path) == clean
    assert code_version(tmp_path / "nowhere") == "unknown"


def test_second_tune_reuses_and_force_retrains(project, small_sim, one_thread):
    spec = small_spec(
        small_sim,
        "lightgbm",
        experiment="reuse-tune",
        cutoffs=CUTOFFS,
        model={"family": "lightgbm", "params": FAST},
        tuning={"pruner": "none"},
    )
    client = connect()
    first = tune_and_log(spec, trials=1)
    runs = {r.info.run_id for r in _runs(client, "reuse-tune")}
    assert len(runs) == 2  # the parent and its trial

    again = tune_and_log(spec, trials=1)
    assert again.run.reused and again.new_trials == 0
    assert again.run.run_id == first.run.run_id
    assert again.best_params == first.best_params
    assert again.best_value == pytest.approx(first.best_value)
    assert again.counts == first.counts
    assert {r.info.run_id for r in _runs(client, "reuse-tune")} == runs
    assert _versions(client, "churn-reuse-tune") == ["1"]

    forced = tune_and_log(spec, trials=1, force=True)
    assert not forced.run.reused and forced.new_trials == 0
    assert forced.run.run_id != first.run.run_id
    assert _versions(client, "churn-reuse-tune") == ["1", "2"]
    # a larger budget is not the same command: it would resume the study (tests/tracking/
    # test_tuning.py), so it is not reused
    assert reused_tuning(spec, trials=2) is None
    assert reused_tuning(spec, trials=1).run.run_id == forced.run.run_id


def test_pruned_trials_are_finished_runs_tagged_pruned(project):
    client = connect()
    exp_id = client.create_experiment("pruning")
    parent = client.create_run(exp_id)
    study = optuna.create_study()
    logger = TrialLogger(exp_id, parent.info.run_id, "pr_auc", "s")
    for state, value in ((TrialState.PRUNED, None), (TrialState.COMPLETE, 0.5)):
        trial = study.ask()
        trial.report(0.4, step=10)
        study.tell(trial, value, state=state)
        logger(study, study.trials[-1])
    runs = client.search_runs(
        [exp_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    by_state = {r.data.tags["optuna.state"]: r for r in runs}
    assert by_state["pruned"].info.status == "FINISHED"
    assert by_state["pruned"].data.tags[PRUNED_TAG] == "true"
    assert by_state["pruned"].data.metrics["intermediate_pr_auc"] == pytest.approx(0.4)
    assert by_state["complete"].info.status == "FINISHED"
    assert PRUNED_TAG not in by_state["complete"].data.tags


def test_compare_keeps_the_leaderboard_out_of_the_runs_list(first, project):
    client = connect()
    before = _runs(client, "reuse")
    board = log_leaderboard("reuse", "pr_auc")
    log_leaderboard("reuse", "pr_auc")
    after = _runs(client, "reuse")
    assert {r.info.run_id for r in after} == {r.info.run_id for r in before}
    assert board.run_id.is_unique
    logged = _runs(client, leaderboard_experiment("reuse"))
    assert len(logged) == 2 and all(r.info.status == "FINISHED" for r in logged)
    assert {a.path for a in client.list_artifacts(logged[0].info.run_id)} >= {
        "leaderboard.json",
        "leaderboard.csv",
    }


def test_experiments_are_model_training_experiments(first, project):
    client = connect()
    exp = client.get_experiment_by_name("reuse")
    assert exp.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND == "custom_model_development"
    # an experiment made before (no kind) gets it; a kind someone chose is kept
    old = client.create_experiment("made-elsewhere")
    chosen = client.create_experiment("chosen", tags={EXPERIMENT_KIND_TAG: "genai_development"})
    ensure_experiment(client, "made-elsewhere")
    ensure_experiment(client, "chosen")
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    assert client.get_experiment(chosen).tags[EXPERIMENT_KIND_TAG] == "genai_development"
