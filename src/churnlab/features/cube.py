"""The activity cube: the events table read once per build into daily roll-ups that every
window builder reads.

* per (account, day, event type): events and the last timestamp; where ``duration_s`` exists,
  the timed events (``duration_s > 0``) and the sum of their log durations (time on task);
* per (account, day): events and the last timestamp, from the first;
* per (account, user, day): one row per user active that day, for distinct users over any
  whole-day window;
* sessions (:func:`sessions_expr`), one row per session, dated by the day it starts.

Cutoffs are midnights, so a day lies wholly before or wholly on/after any cutoff and a window
over days equals the same window over events. Every cutoff of a build is handled in one pass:
a roll-up is joined to the :func:`calendar` of the build's cutoffs (each cutoff with each of
the days before it) on the day, which hands every daily row to exactly the cutoffs whose window
holds it; :func:`with_windows` then keeps, per key, the window counts the builders share
(per event type, per account, per user, per session).

:func:`with_cube` returns the dataset with the roll-ups as tables (on DuckDB materialized once
into the connection's in-memory work database, compressed when large); builders reach them through :func:`activity_cube`, :func:`user_days`,
... which fall back to the expression when a builder runs on a dataset without them (a user's
own code calling them directly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache, partial
from itertools import count

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary, distinct_events, materialize
from churnlab.features.observations import days_between
from churnlab.vocab import KEYS as _KEYS

CUBE = "_churnlab_activity"
DAILY = "_churnlab_daily"
USER_DAYS = "_churnlab_user_days"
SESSIONS = "_churnlab_sessions"
TYPE_COUNTS = "_churnlab_type_counts"
TYPE_WINDOWS = "_churnlab_type_windows"
ACCOUNT_WINDOWS = "_churnlab_account_windows"
USER_WINDOWS = "_churnlab_user_windows"
SESSION_WINDOWS = "_churnlab_session_windows"
WINDOWS = (7, 30, 90)
RECENCY_DAYS = 365  # how far back a "days since" looks (and its value when nothing is found)
KEYS = list(_KEYS)  # Ibis reads a tuple of two names as a (left, right) join pair
# computes an expression once into a named table (:func:`churnlab.data.materialize`, or a
# :class:`churnlab.data.engines.Materializer` pipelining a build's tables)
Keep = Callable[..., ir.Table]  # (expr, name, compress=False) -> the table
_BUILDS = count()  # a build's temp tables are its own: an earlier build's expressions stay valid


def only(cond: ir.BooleanValue, value: ir.Value) -> ir.Value:
    """``value`` where ``cond`` holds, else null: ``only(c, x).sum()`` is ``x.sum(where=c)``.
    DuckDB runs many such CASE aggregates in one group-by about a third cheaper than as many
    FILTER clauses (the per-type pivots have dozens)."""
    return ibis.ifelse(cond, value, ibis.null(value.type()))


def flag(cond: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``cond`` holds, else 0: ``flag(c).sum()`` is ``count(where=c)`` of a group."""
    return ibis.ifelse(cond, 1, 0)


def count_events(ev: ir.Table) -> ir.IntegerScalar:
    """The events in ``ev``: the sum of ``count`` in a rolled-up log, else its rows."""
    return ev["count"].sum() if "count" in ev.columns else ev.count()


def cube_expr(ds: Dataset) -> ir.Table:
    # exact duplicate rows (at-least-once delivery) counted once, in the same query
    ev = distinct_events(ds)
    aggs = {"n_events": count_events(ev), "last_ts": ev.ts.max()}
    if (
        "duration_s" in ev.columns and "count" not in ev.columns
    ):  # time on task needs each event's own
        timed = ibis.ifelse(ev.duration_s > 0, ev.duration_s, ibis.null("float64"))
        aggs["n_timed"] = timed.count()
        aggs["log_s"] = timed.ln().sum()
    return ev.group_by(["account_id", ev.ts.truncate("D").name("day"), "event_type"]).agg(**aggs)


def daily_expr(ds: Dataset) -> ir.Table:
    c = activity_cube(ds)
    return c.group_by(["account_id", "day"]).agg(n_events=c.n_events.sum(), last_ts=c.last_ts.max())


def user_days_expr(ds: Dataset) -> ir.Table:
    ev = ds["events"]
    return ev.select("account_id", "user_id", day=ev.ts.truncate("D")).distinct()


