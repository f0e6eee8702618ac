"""Onboarding red flags: churn rate by first-session length and by logins in the first 10 days.

Computed on point-in-time observations (the onboarding features at each cutoff and churn within
the horizon after it), by default only for young accounts (tenure up to ``max_tenure_days``),
where onboarding still matters. A chi-square test says whether churn differs across the bins.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter
from scipy.stats import chi2_contingency

ONBOARDING_BINS: dict[str, list[float]] = {
    "logins_first_10d": [-np.inf, 0, 1, 2, 4, 9, np.inf],
    "first_session_min": [-np.inf, 2, 5, 10, 20, 40, np.inf],
}
ONBOARDING_LABELS: dict[str, list[str]] = {
    "logins_first_10d": ["0", "1", "2", "3-4", "5-9", "10+"],
    "first_session_min": ["<= 2 min", "2-5", "5-10", "10-20", "20-40", "> 40 min"],
}


def onboarding_table(
    frame: pd.DataFrame, feature: str, max_tenure_days: float | None = 180
) -> pd.DataFrame:
    """Observations, churned and churn rate per bin of an onboarding feature (missing = its own
    bin: e.g. no first session at all); ``chi2_p`` repeated on every row."""
    if feature not in ONBOARDING_BINS:
        raise ValueError(
            f"no onboarding bins for {feature!r}; expected one of {list(ONBOARDING_BINS)}"
        )
    if feature not in frame:
        raise ValueError(f"feature {feature!r} not in the frame: {list(frame.columns)}")
    d = frame
    if max_tenure_days is not None:
        if "tenure_days" not in frame:
            raise ValueError("max_tenure_days needs the tenure_days feature in the frame")
        d = frame[frame.tenure_days <= max_tenure_days]
    labels = ONBOARDING_LABELS[feature]
    bucket = pd.cut(d[feature].astype(float), ONBOARDING_BINS[feature], labels=labels)
    bucket = bucket.cat.add_categories("none").fillna("none")
    g = d.groupby(bucket, observed=False).churned_within_h
    table = pd.DataFrame({"observations": g.size(), "churned": g.sum().astype(int)})
    table = table[table.observations > 0]
    table["churn_rate"] = table.churned / table.observations
    counts = np.column_stack([table.churned, table.observations - table.churned])
    table["chi2_p"] = (
        float(chi2_contingency(counts)[1])
        if len(table) > 1 and counts.sum(axis=0).all()  # a zero column has no expected counts
        else np.nan
    )
    table.index.name = feature
    return table.reset_index()


def plot_onboarding(table: pd.DataFrame, ax=None):
    """Churn rate per onboarding bin as bars, with the number of observations on each bar."""
    ax = ax if ax is not None else plt.subplots(figsize=(6, 4))[1]
    feature = table.columns[0]
    rate = table.churn_rate * 100
    bars = ax.bar(table[feature].astype(str), rate, color="tab:purple")
    for bar, n in zip(bars, table.observations, strict=True):
        ax.annotate(
            f"n={n:,}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_ylim(0, float(rate.max()) * 1.2 + 1)
    p = float(table.chi2_p.iloc[0])
    ptxt = "< 1e-4" if p < 1e-4 else f"= {p:.3g}"
    ax.set_xlabel(feature.replace("_", " "))
    ax.set_ylabel("churn rate within the horizon")
    ax.set_title(f"Churn by {feature.replace('_', ' ')} (chi-square p {ptxt})")
    return ax
