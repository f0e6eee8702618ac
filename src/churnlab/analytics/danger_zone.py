"""The engagement danger zone: the level of an engagement feature below which churn rises sharply.

The rule, on point-in-time observations (an engagement feature at each cutoff and whether the
account churned within the horizon after it):

1. Split the observations into up to ``bins`` quantile bins of the feature (ties kept together,
   so a count with many zeros gets one bin for its lowest values) and take the churn rate in each.
2. Change point: fit a two-segment curve to churn rate against engagement *rank* (the bins'
   cumulative share of observations, so a long-tailed count does not squash the low end): flat
   above a knee; below it a jump plus a linear rise (so both a step and a ramp fit), by weighted
   least squares (weights = observations), for every candidate knee at a bin edge in the lower
   half of the population. The knee with the smallest squared error whose lowest bin sits above
   the flat level is the threshold: observations at or below it are in the danger zone.
3. Fallback: when no knee fits (fewer than three bins, or no candidate rises), or the zone's churn
   rate is not at least ``ratio`` times the rate outside it, the threshold is the bottom quartile
   (25th percentile), the same rule as the ``in_danger_zone`` feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

DEFAULT_FEATURE = "active_days_30d"


@dataclass
class DangerZone:
    """The threshold found, how (``change_point`` or ``bottom_quartile``), and the curve."""

    feature: str
    threshold: float
    method: str
    share_in_zone: float
    churn_rate_in_zone: float
    churn_rate_outside: float
    healthy_rate: float
    curve: pd.DataFrame

    @property
    def lift(self) -> float:
        return (
            self.churn_rate_in_zone / self.churn_rate_outside if self.churn_rate_outside else np.nan
        )

    def summary(self) -> dict[str, float | str]:
        return {
            "feature": self.feature,
            "threshold": self.threshold,
            "method": self.method,
            "share_in_zone": self.share_in_zone,
            "churn_rate_in_zone": self.churn_rate_in_zone,
            "churn_rate_outside": self.churn_rate_outside,
            "lift": self.lift,
        }


def churn_rate_curve(frame: pd.DataFrame, feature: str, bins: int = 20) -> pd.DataFrame:
    """Churn rate within the horizon per quantile bin of ``feature`` (lowest first)."""
    if feature not in frame:
        raise ValueError(f"feature {feature!r} not in the frame: {list(frame.columns)}")
    d = frame[[feature, "churned_within_h"]].dropna()
    if d.empty:
        raise ValueError(f"no observations with a value of {feature!r}")
    x = d[feature].astype(float)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0]])
    # right-closed bins; the lowest edge is included so the minimum lands in bin 0
    which = np.clip(np.searchsorted(edges, x, side="left") - 1, 0, len(edges) - 2)
    which = np.where(x <= edges[0], 0, which)
    g = d.assign(_bin=which).groupby("_bin")
    curve = pd.DataFrame(
        {
            "lower": edges[:-1][g.size().index],
            "upper": edges[1:][g.size().index],
            "median_value": g[feature].median().to_numpy(),
            "observations": g.size().to_numpy(),
            "churn_rate": g.churned_within_h.mean().to_numpy(),
        }
    )
    curve["share"] = curve.observations / curve.observations.sum()
    curve["cum_share"] = curve.share.cumsum()
    curve["smoothed"] = curve.churn_rate.rolling(3, center=True, min_periods=1).mean()
    return curve


def _hinge_knee(curve: pd.DataFrame) -> int | None:
    """Index of the bin whose upper edge is the best hockey-stick knee, or None."""
    if len(curve) < 3:
        return None
    x = (curve.cum_share - curve.share / 2).to_numpy()
    y = curve.churn_rate.to_numpy(dtype=float)
    sw = np.sqrt(curve.observations.to_numpy(dtype=float))
    best, best_sse = None, np.inf
    for k in range(len(curve) - 1):
        if curve.cum_share.iloc[k] > 0.5:
            break
        inside = (np.arange(len(curve)) <= k).astype(float)
        below = inside * (curve.cum_share.iloc[k] - x)
        design = np.column_stack([np.ones_like(x), inside, below]) * sw[:, None]
        coef, *_ = np.linalg.lstsq(design, y * sw, rcond=None)
        sse = float(((design @ coef - y * sw) ** 2).sum())
        lowest_gap = coef[1] + coef[2] * (curve.cum_share.iloc[k] - x[0])
        if lowest_gap > 0 and sse < best_sse:
            best, best_sse = k, sse
    return best


def find_danger_zone(
    frame: pd.DataFrame,
    feature: str = DEFAULT_FEATURE,
    bins: int = 20,
    ratio: float = 1.5,
) -> DangerZone:
    """Apply the module's rule to point-in-time observations (``feature``, ``churned_within_h``)."""
    curve = churn_rate_curve(frame, feature, bins)
    d = frame[[feature, "churned_within_h"]].dropna()
    x, churned = d[feature].astype(float), d.churned_within_h.astype(bool)

    def rates(threshold: float) -> tuple[pd.Series, float, float]:
        inside = x <= threshold
        rin = float(churned[inside].mean()) if inside.any() else np.nan
        rout = float(churned[~inside].mean()) if (~inside).any() else np.nan
        return inside, rin, rout

    knee = _hinge_knee(curve)
    method = "change_point"
    if knee is not None:
        threshold = float(curve.upper.iloc[knee])
        inside, rin, rout = rates(threshold)
    if knee is None or not (rin >= ratio * rout):
        method = "bottom_quartile"
        threshold = float(x.quantile(0.25))
        inside, rin, rout = rates(threshold)
    healthy = (
        float(curve.churn_rate[curve.lower >= threshold].mean())
        if (curve.lower >= threshold).any()
        else rout
    )
    return DangerZone(
        feature=feature,
        threshold=threshold,
        method=method,
        share_in_zone=float(inside.mean()),
        churn_rate_in_zone=rin,
        churn_rate_outside=rout,
        healthy_rate=healthy,
        curve=curve,
    )


def plot_danger_zone(zone: DangerZone, ax=None):
    """Churn rate vs. engagement (per quantile bin), the danger zone shaded."""
    ax = ax if ax is not None else plt.subplots(figsize=(7, 4.5))[1]
    c = zone.curve
    ax.plot(
        c.median_value, c.churn_rate * 100, "o", color="tab:grey", ms=4, label="churn rate per bin"
    )
    ax.plot(c.median_value, c.smoothed * 100, "-", color="tab:blue", label="smoothed")
    ax.axhline(
        zone.healthy_rate * 100, color="tab:green", ls=":", label="mean churn above the zone"
    )
    lo = min(float(c.median_value.min()), zone.threshold)
    ax.axvspan(lo, zone.threshold, color="tab:red", alpha=0.15)
    ax.axvline(
        zone.threshold,
        color="tab:red",
        ls="--",
        label=f"danger zone: <= {zone.threshold:g} ({zone.method.replace('_', ' ')})",
    )
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_xlabel(zone.feature)
    ax.set_ylabel("churn rate within the horizon")
    ax.set_title(
        f"Danger zone: {zone.share_in_zone:.0%} of observations, churn "
        f"{zone.churn_rate_in_zone:.1%} vs {zone.churn_rate_outside:.1%} outside"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
