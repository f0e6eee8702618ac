# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Explore the data
# Tables, monthly churn / MRR churn / NRR, sign-up cohorts, Kaplan–Meier curves with log-rank
# tests, the engagement danger zone and onboarding red flags. Every computation lives in
# `churnlab.analytics`; this notebook only calls it. Settings come from `CHURNLAB_NB_*`
# environment variables (see `churnlab.notebooks`).

# %%
import matplotlib.pyplot as plt
import pandas as pd

from churnlab.analytics import (
    cohort_retention,
    find_danger_zone,
    km_summary,
    logrank,
    monthly_retention,
    onboarding_table,
    plot_churn_rates,
    plot_cohort_heatmap,
    plot_danger_zone,
    plot_km,
    plot_nrr,
    plot_onboarding,
    survival_table,
)
from churnlab.analytics.survival_curves import GROUPINGS
from churnlab.data import load_dataset
from churnlab.features import observation_frame
from churnlab.notebooks import settings

# %matplotlib inline

s = settings()
ds = load_dataset(s.data)
s

# %% [markdown]
# ## Tables

# %%
summary = ds.summary()
pd.Series({k: v for k, v in summary.items() if k != "rows"})

# %%
pd.Series(summary["rows"], name="rows")

# %%
ds.con.to_pyarrow(ds["subscriptions"].limit(5)).to_pandas()

# %% [markdown]
# ## Churn, MRR churn, expansion and net revenue retention per month
# Over accounts paying at the start of each month; NRR above 100% means negative net churn.

# %%
monthly = monthly_retention(ds)
monthly.tail(6)

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4))
plot_churn_rates(monthly, ax=axes[0])
plot_nrr(monthly, ax=axes[1]);

# %% [markdown]
# ## Sign-up cohorts: accounts and revenue

# %%
accounts = cohort_retention(ds, "accounts")
revenue = cohort_retention(ds, "revenue")
plot_cohort_heatmap(accounts, title="Account retention (%)")
plot_cohort_heatmap(revenue, title="Revenue retention (%)");

# %% [markdown]
# ## Kaplan–Meier survival from sign-up, with log-rank tests

# %%
table = survival_table(ds)
groupings = [g for g in GROUPINGS if g in table]
pd.DataFrame([logrank(table, g) for g in groupings])

# %%
fig, axes = plt.subplots(2, 2, figsize=(14, 9))
for g, ax in zip(groupings, axes.flat, strict=False):
    plot_km(table, g, ax=ax)
fig.tight_layout()
km_summary(table, "plan")

# %% [markdown]
# ## The engagement danger zone
# Point-in-time observations: engagement at each cutoff and churn within the horizon after it.
# The threshold comes from a change-point fit of churn rate against engagement rank, with the
# bottom quartile as fallback (rule documented in `churnlab.analytics.danger_zone`).

# %%
frame = observation_frame(
    ds,
    s.cutoffs,
    s.horizon_days,
    ["active_days_30d", "events_30d", "logins_first_10d", "first_session_min", "tenure_days"],
)
zone = find_danger_zone(frame, "active_days_30d")
zone.summary()

# %%
plot_danger_zone(zone);

# %%
pd.DataFrame([find_danger_zone(frame, f).summary() for f in ("active_days_30d", "events_30d")])

# %% [markdown]
# ## Onboarding red flags
# Churn within the horizon for accounts up to 180 days old, by first-session length and by
# logins in the first 10 days.

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
for feature, ax in zip(("logins_first_10d", "first_session_min"), axes, strict=True):
    plot_onboarding(onboarding_table(frame, feature), ax=ax)
onboarding_table(frame, "logins_first_10d")
