"""Evaluation plots. Each takes ``ax=None`` and returns the axes (lifelines style)."""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

from churnlab.evaluation.metrics import gains_table


def _ax(ax):
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

    return ax if ax is not None else plt.subplots(figsize=(5.5, 4.5))[1]


def plot_roc(y, p, ax=None, label="model"):
    ax = _ax(ax)
    RocCurveDisplay.from_predictions(y, p, ax=ax, name=label, plot_chance_level=True)
    ax.set_title("ROC curve")
    return ax


def plot_precision_recall(y, p, ax=None, label="model"):
    ax = _ax(ax)
    PrecisionRecallDisplay.from_predictions(y, p, ax=ax, name=label, plot_chance_level=True)
    ax.set_title("Precision-recall curve")
    return ax


def plot_calibration(y, p, ax=None, label="model", bins: int = 10):
    ax = _ax(ax)
    CalibrationDisplay.from_predictions(y, p, n_bins=bins, strategy="quantile", ax=ax, name=label)
    hi = max(float(np.quantile(p, 0.99)), float(np.mean(y)) * 2, 0.05)
    ax.set_xlim(0, min(1, hi * 1.1))
    ax.set_ylim(0, min(1, hi * 1.1))
    ax.set_title("Calibration (quantile bins)")
    return ax


def plot_gains(y, p, ax=None, label="model"):
    ax = _ax(ax)
    g = gains_table(y, p)
    ax.plot(g.share_contacted, g.captured, label=f"{label} (gains)")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="random")
    ax.set_xlabel("share of customers contacted (highest risk first)")
    ax.set_ylabel("share of churners captured")
    twin = ax.twinx()
    twin.plot(g.share_contacted, g.lift, color="tab:orange", alpha=0.6, label="lift (right axis)")
    twin.set_ylabel("lift")
    # one legend for the lines of both axes (the lift line lives on the twin)
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="lower right")
    ax.set_title("Cumulative gains and lift")
    return ax


EVALUATION_PLOTS = {
    "roc": plot_roc,
    "precision_recall": plot_precision_recall,
    "calibration": plot_calibration,
    "gains_lift": plot_gains,
}
