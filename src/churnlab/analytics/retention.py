"""Revenue retention per month and signup-cohort retention, from the subscriptions table.

Everything starts from monthly MRR snapshots: the MRR of the subscription in force on the first
day of each month (the latest one started, as for observations). Between two consecutive
snapshots an account that paid at the first one either churned (no MRR at the second), contracted,
expanded or stayed flat; an account with no MRR at the first and some at the second is new MRR
(sign-ups and trial conversions). Rates are over *paying* accounts (MRR > 0 at the start of the
month), so free trials expiring do not count as revenue churn.

Net revenue retention (NRR) is ``(start MRR - churned - contraction + expansion) / start MRR`` of
the accounts paying at the start; NRR above 100% is negative net churn: expansion outgrew losses.
"""

from __future__ import annotations

import itertools

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.ticker import PercentFormatter

from churnlab.data import Dataset, in_force


def _require_events_dataset(dataset: Dataset) -> None:
    if dataset.kind != "events" or not dataset.has("subscriptions"):
        raise ValueError(
            f"{dataset.source}: retention analytics need the subscriptions table "
            "(single customer tables have no MRR history)"
        )


def month_starts(dataset: Dataset) -> list[pd.Timestamp]:
    """First days of the months from the first sign-up's month to the end of observation."""
    _require_events_dataset(dataset)
    first = pd.Timestamp(dataset.con.execute(dataset["accounts"].signup_at.min()))
    months = pd.date_range(first.to_period("M").to_timestamp(), dataset.observed_until, freq="MS")
    return list(months)


def mrr_snapshots(dataset: Dataset, months: list[pd.Timestamp] | None = None) -> pd.DataFrame:
    """(account_id, month, mrr) for every account subscribed on the first day of each month."""
    months = months if months is not None else month_starts(dataset)
    subs = dataset["subscriptions"]
    cut = ibis.memtable(pd.DataFrame({"month": pd.to_datetime(months).astype("datetime64[us]")}))
    paired = subs.cross_join(cut)
    active = in_force(paired, paired.month, ["account_id", "month"])  # add-ons summed
    snap = active.select("account_id", "month", mrr=active.mrr.cast("float64"))
    frame = dataset.con.to_pyarrow(snap).to_pandas()
    frame["month"] = pd.to_datetime(frame["month"])
    return frame.sort_values(["month", "account_id"], ignore_index=True)


