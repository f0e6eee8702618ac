"""What the report says: counts as whole numbers, the lift curve in the gains plot's legend,
the profit curve's vertical steps named, and a single customer table's report without a
horizon, cutoffs or plots it does not have."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlab.analytics.report import (
    SECTIONS,
    _html_table,
    _model_section,
    _steps_text,
    build_report,
)
from churnlab.cli import app
from churnlab.evaluation.plots import plot_gains
from churnlab.evaluation.profit import CampaignParams, largest_steps
from tests.analytics.browser import look_at, problems
from tests.conftest import new_project, requires_browser

matplotlib.use("Agg")


def test_row_counts_are_whole_numbers(tmp_path):
    (tmp_path / "plots").mkdir()
    metrics = {"test_rows": 1825.0, "validation_rows": 1790.0, "test_roc_auc": 0.81234}
    section = _model_section(tmp_path, metrics, single_table=False)
    table = section["blocks"][0]["table"]
    assert '<td class="text">rows</td><td>1,790</td><td>1,825</td>' in table
    assert '<td class="text">roc_auc</td><td></td><td>0.812</td>' in table
    assert "1,825.000" not in table
    assert section["blocks"][1]["heading"] == "Test-cutoff plots"
    assert _model_section(tmp_path, metrics, single_table=True)["blocks"][1]["heading"] == (
        "Test-set plots"
    )


def test_the_model_table_shows_emp(tmp_path):
    (tmp_path / "plots").mkdir()
    metrics = {"test_emp": 12.3456, "validation_emp": 11.0, "test_emp_contact_share": 0.12}
    table = _model_section(tmp_path, metrics, single_table=False)["blocks"][0]["table"]
    assert '<td class="text">emp</td><td>11.000</td><td>12.346</td>' in table
    assert '<td class="text">emp_contact_share</td><td></td><td>0.120</td>' in table


def test_the_lift_curve_is_in_the_legend():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    ax = plot_gains(y, np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["model (gains)", "random", "lift (right axis)"]


def test_a_vertical_step_of_the_profit_curve_is_named():
    # 100 customers ranked by risk; the 65th is a large account that churned at low risk
    p = np.linspace(0.9, 0.01, 100)
    mrr = np.full(100, 100.0)
    y = (np.arange(100) % 5 == 0).astype(int)
    mrr[64], y[64] = 8000.0, 1
    pred = pd.DataFrame({"account_id": np.arange(1000, 1100), "p": p, "mrr": mrr, "y": y})
    params = CampaignParams()
    steps = largest_steps(p, mrr, params, churned=y)
    assert steps.k.tolist() == [65] and steps.position.tolist() == [64]
    assert steps.gain.iloc[0] == pytest.approx(0.3 * (8000 * 12 - 50) - 1)
    text = _steps_text(pred, params)
    assert "at 65% contacted, account 1064 (MRR 8,000, p = 0.325) churned: +28,784" in text
    assert "Ranking by expected loss" in text
    # a curve without such steps says nothing
    assert _steps_text(pred.assign(mrr=100.0), params) == ""


@pytest.fixture(scope="module")
def table_report_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("tableproject")
    new_project(root)
    rng = np.random.default_rng(1)
    n = 600
    contract = rng.choice(["monthly", "annual"], n)
    tenure = rng.integers(1, 72, n)
    charges = rng.uniform(20, 120, n).round(2)
    logit = -1.5 + 2.0 * (contract == "monthly") - 0.03 * tenure
    pd.DataFrame(
        {
            "customerID": [f"C{i:04d}" for i in range(n)],
            "Contract": contract,
            "tenure": tenure,
            "MonthlyCharges": charges,
            "Churn": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "Yes", "No"),
        }
    ).to_csv(root / "crm.csv", index=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_HOME", str(root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    res = CliRunner().invoke(
        app,
        ["train", "--table", str(root / "crm.csv"), "--id", "customerID", "--label", "Churn",
         "--mrr", "MonthlyCharges", "--model", "logistic", "--experiment", "crm"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    yield build_report(experiment="crm", out=root / "reports", log_to_run=False)
    mp.undo()


@pytest.fixture(scope="module")
def table_report(table_report_file):
    return table_report_file.read_text()


def test_single_table_report_speaks_of_test_rows_not_cutoffs(table_report):
    html = table_report
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]+"', "", html))
    found = re.findall(r".{60}(?:horizon|cutoff).{60}", text, re.I | re.S)
    assert not found, found
    assert "one row per customer, split at random into train, validation and test" in text
    assert "Test-set plots" in text and "the test rows (a random held-out share" in text
    for kpi in ("customers", "churned customers", "churn rate", "columns"):
        assert f"<span>{kpi}</span>" in html
    assert re.search(r"<td class=\"text\">rows</td><td>\d+</td><td>\d+</td>", html)
    assert "single customer table: no subscription history" in text
    assert "oracle" not in text  # no simulator truth for a customer table: no empty column


def test_without_an_uplift_run_the_contact_section_says_how_to_get_one(table_report):
    contact = table_report.split('<section id="contact">')[1].split("</section>")[0]
    assert "No uplift model yet: train one with `churnlab train experiments/uplift.yaml`" in contact
    assert "<img" not in contact


def test_the_data_option_is_relative_to_the_working_directory(
    table_report_file, tmp_path, monkeypatch
):
    # `churnlab report --data exported.csv` typed where the file is, the project elsewhere
    root = table_report_file.parents[1]
    (tmp_path / "exported.csv").write_bytes((root / "crm.csv").read_bytes())
    monkeypatch.setenv("CHURNLAB_HOME", str(root))
    monkeypatch.chdir(tmp_path)
    html = build_report(experiment="crm", data="exported.csv", out="r", log_to_run=False)
    assert html.resolve().parent == tmp_path / "r" and "customers" in html.read_text()


@requires_browser()
def test_the_single_table_report_in_a_headless_browser(table_report_file, tmp_path):
    headings = [*(title for _, title in SECTIONS), "Test-set plots", "Drivers", "Top features"]
    texts = [
        "population: every active account",
        "one row per customer, split at random into train, validation and test",
        "expected loss (p x MRR)",
        "No uplift model yet",
    ]
    assert problems(look_at(table_report_file, tmp_path), headings, texts, min_figures=3) == []


def test_whole_numbers_in_a_float_column_carry_no_decimals():
    frame = pd.DataFrame(
        {"mrr": [5400.0, 6900.0], "p_churn": [0.871, 0.5], "model_version": [3.0, np.nan]}
    )
    table = _html_table(frame, digits=2)
    assert "<td>5,400</td><td>0.87</td><td>3</td>" in table
    assert "<td>6,900</td><td>0.50</td><td></td>" in table
