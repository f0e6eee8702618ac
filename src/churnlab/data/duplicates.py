"""Exact duplicate events and the other cheap facts about an event log that ``validate`` reports.

Trackers that deliver at least once (Segment, Amplitude, Snowplow, a Kafka pipeline) write some
events twice: rows identical in every column churnlab reads, the timestamp included. They are
delivery duplicates, not repeated actions, so every feature counts such rows once
(:func:`distinct_events`, applied where the feature build reads the events); the same action
again at another time is another row and is kept.

Counting rows once costs a ``DISTINCT`` over the events (a fifth to a quarter more feature-build
time on a simulated log of 2.3M events). A log known to hold none says so in ``dataset.json`` (``"events_unique":
true``, which the simulator writes), and the build then reads its rows as they are: the
features are the same either way, so training and scoring agree whichever data says it.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from churnlab.data.dataset import MAX_EXAMPLES
from churnlab.data.schema import TABLES

# the columns of an event that churnlab reads: rows equal in all of those present are one event
EVENT_COLUMNS = tuple(c.name for c in TABLES["events"].columns)


def event_columns(ev: ir.Table) -> list[str]:
    """The mapped event columns ``ev`` has (its other columns are not compared)."""
    return [c for c in EVENT_COLUMNS if c in ev.columns]


# dataset.json's key saying the events hold no exact duplicate rows
UNIQUE = "events_unique"


def distinct_events(dataset: Any, ev: ir.Table | None = None) -> ir.Table:
    """The events (``ev``: some of them; else all of ``dataset``'s) with exact duplicate rows
    counted once: their mapped columns, one ``DISTINCT`` in the query that reads them (no pass
    of its own); as they are where ``dataset.json`` says ``"events_unique": true``."""
    ev = dataset["events"] if ev is None else ev
    if (dataset.manifest or {}).get(UNIQUE) is True:
        return ev
    return ev.select(*event_columns(ev)).distinct()


def _literal(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def duplicate_events_notice(con: Any, ev: ir.Table, unique: bool = False) -> str | None:
    """A notice counting the exact duplicate rows of the events (their number, share and
    example rows), or None when there are none. ``unique``: dataset.json says there are none
    (the features then count them as written)."""
    cols = event_columns(ev)
    groups = ev.group_by(cols).agg(n_rows=ev.count())
    dup = groups.filter(groups.n_rows > 1)
    totals = con.execute(dup.aggregate(extra=(dup.n_rows - 1).sum(), groups=dup.count())).iloc[0]
    extra = int(totals["extra"] or 0)
    if not extra:
        return None
    rows = int(con.execute(ev.count()))
    ex = con.execute(
        dup.order_by(["account_id", "ts", "event_type"])
        .limit(3)
        .select("account_id", "ts", "event_type", "n_rows")
    )
    examples = "; ".join(
        f"account_id={_literal(r.account_id)} ts={r.ts} event_type={_literal(r.event_type)} "
        f"({r.n_rows} rows)"
        for r in ex.itertuples(index=False)
    )
    return (
        f"events: {extra:,} exact duplicate row(s) ({extra / rows:.1%} of {rows:,}; "
        f"{int(totals['groups']):,} event(s) written more than once, every column equal: "
        f"{', '.join(cols)}), e.g. {examples}: a tracker's at-least-once delivery; "
        + (
            f'dataset.json says "{UNIQUE}": true, so features count every row: remove the key '
            "to count each such event once"
            if unique
            else "features count each such event once (the same action at another time is kept)"
        )
    )


def accounts_without_events_notice(con: Any, accounts: ir.Table, ev: ir.Table) -> str | None:
    """A notice counting the accounts with no event at all (their counts are 0), or None."""
    silent = accounts.select("account_id").anti_join(ev.select("account_id"), "account_id")
    n = int(con.execute(silent.count()))
    if not n:
        return None
    total = int(con.execute(accounts.count()))
    ex = con.execute(silent.order_by("account_id").limit(MAX_EXAMPLES)).account_id
    return (
        f"accounts: {n:,} of {total:,} account(s) have no event at all "
        f"(e.g. {', '.join(_literal(v) for v in ex)}): their activity counts are 0 (never used "
        "the product, or logged under another id?)"
    )


def shared_users_notice(con: Any, ev: ir.Table) -> str | None:
    """A notice counting the users whose events fall under more than one account (a
    consultant, an agency, a user id reused across workspaces), or None."""
    if "user_id" not in ev.columns:
        return None
    ev = ev.filter(ev.user_id.notnull())
    per = ev.group_by("user_id").agg(
        n_accounts=ev.account_id.nunique(),
        first_account=ev.account_id.min(),
        last_account=ev.account_id.max(),
    )
    shared = per.filter(per.n_accounts > 1)
    n = int(con.execute(shared.count()))
    if not n:
        return None
    users = int(con.execute(per.count()))
    ex = con.execute(shared.order_by(ibis.desc("n_accounts"), "user_id").limit(3))
    examples = "; ".join(
        f"user_id={_literal(r.user_id)} in {r.n_accounts} accounts "
        f"({_literal(r.first_account)} .. {_literal(r.last_account)})"
        for r in ex.itertuples(index=False)
    )
    return (
        f"events: {n:,} of {users:,} user(s) act under more than one account (e.g. "
        f"{examples}): each account counts that user among its own active users"
    )


def log_notices(dataset: Any) -> list[str]:
    """``validate``'s notices on the event log: exact duplicate rows, accounts without any
    event, users under more than one account."""
    if not dataset.has("events"):
        return []
    ev = dataset["events"]
    unique = (dataset.manifest or {}).get(UNIQUE) is True
    found = [
        duplicate_events_notice(dataset.con, ev, unique),
        shared_users_notice(dataset.con, ev),
    ]
    if dataset.has("accounts"):
        found.append(accounts_without_events_notice(dataset.con, dataset["accounts"], ev))
    return [n for n in found if n]
