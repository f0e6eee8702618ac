"""Retention analytics (churn/MRR/NRR series, cohorts, Kaplan-Meier curves, the engagement danger
zone, onboarding red flags) and the HTML report. Tables come from functions; plots are separate
functions that take ``ax=None`` and return the axes."""

from churnlab.analytics.danger_zone import DangerZone, find_danger_zone, plot_danger_zone
from churnlab.analytics.onboarding import onboarding_table, plot_onboarding
from churnlab.analytics.retention import (
    cohort_retention,
    monthly_retention,
    mrr_snapshots,
    plot_churn_rates,
    plot_cohort_heatmap,
    plot_nrr,
)
from churnlab.analytics.survival_curves import (
    km_fitters,
    km_summary,
    logrank,
    plot_km,
    survival_table,
)

__all__ = [
    "DangerZone",
    "cohort_retention",
    "find_danger_zone",
    "km_fitters",
    "km_summary",
    "logrank",
    "monthly_retention",
    "mrr_snapshots",
    "onboarding_table",
    "plot_churn_rates",
    "plot_cohort_heatmap",
    "plot_danger_zone",
    "plot_km",
    "plot_nrr",
    "plot_onboarding",
    "survival_table",
]
