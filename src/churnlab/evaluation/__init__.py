"""Metrics and plots for churn scores, uplift scores and contact policies."""

from churnlab.evaluation.metrics import (
    bootstrap_se,
    classification_metrics,
    expected_calibration_error,
    expected_metrics,
    gains_table,
    oracle_risk,
    top_fraction,
)
from churnlab.evaluation.policy import (
    best_k_under_budget,
    expected_incremental_profit,
    ipw_uplift,
    plot_policy_curves,
    policy_curves,
    policy_scores,
)
from churnlab.evaluation.profit import CampaignParams, best_k, plot_profit_curve, profit_curve
from churnlab.evaluation.uplift import (
    auuc,
    plot_qini,
    plot_uplift_by_decile,
    policy_value_vs_oracle,
    qini_coefficient,
    qini_curve,
    true_uplift_corr,
    uplift_at_k,
    uplift_by_decile,
    uplift_metrics,
)

__all__ = [
    "CampaignParams",
    "auuc",
    "best_k",
    "best_k_under_budget",
    "bootstrap_se",
    "classification_metrics",
    "expected_calibration_error",
    "expected_incremental_profit",
    "expected_metrics",
    "gains_table",
    "ipw_uplift",
    "oracle_risk",
    "plot_policy_curves",
    "plot_profit_curve",
    "plot_qini",
    "plot_uplift_by_decile",
    "policy_curves",
    "policy_scores",
    "policy_value_vs_oracle",
    "profit_curve",
    "qini_coefficient",
    "qini_curve",
    "top_fraction",
    "true_uplift_corr",
    "uplift_at_k",
    "uplift_by_decile",
    "uplift_metrics",
]
