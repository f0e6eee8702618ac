"""Kaplan-Meier survival of accounts from sign-up, by group, with log-rank tests (lifelines).

One row per account: ``duration_days`` from sign-up to churn (``event`` = 1) or to the end of
observation (censored), and the groups: ``plan`` and ``billing_period`` of the first *paid*
subscription ("trial" for accounts that never paid; the plan at sign-up would put every trial in
one group), ``segment`` and ``acquisition_channel`` from the accounts table.
"""

from __future__ import annotations

import ibis
import matplotlib.pyplot as plt
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from churnlab.data import Dataset, coverage_spells
from churnlab.features.observations import days_between

GROUPINGS = ("plan", "segment", "billing_period", "acquisition_channel")
HORIZONS = (90, 180, 365)


def survival_table(dataset: Dataset) -> pd.DataFrame:
    """Per account: duration_days, event and every grouping column the dataset has."""
    if dataset.kind != "events":
        raise ValueError(f"{dataset.source}: survival curves need the five-table event data")
    acc = dataset["accounts"]
    subs = dataset["subscriptions"]
    paid = subs.filter(subs.mrr > 0)
    w = ibis.window(group_by="account_id", order_by="started_at")
    first = paid.mutate(_n=ibis.row_number().over(w)).filter(lambda t: t._n == 0)
    first_cols = [c for c in ("plan", "billing_period") if dataset.has("subscriptions", c)]
    first = first.select("account_id", *first_cols)
    acc_cols = [c for c in ("segment", "acquisition_channel") if dataset.has("accounts", c)]
    end = ibis.literal(dataset.observed_until.to_pydatetime())
    # time to the account's first churn: the end of its first spell of cover (an account that
    # came back later churned then, as its labels say)
    spells = coverage_spells(dataset)
    order = ibis.window(group_by="account_id", order_by="started_at")
    churn = (
        spells.mutate(_n=ibis.row_number().over(order))
        .filter(lambda t: t._n == 0)
        .select("account_id", churned_at="ended_at")
    )
    t = (
        acc.select("account_id", "signup_at", *acc_cols)
        .left_join(churn, "account_id")
        .left_join(first, "account_id")
    )
    t = t.select(
        "account_id",
        duration_days=days_between(t.churned_at.fill_null(end), t.signup_at),
        event=t.churned_at.notnull().cast("int8"),
        **{c: t[c].cast("string") for c in acc_cols + first_cols},
    )
    frame = dataset.con.to_pyarrow(t).to_pandas()
    if "plan" in frame:
        frame["plan"] = frame["plan"].fillna("trial")
    if "billing_period" in frame:
        frame["billing_period"] = frame["billing_period"].fillna("trial")
    frame = frame[frame.duration_days >= 0]
    return frame.sort_values("account_id", ignore_index=True)


def _check(table: pd.DataFrame, by: str) -> None:
    if by not in table:
        raise ValueError(f"grouping column {by!r} not in the survival table: {list(table.columns)}")


def km_fitters(table: pd.DataFrame, by: str) -> dict[str, KaplanMeierFitter]:
    """One fitted Kaplan-Meier estimator per value of ``by``."""
    _check(table, by)
    out = {}
    for value, g in table.groupby(by, sort=True, observed=True):
        out[str(value)] = KaplanMeierFitter(label=str(value)).fit(
            g.duration_days, g.event, label=str(value)
        )
    return out


def km_summary(table: pd.DataFrame, by: str, horizons=HORIZONS) -> pd.DataFrame:
    """Per group: accounts, churned, median survival (days) and survival at each horizon."""
    rows = []
    for value, kmf in km_fitters(table, by).items():
        g = table[table[by].astype(str) == value]
        row = {
            by: value,
            "accounts": len(g),
            "churned": int(g.event.sum()),
            "median_days": float(kmf.median_survival_time_),
        }
        for h in horizons:
            row[f"survival_{h}d"] = float(kmf.survival_function_at_times(h).iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def logrank(table: pd.DataFrame, by: str) -> dict[str, float]:
    """Multivariate log-rank test: do the groups' survival curves differ?"""
    _check(table, by)
    res = multivariate_logrank_test(table.duration_days, table[by].astype(str), table.event)
    return {
        "grouping": by,
        "groups": int(table[by].nunique()),
        "test_statistic": float(res.test_statistic),
        "degrees_of_freedom": int(res.degrees_of_freedom),
        "p_value": float(res.p_value),
    }


def plot_km(table: pd.DataFrame, by: str, ax=None, ci: bool = True):
    """Kaplan-Meier curves per group, the log-rank p-value in the title."""
    ax = ax if ax is not None else plt.subplots(figsize=(6.5, 4.5))[1]
    for kmf in km_fitters(table, by).values():
        kmf.plot_survival_function(ax=ax, ci_show=ci)
    test = logrank(table, by)
    p = test["p_value"]
    ax.set_title(
        f"Survival by {by.replace('_', ' ')} (log-rank p {'< 1e-4' if p < 1e-4 else f'= {p:.3g}'})"
    )
    ax.set_xlabel("days since sign-up")
    ax.set_ylabel("share of accounts still subscribed")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title=by.replace("_", " "), title_fontsize=8)
    return ax
