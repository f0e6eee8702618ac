"""Exact duplicate events and the other cheap facts about an event log that ``validate`` reports.

Trackers that deliver at least once (Segment, Amplitude, Snowplow, a Kafka pipeline) write some
events twice: rows identical in every column churnlab reads, the timestamp included. They are
delivery duplicates, not repeated actions, so every feature counts such rows once
(:func:`distinct_events`, applied where the feature build reads the events); the same action
again at another time is another row and is kept.

Trackers also re-send an event under its own id with other fields changed (a re-stamped
time, a property): Segment's ``messageId``, Amplitude's ``$insert_id``, Snowplow's
``event_id``. Where the events have an ``event_id`` column, the rows of one account with the
same id are one event: the earliest is kept (ties broken by the other columns), in the same
query. Rows without an id fall back to the exact-duplicate rule. Point in time: keeping the
earliest copy, a copy dated at or after a cutoff is never kept while an earlier one exists, so
the events a cutoff sees (those before it) are those the rows before it alone would give.

Counting rows once costs a ``DISTINCT`` over the events (a fifth to a quarter more feature-build
time on a simulated log of 2.3M events; with ids, a window over (account, id) instead). A log
known to hold none says so in ``dataset.json`` (``"events_unique": true``, which the simulator
writes), and the build then reads its rows as they are: the features are the same either way,
so training and scoring agree whichever data says it.
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


# the tracker's id of an event: rows of one account with one id are one event
ID = "event_id"

# dataset.json's key saying the events hold no exact duplicate rows
UNIQUE = "events_unique"


def distinct_events(dataset: Any, ev: ir.Table | None = None) -> ir.Table:
    """The events (``ev``: some of them; else all of ``dataset``'s) with duplicates counted
    once, their mapped columns, in the query that reads them (no pass of its own): exact
    duplicate rows once (one ``DISTINCT``) and, where there is an ``event_id`` column, the rows
    of one account with one id once (the earliest, ties broken by the other columns; rows
    without an id by the exact rule); as they are where ``dataset.json`` says
    ``"events_unique": true``.

    ``ev`` filtered first (one event type, timed events) keeps the earliest copy of an id among
    the rows it holds."""
    ev = dataset["events"] if ev is None else ev
    if (dataset.manifest or {}).get(UNIQUE) is True:
        return ev
    cols = event_columns(ev)
    if ID not in ev.columns:
        return ev.select(*cols).distinct()
    ev = ev.select(*cols)
    rest = [c for c in cols if c not in ("account_id", ID)]
    no_id = ev[ID].isnull()
    # one partition per (account, id); a row without an id is partitioned by all its columns,
    # so that only its exact copies share it
    part = [ev.account_id, ev[ID]] + [
        ibis.ifelse(no_id, ev[c], ibis.null(ev[c].type())).name(f"_p_{c}") for c in rest
    ]
    # the earliest copy; ties by the other columns, missing values last on every engine
    # (DuckDB and Spark order nulls differently by default)
    order = [ev.ts] + [k for c in rest if c != "ts" for k in (ev[c].isnull(), ev[c])]
    rank = ibis.row_number().over(ibis.window(group_by=part, order_by=order))
    ranked = ev.mutate(_copy=rank)
    return ranked.filter(ranked._copy == 0).drop("_copy")


def _literal(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def duplicate_events_notice(con: Any, ev: ir.Table, unique: bool = False) -> str | None:
    """A notice counting the duplicate events: the rows repeating an ``event_id`` of the same
    account (where the column exists) and the exact duplicate rows (of the rows without an id
    there), each with their number, share and example rows; None when there are none.
    ``unique``: dataset.json says there are none (the features then count them as written)."""
    rows = None
    parts = []
    every = ev
    has_id = ID in ev.columns
    if has_id:
        ided = ev.filter(ev[ID].notnull())
        groups = ided.group_by(["account_id", ID]).agg(
            n_rows=ided.count(),
            first=ided.ts.min(),
            last=ided.ts.max(),
            event_type=ided.event_type.min(),
        )
        dup = groups.filter(groups.n_rows > 1)
        extra, n_groups = _totals(con, dup)
        if extra:
            rows = int(con.execute(every.count()))
            ex = con.execute(dup.order_by(["account_id", "first", ID]).limit(3))
            examples = "; ".join(
                f"account_id={_literal(r.account_id)} {ID}={_literal(getattr(r, ID))} "
                f"event_type={_literal(r.event_type)} ({r.n_rows} rows, ts {r.first}"
                + (f" to {r.last})" if r.last != r.first else ")")
                for r in ex.itertuples(index=False)
            )
            parts.append(
                f"{extra:,} row(s) repeat the {ID} of another row of the same account "
                f"({extra / rows:.1%} of {rows:,}; {n_groups:,} id(s) written more than once), "
                f"e.g. {examples}: a tracker's re-sends"
            )
        ev = ev.filter(ev[ID].isnull())
    cols = [c for c in event_columns(ev) if c != ID]
    groups = ev.group_by(cols).agg(n_rows=ev.count())
    dup = groups.filter(groups.n_rows > 1)
    extra, n_groups = _totals(con, dup)
    if extra:
        rows = rows or int(con.execute(every.count()))
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
        parts.append(
            f"{extra:,} exact duplicate row(s)"
            + (f" without an {ID}" if has_id else "")
            + f" ({extra / rows:.1%} of {rows:,}; "
            f"{n_groups:,} event(s) written more than once, every column equal: "
            f"{', '.join(cols)}), e.g. {examples}: a tracker's at-least-once delivery"
        )
    if not parts:
        return None
    return (
        "events: "
        + "; and ".join(parts)
        + "; "
        + (
            f'dataset.json says "{UNIQUE}": true, so features count every row: remove the key '
            "to count each such event once"
            if unique
            else f"features count each {ID} once (its earliest row) and each exact duplicate "
            "once (the same action at another time is kept)"
            if has_id
            else "features count each such event once (the same action at another time is kept)"
        )
    )


def _totals(con: Any, dup: ir.Table) -> tuple[int, int]:
    """The extra rows of the groups ``dup`` (``n_rows`` each) and their number."""
    totals = con.execute(dup.aggregate(extra=(dup.n_rows - 1).sum(), groups=dup.count())).iloc[0]
    return int(totals["extra"] or 0), int(totals["groups"] or 0)


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
