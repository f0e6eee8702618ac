"""What the built-in builders share: keys, windows, and the point-in-time
roll-ups of events (per account and day) they read."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.features.cube import activity_cube, user_days
from churnlab.features.observations import days_between
from churnlab.vocab import KEYS as _KEYS

WINDOWS = (7, 30, 90)
KEYS = list(_KEYS)  # Ibis reads a tuple of two names as a (left, right) join pair


def before(keys: ir.Table, table: ir.Table, ts: str, days: float | None = None) -> ir.Table:
    """Rows of ``table`` for each key, dated before the cutoff (and within ``days`` of it),
    with ``age_days``: how long before the cutoff they happened."""
    j = keys.join(table, "account_id")
    cond = j[ts] < j.cutoff
    if days is not None:
        cond &= j[ts] >= j.cutoff - ibis.interval(days=int(days))
    j = j.filter(cond)
    return j.mutate(age_days=days_between(j.cutoff, j[ts]))


def cutoff_dates(keys: ir.Table) -> ir.Table:
    return keys.select("cutoff").distinct()


def daily_activity(ds: Dataset) -> ir.Table:
    """Events per (account, day), from the activity cube: counts and the last timestamp."""
    c = activity_cube(ds)
    return c.group_by(["account_id", "day"]).agg(n_events=c.n_events.sum(), last_ts=c.last_ts.max())


def daily_users(ds: Dataset) -> ir.Table:
    """Distinct (account, user, day) triples: distinct users over any whole-day window."""
    return user_days(ds)


def daily_types(ds: Dataset) -> ir.Table:
    """Events per (account, day, event type): the activity cube."""
    return activity_cube(ds)


def active_population(dataset: Dataset, cutoffs: ir.Table) -> ir.Table:
    """(account_id, cutoff) for every account subscribed at each cutoff: the population that
    point-in-time statistics are computed over."""
    subs = dataset["subscriptions"]
    acc = dataset["accounts"].select("account_id", "signup_at")
    j = subs.cross_join(cutoffs).filter(
        lambda t: (t.started_at <= t.cutoff) & (t.ended_at.isnull() | (t.ended_at > t.cutoff))
    )
    j = j.join(acc, "account_id").filter(lambda t: t.signup_at < t.cutoff)
    return j.select(*KEYS).distinct()


def with_tenure(ds: Dataset, keys: ir.Table, *columns: str) -> ir.Table:
    t = keys.join(ds["accounts"].select("account_id", "signup_at", *columns), "account_id")
    return t.mutate(tenure_days=days_between(t.cutoff, t.signup_at))
