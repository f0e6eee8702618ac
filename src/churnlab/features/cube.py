"""The activity cube: the events table read once per build into daily roll-ups that every
window builder reads.

* per (account, day, event type): events, distinct users (where ``user_id`` exists), summed
  ``duration_s`` (where it exists), first and last timestamp;
* per (account, user, day): one row per user active that day, for distinct users over any
  whole-day window.

Cutoffs are midnights, so a day lies wholly before or wholly on/after any cutoff and a window
over days equals the same window over events. :func:`with_cube` returns the dataset with both
roll-ups (and the sessions, :func:`sessions_expr`) added as tables (on DuckDB materialized once as temporary tables); builders reach them
through :func:`activity_cube` and :func:`user_days`, which fall back to the expression when a
builder runs on a dataset without them (a user's own code calling them directly).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import count

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary
from churnlab.features.observations import days_between
from churnlab.vocab import KEYS as _KEYS

CUBE = "_churnlab_activity"
DAILY = "_churnlab_daily"
USER_DAYS = "_churnlab_user_days"
SESSIONS = "_churnlab_sessions"
TYPE_WINDOWS = "_churnlab_type_windows"
WINDOWS = (7, 30, 90)
RECENCY_DAYS = 365  # how far back a "days since" looks (and its value when nothing is found)
KEYS = list(_KEYS)  # Ibis reads a tuple of two names as a (left, right) join pair
_BUILDS = count()  # a build's temp tables are its own: an earlier build's expressions stay valid


def cube_expr(ds: Dataset) -> ir.Table:
    ev = ds["events"]
    aggs = {"n_events": ev.count(), "first_ts": ev.ts.min(), "last_ts": ev.ts.max()}
    if "user_id" in ev.columns:
        aggs["n_users"] = ev.user_id.nunique()
    if "duration_s" in ev.columns:
        aggs["duration_s"] = ev.duration_s.sum()
    return ev.group_by(["account_id", ev.ts.truncate("D").name("day"), "event_type"]).agg(**aggs)


def daily_expr(ds: Dataset) -> ir.Table:
    c = activity_cube(ds)
    return c.group_by(["account_id", "day"]).agg(n_events=c.n_events.sum(), last_ts=c.last_ts.max())


def user_days_expr(ds: Dataset) -> ir.Table:
    ev = ds["events"]
    return ev.select("account_id", "user_id", day=ev.ts.truncate("D")).distinct()


def activity_cube(ds: Dataset) -> ir.Table:
    """Events per (account, day, event type): ``n_events``, ``first_ts``, ``last_ts`` and,
    where the columns exist, ``n_users`` and ``duration_s``."""
    return ds[CUBE] if ds.has(CUBE) else cube_expr(ds)


def daily_activity(ds: Dataset) -> ir.Table:
    """Events per (account, day): ``n_events`` and ``last_ts``, from the cube."""
    return ds[DAILY] if ds.has(DAILY) else daily_expr(ds)


def user_days(ds: Dataset) -> ir.Table:
    """Distinct (account_id, user_id, day) of the events."""
    return ds[USER_DAYS] if ds.has(USER_DAYS) else user_days_expr(ds)


def with_cube(ds: Dataset, vocabulary: Vocabulary | None = None) -> Dataset:
    """``ds`` with the roll-ups and the sessions as tables (the same notices list; nothing is
    mutated)."""
    if not ds.has("events") or ds.has(CUBE):
        return ds
    build = next(_BUILDS)
    cube = _keep(ds, f"{CUBE}_{build}", cube_expr(ds))
    ds = replace(ds, tables={**ds.tables, CUBE: cube})
    extra = {DAILY: daily_expr(ds), SESSIONS: sessions_expr(ds, vocabulary or Vocabulary())}
    if ds.has("events", "user_id"):
        extra[USER_DAYS] = user_days_expr(ds)
    extra = {name: _keep(ds, f"{name}_{build}", expr) for name, expr in extra.items()}
    return replace(ds, tables={**ds.tables, **extra})


def with_windows(ds: Dataset, keys: ir.Table) -> Dataset:
    """``ds`` with :func:`type_windows` of ``keys`` as a table: the per-type builders of one
    build read it instead of each joining the cube to the keys again."""
    if not ds.has(CUBE) or ds.has(TYPE_WINDOWS):
        return ds
    windows = _keep(ds, f"{TYPE_WINDOWS}_{next(_BUILDS)}", type_windows_expr(ds, keys))
    return replace(ds, tables={**ds.tables, TYPE_WINDOWS: windows})


def _keep(ds: Dataset, name: str, expr: ir.Table) -> ir.Table:
    """On DuckDB a temporary table (computed once), elsewhere the expression."""
    if ds.con.name != "duckdb":
        return expr
    return ds.con.create_table(name, expr, temp=True, overwrite=True)


def before(keys: ir.Table, table: ir.Table, ts: str, days: float | None = None) -> ir.Table:
    """Rows of ``table`` for each key, dated before the cutoff (and within ``days`` of it),
    with ``age_days``: how long before the cutoff they happened."""
    j = keys.join(table, "account_id")
    cond = j[ts] < j.cutoff
    if days is not None:
        cond &= j[ts] >= j.cutoff - ibis.interval(days=int(days))
    j = j.filter(cond)
    return j.mutate(age_days=days_between(j.cutoff, j[ts]))


def type_windows_expr(ds: Dataset, keys: ir.Table) -> ir.Table:
    """Per key and event type (every type, kept or not) with an event in the
    :data:`RECENCY_DAYS` before the cutoff: ``n_7d``, ``n_30d``, ``n_90d`` and ``last_ts``."""
    c = before(keys, activity_cube(ds), "day", RECENCY_DAYS)
    return c.group_by([*KEYS, "event_type"]).agg(
        **{f"n_{w}d": c.n_events.sum(where=c.age_days <= w) for w in WINDOWS},
        last_ts=c.last_ts.max(),
    )


def type_windows(ds: Dataset, keys: ir.Table) -> ir.Table:
    """The per (key, event type) window counts of ``keys`` (see :func:`type_windows_expr`);
    the build's table where :func:`with_windows` made one for these keys."""
    return ds[TYPE_WINDOWS] if ds.has(TYPE_WINDOWS) else type_windows_expr(ds, keys)


