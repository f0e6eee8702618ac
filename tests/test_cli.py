"""The churnlab command line: exit codes and messages, through the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import new_project, tiny_frames, write_frames

CLI = [str(Path(sys.executable).with_name("churnlab"))]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    assert "simulate" in out.stdout and "validate" in out.stdout


def test_simulate_then_validate_json(tmp_path):
    out = run(
        "simulate",
        "--accounts",
        "200",
        "--months",
        "6",
        "--seed",
        "5",
        "--out",
        str(tmp_path / "d"),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    manifest = json.loads(out.stdout)
    assert manifest["rows"]["accounts"] == 200 and manifest["rows"]["events"] > 1000
    out = run("validate", str(tmp_path / "d"), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["valid"] and summary["accounts"] == 200
    assert summary["churned_accounts"] > 0
    # the discovered vocabulary: per event type its events, accounts and role (the simulator
    # writes its own mapping into dataset.json: login opens a session)
    vocab = {r["event_type"]: r for r in summary["vocabulary"]}
    assert vocab["login"]["accounts"] > 100 and vocab["login"]["role"] == "session_start"
    assert (
        vocab["login"]["kept"]
        and sum(r["events"] for r in vocab.values()) == (manifest["rows"]["events"])
    )


def test_validate_prints_summary(small_sim):
    out = run("validate", str(small_sim))
    assert out.returncode == 0, out.stderr
    for text in ("accounts", "churned accounts", "churn rate", "date range", "events rows"):
        assert text in out.stdout
    assert "event vocabulary" in out.stdout and "session_start" in out.stdout


def test_validate_prints_a_long_vocabulary_cut_short(tmp_path):
    """A log whose event names carry ids (one type per product page) has thousands of types:
    validate prints the kept ones and the ten most used others, and says how many more
    --json lists."""
    import pandas as pd

    frames = tiny_frames()
    ev = frames["events"]
    pages = pd.DataFrame(
        {
            "account_id": 1,
            "user_id": ev.user_id.iloc[0],
            "ts": pd.Timestamp("2024-03-01") + pd.to_timedelta(range(60), unit="h"),
            "event_type": [f"page_view /products/{i}" for i in range(60)],
            "duration_s": 5.0,
        }
    )
    frames["events"] = pd.concat([ev, pages], ignore_index=True)
    folder = write_frames(frames, tmp_path / "pages")
    every = json.loads(run("validate", str(folder), "--end", "2024-07-01", "--json").stdout)
    types = every["vocabulary"]
    others = [r for r in types if not r["kept"] and not r["role"]]
    assert len(types) == 60 + ev.event_type.nunique() and len(others) > 10
    out = run("validate", str(folder), "--end", "2024-07-01")
    assert out.returncode == 0, out.stderr
    printed = [r["event_type"] for r in types if f"{r['event_type']} " in out.stdout]
    assert len(printed) == len(types) - len(others) + 10
    assert f"{len(others) - 10:,} more event type(s)" in out.stdout


def test_validate_rejects_bad_data_with_every_problem(tmp_path):
    frames = tiny_frames()
    frames["subscriptions"].loc[2, "mrr"] = -1.0
    frames["subscriptions"].loc[3, "account_id"] = 42
    folder = write_frames(frames, tmp_path / "bad")
    out = run("validate", str(folder), "--end", "2024-07-01")
    assert out.returncode == 1
    assert "2 problem(s)" in out.stderr
    assert "subscriptions.mrr: 1 negative values" in out.stderr
    assert "subscriptions.account_id: 1 unknown account(s)" in out.stderr
    assert "account_id=42" in out.stderr
    out = run("validate", str(folder), "--end", "2024-07-01", "--json")
    assert out.returncode == 1 and len(json.loads(out.stdout)["problems"]) == 2


def test_validate_missing_folder_and_bad_usage(tmp_path):
    out = run("validate", str(tmp_path / "nope"))
    assert out.returncode == 1 and "not found" in out.stderr
    out = run("validate")
    assert out.returncode == 2
    out = run("validate", "--table", "x.csv")
    assert out.returncode == 2 and "--id" in out.stderr


def test_validate_single_table(tmp_path):
    src = Path(__file__).parent / "data" / "test_single_table.py"
    assert src.exists()
    csv = tmp_path / "crm.csv"
    csv.write_text("id,plan,months,churn\n1,a,3,Yes\n2,b,10,No\n3,a, ,No\n")
    out = run(
        "validate", "--table", str(csv), "--id", "id", "--label", "churn", "--duration", "months"
    )
    assert out.returncode == 0, out.stderr
    assert "churned customers" in out.stdout
    csv.write_text("id,plan,churn\n1,a,Yes\n1,b,No\n")
    out = run("validate", "--table", str(csv), "--id", "id", "--label", "churn")
    assert out.returncode == 1 and "customers.id: 1 duplicate id(s)" in out.stderr
    csv.write_text("id,plan,churn\n1,a,Attrited\n2,b,Existing\n")
    out = run("validate", "--table", str(csv), "--id", "id", "--label", "churn")
    assert out.returncode == 1 and "--positive 'Attrited'" in " ".join(out.stderr.split())
    out = run(*["validate", "--table", str(csv), "--id", "id", "--label", "churn"],
              "--positive", "Attrited")  # fmt: skip
    assert out.returncode == 0 and "'Attrited' read as churned" in out.stderr
    shutil.rmtree(tmp_path)


def test_validate_never_wraps_a_path_when_piped(tmp_path):
    """stdout is a pipe here (80 columns for rich): the path still prints whole, on one line."""
    folder = tmp_path / "a-rather-long-folder-name-for-customer-exports" / "quarterly-2025-q3"
    folder.mkdir(parents=True)
    csv = folder / "customer-relationship-management-export-all-regions.csv.gz"
    import gzip

    csv.write_bytes(gzip.compress(b"id,plan,churn\n1,a,Yes\n2,b,No\n"))
    assert len(str(csv)) > 100
    out = run("validate", "--table", str(csv), "--id", "id", "--label", "churn")
    assert out.returncode == 0, out.stderr
    assert f"valid: {csv}" in out.stdout.splitlines()


def test_validate_shows_the_duration_unit_and_the_notice_train_gives(tmp_path):
    """A tenure in months read as days: validate names the unit and gives train's notice."""
    from churnlab.config import parse_spec
    from churnlab.training import load_training_data

    csv = tmp_path / "crm.csv"
    rows = [f"{i},{'ab'[i % 2]},{i % 72 + 1},{'Yes' if i % 4 == 0 else 'No'}" for i in range(80)]
    csv.write_text("id,plan,months,churn\n" + "\n".join(rows) + "\n")
    args = ["validate", "--table", str(csv), "--id", "id", "--label", "churn", "--duration"]
    out = run(*args, "months")
    assert out.returncode == 0, out.stderr
    assert "duration months" in out.stdout and "in days (median" in out.stdout
    spec = parse_spec(
        {
            "name": "t",
            "data": {"table": str(csv), "id": "id", "label": "churn", "duration": "months"},
            "model": {"family": "logistic"},
        }
    )
    (notice,) = load_training_data(spec).notices
    assert "looks like months or weeks" in notice
    assert f"notice: {notice}" in " ".join(out.stderr.split())  # the same words as train's

    out = run(*args, "months", "--duration-unit", "months", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["duration"] == {
        "column": "months",
        "unit": "months",
        "max": 72.0,
        "median": 32.5,
    }
    assert summary["notices"] == []
    out = run(
        "validate",
        "--table",
        str(csv),
        "--id",
        "id",
        "--label",
        "churn",
        "--duration-unit",
        "weeks",
    )
    assert out.returncode == 2 and "--duration-unit needs --duration" in out.stderr


def test_features_writes_table_and_summary(small_sim, tmp_path):
    out = tmp_path / "f.parquet"
    res = run("features", "--data", str(small_sim), "--cutoffs", "2024-06-01:2024-12-01:3M", "--horizon", "30",
              "--drivers", "engagement,billing", "--out", str(out), "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["cutoffs"] == 3 and summary["rows"] > 500
    assert all(0 < c["positive_rate"] < 0.5 for c in summary["per_cutoff"])
    import pandas as pd

    df = pd.read_parquet(out)
    assert {"events_30d", "plan", "churned_within_h", "duration_days"} <= set(df.columns)
    assert "last_nps" not in df.columns  # satisfaction not asked for
    assert len(df) == summary["rows"]


def test_features_bad_input_leaves_no_file(small_sim, tmp_path):
    out = tmp_path / "f.parquet"
    res = run(
        "features",
        "--data",
        str(small_sim),
        "--cutoffs",
        "2024-06-01:2024-12-01:1Y",
        "--out",
        str(out),
    )
    assert res.returncode == 1 and "STEP" in res.stderr
    res = run("features", "--data", str(small_sim), "--cutoffs", "2030-01-01", "--out", str(out))
    assert res.returncode == 1 and "end of observation" in res.stderr
    res = run(
        "features",
        "--data",
        str(small_sim),
        "--cutoffs",
        "2024-06-01",
        "--drivers",
        "vibes",
        "--out",
        str(out),
    )
    assert res.returncode == 1 and "unknown driver" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_catalogue_json():
    res = run("catalogue", "--format", "json")
    assert res.returncode == 0
    rows = json.loads(res.stdout)
    assert len(rows) >= 40 and len({r["driver"] for r in rows}) == 9


def test_train_single_table_json(tmp_path, monkeypatch):
    """A CRM-style export: one row per customer, a Yes/No label, a tenure column, text columns."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 1200
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
    tenure = rng.integers(1, 72, n)
    charges = rng.uniform(20, 120, n).round(2)
    logit = -2.5 + 2.5 * (contract == "Month-to-month") - 0.04 * tenure + 0.02 * charges
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "Yes", "No")
    pd.DataFrame(
        {
            "customerID": [f"C{i:05d}" for i in range(n)],
            "Contract": contract,
            "tenure": tenure,
            "MonthlyCharges": charges,
            "Churn": churn,
        }
    ).to_csv(tmp_path / "crm.csv", index=False)
    new_project(tmp_path)
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    res = run(
        "train",
        "--table",
        str(tmp_path / "crm.csv"),
        "--id",
        "customerID",
        "--label",
        "Churn",
        "--duration",
        "tenure",
        "--mrr",
        "MonthlyCharges",
        "--model",
        "lightgbm",
        "--experiment",
        "crm",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["model_name"] == "churn-crm" and out["model_version"] == "1"
    assert out["test_metrics"]["roc_auc"] > 0.7
    assert out["split"]["test"]["rows"] == 240
    assert "revenue_capture_top10" in out["test_metrics"]
    assert (tmp_path / "mlflow.db").exists()


def test_train_several_specs_in_one_process(tmp_path, monkeypatch):
    """`churnlab train A B` trains both (one run and one version each); a bad spec among them
    fails before anything trains. The label is in words of the export's own (``data.positive``
    names the churned one)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 600
    usage = rng.gamma(2.0, 10.0, n)
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(0.1 * usage - 1)), "Left", "Stayed")
    table = tmp_path / "crm.csv"
    pd.DataFrame(
        {"id": [f"C{i}" for i in range(n)], "usage": usage, "plan": rng.choice(["a", "b"], n)}
    ).assign(Churn=churn).to_csv(table, index=False)
    specs = []
    for family in ("logistic", "lightgbm"):
        spec = tmp_path / f"{family}.yaml"
        spec.write_text(
            f"name: crm-{family}\nexperiment: crm\nmodel: {{family: {family}}}\n"
            f"data: {{table: {table}, id: id, label: Churn, positive: left}}\n"
        )
        specs.append(str(spec))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"name: x\ndata: {{table: {table}, id: id, label: Churn}}\nmodel: {{family: xgb}}\n"
    )
    new_project(tmp_path, store=False)  # the first train makes the store
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    res = run("train", *specs, str(bad))
    assert res.returncode == 1 and "model.family" in res.stderr
    assert not (tmp_path / "mlartifacts").exists()  # nothing trained, not even the good ones

    res = run("train", *specs, "--json")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "mlflow.db").exists()
    # MLflow logs "Creating initial MLflow database tables..." at INFO through its own
    # handler when it makes a store: not among churnlab's output unless -v
    assert "INFO mlflow" not in res.stderr and "database tables" not in res.stderr, res.stderr
    out = json.loads(res.stdout)
    assert [o["run_name"] for o in out] == ["crm-logistic", "crm-lightgbm"]
    assert [o["model_version"] for o in out] == ["1", "2"]
    assert out[0]["run_id"] != out[1]["run_id"]


