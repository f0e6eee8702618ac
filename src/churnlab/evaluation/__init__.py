"""Metrics and plots for churn scores."""

from churnlab.evaluation.metrics import (
    bootstrap_se,
    classification_metrics,
    expected_calibration_error,
    expected_metrics,
    gains_table,
    oracle_risk,
    top_fraction,
)
from churnlab.evaluation.profit import CampaignParams, best_k, plot_profit_curve, profit_curve

__all__ = [
    "CampaignParams",
    "best_k",
    "bootstrap_se",
    "classification_metrics",
    "expected_calibration_error",
    "expected_metrics",
    "gains_table",
    "oracle_risk",
    "plot_profit_curve",
    "profit_curve",
    "top_fraction",
]
