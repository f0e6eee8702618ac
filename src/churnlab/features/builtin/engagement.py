"""Engagement: activity volume, active users, event types, recency, sessions, trend and the danger zone."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary
from churnlab.features.builtin.common import (
    KEYS,
    WINDOWS,
    active_population,
    cutoff_dates,
    type_windows,
    with_tenure,
)
from churnlab.features.cube import account_windows, session_windows, user_windows
from churnlab.features.observations import days_between
from churnlab.features.registry import EACH_EVENT, Feature, feature_builder


@feature_builder(
    "activity_windows",
    driver="engagement",
    description="events and active days in the last 7/30/90 days",
    requires=("events",),
    features=[
        Feature(
            f"{what}_{w}d",
            f"{label} in the {w} days before the cutoff",
            "int",
            0,
            reason=reason,
            window=w,
        )
        for w in WINDOWS
        for what, label, reason in (
            ("events", "count of events", f"{{value:int}} event{{value:s}} in the last {w} days"),
            ("active_days", "days with any event", f"active on {{value:int}} of the last {w} days"),
        )
    ],
)
def activity_windows(ds: Dataset, keys: ir.Table) -> ir.Table:
    t = keys.select(*KEYS).join(account_windows(ds, keys), KEYS)
    return t.select(*KEYS, *(f"{what}_{w}d" for w in WINDOWS for what in ("events", "active_days")))


@feature_builder(
    "active_users",
    driver="engagement",
    description="distinct active users in the last 7/30/90 days",
    requires=("events.user_id",),
    features=[
        Feature(
            f"active_users_{w}d",
            f"distinct users active in the last {w} days",
            "int",
            0,
            reason=f"{{value:int}} active user{{value:s}} in the last {w} days",
            window=w,
        )
        for w in WINDOWS
    ],
)
def active_users(ds: Dataset, keys: ir.Table) -> ir.Table:
    u = user_windows(ds, keys)
    return u.select(*KEYS, **{f"active_users_{w}d": u[f"users_{w}d"] for w in WINDOWS})


@feature_builder(
    "recency",
    driver="engagement",
    description="days since the last event (capped at 365)",
    requires=("events",),
    features=[
        Feature(
            "days_since_last_activity",
            "days since the last event, 365 if none in a year",
            "float",
            365.0,
            reason=(
                "[value>=365 & tenure_days<365] no activity since sign-up",
                "[value>=365] no activity in the last year",
                "[value>=2] no activity for {value:days}",
                "last activity {value:days} ago",
            ),
        )
    ],
)
def recency(ds: Dataset, keys: ir.Table) -> ir.Table:
    tw = type_windows(ds, keys)  # the latest event of each type within the year
    g = tw.group_by(KEYS).agg(last_ts=tw.last_ts.max())
    return g.select(*KEYS, days_since_last_activity=days_between(g.cutoff, g.last_ts))


@feature_builder(
    "sessions",
    driver="engagement",
    description="sessions in the last 7/30/90 days and their lengths over the last 30 (session-start "
    "events where the mapping names them, else inactivity gaps)",
    requires=("events", EACH_EVENT),
    features=[
        *(
            Feature(
                f"sessions_{w}d",
                f"count of sessions in the {w} days before the cutoff",
                "int",
                0,
                reason=f"{{value:int}} session{{value:s}} in the last {w} days",
                window=w,
            )
            for w in WINDOWS
        ),
        Feature(
            "mean_session_min_30d",
            "mean session length (minutes), last 30 days",
            "float",
            reason="sessions lasted {value:minutes} on average in the last 30 days",
            if_missing="no sessions in the last 30 days",
        ),
        Feature(
            "max_session_min_30d",
            "longest session (minutes), last 30 days",
            "float",
            reason="longest session {value:minutes} in the last 30 days",
            if_missing="no sessions in the last 30 days",
        ),
        Feature(
            "total_session_hours_30d",
            "total session time (hours), last 30 days",
            "float",
            0.0,
            reason="{value:hours} of sessions in the last 30 days",
            window=30,
        ),
    ],
)
def session_stats(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    return session_windows(ds, keys, vocabulary)


@feature_builder(
    "activity_trend",
    driver="engagement",
    description="activity churn: last 30 days vs the prior 60, and the 12-week slope",
    requires=("events",),
    features=[
        Feature(
            "activity_ratio_30_60",
            "events in the last 30 days / half the events of the 60 before (+1 smoothing; null before 90 days of tenure)",
            "float",
            reason="activity {value:ratio} in the last 30 days vs the 60 before",
            window=90,
        ),
        Feature(
            "weekly_activity_slope_12w",
            "least-squares slope of weekly events over 12 weeks, relative to the weekly mean (null before 12 weeks of tenure)",
            "float",
            reason="weekly activity {value:trend} over the last 12 weeks",
            window=84,
        ),
    ],
)
def activity_trend(ds: Dataset, keys: ir.Table) -> ir.Table:
    a = account_windows(ds, keys)  # sums over the last 90 days (see account_windows_expr)
    sxx = sum((k - 5.5) ** 2 for k in range(12))
    g = a.select(
        *KEYS,
        ratio=(a._recent + 1) / (a._prior / 2 + 1),
        slope=(a._slope / sxx) / (a._in12 / 12 + 1),
    )
    t = with_tenure(ds, keys).left_join(g, KEYS)
    return t.select(
        *KEYS,
        activity_ratio_30_60=ibis.ifelse(
            t.tenure_days >= 90, t.ratio.fill_null(1.0), ibis.null("float64")
        ),
        weekly_activity_slope_12w=ibis.ifelse(
            t.tenure_days >= 84, t.slope.fill_null(0.0), ibis.null("float64")
        ),
    )


@feature_builder(
    "danger_zone",
    driver="engagement",
    description="30-day events relative to the cutoff's active population (bottom quartile = danger zone)",
    requires=("events",),
    features=[
        Feature(
            "engagement_percentile_30d",
            "percentile rank of 30-day events among accounts active at the cutoff",
            "float",
            reason="30-day activity in the {value:ordinal} percentile of active accounts",
            window=30,
        ),
        Feature(
            "in_danger_zone",
            "30-day events at or below the bottom quartile of accounts active at the cutoff",
            "bool",
            reason="[value==1] 30-day activity in the bottom quarter of active accounts",
            window=30,
        ),
    ],
)
def danger_zone(ds: Dataset, keys: ir.Table) -> ir.Table:
    pop = active_population(ds, cutoff_dates(keys))
    counts = account_windows(ds, keys).select(*KEYS, n="events_30d")
    pop = pop.left_join(counts, KEYS).select(*KEYS, n=lambda t: t.n.fill_null(0))
    by_cutoff = ibis.window(group_by="cutoff", order_by=["n", "account_id"])
    pop = pop.mutate(
        rank=ibis.row_number().over(by_cutoff),
        size=pop.count().over(ibis.window(group_by="cutoff")),
        pct=ibis.percent_rank().over(ibis.window(group_by="cutoff", order_by="n")),
    )
    # the lower quartile by rank, exact and identical on every engine
    q = pop.filter(pop.rank == ((pop.size - 1) * 0.25).floor().cast("int64")).select(
        "cutoff", q25="n"
    )
    pop = pop.join(q, "cutoff")
    flagged = pop.select(*KEYS, engagement_percentile_30d="pct", in_danger_zone=pop.n <= pop.q25)
    return keys.join(flagged, KEYS).select(*KEYS, "engagement_percentile_30d", "in_danger_zone")
