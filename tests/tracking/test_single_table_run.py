"""A single-table run end to end as a new user makes one: a compressed export with a tenure in
months, a tracking store of their own choosing. What the run records (the linear family's
preprocessing choice, tenure as a feature), where its artifacts go and what its timings cover."""

from __future__ import annotations

import json
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest


def _crm(path, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    charges = rng.lognormal(4, 0.8, n).round(2)
    contract = rng.choice(["Month-to-month", "One year"], n)
    logit = -1.0 + 1.5 * (contract == "Month-to-month") - 0.04 * tenure + 0.3 * np.log(charges)
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "Yes", "No")
    pd.DataFrame(
        {
            "customerID": [f"C{i:05d}" for i in range(n)],
            "Contract": contract,
            "tenure": tenure,
            "TotalCharges": [f"${c:,.2f}" for c in charges],  # as a CRM writes money
            "Churn": churn,
        }
    ).to_csv(path, index=False, sep="\t")


def test_single_table_run_records_choices_beside_the_chosen_store(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from churnlab.cli import app

    project, elsewhere, cwd = tmp_path / "project", tmp_path / "stores", tmp_path / "cwd"
    for folder in (project, elsewhere, cwd):
        folder.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    _crm(project / "crm.tsv")
    monkeypatch.setenv("CHURNLAB_HOME", str(project))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere / 'store.db'}")
    monkeypatch.chdir(cwd)
    args = ["train", "--table", str(project / "crm.tsv"), "--id", "customerID"]
    args += ["--label", "Churn", "--duration", "tenure", "--duration-unit", "months"]
    args += ["--model", "logistic", "--experiment", "crm", "--json"]
    started = time.perf_counter()
    res = CliRunner().invoke(app, args)
    wall = time.perf_counter() - started
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)

    # the timings cover every stage, data loading and MLflow logging included
    seconds = out["seconds"]
    assert {"imports", "data", "fit", "explain", "logging", "total"} <= set(seconds)
    assert seconds["total"] >= seconds["data"] + seconds["fit"] + seconds["explain"]
    assert seconds["total"] >= seconds["logging"] > 0
    assert seconds["total"] >= 0.8 * wall - 0.5

    # artifacts beside the store the user chose, not in the working directory or project
    assert (elsewhere / "mlartifacts" / "crm").is_dir()
    assert not (cwd / "mlartifacts").exists() and not (project / "mlartifacts").exists()

    run = mlflow.get_run(out["run_id"])
    assert run.info.artifact_uri.startswith((elsewhere / "mlartifacts").as_uri())
    assert run.data.params["preprocessing.kept"] in ("per_column", "scale")
    client = mlflow.tracking.MlflowClient()
    path = client.download_artifacts(out["run_id"], "fit_choices.json", str(tmp_path))
    record = json.loads(Path(path).read_text())["preprocessing"]
    assert set(record["columns"]) == {"tenure", "TotalCharges"}  # tenure stays a feature
    scores = record["validation_score"]
    assert scores[record["kept"]] == max(scores.values())

    # the version is tagged as it is created; the model carries the installed versions as its
    # pinned requirements, and MLflow's own requirement check is back in place afterwards
    version = client.get_model_version(out["model_name"], out["model_version"])
    assert version.tags == {"family": "logistic", "run_name": out["run_name"]}
    from importlib.metadata import version as installed

    from mlflow.utils import environment

    reqs = Path(mlflow.pyfunc.get_model_dependencies(out["model_uri"])).read_text().split()
    assert {f"lightgbm=={installed('lightgbm')}", f"mlflow=={installed('mlflow')}"} <= set(reqs)
    check = environment.warn_dependency_requirement_mismatches
    assert check.__module__ == "mlflow.utils.requirements_utils"
    _scores_the_table_as_it_stands(out, project / "crm.tsv", tmp_path)


