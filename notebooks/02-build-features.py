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
# # 02 · Build features
# Observations (one row per account and cutoff with labels), the feature catalogue, how much each
# feature alone separates churners (univariate lift, rolled up by driver), and the leakage check.

# %%
import pandas as pd

from churnlab.analytics.lift import driver_lift, univariate_lift
from churnlab.data import load_dataset
from churnlab.features import build_observations, catalogue, parse_cutoffs
from churnlab.features.leakage import leakage_check
from churnlab.notebooks import experiment_specs, settings
from churnlab.training.data import load_training_data

# %matplotlib inline

s = settings()
ds = load_dataset(s.data)

# %% [markdown]
# ## Observations

# %%
obs = ds.con.to_pyarrow(build_observations(ds, s.cutoffs, s.horizon_days)).to_pandas()
per_cutoff = obs.groupby("cutoff").agg(
    accounts=("account_id", "size"),
    label_complete=("label_complete", "mean"),
    churn_rate=("churned_within_h", "mean"),
    mean_mrr=("mrr", "mean"),
)
per_cutoff

# %% [markdown]
# ## Feature catalogue

# %%
cat = pd.DataFrame(catalogue())
print(f"{len(cat)} features")
cat.groupby("driver").size().rename("features")

# %%
cat.head(15)

# %% [markdown]
# ## Univariate lift per driver
# Each feature alone: ROC-AUC in its risky direction and the churn-rate lift in its riskiest 10%
# (on observations with a complete label window).

# %%
data = load_training_data(experiment_specs(s)[0])
complete = data.frame[data.frame.label_complete.astype(bool)]
lift = univariate_lift(complete, data.features, data.drivers)
driver_lift(lift)

# %%
lift.head(15)

# %% [markdown]
# ## Leakage check
# Features at a cutoff must not change when everything from the cutoff on is removed from the
# data. Every feature should show 0 mismatches.

# %%
middle = parse_cutoffs(s.cutoffs)[len(parse_cutoffs(s.cutoffs)) // 2]
leaks = leakage_check(ds, middle, s.horizon_days)
print(f"cutoff {middle.date()}: {len(leaks)} features, {int(leaks.mismatches.sum())} mismatching values")
assert leaks.mismatches.sum() == 0, leaks[leaks.mismatches > 0]
leaks.head()
