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
# # 06 · Whom to contact
# A churn score says who will leave, not whom an offer keeps. Train the uplift spec
# (`experiments/uplift.yaml`, re-pointed at this notebook's data; its runs go to the experiment
# `<experiment>-uplift`) on the rows of the randomized retention campaigns, check its ranking
# on the test cutoff (Qini curve, uplift by decile), then compare contact policies by the net
# profit they realize: by churn risk and expected loss (the champion of notebook 03), by
# estimated uplift and expected incremental profit, at random and, on simulated data, by the
# oracle (the true uplift).

# %%
import pandas as pd

from churnlab.analytics.contact import contact_policies
from churnlab.evaluation import (
    plot_policy_curves,
    plot_qini,
    plot_uplift_by_decile,
    uplift_by_decile,
)
from churnlab.notebooks import settings, uplift_spec
from churnlab.tracking import champion_version, connect, train_and_log

# %matplotlib inline

s = settings()
spec = uplift_spec(s)
run = train_and_log(spec)
pd.DataFrame(run.to_dict()["split"]).T

# %% [markdown]
# Only randomized rows (an account contacted in the week before a cutoff, treated or held out
# as control) take part, so there are far fewer rows than for the churn models. The test
# metrics: `qini` beside `oracle_qini` (the same rows ranked by the true uplift), and on
# simulated data the correlation of the estimate with the true uplift.

# %%
pd.Series(run.to_dict()["test_metrics"]).round(4)

# %% [markdown]
# ## Ranking on the test cutoff

# %%
champion = champion_version(connect(), s.model_name)  # the churn champion of notebook 03
cmp = contact_policies(run.run_id, champion.run_id if champion else None, budget_share=0.2)
rows = cmp.rows
truth = rows.oracle_uplift if "oracle_uplift" in rows else None
plot_qini(rows.y, rows.treated, rows.uplift, true_uplift=truth, label=spec.model.family);

# %%
deciles = uplift_by_decile(rows.y, rows.treated, rows.uplift, true_uplift=truth)
plot_uplift_by_decile(deciles, title="Uplift by decile of the estimate");

# %% [markdown]
# ## Contact policies
# Each policy contacts the top share of the test rows by its score. Realized value is never
# the policy's own estimate: on simulated data it is the true uplift x MRR, on real campaigns
# the inverse-propensity estimate from the randomized outcomes. Net profit =
# retained MRR x value months - contacts x (contact + offer cost).

# %%
p = cmp.params
print(
    f"campaign: value {p.value_months:g} months of MRR, contact cost {p.contact_cost:g}, "
    f"offer cost {p.offer_cost:g}; valued with the {cmp.valued_with}; "
    f"budget: at most {cmp.max_contacts} of {len(rows)} test rows"
)
for note in cmp.notes:
    print("note:", note)
plot_policy_curves(cmp.curves, title="Net profit by share contacted (test cutoff)");

# %% [markdown]
# The best contact list of each policy within the budget. A policy whose best is 0 contacts
# loses money on every list it can build here: its honest advice is to contact nobody.

# %%
print("\n".join(cmp.summary()))
cmp.best
