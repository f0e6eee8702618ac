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
# # 05 · Score and act
# Score every active account with the champion at the latest cutoff, read risk tiers against
# drivers, add up revenue at risk, and size a retention campaign with the profit curve.

# %%
import pandas as pd

from churnlab.data import load_dataset
from churnlab.evaluation.profit import CampaignParams, best_k, plot_profit_curve, profit_curve
from churnlab.notebooks import settings
from churnlab.scoring import build_scoring_features, load_model

# %matplotlib inline

s = settings()
ds = load_dataset(s.data)
uri = f"models:/churn-{s.experiment}@champion"
champion = load_model(uri)  # the batch scoring job's loader: registry alias -> version
# the latest month start before the end of observation
cutoff = (ds.observed_until - pd.Timedelta(days=1)).to_period("M").to_timestamp()
frame = build_scoring_features(champion.model, s.data, as_of=cutoff)
scores = champion.predict(frame)
print(f"scored {len(scores):,} accounts at {cutoff.date()} with {uri}")
scores.head()

# %% [markdown]
# ## Risk tiers x drivers
# Accounts per risk tier by the driver of their top reason.

# %%
pd.crosstab(scores.risk_tier, scores.driver_1.fillna("none"), margins=True)

# %% [markdown]
# ## Revenue at risk

# %%
by_tier = scores.groupby("risk_tier").agg(
    accounts=("account_id", "size"),
    mean_p_churn=("p_churn", "mean"),
    revenue_at_risk=("revenue_at_risk", "sum"),
)
by_tier["share_of_revenue_at_risk"] = by_tier.revenue_at_risk / by_tier.revenue_at_risk.sum()
by_tier

# %% [markdown]
# ## Who to contact: the profit curve
# Expected profit of contacting the top-k by risk vs. by expected loss (the outcome is unknown
# yet, so profit is counted on the predicted probabilities).

# %%
campaign = CampaignParams(offer_cost=50, acceptance_rate=0.3, value_months=12, contact_cost=1)
curve = profit_curve(scores.p_churn, frame.mrr, campaign)
plot_profit_curve(curve, title=f"Expected campaign profit at {cutoff.date()}")
pd.DataFrame(best_k(scores.p_churn, frame.mrr, campaign)).T