def activity_cube(ds: Dataset) -> ir.Table:
    """Events per (account, day, event type): ``n_events``, ``last_ts`` and, where
    ``duration_s`` exists, ``n_timed`` (events with a positive duration) and ``log_s`` (the sum
    of their log durations)."""
    return ds[CUBE] if ds.has(CUBE) else cube_expr(ds)


def daily_activity(ds: Dataset) -> ir.Table:
    """Events per (account, day): ``n_events`` and ``last_ts``, from the cube."""
    return ds[DAILY] if ds.has(DAILY) else daily_expr(ds)


def user_days(ds: Dataset) -> ir.Table:
    """Distinct (account_id, user_id, day) of the events."""
    return ds[USER_DAYS] if ds.has(USER_DAYS) else user_days_expr(ds)


def with_cube(
    ds: Dataset, vocabulary: Vocabulary | None = None, keep: Keep | None = None
) -> Dataset:
    """``ds`` with the roll-ups and the sessions as tables (the same notices list; nothing is
    mutated)."""
    if not ds.has("events") or ds.has(CUBE):
        return ds
    build = next(_BUILDS)
    keep = keep or partial(materialize, ds.con)
    # the roll-ups are the build's largest tables, held to its end: compressed
    cube = keep(cube_expr(ds), f"{CUBE}_{build}", compress=True)
    ds = replace(ds, tables={**ds.tables, CUBE: cube})
    extra = {DAILY: daily_expr(ds), SESSIONS: sessions_expr(ds, vocabulary or Vocabulary())}
    if ds.has("events", "user_id"):
        extra[USER_DAYS] = user_days_expr(ds)
    extra = {name: keep(expr, f"{name}_{build}", compress=True) for name, expr in extra.items()}
    return replace(ds, tables={**ds.tables, **extra})


def with_windows(
    ds: Dataset, keys: ir.Table, vocabulary: Vocabulary | None = None, keep: Keep | None = None
) -> Dataset:
    """``ds`` with the window counts of ``keys`` as tables (:func:`type_windows`,
    :func:`account_windows`, :func:`user_windows`, :func:`session_windows`,
    :func:`task_windows`): the builders of one build read them instead of each joining a
    roll-up to the keys again."""
    if not ds.has(CUBE) or ds.has(TYPE_WINDOWS):
        return ds
    build = next(_BUILDS)
    # the per-type window sums first: the type windows and time on task both read them (one
    # pass of the cube over the calendar instead of two)
    keep = keep or partial(materialize, ds.con)
    counts = keep(type_counts_expr(ds, keys), f"{TYPE_COUNTS}_{build}", compress=True)
    ds = replace(ds, tables={**ds.tables, TYPE_COUNTS: counts})
    exprs = {
        TYPE_WINDOWS: type_windows_expr(ds, keys),
        ACCOUNT_WINDOWS: account_windows_expr(ds, keys),
        SESSION_WINDOWS: session_windows_expr(ds, keys, vocabulary or Vocabulary()),
    }
    if ds.has(USER_DAYS):
        exprs[USER_WINDOWS] = user_windows_expr(ds, keys)
    kept = {name: keep(expr, f"{name}_{build}", compress=True) for name, expr in exprs.items()}
    return replace(ds, tables={**ds.tables, **kept})


def before(keys: ir.Table, table: ir.Table, ts: str, days: float | None = None) -> ir.Table:
    """Rows of ``table`` for each key, dated before the cutoff (and within ``days`` of it),
    with ``age_days``: how long before the cutoff they happened."""
    j = keys.join(table, "account_id")
    cond = j[ts] < j.cutoff
    if days is not None:
        cond &= j[ts] >= j.cutoff - ibis.interval(days=int(days))
    j = j.filter(cond)
    return j.mutate(age_days=days_between(j.cutoff, j[ts]))


def cutoffs_of(keys: ir.Table) -> ir.Table:
    """The distinct cutoffs of ``keys``. A group-by, not ``select("cutoff").distinct()``: on an
    ordered table (observations are ordered by cutoff and account) Ibis pushes the ordering
    into the DISTINCT, which then keeps one row per key on Spark."""
    return keys.group_by("cutoff").agg(_keys=keys.count()).select("cutoff")


