"""Reason codes: the top features pushing each customer's risk up, as plain text.

A template turns a feature value into a sentence ("active seats fell 60% in 8 weeks"); features
without one read "<description>: <value>". The driver is appended: "... (team)".
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 or float(v).is_integer() else f"{v:.2g}"


def _pct(v: float) -> str:
    return f"{abs(v) * 100:.0f}%"


REASON_TEMPLATES: dict[str, Callable[[float], str]] = {
    "active_seat_share_trend": lambda v: (
        f"active seat share fell {_pct(v)} points in 8 weeks"
        if v < 0
        else f"active seat share changed {v * 100:+.0f} points in 8 weeks"
    ),
    "active_users_change_8w": lambda v: f"active users changed {v:+.0f} in 8 weeks",
    "active_seat_share_2w": lambda v: f"only {_pct(v)} of seats active in the last 2 weeks",
    "activity_ratio_30_60": lambda v: f"activity in the last 30 days is {v:.2f}x the usual level",
    "weekly_activity_slope_12w": lambda v: f"weekly activity trending {v * 100:+.0f}% per week",
    "days_since_last_activity": lambda v: f"no activity for {_num(v)} days",
    "in_danger_zone": lambda v: (
        "engagement in the bottom quartile of active accounts"
        if v
        else "engagement above the bottom quartile"
    ),
    "engagement_percentile_30d": lambda v: f"engagement at the {v * 100:.0f}th percentile",
    "events_30d": lambda v: f"{_num(v)} events in the last 30 days",
    "sessions_30d": lambda v: f"{_num(v)} sessions in the last 30 days",
    "active_days_30d": lambda v: f"active on {_num(v)} of the last 30 days",
    "logins_first_10d": lambda v: f"{_num(v)} logins in the first 10 days",
    "first_session_min": lambda v: f"first session lasted {_num(v)} minutes",
    "time_on_task_ratio_90d": lambda v: f"tasks take {v:.1f}x as long as for typical customers",
    "open_bug_tickets": lambda v: f"{_num(v)} open bug tickets",
    "bug_tickets_90d": lambda v: f"{_num(v)} bug tickets in 90 days",
    "severe_bug_tickets_90d": lambda v: f"{_num(v)} severe bug tickets in 90 days",
    "last_nps": lambda v: f"last NPS answer {_num(v)}",
    "nps_change": lambda v: f"NPS changed {v:+.0f}",
    "is_detractor": lambda v: "NPS detractor" if v else "not an NPS detractor",
    "failed_payments_90d": lambda v: f"{_num(v)} failed payments in 90 days",
    "days_to_renewal": lambda v: f"renewal in {_num(v)} days",
    "downgrades_365d": lambda v: f"{_num(v)} downgrades in the last year",
    "tenure_days": lambda v: f"customer for {_num(v)} days",
    "csm_calls_90d": lambda v: f"{_num(v)} customer-success calls in 90 days",
}


def reason_text(feature: str, value, description: str | None, driver: str | None) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA
    if missing:
        body = f"{description or feature}: unknown"
    elif feature in REASON_TEMPLATES and isinstance(value, int | float | np.number | bool):
        body = REASON_TEMPLATES[feature](float(value))
    elif isinstance(value, int | float | np.number) and not isinstance(value, bool):
        body = f"{description or feature}: {_num(float(value))}"
    else:
        body = f"{description or feature}: {value}"
    return f"{body} ({driver})" if driver else body


def top_reasons(
    values: pd.DataFrame,
    data: pd.DataFrame,
    descriptions: dict[str, str],
    drivers: dict[str, str],
    k: int = 3,
) -> pd.DataFrame:
    """Per row, the ``k`` features with the largest positive contribution (risk-raising):
    ``reason_i`` (text), ``feature_i``, ``driver_i``, ``contribution_i``; empty when fewer
    than ``k`` features raise the risk."""
    names = np.asarray(values.columns)
    v = values.to_numpy(dtype=float)
    order = np.argsort(-v, axis=1, kind="stable")[:, :k]
    out: dict[str, list] = {}
    for i in range(k):
        idx = order[:, i] if order.shape[1] > i else np.zeros(len(v), dtype=int)
        contrib = v[np.arange(len(v)), idx] if order.shape[1] > i else np.zeros(len(v))
        positive = contrib > 0
        feats = names[idx]
        cols = {f: data[f].to_numpy(dtype=object) for f in np.unique(feats)}
        raw = [cols[f][r] for r, f in enumerate(feats)]
        out[f"reason_{i + 1}"] = [
            reason_text(f, x, descriptions.get(f), drivers.get(f)) if ok else None
            for f, x, ok in zip(feats, raw, positive, strict=True)
        ]
        out[f"feature_{i + 1}"] = [f if ok else None for f, ok in zip(feats, positive, strict=True)]
        out[f"driver_{i + 1}"] = [
            drivers.get(f, "other") if ok else None for f, ok in zip(feats, positive, strict=True)
        ]
        out[f"contribution_{i + 1}"] = np.where(positive, contrib, np.nan)
    return pd.DataFrame(out, index=values.index)
