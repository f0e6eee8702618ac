"""What the built-in builders share: keys, event names, windows, and the point-in-time
roll-ups of events (per account and day) they read."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.features.observations import days_between
from churnlab.vocab import KEYS as _KEYS

SYSTEM_EVENTS = ("login", "csm_call", "payment_failed")
TASK_EVENTS = (
    "view_dashboard",
    "create_report",
    "edit_report",
    "share_report",
    "export",
    "search",
    "invite_user",
    "configure_integration",
)
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
    """Events rolled up per (account, day): counts, logins and the last timestamp.

    Cutoffs are midnights, so a day is wholly before or wholly on/after any cutoff and window
    counts over days equal counts over events, from about a tenth of the rows.
    """
    ev = ds["events"]
    return ev.group_by(["account_id", ev.ts.truncate("D").name("day")]).agg(
        n_events=ev.count(),
        n_logins=ev.count(where=ev.event_type == "login"),
        last_ts=ev.ts.max(),
    )


def daily_users(ds: Dataset) -> ir.Table:
    """Distinct (account, user, day) triples: distinct users over any whole-day window."""
    ev = ds["events"]
    return ev.select("account_id", "user_id", day=ev.ts.truncate("D")).distinct()


def daily_types(ds: Dataset) -> ir.Table:
    """Events rolled up per (account, day, event type)."""
    ev = ds["events"]
    return ev.group_by(["account_id", ev.ts.truncate("D").name("day"), "event_type"]).agg(
        n_events=ev.count()
    )


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
