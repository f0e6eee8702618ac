"""Product quality: bug tickets and severe bugs."""

from __future__ import annotations

import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.features.builtin.common import KEYS, before
from churnlab.features.observations import days_between
from churnlab.features.registry import Feature, feature_builder


@feature_builder(
    "bug_tickets",
    driver="product_quality",
    description="bug tickets: recent, severe and still open at the cutoff",
    requires=("tickets.category", "tickets.resolved_at"),
    features=[
        Feature(
            "bug_tickets_90d",
            "bug tickets opened in the last 90 days",
            "int",
            0,
            reason="{value:int} bug ticket{value:s} in the last 90 days",
        ),
        Feature(
            "open_bug_tickets",
            "bug tickets open at the cutoff",
            "int",
            0,
            reason="{value:int} open bug ticket{value:s}",
        ),
        Feature(
            "bug_tickets_365d",
            "bug tickets opened in the last 365 days",
            "int",
            0,
            reason="{value:int} bug ticket{value:s} in the last year",
        ),
        Feature(
            "mean_bug_resolution_hours_90d",
            "mean hours to resolve bug tickets opened in the last 90 days (resolved before the cutoff)",
            "float",
            reason="bug tickets took {value:hours} on average to resolve (last 90 days)",
        ),
    ],
)
def bug_tickets(ds: Dataset, keys: ir.Table) -> ir.Table:
    tk = before(keys, ds["tickets"].filter(lambda t: t.category == "bug"), "created_at", 365)
    open_now = tk.resolved_at.isnull() | (tk.resolved_at >= tk.cutoff)
    return tk.group_by(KEYS).agg(
        bug_tickets_90d=tk.count(where=tk.age_days <= 90),
        open_bug_tickets=tk.count(where=open_now),
        bug_tickets_365d=tk.count(),
        mean_bug_resolution_hours_90d=(days_between(tk.resolved_at, tk.created_at) * 24).mean(
            where=tk.resolved_at.notnull() & (tk.resolved_at < tk.cutoff) & (tk.age_days <= 90)
        ),
    )


@feature_builder(
    "severe_bugs",
    driver="product_quality",
    description="high or critical bug tickets in the last 90 days",
    requires=("tickets.category", "tickets.severity"),
    features=[
        Feature(
            "severe_bug_tickets_90d",
            "high/critical bug tickets in the last 90 days",
            "int",
            0,
            reason="{value:int} high or critical bug ticket{value:s} in the last 90 days",
        )
    ],
)
def severe_bugs(ds: Dataset, keys: ir.Table) -> ir.Table:
    tk = before(keys, ds["tickets"], "created_at", 90)
    severe = (tk.category == "bug") & tk.severity.isin(("high", "critical"))
    return tk.group_by(KEYS).agg(severe_bug_tickets_90d=tk.count(where=severe))