def sessions_expr(ds: Dataset, vocabulary: Vocabulary) -> ir.Table:
    """Sessions: ``(account_id, start, day, length_s)``.

    With a ``session_start`` role and a ``duration_s`` column, one per session-start event
    (its duration is the length). Otherwise derived from inactivity gaps: a new session after
    ``session_gap_minutes`` without events of the same user (of the account where there is no
    ``user_id``), ignored types left out; length = last minus first event time, plus the last
    event's ``duration_s`` where present. A derived session never spans midnight: cutoffs are
    midnights, so no session before a cutoff grows with events after it.
    """
    ev = ds["events"]
    starts = vocabulary.role("session_start")
    if starts and "duration_s" in ev.columns:
        s = ev.filter(ev.event_type.isin(starts))
        return s.select(
            "account_id",
            start=s.ts,
            day=s.ts.truncate("D"),
            length_s=s.duration_s.cast("float64"),
        )
    ignore = vocabulary.role("ignore")
    if ignore:
        ev = ev.filter(~ev.event_type.isin(ignore))
    part = ["account_id", "user_id", "day"] if "user_id" in ev.columns else ["account_id", "day"]
    dur = ev.duration_s.cast("float64") if "duration_s" in ev.columns else ibis.literal(0.0)
    ev = ev.select(
        *part[:-1],
        "ts",
        day=ev.ts.truncate("D"),
        _t=ev.ts.epoch_seconds().floor(),
        _dur=dur,
    )
    gap = float(vocabulary.session_gap_minutes) * 60.0
    lag = ev._t.lag().over(ibis.window(group_by=part, order_by="_t"))
    ev = ev.mutate(_new=ibis.ifelse(lag.isnull() | (ev._t - lag > gap), 1, 0))
    # events at the same second: the one that opens a session first, so that all of them
    # land in it whatever order the two windows break the tie in
    order = ["_t", ibis.desc("_new")]
    ev = ev.mutate(_sid=ev._new.sum().over(ibis.cumulative_window(group_by=part, order_by=order)))
    ev = ev.mutate(_last=ev._t.max().over(ibis.window(group_by=[*part, "_sid"])))
    g = ev.group_by([*part, "_sid"]).agg(
        start=ev.ts.min(),
        _first=ev._t.min(),
        _end=ev._last.max(),
        _last_dur=ev._dur.max(where=ev._t == ev._last),
    )
    return g.select(
        "account_id",
        "start",
        "day",
        length_s=(g._end - g._first).cast("float64") + g._last_dur.fill_null(0.0),
    )


def sessions(ds: Dataset, vocabulary: Vocabulary) -> ir.Table:
    """The sessions table of this build (see :func:`sessions_expr`)."""
    return ds[SESSIONS] if ds.has(SESSIONS) else sessions_expr(ds, vocabulary)
