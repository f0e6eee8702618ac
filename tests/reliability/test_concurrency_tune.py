"""Issue 16, item 7: two `tune` processes on one study share its trial budget, do not sample
the same parameters, and register one tuned version between them."""

from __future__ import annotations

import json
import sqlite3

import optuna
import pytest

from tests.reliability.conc_support import make_project, start

BUDGET = 4


def test_two_tune_workers_share_one_study(tmp_path):
    root = make_project(tmp_path / "proj", tuning={"trials": BUDGET, "pruner": "none"})
    procs = [start(root, "tune", "spec.yaml", "--json") for _ in range(2)]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=500)
        assert proc.returncode == 0, err
        outs.append(json.loads(out))
    study = optuna.load_study(study_name="rel.fast", storage=f"sqlite:///{root / 'optuna.db'}")
    trials = [
        t
        for t in study.get_trials()
        if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    assert len(trials) == BUDGET
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params), params
    with sqlite3.connect(root / "mlflow.db") as con:
        versions = con.execute(
            "select version from model_versions where name = 'churn-rel'"
        ).fetchall()
    assert len(versions) == 1, versions
    assert {o["model_version"] for o in outs} == {str(versions[0][0])}


def test_the_last_trial_of_the_budget_is_run_when_two_workers_start_it_at_once():
    """Two workers ask for a trial when one is left of the budget: each sees the other's trial
    running. The earlier trial runs and the later one yields, so the study ends on its budget
    (before the fix both yielded: 3 trials of 4)."""
    from churnlab.training.tuning.study import BUDGET_SKIP, _Budgeted

    study = optuna.create_study()
    for x in (1.0, 2.0, 3.0):
        study.enqueue_trial({"x": x})
        trial = study.ask()
        study.tell(trial, trial.suggest_float("x", 0, 10))
    first, second = study.ask(), study.ask()  # both RUNNING, as on two workers
    budgeted = _Budgeted(lambda t: 42.0, budget=BUDGET)
    # the later trial yields: marked skipped, then the study is stopped (outside optimize
    # Optuna's stop raises instead of stopping)
    with pytest.raises(RuntimeError):
        budgeted(second)
    assert study.trials[second.number].user_attrs.get("skipped") == BUDGET_SKIP
    assert budgeted(first) == 42.0  # the earlier trial is not skipped
