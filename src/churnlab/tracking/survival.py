"""The survival families' extra MLflow artifacts: predicted vs Kaplan-Meier survival by risk
decile on the test cutoff (plot and table), survival curves of sample customers and, for Cox,
the hazard-ratio plot and coefficient table. Called from ``runs.log_result`` inside the run."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from churnlab.evaluation.survival import decile_table, plot_sample_curves, plot_survival_by_decile
from churnlab.tracking.artifacts import log_figure
from churnlab.training import TrainResult

CURVE_DAYS = 180
SAMPLE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.9, 0.99)


def log_survival_artifacts(result: TrainResult) -> None:
    est, data, test = result.estimator, result.data, result.predictions["test"]
    X = data.frame.loc[result.split.masks["test"], data.features]
    times = np.arange(0, CURVE_DAYS + 1, dtype=float)
    surv = est.predict_survival(X, times)
    risk = 1 - est.predict_survival(X, [result.spec.horizon_days])[:, 0]
    limit = float(test.duration_days.max())
    shown = times <= limit  # Kaplan-Meier says nothing past the test follow-up
    table = decile_table(
        test.duration_days.to_numpy(), test.event.to_numpy(), risk, surv[:, shown], times[shown]
    )
    mlflow.log_table(table, "survival/deciles.json")
    log_figure(
        plot_survival_by_decile(table, label=result.spec.name), "plots/survival_by_decile.png"
    )
    order = np.argsort(risk, kind="stable")
    picks = order[[min(int(q * len(order)), len(order) - 1) for q in SAMPLE_QUANTILES]]
    labels = [
        f"account {test.account_id.iloc[i]} (risk {q:.0%} quantile)"
        for i, q in zip(picks, SAMPLE_QUANTILES, strict=True)
    ]
    log_figure(plot_sample_curves(surv[picks], times, labels), "plots/survival_samples.png")
    mlflow.log_table(
        pd.DataFrame(surv[picks], columns=[f"day_{int(t)}" for t in times]).assign(
            account_id=test.account_id.iloc[picks].to_numpy()
        ),
        "survival/sample_curves.json",
    )
    if hasattr(est, "plot_hazard_ratios"):
        log_figure(est.plot_hazard_ratios(), "plots/cox_hazard_ratios.png")
        mlflow.log_table(est.summary.reset_index(), "cox/summary.json")
