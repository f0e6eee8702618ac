"""Billing: plan, MRR change, billing period, scheduled cancellations, plan changes and failed
payments."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary, in_force
from churnlab.features.builtin.common import KEYS, before
from churnlab.features.cube import activity_cube, by_cutoff, for_keys, only
from churnlab.features.observations import SECONDS_PER_DAY, days_between
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
            "days to the next renewal: the start's calendar anniversary (same day of the "
            "month, or the month's last day) every month, quarter or year; null for another "
            "period",
            "float",
            reason="renewal in {value:days}",
            context=True,
        ),
    ],
)
def billing_period(ds: Dataset, keys: ir.Table) -> ir.Table:
    now = _subscription_at(ds, keys)
    return now.select(
        *KEYS,
        billing_period=now.billing_period.cast("string"),
        days_to_renewal=_days_to_renewal(now.cutoff, now.started_at, now.billing_period),
    )


# months between charges; another period (or none) has no renewal date here
_PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}


def _days_from_civil(y: ir.IntegerValue, m: ir.IntegerValue, d: ir.IntegerValue) -> ir.IntegerValue:
    """Days from 1970-01-01 to the date ``y-m-d`` (H. Hinnant's ``days_from_civil``, years from
    0 on): integer arithmetic only, so DuckDB and Spark agree to the day."""
    y = y - (m <= 2).cast("int64")
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ibis.ifelse(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def _days_in_month(y: ir.IntegerValue, m: ir.IntegerValue) -> ir.IntegerValue:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return ibis.cases(
        (m == 2, ibis.ifelse(leap, 29, 28)),
        (m.isin([4, 6, 9, 11]), 30),
        else_=31,
    )


def _days_to_renewal(
    cutoff: ir.TimestampValue, started_at: ir.TimestampValue, period: ir.StringValue
) -> ir.FloatingValue:
    """Days from ``cutoff`` to the subscription's next renewal strictly after it: the start's
    calendar anniversary every 1, 3 or 12 months, at the start's time of day, on the same day
    of the month or the month's last day where it has fewer days (31 January renews on 28 or 29
    February), as Stripe, Chargebee and Recurly bill. Null for another period."""
    every = ibis.cases(
        *[(period == name, months) for name, months in _PERIOD_MONTHS.items()],
        else_=ibis.null("int64"),
    )
    y0, m0, d0 = started_at.year(), started_at.month(), started_at.day()
    start_day = _days_from_civil(y0, m0, d0)
    months = (cutoff.year() - y0) * 12 + cutoff.month() - m0  # >= 0: started before the cutoff

    def anniversary(n: ir.IntegerValue) -> ir.IntegerValue:
        """Epoch seconds of the ``n``-month anniversary of ``started_at``."""
        total = m0 - 1 + n
        y, m = y0 + total // 12, total % 12 + 1
        d = ibis.least(d0, _days_in_month(y, m))
        return started_at.epoch_seconds().floor() + (_days_from_civil(y, m, d) - start_day) * 86_400

    # the last anniversary in the cutoff's month or before; if it is not after the cutoff,
    # the next one is (it falls in a later month)
    last = months // every * every
    at = cutoff.epoch_seconds().floor()
    renews = ibis.ifelse(anniversary(last) > at, anniversary(last), anniversary(last + every))
    return (renews - at).cast("float64") / SECONDS_PER_DAY


@feature_builder(
    "cancellation_request",
    driver="billing",
    description="a cancellation requested before the cutoff, effective later (canceled_at)",
    requires=("subscriptions.canceled_at",),
    features=[
        Feature(
            "cancellation_scheduled",
            "1 when a subscription in force at the cutoff was canceled before it (canceled_at), "
            "to end later (at its period's end)",
            "int",
            0,
            reason=(
                "[value==1] cancellation requested {days_since_cancellation_request:days} ago",
                "[value==1] cancellation requested, effective at the period's end",
            ),
        ),
        Feature(
            "days_since_cancellation_request",
            "days since the latest such request (null when none)",
            "float",
            reason="cancellation requested {value:days} ago",
        ),
    ],
)
def cancellation_request(ds: Dataset, keys: ir.Table) -> ir.Table:
    # every subscription in force just before the cutoff (a plan, its add-ons), as in_force
    # reads them; a request dated at or after the cutoff is not seen
    j = keys.join(ds["subscriptions"], "account_id")
    j = j.filter(
        (j.started_at < j.cutoff)
        & (j.ended_at.isnull() | (j.ended_at >= j.cutoff))
        & (j.canceled_at < j.cutoff)
    )
    g = j.group_by(KEYS).agg(requested_at=j.canceled_at.max())
    return g.select(
        *KEYS,
        cancellation_scheduled=ibis.literal(1, "int64"),
        days_since_cancellation_request=days_between(g.cutoff, g.requested_at),
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
