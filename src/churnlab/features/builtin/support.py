"""Support: tickets, resolution time and customer-success contact."""

from __future__ import annotations

import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary
from churnlab.features.builtin.common import KEYS, before
from churnlab.features.cube import activity_cube, by_cutoff, for_keys
from churnlab.features.observations import days_between
from churnlab.features.registry import Feature, feature_builder


@feature_builder(
    "support_tickets",
    driver="support",
    description="support tickets by category in the last 90 days",
    requires=("tickets.category",),
    features=[
        Feature(
            "tickets_90d",
            "tickets of any category in the last 90 days",
            "int",
            0,
            reason="{value:int} support ticket{value:s} in the last 90 days",
        ),
        *(
            Feature(
                f"{c}_tickets_90d",
                f"'{c}' tickets in the last 90 days",
                "int",
                0,
                reason=f"{{value:int}} {c.replace('_', '-')} ticket{{value:s}} in the last 90 days",
            )
            for c in ("usability", "how_to", "billing")
        ),
    ],
)
def support_tickets(ds: Dataset, keys: ir.Table) -> ir.Table:
    tk = before(keys, ds["tickets"], "created_at", 90)
    return tk.group_by(KEYS).agg(
        tickets_90d=tk.count(),
        **{
            f"{c}_tickets_90d": tk.count(where=tk.category == c)
            for c in ("usability", "how_to", "billing")
        },
    )


@feature_builder(
    "resolution_time",
    driver="support",
    description="time to resolution of tickets resolved before the cutoff and tickets open at it",
    requires=("tickets.resolved_at",),
    features=[
        Feature(
            "mean_resolution_hours_90d",
            "mean hours to resolve tickets opened in the last 90 days and resolved before the cutoff",
            "float",
            reason="tickets took {value:hours} on average to resolve (last 90 days)",
        ),
        Feature(
            "open_tickets",
            "tickets of any category open at the cutoff",
            "int",
            0,
            reason="{value:int} open support ticket{value:s}",
        ),
    ],
)
def resolution_time(ds: Dataset, keys: ir.Table) -> ir.Table:
    tk = before(keys, ds["tickets"], "created_at", 365)
    resolved = tk.resolved_at.notnull() & (tk.resolved_at < tk.cutoff)
    hours = days_between(tk.resolved_at, tk.created_at) * 24
    return tk.group_by(KEYS).agg(
        mean_resolution_hours_90d=hours.mean(where=resolved & (tk.age_days <= 90)),
        open_tickets=tk.count(where=~resolved),
    )


@feature_builder(
    "customer_success",
    driver="support",
    description="proactive customer-success contacts (the contact role) in the last 90 days",
    requires=("events",),
    roles=("contact",),
    features=[
        Feature(
            "csm_calls_90d",
            "count of contact-role events in the 90 days before the cutoff",
            "int",
            0,
            reason="{value:int} customer-success contact{value:s} in the last 90 days",
            window=90,
        )
    ],
)
def customer_success(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    contact = vocabulary.role("contact")
    c = activity_cube(ds)
    c = by_cutoff(c.filter(c.event_type.isin(contact)), keys, 90)
    return for_keys(c.group_by(KEYS).agg(csm_calls_90d=c.n_events.sum()), keys)