def calendar(keys: ir.Table, days: int) -> ir.Table:
    """``(cutoff, day, age_days)``: every cutoff of ``keys`` with each of the ``days`` days
    before it (``age_days`` 1 for the day just before the cutoff)."""
    cutoffs = cutoffs_of(keys)
    c = cutoffs.cross_join(_ages(int(days)))
    return c.select(
        "cutoff",
        day=c.cutoff - c.age_days.as_interval("D"),
        age_days=c.age_days.cast("float64"),
    )


@cache
def _ages(days: int) -> ir.Table:
    """1..``days``: one in-memory table per length, registered with a connection once (a new
    one per call would be registered, and its registration waited for, by every query)."""
    return ibis.memtable({"age_days": list(range(1, days + 1))})


def by_cutoff(table: ir.Table, keys: ir.Table, days: int) -> ir.Table:
    """Rows of a daily ``table`` (a ``day`` column at midnight) within ``days`` before each
    cutoff of ``keys``, one per (row, cutoff), with ``cutoff`` and ``age_days``: every
    cutoff in one equi-join on the day (the rows :func:`before` gives, with ``age_days`` in
    whole days), for every account.

    Aggregate these rows first and join the keys to the result (:func:`for_keys`): a join to
    the keys before aggregating lets a query planner pair each row with every cutoff of its
    account first, the very blow-up the calendar avoids.
    """
    return table.join(calendar(keys, days), "day")


def for_keys(table: ir.Table, keys: ir.Table) -> ir.Table:
    """The rows of a table keyed by (account_id, cutoff) whose key is one of ``keys``."""
    return table.join(keys.select(*KEYS), KEYS)


def last_before(
    table: ir.Table, keys: ir.Table, by: list[str], days: int = RECENCY_DAYS
) -> ir.Table:
    """Per (account, cutoff, ``by``): the latest ``last_ts`` of a daily ``table`` within
    ``days`` before the cutoff, for every cutoff of ``keys`` (all accounts).

    Each day is first reduced into the first cutoff after it (one row per account, ``by`` and
    cutoff), and a cutoff takes the latest of its own and the earlier cutoffs' rows: a year's
    window costs about one row per cutoff instead of one per day.
    """
    cal = calendar(keys, days)
    first_after = cal.group_by("day").agg(bucket=cal.cutoff.min())
    t = table.join(first_after, "day")
    last = t.group_by(["account_id", *by, "bucket"]).agg(last_ts=t.last_ts.max())
    cutoffs = cutoffs_of(keys)
    pairs = cutoffs.cross_join(cutoffs.select(bucket="cutoff"))
    pairs = pairs.filter(pairs.bucket <= pairs.cutoff)
    j = last.join(pairs, "bucket")
    # a bucket's latest row is inside the window exactly when any of its rows is
    j = j.filter(j.last_ts >= j.cutoff - ibis.interval(days=int(days)))
    return j.group_by(["account_id", "cutoff", *by]).agg(last_ts=j.last_ts.max())


def type_counts_expr(ds: Dataset, keys: ir.Table) -> ir.Table:
    """Per (account, cutoff, event type) with an event in the 90 days before a cutoff of
    ``keys`` (every account, not only the keys': time on task compares an account with the
    active population): ``n_7d``, ``n_30d``, ``n_90d`` and, where the cube has durations,
    ``n_timed`` (timed events in the 90 days) and ``log_s`` (the sum of their log
    durations)."""
    cube = activity_cube(ds)
    c = by_cutoff(cube, keys, max(WINDOWS))
    aggs = {f"n_{w}d": only(c.age_days <= w, c.n_events).sum() for w in WINDOWS}
    if "n_timed" in cube.columns:
        aggs["n_timed"] = c.n_timed.sum()
        aggs["log_s"] = c.log_s.sum()
    return c.group_by([*KEYS, "event_type"]).agg(**aggs)


def type_counts(ds: Dataset, keys: ir.Table) -> ir.Table:
    """The per (account, cutoff, event type) window sums (see :func:`type_counts_expr`)."""
    return ds[TYPE_COUNTS] if ds.has(TYPE_COUNTS) else type_counts_expr(ds, keys)


def type_windows_expr(ds: Dataset, keys: ir.Table) -> ir.Table:
    """Per key and event type (every type, kept or not) with an event in the
    :data:`RECENCY_DAYS` before the cutoff: ``n_7d``, ``n_30d``, ``n_90d`` (null when none in
    the window) and ``last_ts``."""
    counts = type_counts(ds, keys)
    last = for_keys(last_before(activity_cube(ds), keys, ["event_type"]), keys)
    t = last.left_join(counts, [*KEYS, "event_type"])
    return t.select(*KEYS, "event_type", *(f"n_{w}d" for w in WINDOWS), "last_ts")