def monthly_retention(dataset: Dataset) -> pd.DataFrame:
    """Per month: paying accounts, churn rate, MRR movements, MRR churn, expansion and NRR.

    One row per complete month (both its first day and the next month's are observed).
    """
    months = month_starts(dataset)
    snap = mrr_snapshots(dataset, months)
    rows = []
    for start, end in itertools.pairwise(months):
        a = snap.loc[snap.month == start, ["account_id", "mrr"]]
        b = snap.loc[snap.month == end, ["account_id", "mrr"]]
        m = a.merge(b, on="account_id", how="outer", suffixes=("_start", "_end")).fillna(0.0)
        paying = m.mrr_start > 0
        s, e = m.mrr_start[paying], m.mrr_end[paying]
        start_mrr = float(s.sum())
        churned = e == 0
        churned_mrr = float(s[churned].sum())
        contraction = float((s - e)[(e > 0) & (e < s)].sum())
        expansion = float((e - s)[e > s].sum())
        n = int(paying.sum())
        rows.append(
            {
                "month": start,
                "paying_accounts": n,
                "churned_accounts": int(churned.sum()),
                "start_mrr": start_mrr,
                "new_mrr": float(m.mrr_end[~paying].sum()),
                "churned_mrr": churned_mrr,
                "contraction_mrr": contraction,
                "expansion_mrr": expansion,
                "end_mrr": float(m.mrr_end.sum()),
                "churn_rate": churned.sum() / n if n else np.nan,
                "mrr_churn_rate": (churned_mrr + contraction) / start_mrr if start_mrr else np.nan,
                "expansion_rate": expansion / start_mrr if start_mrr else np.nan,
                "nrr": (start_mrr - churned_mrr - contraction + expansion) / start_mrr
                if start_mrr
                else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    return table[table.paying_accounts > 0].reset_index(drop=True)


def cohort_retention(dataset: Dataset, by: str = "accounts") -> pd.DataFrame:
    """Signup-month cohorts (rows) by months since sign-up (columns, 1, 2, ...).

    ``by="accounts"``: share of the cohort's accounts subscribed on the first day of the month
    ``k`` months after the cohort's month. ``by="revenue"``: the cohort's MRR at month ``k`` over
    its MRR at month 1 (after the sign-up month's trials have converted or expired), so values
    above 100% mean the cohort expanded. Cells not yet observed are NaN.
    """
    if by not in ("accounts", "revenue"):
        raise ValueError(f"by must be 'accounts' or 'revenue', got {by!r}")
    months = month_starts(dataset)
    acc = dataset.con.to_pyarrow(dataset["accounts"].select("account_id", "signup_at")).to_pandas()
    acc["cohort"] = pd.to_datetime(acc.signup_at).dt.to_period("M").dt.to_timestamp()
    snap = mrr_snapshots(dataset, months).merge(acc[["account_id", "cohort"]], on="account_id")
    snap["age"] = (snap.month.dt.year - snap.cohort.dt.year) * 12 + (
        snap.month.dt.month - snap.cohort.dt.month
    )
    snap = snap[snap.age >= 1]
    if by == "accounts":
        size = acc.groupby("cohort").size()
        table = snap.groupby(["cohort", "age"]).size().unstack("age").div(size, axis=0)
    else:
        mrr = snap.groupby(["cohort", "age"]).mrr.sum().unstack("age")
        table = mrr.div(mrr[1].where(mrr[1] > 0), axis=0)
    last = months[-1]
    observed = np.array(
        [[(c + pd.DateOffset(months=int(k))) <= last for k in table.columns] for c in table.index]
    )
    table = table.where(observed, np.nan)
    # a cohort observed at an age but with nobody left is 0%, not missing
    table = table.where(~(observed & table.isna()), 0.0)
    table.index = table.index.strftime("%Y-%m")
    table.index.name = "cohort"
    table.columns.name = "months_since_signup"
    return table


def plot_churn_rates(table: pd.DataFrame, ax=None):
    """Monthly account churn, MRR churn (churned + contraction) and expansion, in % of start."""
    ax = ax if ax is not None else plt.subplots(figsize=(8, 4))[1]
    ax.plot(table.month, table.churn_rate * 100, marker="o", ms=3, label="account churn")
    ax.plot(table.month, table.mrr_churn_rate * 100, marker="o", ms=3, label="MRR churn")
    ax.plot(table.month, table.expansion_rate * 100, marker="o", ms=3, label="expansion")
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_ylabel("% of paying accounts / start MRR")
    ax.set_title("Monthly churn and expansion (paying accounts)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.figure.autofmt_xdate()
    return ax


def plot_nrr(table: pd.DataFrame, ax=None):
    """Net revenue retention per month; bars above the 100% line are negative net churn."""
    ax = ax if ax is not None else plt.subplots(figsize=(8, 4))[1]
    nrr = table.nrr * 100
    colors = np.where(nrr >= 100, "tab:green", "tab:red")
    ax.bar(table.month, nrr, width=20, color=colors)
    ax.axhline(100, color="black", lw=1, ls="--", label="100% (no net churn)")
    lo, hi = float(np.nanmin(nrr)), float(np.nanmax(nrr))
    pad = max(1.0, (hi - lo) * 0.3)
    ax.set_ylim(min(lo, 100) - pad, max(hi, 100) + pad)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0 if hi - lo > 3 else 1))
    ax.set_ylabel("net revenue retention")
    ax.set_title("Net revenue retention by month (green: > 100%, negative churn)")
    ax.legend(fontsize=8, loc="lower left")
    ax.figure.autofmt_xdate()
    return ax


def plot_cohort_heatmap(table: pd.DataFrame, ax=None, title: str | None = None):
    """Cohort retention as a heatmap, each cell annotated with its percentage."""
    n_rows, n_cols = table.shape
    ax = (
        ax
        if ax is not None
        else plt.subplots(figsize=(max(6, 0.45 * n_cols + 2), max(3, 0.2 * n_rows + 1.2)))[1]
    )
    values = table.to_numpy(dtype=float) * 100
    vmax = max(100.0, float(np.nanmax(values)) if np.isfinite(values).any() else 100.0)
    if vmax > 100:  # revenue retention: expansion above 100% in green, losses in red
        norm = TwoSlopeNorm(vmin=0, vcenter=100, vmax=vmax)
        im = ax.imshow(values, aspect="auto", cmap="RdYlGn", norm=norm)
    else:
        im = ax.imshow(values, aspect="auto", cmap="YlGnBu", vmin=0, vmax=vmax)
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if vmax <= 100 and v > 60 else "black",
                )
    ax.set_xticks(range(n_cols), [str(c) for c in table.columns], fontsize=7)
    ax.set_yticks(range(n_rows), list(table.index), fontsize=7)
    ax.set_xlabel("months since sign-up")
    ax.set_ylabel("sign-up cohort")
    ax.set_title(title or "Cohort retention (%)")
    ax.figure.colorbar(im, ax=ax, format=PercentFormatter(), fraction=0.025, pad=0.01)
    return ax
