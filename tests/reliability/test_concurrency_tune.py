"""Issue 16, item 7: two `tune` processes on one study share its trial budget, do not sample
the same parameters, and register one tuned version between them."""

from __future__ import annotations

import json
import sqlite3

import optuna

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