def _scores_the_table_as_it_stands(out: dict, table: Path, tmp_path: Path) -> None:
    """The table trained on scores unchanged (its own id column, money as written): the test
    rows get the probabilities the run recorded for them."""
    from typer.testing import CliRunner

    from churnlab.cli import app

    scores_path = tmp_path / "scores.csv"
    res = CliRunner().invoke(
        app,
        ["score", "--model", f"models:/{out['model_name']}/{out['model_version']}",
         "--features", str(table), "--out", str(scores_path)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    scores = pd.read_csv(scores_path)
    assert len(scores) == 1500 and scores.account_id.is_unique
    client = mlflow.tracking.MlflowClient()
    path = client.download_artifacts(out["run_id"], "predictions/test.json", str(tmp_path))
    recorded = pd.DataFrame(**json.loads(Path(path).read_text()))
    merged = recorded.merge(scores, on="account_id")
    assert len(merged) == len(recorded) > 100
    np.testing.assert_allclose(merged.p_churn, merged.p, rtol=1e-6)


def test_train_tune_runs_a_quick_study_then_fits_with_the_best_params(tmp_path, monkeypatch):
    """``train --tune N``: an in-memory pruned study of N trials (each a nested run of the
    command's run), then the final fit with the best trial's params, registered; no optuna.db."""
    from typer.testing import CliRunner

    from churnlab.cli import app

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    _crm(tmp_path / "crm.tsv", n=800)
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.setenv("CHURNLAB_THREADS", "1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = ["train", "--table", str(tmp_path / "crm.tsv"), "--id", "customerID"]
    args += ["--label", "Churn", "--model", "lightgbm", "--experiment", "crm", "--tune", "3"]
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["trials"]["complete"] + out["trials"]["pruned"] == 3
    assert out["model_name"] == "churn-crm" and out["model_version"] == "1"
    assert not (tmp_path / "optuna.db").exists() and out["storage"] == "memory"

    client = mlflow.tracking.MlflowClient()
    run = client.get_run(out["run_id"])
    assert run.info.run_name == "lightgbm-tuned"
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{out['run_id']}'"
    )
    assert len(children) == 3
    # the registered model was fitted with the best trial's params
    for name, value in out["best_params"].items():
        logged = run.data.params[f"model.params.{name}"]
        assert float(logged) == pytest.approx(float(value)), name
    assert float(run.data.params["tuning.best.num_leaves"]) == out["best_params"]["num_leaves"]

    # the spec key does the same; unknown keys under it are refused
    from churnlab.config import SpecError, load_spec

    spec = tmp_path / "crm.yaml"
    spec.write_text(
        f"name: crm\ndata: {{table: {tmp_path / 'crm.tsv'}, id: customerID, label: Churn}}\n"
        "model: {family: logistic}\ntune: {trials: 2}\n"
    )
    assert load_spec(spec).tune.trials == 2
    res = CliRunner().invoke(app, ["train", str(spec), "--tune", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert sum(json.loads(res.stdout)["trials"].values()) == 1  # --tune overrides the spec
    spec.write_text(spec.read_text().replace("trials: 2", "trial: 2"))
    with pytest.raises(SpecError, match="tune"):
        load_spec(spec)


def test_a_table_model_takes_dates_as_written_and_no_revenue_column(tmp_path, monkeypatch):
    """A REST client sends a date feature as ``2024-03-15`` and may have no MRR to send: the
    model reads the date as training did (days since 1970-01-01) and scores without revenue."""
    from typer.testing import CliRunner

    from churnlab.cli import app
    from churnlab.scoring.load import load_model

    rng = np.random.default_rng(3)
    n = 600
    signup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    churn = np.where(rng.random(n) < np.linspace(0.1, 0.6, n)[np.argsort(np.argsort(signup))], 1, 0)
    table = tmp_path / "crm.csv"
    pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(n)],
            "Plan: tier": rng.choice(["basic", "pro"], n),
            "Signup": signup.strftime("%Y-%m-%d"),
            "churn": churn,
        }
    ).to_csv(table, index=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = ["train", "--table", str(table), "--id", "id", "--label", "churn"]
    res = CliRunner().invoke(app, [*args, "--model", "logistic", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    model = load_model(f"models:/{out['model_name']}/{out['model_version']}")
    assert model.model.feature_spec.dates == ("Signup",)
    sent = pd.DataFrame(
        {
            "account_id": ["a", "b"],
            "Plan: tier": ["basic", "pro"],
            "Signup": ["2021-02-01", "2023-05-20"],
        }
    )
    days = (pd.to_datetime(sent.Signup) - pd.Timestamp("1970-01-01")).dt.days.astype(float)
    as_days = model.predict(sent.assign(Signup=days, mrr=np.nan), source="request")
    as_text = model.predict(sent, source="request")
    np.testing.assert_allclose(as_text.p_churn, as_days.p_churn)
    assert as_text.revenue_at_risk.isna().all()
    with pytest.raises(Exception, match="'Signup' \\(double\\): \\['02/01/2021'"):
        model.predict(sent.assign(Signup=["02/01/2021", "2023-05-20"]), source="request")
    scored = CliRunner().invoke(
        app,
        ["score", "--model", f"models:/{out['model_name']}/{out['model_version']}",
         "--features", str(table), "--out", str(tmp_path / "scores.csv")],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    assert "600 accounts scored with" in scored.stdout and "as of" not in scored.stdout


def test_a_run_on_a_leaky_column_records_it_and_promote_refuses_it(tmp_path, monkeypatch):
    """A churn date recorded after the outcome separates churners on its own; days since the
    last login, measured after the outcome for all but a few rows (logged late for 3%), ranks
    them at ROC-AUC 0.95-0.99 alone, under the leak bar. The run records both (--json and
    tags), and promote will not make its version champion without --force for either."""
    from typer.testing import CliRunner

    from churnlab.cli import app

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    _crm(project / "crm.tsv", n=800)
    table = pd.read_csv(project / "crm.tsv", sep="\t")
    table["churn_date"] = np.where(table.Churn == "Yes", "2024-05-01", None)
    rng = np.random.default_rng(7)
    late = rng.random(len(table)) < 0.03
    after = (table.Churn == "Yes") != late
    table["days_since_login"] = np.where(after, rng.integers(15, 60, len(table)), 3)
    table.to_csv(project / "crm.tsv", sep="\t", index=False)
    monkeypatch.setenv("CHURNLAB_HOME", str(project))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.chdir(project)
    args = ["train", "--table", "crm.tsv", "--id", "customerID", "--label", "Churn"]
    res = CliRunner().invoke(app, [*args, "--model", "logistic", "--experiment", "leaky", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (
        list(out["leak_suspects"]) == ["churn_date"] and out["leak_suspects"]["churn_date"] > 0.99
    )
    assert list(out["strong_suspects"]) == ["days_since_login"]
    auc = out["strong_suspects"]["days_since_login"]
    assert 0.95 <= auc < 0.99
    tags = mlflow.get_run(out["run_id"]).data.tags
    assert list(json.loads(tags["churnlab.leak_suspects"])) == ["churn_date"]
    assert list(json.loads(tags["churnlab.strong_suspects"])) == ["days_since_login"]

    refused = CliRunner().invoke(app, ["promote", "--experiment", "leaky"])
    assert refused.exit_code == 1
    said = " ".join(refused.output.split())
    assert "'churn_date' (ROC-AUC 1.000)" in said and "--force" in said
    assert f"'days_since_login' (ROC-AUC {auc:.3f})" in said
    assert "--exclude churn_date --exclude days_since_login" in said
    client = mlflow.tracking.MlflowClient()
    assert not client.get_registered_model(out["model_name"]).aliases
    # a run whose only suspect is under the leak bar (as the same run without churn_date
    # would be) is refused all the same
    client.delete_tag(out["run_id"], "churnlab.leak_suspects")
    refused = CliRunner().invoke(app, ["promote", "--experiment", "leaky"])
    said = " ".join(refused.output.split())
    assert refused.exit_code == 1 and f"'days_since_login' (ROC-AUC {auc:.3f})" in said
    assert "churn_date" not in said
    assert not client.get_registered_model(out["model_name"]).aliases
    forced = CliRunner().invoke(app, ["promote", "--experiment", "leaky", "--force"])
    assert forced.exit_code == 0, forced.output
    assert client.get_registered_model(out["model_name"]).aliases == {"champion": 1}


def test_training_does_not_warn_about_its_own_example_rows(tmp_path, monkeypatch, caplog):
    """Logging the model scores a few test rows (the signature's output example, MLflow's
    input-example check); branches only those rows hold are no problem in the user's data, so
    training says nothing of them. Scoring a batch with such branches still warns. What
    training does warn of is in ``train --json`` under ``notices``."""
    from typer.testing import CliRunner

    from churnlab.cli import app

    rng = np.random.default_rng(7)
    n = 900
    table = tmp_path / "crm.csv"
    # most customers at the main branch, 150 at a branch of their own: a category column kept
    # (most rows in a common level) whose rare levels fall into the test rows unseen
    branch = np.where(np.arange(n) % 6 == 0, [f"BR{i:03d}" for i in range(n)], "Main")
    tenure = rng.integers(1, 72, n)
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(0.05 * tenure - 0.5)), "Yes", "No")
    frame = pd.DataFrame(
        {
            "customerID": [f"C{i:04d}" for i in range(n)],
            "Branch": branch,
            "tenure": tenure,
            "Country": "EU",
        }
    )
    frame.assign(Churn=churn).to_csv(table, index=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    args = ["train", "--table", str(table), "--id", "customerID", "--label", "Churn"]
    res = CliRunner().invoke(app, [*args, "--model", "lightgbm", "--experiment", "br", "--json"])
    assert res.exit_code == 0, res.output
    assert "never seen in training" not in caplog.text + res.output
    # what the text output warns of is in the JSON too: the constant column left out
    (left_out,) = [m for m in json.loads(res.stdout)["notices"] if "left out" in m]
    assert left_out.startswith("1 column(s) of crm.csv left out of the features: 'Country'")

    batch = tmp_path / "batch.csv"
    frame.head(40).assign(Branch=[f"New{i}" for i in range(40)]).to_csv(batch, index=False)
    caplog.clear()
    model = "models:/churn-br/latest"
    res = CliRunner().invoke(
        app, ["score", "--model", model, "--features", str(batch), "--out", "s.csv"]
    )
    assert res.exit_code == 0, res.output
    assert "column 'Branch': 40 of 40 values were never seen in training" in caplog.text
