"""Billing: plan, MRR change, billing period, plan changes and failed payments."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary, in_force
from churnlab.features.builtin.common import KEYS, before
from churnlab.features.cube import activity_cube, by_cutoff, for_keys, only
from churnlab.features.observations import days_between
from churnlab.features.registry import Feature, feature_builder


def _subscription_at(ds: Dataset, keys: ir.Table, shift_days: int = 0) -> ir.Table:
    """The main subscription in force just before ``cutoff - shift_days`` for each key, with
    ``mrr`` the total MRR in force then (:func:`churnlab.data.in_force`: a plan and its
    add-ons; one dated at the cutoff's instant is not seen)."""
    j = keys.join(ds["subscriptions"], "account_id")
    at = j.cutoff - ibis.interval(days=shift_days) if shift_days else j.cutoff
    return in_force(j, at, KEYS, before=True)


@feature_builder(
    "plan",
    driver="billing",
    description="current plan, MRR and its 90-day change",
    requires=("subscriptions",),
    features=[
        Feature("plan", "plan at the cutoff", "category", reason="plan {value:text}", context=True),
        Feature(
            "current_mrr", "MRR at the cutoff", "float", reason="MRR {value:money}", context=True
        ),
        Feature(
            "mrr_change_90d",
            "MRR now minus MRR 90 days earlier (null if not subscribed then)",
            "float",
            reason="MRR {value:change} in the last 90 days",
        ),
        Feature(
            "days_on_plan",
            "days since the current subscription started",
            "float",
            reason="on the current plan for {value:age}",
            context=True,
        ),
    ],
)
def plan(ds: Dataset, keys: ir.Table) -> ir.Table:
    now = _subscription_at(ds, keys)
    # a billing export without plan names: the plan column is all null (left out at training)
    name = now.plan.cast("string") if "plan" in now.columns else ibis.null("string")
    now = now.select(*KEYS, "mrr", "started_at", plan=name)
    then = _subscription_at(ds, keys, 90).select(*KEYS, mrr_then="mrr")
    t = now.left_join(then, KEYS).select(*KEYS, "plan", "mrr", "started_at", "mrr_then")
    return t.select(
        *KEYS,
        plan=t.plan,
        current_mrr=t.mrr.cast("float64"),
        mrr_change_90d=(t.mrr - t.mrr_then).cast("float64"),
        days_on_plan=days_between(t.cutoff, t.started_at),
    )


@feature_builder(
    "billing_period",
    driver="billing",
    description="billing period and days to the next renewal",
    requires=("subscriptions.billing_period",),
    features=[
        Feature(
            "billing_period",
            "monthly, quarterly or annual",
            "category",
            reason="billed {value:text}",
            context=True,
        ),
        Feature(
            "days_to_renewal",
            "days to the next renewal (annual: contract anniversary; monthly, quarterly: next "
            "charge; null for another period)",
            "float",
            reason="renewal in {value:days}",
            context=True,
        ),
    ],
)
def billing_period(ds: Dataset, keys: ir.Table) -> ir.Table:
    now = _subscription_at(ds, keys)
    # an average month, quarter and year; another period (or none) has no renewal date here
    period = ibis.cases(
        (now.billing_period == "annual", 365.0),
        (now.billing_period == "quarterly", 91.31),
        (now.billing_period == "monthly", 30.44),
        else_=ibis.null("float64"),
    )
    elapsed = days_between(now.cutoff, now.started_at)
    return now.select(
        *KEYS,
        billing_period=now.billing_period.cast("string"),
        days_to_renewal=period - elapsed % period,
    )


@feature_builder(
    "plan_changes",
    driver="billing",
    description="downgrades and upgrades in the last 365 days",
    requires=("subscriptions.end_reason",),
    features=[
        Feature(
            "downgrades_365d",
            "downgrades in the last 365 days",
            "int",
            0,
            reason="{value:int} downgrade{value:s} in the last year",
        ),
        Feature(
            "upgrades_365d",
            "upgrades in the last 365 days",
            "int",
            0,
            reason="{value:int} upgrade{value:s} in the last year",
        ),
    ],
)
def plan_changes(ds: Dataset, keys: ir.Table) -> ir.Table:
    s = before(keys, ds["subscriptions"].filter(lambda t: t.ended_at.notnull()), "ended_at", 365)
    # as exports write them: Upgrade, upgraded, plan_downgrade, "Downgrade to Basic", ...
    reason = s.end_reason.lower()
    return s.group_by(KEYS).agg(
        downgrades_365d=s.count(where=reason.contains("downgrade")),
        upgrades_365d=s.count(where=reason.contains("upgrade")),
    )


@feature_builder(
    "failed_payments",
    driver="billing",
    description="failed payments (the payment_failure role) in the last 90 and 365 days",
    requires=("events",),
    roles=("payment_failure",),
    features=[
        Feature(
            "failed_payments_90d",
            "count of payment-failure events in the 90 days before the cutoff",
            "int",
            0,
            reason="{value:int} failed payment{value:s} in the last 90 days",
            window=90,
        ),
        Feature(
            "failed_payments_365d",
            "count of payment-failure events in the 365 days before the cutoff",
            "int",
            0,
            reason="{value:int} failed payment{value:s} in the last year",
            window=365,
        ),
    ],
)
def failed_payments(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    failed = vocabulary.role("payment_failure")
    c = activity_cube(ds)
    c = by_cutoff(c.filter(c.event_type.isin(failed)), keys, 365)
    g = c.group_by(KEYS).agg(
        failed_payments_90d=only(c.age_days <= 90, c.n_events).sum().fill_null(0),
        failed_payments_365d=c.n_events.sum(),
    )
    return for_keys(g, keys)
