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
# # 03 · Train and compare
# Train every spec in `experiments/` (re-pointed at this notebook's data and experiment: by
# default the `notebooks` experiment, so the demo's champion is untouched), read the MLflow
# leaderboard, promote the best as `champion`, and compare calibration.

# %%
import matplotlib.pyplot as plt
import pandas as pd

from churnlab.evaluation.plots import plot_calibration
from churnlab.notebooks import experiment_specs, settings
from churnlab.tracking import leaderboard, promote, run_table, train_and_log

# %matplotlib inline

s = settings()
specs = experiment_specs(s)
[(spec.name, spec.model.family) for spec in specs]

# %%
summaries = [train_and_log(spec) for spec in specs]
pd.DataFrame([{"run": x.run_id, "version": x.model_version, **x.to_dict()["test_metrics"]} for x in summaries])

# %% [markdown]
# ## The MLflow leaderboard

# %%
metric = specs[0].metric
board = leaderboard(s.experiment, metric)
board[["rank", "run_name", "family", "model_version", "pr_auc", "roc_auc", "ece", "lift_top10"]]

# %%
outcome = promote(s.experiment, s.model_name, metric)
outcome.message

# %% [markdown]
# ## Calibration on the test cutoff

# %%
fig, ax = plt.subplots(figsize=(6, 5))
for x in summaries:
    pred = run_table(x.run_id, "predictions/test.json")
    name = board.set_index("run_id").run_name.get(x.run_id, x.run_id[:8])
    plot_calibration(pred.y, pred.p, ax=ax, label=name)
ax.set_title("Calibration on the test cutoff");
