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
# # 04 · Explain
# SHAP for the champion (trained in notebook 03): global importance, the roll-up by driver, and
# individual customers with their reasons.

# %%
import pandas as pd

from churnlab.analytics.report import resolve_run
from churnlab.explain import (
    explain,
    global_importance,
    plot_beeswarm,
    plot_dependence,
    plot_drivers,
    top_reasons,
)
from churnlab.notebooks import settings
from churnlab.scoring import build_scoring_features, load_model
from churnlab.tracking import run_table

# %matplotlib inline

s = settings()
run = resolve_run(experiment=s.experiment)
model = load_model(f"models:/churn-{s.experiment}@champion").model
run

# %% [markdown]
# ## SHAP on the test cutoff, recomputed from the registered model

# %%
test_cutoff = run_table(run.run_id, "predictions/test.json").cutoff.max()
frame = build_scoring_features(model, s.data, as_of=test_cutoff)
expl = explain(model.estimator, frame[model.features])
per_feature, per_driver = global_importance(expl, model.drivers)
per_feature.head(10)

# %%
plot_beeswarm(expl, max_display=15);

# %% [markdown]
# ## Driver roll-up

# %%
plot_drivers(per_driver)
per_driver

# %%
plot_dependence(expl, per_feature.feature.iloc[0]);

# %% [markdown]
# ## Individual customers
# The three riskiest customers at the test cutoff, their top reasons, and the full attribution
# of the riskiest one.

# %%
p = pd.Series(model.estimator.predict_risk(frame[model.features]), index=frame.index)
riskiest = p.nlargest(3).index
reasons = top_reasons(expl.values.loc[riskiest], expl.data.loc[riskiest], model.reasons, model.drivers, settings=model.reason_settings)
pd.concat([frame.loc[riskiest, ["account_id", "mrr"]], p[riskiest].rename("p_churn"), reasons], axis=1)

# %%
one = riskiest[0]
pd.DataFrame(
    {"value": expl.data.loc[one], "shap": expl.values.loc[one], "driver": pd.Series(model.drivers)}
).sort_values("shap", key=abs, ascending=False).head(12)
