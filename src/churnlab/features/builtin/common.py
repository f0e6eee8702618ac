"""What the built-in builders share: keys, windows, and the point-in-time
roll-ups of events (per account and day) they read."""

from __future__ import annotations

import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.features.cube import (
    KEYS,
    WINDOWS,
    activity_cube,
    before,
    cutoffs_of,
    daily_activity,
    type_windows,
    user_days,
)
from churnlab.features.observations import days_between, subscribed_at

__all__ = [
    "KEYS",
    "WINDOWS",
    "active_population",
    "before",
    "cutoff_dates",
    "daily_activity",
    "daily_types",
    "daily_users",
    "type_windows",
    "with_tenure",
]


def cutoff_dates(keys: ir.Table) -> ir.Table:
    return cutoffs_of(keys)


def daily_users(ds: Dataset) -> ir.Table:
    """Distinct (account, user, day) triples: distinct users over any whole-day window."""
    return user_days(ds)


def daily_types(ds: Dataset) -> ir.Table:
    """Events per (account, day, event type): the activity cube."""
    return activity_cube(ds)


def active_population(dataset: Dataset, cutoffs: ir.Table) -> ir.Table:
    """(account_id, cutoff) for every account active at each cutoff by the rule observations
    use (:func:`~churnlab.features.observations.subscribed_at`): the population that
    point-in-time statistics are computed over."""
    return subscribed_at(dataset, cutoffs).select(*KEYS)


def with_tenure(ds: Dataset, keys: ir.Table, *columns: str) -> ir.Table:
    t = keys.join(ds["accounts"].select("account_id", "signup_at", *columns), "account_id")
    return t.mutate(tenure_days=days_between(t.cutoff, t.signup_at))