def test_train_bad_spec_exits_nonzero(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "name: x\ndata: {path: data/demo}\ncutoffs: '2024-01-01'\nmodel: {family: xgb}\n"
    )
    res = run("train", str(spec))
    assert res.returncode == 1
    assert "model.family" in res.stderr and "'lightgbm_survival', 'uplift_t'" in res.stderr


def test_empty_and_latin1_tables_fail_in_one_line_naming_the_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from churnlab.cli import app

    new_project(tmp_path, store=False)
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    runner = CliRunner()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    res = runner.invoke(app, ["validate", "--table", str(empty), "--id", "id", "--label", "Churn"])
    assert res.exit_code == 1
    assert res.output.strip() == (
        f"error: {empty}: the file is empty: expected a header line of column names, then one "
        "row per customer"
    )
    latin = tmp_path / "crm.csv"
    rows = ["customerID,city,Churn"] + [
        f"C{i},{'Montréal' if i == 3 else 'Lyon'},No" for i in range(8)
    ]
    latin.write_bytes(("\n".join([*rows, "C9,Lyon,Yes", ""])).encode("latin-1"))
    table = ["--table", str(latin), "--id", "customerID", "--label", "Churn"]
    res = runner.invoke(app, ["train", *table, "--model", "logistic"])
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert lines[0].startswith(f"error: {latin}: is not utf-8 text (byte 0xe9 on line 5)")
    assert "--encoding latin-1" in lines[0]
    assert not (tmp_path / "mlflow.db").exists()  # refused before any run
    res = runner.invoke(app, ["validate", *table, "--encoding", "latin-1", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["customers"] == 9


def test_features_with_no_cutoff_inside_the_data_fails_naming_the_range(small_sim, tmp_path):
    out = tmp_path / "f.parquet"
    res = run(
        "features", "--data", str(small_sim), "--cutoffs", "2019-01-01:2019-06-01:1M",
        "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 1
    assert "no cutoff inside the data: the cutoffs 2019-01-01 to 2019-06-01" in res.stderr
    assert "the data covers 2024-01-01 to 2025-07-01" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_and_errors_print_syntax_as_written(tmp_path):
    """No rich markup or emoji codes: START:END:STEP stays text (it was "START🔚STEP"), every
    command's summary is a whole sentence, flags show no type."""
    from typer.testing import CliRunner

    from churnlab.cli import app

    runner = CliRunner()
    top = runner.invoke(app, ["--help"], terminal_width=80)
    assert top.exit_code == 0
    commands = top.output.split("Commands:")[1].strip().splitlines()
    assert len(commands) == 15  # with monitor and retrain
    for line in commands:
        name, summary = line.split(maxsplit=1)
        assert summary.endswith(".") and not summary.endswith("..."), line
        help_text = runner.invoke(app, [name, "--help"], terminal_width=80).output
        assert "<bool>" not in help_text and "\x1b" not in help_text, name
        assert "🔚" not in help_text, name
    features = runner.invoke(app, ["features", "--help"], terminal_width=80).output
    assert "START:END:STEP" in " ".join(features.split())
    tune = runner.invoke(app, ["tune", "--help"], terminal_width=80).output
    assert "Tune a spec with Optuna and register the best model.\n" in tune
    res = runner.invoke(
        app,
        ["features", "--cutoffs", "2024-01-01:2024-02-01:1Y", "--out", str(tmp_path / "f.csv")],
    )
    assert res.exit_code == 1 and "START:END:STEP" in res.output and "🔚" not in res.output


def test_validate_table_says_what_training_will_leave_out_and_warn_of(tmp_path):
    """Before any training: the columns train leaves out, and a column recorded after the
    outcome, in the words train uses."""
    from churnlab.config import parse_spec
    from churnlab.training import checked_data

    csv = tmp_path / "crm.csv"
    rows = [
        f"C{i},user{i}@example.com,{'ab'[i % 3 == 0]},{'2024-05-01' if i % 4 == 0 else ''},"
        f"{'Yes' if i % 4 == 0 else 'No'}"
        for i in range(120)
    ]
    csv.write_text("id,Email,plan,Churn Date,churn\n" + "\n".join(rows) + "\n")
    out = run("validate", "--table", str(csv), "--id", "id", "--label", "churn")
    assert out.returncode == 0, out.stderr
    said = " ".join(out.stderr.split())
    spec = parse_spec(
        {"name": "t", "data": {"table": str(csv), "id": "id", "label": "churn"},
         "model": {"family": "logistic"}}
    )  # fmt: skip
    notices = checked_data(spec, tmp_path, lambda _: None)[0].notices
    (left_out,) = [n for n in notices if "left out of the features" in n]
    assert f"notice: {left_out}" in said and "'Email' (120 distinct values in 120 rows" in said
    assert "alone separate churners from the others on the table's rows" in said
    assert "'Churn Date' (ROC-AUC 1.000)" in said


def test_train_names_the_cutoffs_of_train_validation_and_test(tmp_path, monkeypatch):
    """The text output says which cutoffs trained, validated and tested the model (a baseline
    can then be put on the same test rows); --json has them in ``split``."""
    from typer.testing import CliRunner

    from churnlab.cli import app
    from churnlab.data.simulate import SimulationParams, simulate

    simulate(tmp_path / "sim", SimulationParams(accounts=300, months=10, seed=3))
    new_project(tmp_path)
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = ["train", "--data", str(tmp_path / "sim"), "--horizon", "30", "--model", "logistic"]
    args += ["--cutoffs", "2024-04-01:2024-09-01:1M"]
    res = CliRunner().invoke(app, args)  # in this process: no second start-up of the imports
    assert res.exit_code == 0, res.output
    assert (
        "split: train 2024-04-01..2024-07-01 (4 cutoffs, " in res.stdout
        and "; validation 2024-08-01 (" in res.stdout
        and "; test 2024-09-01 (" in res.stdout
    ), res.stdout
    res = CliRunner().invoke(app, [*args, "--json"])  # reused: its split read back from the run
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["reused"]
    split = out["split"]
    assert split["train"]["cutoffs"][0][:10] == "2024-04-01"
    assert split["train"]["cutoffs"][-1][:10] == "2024-07-01"
    assert [split[p]["cutoffs"][0][:10] for p in ("validation", "test")] == [
        "2024-08-01",
        "2024-09-01",
    ]
