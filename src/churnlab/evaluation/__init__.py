"""Metrics and plots for churn scores."""

from churnlab.evaluation.metrics import (
    classification_metrics,
    expected_calibration_error,
    gains_table,
    oracle_risk,
    top_fraction,
)

__all__ = [
    "classification_metrics",
    "expected_calibration_error",
    "gains_table",
    "oracle_risk",
    "top_fraction",
]
