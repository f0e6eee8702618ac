"""Kaplan-Meier tables and log-rank tests on the simulator, checked against lifelines."""

from __future__ import annotations

import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from churnlab.analytics import km_summary, logrank, plot_km, survival_table
from churnlab.data import churned_accounts, load_dataset


@pytest.fixture(scope="module")
def table(small_sim):
    ds = load_dataset(small_sim)
    return ds, survival_table(ds)


def test_one_row_per_account_and_every_churn_counted(table):
    ds, t = table
    assert t.account_id.is_unique and len(t) == ds.summary()["accounts"]
    assert t.event.sum() == ds.con.execute(churned_accounts(ds).count())
    assert (t.duration_days >= 0).all()
    assert {"plan", "segment", "billing_period", "acquisition_channel"} <= set(t.columns)
    assert "trial" in set(t.plan)  # never-paid accounts have their own group


def test_summary_and_logrank_match_lifelines(table):
    _, t = table
    summary = km_summary(t, "segment").set_index("segment")
    smb = t[t.segment == "smb"]
    kmf = KaplanMeierFitter().fit(smb.duration_days, smb.event)
    assert summary.loc["smb", "survival_180d"] == pytest.approx(
        float(kmf.survival_function_at_times(180).iloc[0])
    )
    test = logrank(t, "plan")
    direct = multivariate_logrank_test(t.duration_days, t.plan, t.event)
    assert test["p_value"] == pytest.approx(direct.p_value)
    assert test["p_value"] < 1e-3  # trials and paid plans survive very differently
    with pytest.raises(ValueError, match="grouping column 'colour'"):
        logrank(t, "colour")


def test_plot_has_one_curve_per_group(table):
    _, t = table
    ax = plot_km(t, "billing_period", ci=False)
    assert len(ax.get_lines()) == t.billing_period.nunique()
    assert "log-rank p" in ax.get_title()