def type_windows(ds: Dataset, keys: ir.Table) -> ir.Table:
    """The per (key, event type) window counts of ``keys`` (see :func:`type_windows_expr`);
    the build's table where :func:`with_windows` made one for these keys."""
    return ds[TYPE_WINDOWS] if ds.has(TYPE_WINDOWS) else type_windows_expr(ds, keys)


def account_windows_expr(ds: Dataset, keys: ir.Table) -> ir.Table:
    """Per (account, cutoff) with an event in the 90 days before a cutoff of ``keys`` (every
    account, not only the keys': the danger zone ranks the whole active population):
    ``events_{w}d`` and ``active_days_{w}d`` for w in 7/30/90, and the sums the activity
    trend reads (``_recent``, ``_prior``: events in the last 30 days and the 60 before;
    ``_slope``: events weighted by their week's distance from the middle of the last 12
    weeks; ``_in12``: events in those 12 weeks)."""
    d = by_cutoff(daily_activity(ds), keys, max(WINDOWS))
    n = d.n_events.cast("float64")
    aggs = {}
    for w in WINDOWS:
        aggs[f"events_{w}d"] = only(d.age_days <= w, d.n_events).sum().fill_null(0)
        aggs[f"active_days_{w}d"] = flag(d.age_days <= w).sum()
    # weeks k = 0..11 in time order (11 = the 7 days before the cutoff); with x fixed, the slope
    # sum((x - 5.5)(y - mean y)) / sum((x - 5.5)^2) reduces to a sum over days, zeros included
    week = 11 - ((d.age_days - 1) / 7).floor()
    in12 = d.age_days <= 84
    aggs["_recent"] = only(d.age_days <= 30, n).sum().fill_null(0.0)
    aggs["_prior"] = only(d.age_days > 30, n).sum().fill_null(0.0)
    aggs["_slope"] = (n * (week - 5.5) * in12.cast("float64")).sum()
    aggs["_in12"] = only(in12, n).sum().fill_null(0.0)
    return d.group_by(KEYS).agg(**aggs)


def account_windows(ds: Dataset, keys: ir.Table) -> ir.Table:
    """The per (account, cutoff) window counts (see :func:`account_windows_expr`)."""
    return ds[ACCOUNT_WINDOWS] if ds.has(ACCOUNT_WINDOWS) else account_windows_expr(ds, keys)


def user_windows_expr(ds: Dataset, keys: ir.Table) -> ir.Table:
    """Per key with a user active in the 90 days before the cutoff: distinct users active in
    the last 7, 14, 30 and 90 days (``users_{w}d``) and in days 57-70 before the cutoff
    (``users_8w_ago``: the same two weeks, eight weeks earlier)."""
    u = user_days(ds)
    u = by_cutoff(u.filter(u.user_id.notnull()), keys, max(WINDOWS))
    then = (u.age_days > 56) & (u.age_days <= 70)
    per_user = u.group_by([*KEYS, "user_id"]).agg(age=u.age_days.min(), then=flag(then).max())
    p = per_user
    counts = p.group_by(KEYS).agg(
        **{f"users_{w}d": flag(p.age <= w).sum() for w in (7, 14, 30, 90)},
        users_8w_ago=p.then.sum(),
    )
    return for_keys(counts, keys)


def user_windows(ds: Dataset, keys: ir.Table) -> ir.Table:
    """The per key distinct-user counts (see :func:`user_windows_expr`)."""
    return ds[USER_WINDOWS] if ds.has(USER_WINDOWS) else user_windows_expr(ds, keys)


def session_windows_expr(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    """Per key with a session in the 90 days before the cutoff: ``sessions_{w}d`` and the
    mean, longest and total session length over the last 30 days."""
    s = by_cutoff(sessions(ds, vocabulary), keys, max(WINDOWS))
    in30 = s.age_days <= 30
    length = only(in30, s.length_s)
    g = s.group_by(KEYS).agg(
        **{f"sessions_{w}d": flag(s.age_days <= w).sum() for w in WINDOWS},
        mean_session_min_30d=length.mean() / 60.0,
        max_session_min_30d=length.max() / 60.0,
        total_session_hours_30d=length.sum().fill_null(0.0) / 3600.0,
    )
    return for_keys(g, keys)


def session_windows(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    """The per key session counts and lengths (see :func:`session_windows_expr`)."""
    if ds.has(SESSION_WINDOWS):
        return ds[SESSION_WINDOWS]
    return session_windows_expr(ds, keys, vocabulary)


def task_windows(ds: Dataset, keys: ir.Table) -> ir.Table:
    """Per (account, cutoff, event type) with a timed event in the 90 days before a cutoff of
    ``keys`` (every account: time on task compares an account with the active population):
    ``n`` timed events and ``s`` the sum of their log durations (from :func:`type_counts`)."""
    t = type_counts(ds, keys)
    t = t.filter(t.n_timed > 0)
    return t.select(*KEYS, "event_type", n=t.n_timed, s=t.log_s)


def sessions_expr(ds: Dataset, vocabulary: Vocabulary) -> ir.Table:
    """Sessions: ``(account_id, start, day, length_s)``.

    With a ``session_id`` column (the app's own sessions), one per account, session id and day:
    its events, ignored types left out (a session past midnight is split there, as cutoffs
    are midnights); length = last minus first event time, plus the last event's
    ``duration_s`` where present. Events without a session id (validation reads Amplitude's
    -1, any negative id and an empty one as none) are in no session on a day when the same
    user (account, where there is no ``user_id``) has events with one: out-of-session events,
    such as server-side ones, beside real sessions; on a day without any, they make the
    inactivity-gap sessions below, as without the column. Else, with a
    ``session_start`` role and a ``duration_s`` column, one per session-start event
    (its duration is the length). Otherwise derived from inactivity gaps: a new session after
    ``session_gap_minutes`` without events of the same user (of the account where there is no
    ``user_id``), ignored types left out; length = last minus first event time, plus the last
    event's ``duration_s`` where present. A derived session never spans midnight: cutoffs are
    midnights, so no session before a cutoff grows with events after it.
    """
    ev = ds["events"]
    starts = vocabulary.role("session_start")
    own = "session_id" in ev.columns
    if starts and "duration_s" in ev.columns and not own:
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
    gap = float(vocabulary.session_gap_minutes) * 60.0
    if not own:
        return _gap_sessions(_timed(ev, part), part, gap)
    # a user's day with a session id: its ids' sessions; without one: the gaps'
    ev = ev.mutate(day=ev.ts.truncate("D"))
    has_id = ibis.ifelse(ev.session_id.notnull(), 1, 0)
    ev = ev.mutate(_day_has_id=has_id.max().over(ibis.window(group_by=part)))
    with_id = ev.filter(ev.session_id.notnull())
    own_part = ["account_id", "session_id", "day"]
    by_id = _session_rows(_timed(with_id, own_part), own_part)
    return by_id.union(_gap_sessions(_timed(ev.filter(ev._day_has_id == 0), part), part, gap))


def _timed(ev: ir.Table, part: list[str]) -> ir.Table:
    """The events with ``part`` (its last key is the day), ``ts``, ``_t`` (epoch seconds) and
    ``_dur`` (the event's duration, 0 without ``duration_s``)."""
    dur = ev.duration_s.cast("float64") if "duration_s" in ev.columns else ibis.literal(0.0)
    return ev.select(
        *part[:-1],
        "ts",
        day=ev.ts.truncate("D"),
        _t=ev.ts.epoch_seconds().floor(),
        _dur=dur,
    )


def _gap_sessions(ev: ir.Table, part: list[str], gap: float) -> ir.Table:
    """Sessions of ``ev`` (:func:`_timed`) per ``part``: a new one after ``gap`` seconds
    without events."""
    lag = ev._t.lag().over(ibis.window(group_by=part, order_by="_t"))
    ev = ev.mutate(_new=ibis.ifelse(lag.isnull() | (ev._t - lag > gap), 1, 0))
    # events at the same second: the one that opens a session first, so that all of them
    # land in it whatever order the two windows break the tie in
    order = ["_t", ibis.desc("_new")]
    ev = ev.mutate(_sid=ev._new.sum().over(ibis.cumulative_window(group_by=part, order_by=order)))
    return _session_rows(ev, [*part, "_sid"])


def _session_rows(ev: ir.Table, keys: list[str]) -> ir.Table:
    """One session per value of ``keys``: its start, day and length (last minus first event
    time, plus the last event's duration)."""
    ev = ev.mutate(_last=ev._t.max().over(ibis.window(group_by=keys)))
    g = ev.group_by(keys).agg(
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
