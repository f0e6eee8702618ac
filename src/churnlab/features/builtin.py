"""Built-in feature builders, grouped by the churn driver they measure.

Every builder joins its table to the observation keys on ``account_id`` and keeps rows dated
strictly before the cutoff (``_before``); windows count back from the cutoff. Population
statistics (task-time baselines, the danger-zone quartile) are computed from every account
active at the cutoff, never from the keys passed in, so scoring one account gives the same
value as training on all of them.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir

from churnlab.data.io import Dataset
from churnlab.features.observations import days_between
from churnlab.features.registry import Feature, feature_builder

KEYS = ["account_id", "cutoff"]
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


def _before(keys: ir.Table, table: ir.Table, ts: str, days: float | None = None) -> ir.Table:
    """Rows of ``table`` for each key, dated before the cutoff (and within ``days`` of it),
    with ``age_days``: how long before the cutoff they happened."""
    j = keys.join(table, "account_id")
    cond = j[ts] < j.cutoff
    if days is not None:
        cond &= j[ts] >= j.cutoff - ibis.interval(days=int(days))
    j = j.filter(cond)
    return j.mutate(age_days=days_between(j.cutoff, j[ts]))


def _cutoffs(keys: ir.Table) -> ir.Table:
    return keys.select("cutoff").distinct()


def _daily_activity(ds: Dataset) -> ir.Table:
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


def _daily_users(ds: Dataset) -> ir.Table:
    """Distinct (account, user, day) triples: distinct users over any whole-day window."""
    ev = ds["events"]
    return ev.select("account_id", "user_id", day=ev.ts.truncate("D")).distinct()


def _daily_types(ds: Dataset) -> ir.Table:
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


# ---- engagement ----------------------------------------------------------------------------


@feature_builder(
    "activity_windows",
    driver="engagement",
    description="events, sessions and active days in the last 7/30/90 days",
    requires=("events",),
    features=[
        Feature(f"{what}_{w}d", f"{label} in the last {w} days", "int", 0)
        for w in WINDOWS
        for what, label in (
            ("events", "events"),
            ("sessions", "sessions (logins)"),
            ("active_days", "days with any event"),
        )
    ],
)
def activity_windows(ds: Dataset, keys: ir.Table) -> ir.Table:
    days = _before(keys, _daily_activity(ds), "day", max(WINDOWS))
    aggs = {}
    for w in WINDOWS:
        inw = days.age_days <= w
        aggs[f"events_{w}d"] = days.n_events.sum(where=inw).fill_null(0)
        aggs[f"sessions_{w}d"] = days.n_logins.sum(where=inw).fill_null(0)
        aggs[f"active_days_{w}d"] = days.count(where=inw)
    return days.group_by(KEYS).agg(**aggs)


@feature_builder(
    "active_users",
    driver="engagement",
    description="distinct active users in the last 7/30/90 days",
    requires=("events.user_id",),
    features=[
        Feature(f"active_users_{w}d", f"distinct users active in the last {w} days", "int", 0)
        for w in WINDOWS
    ],
)
def active_users(ds: Dataset, keys: ir.Table) -> ir.Table:
    days = _before(keys, _daily_users(ds), "day", max(WINDOWS))
    return days.group_by(KEYS).agg(
        **{f"active_users_{w}d": days.user_id.nunique(where=days.age_days <= w) for w in WINDOWS}
    )


@feature_builder(
    "event_type_counts",
    driver="engagement",
    description="counts per product event type in the last 30 days",
    requires=("events",),
    features=[
        Feature(f"n_{t}_30d", f"'{t}' events in the last 30 days", "int", 0) for t in TASK_EVENTS
    ],
)
def event_type_counts(ds: Dataset, keys: ir.Table) -> ir.Table:
    days = _before(keys, _daily_types(ds), "day", 30)
    return days.group_by(KEYS).agg(
        **{f"n_{t}_30d": days.n_events.sum(where=days.event_type == t) for t in TASK_EVENTS}
    )


@feature_builder(
    "recency",
    driver="engagement",
    description="days since the last event (capped at 365)",
    requires=("events",),
    features=[
        Feature(
            "days_since_last_activity",
            "days since the last event, 365 if none in a year",
            "float",
            365.0,
        )
    ],
)
def recency(ds: Dataset, keys: ir.Table) -> ir.Table:
    days = _before(keys, _daily_activity(ds), "day", 365)
    return days.group_by(KEYS).agg(
        days_since_last_activity=days_between(days.cutoff, days.last_ts).min()
    )


@feature_builder(
    "session_duration",
    driver="engagement",
    description="session length statistics over the last 30 days",
    requires=("events.duration_s",),
    features=[
        Feature("mean_session_min_30d", "mean session length (minutes), last 30 days", "float"),
        Feature("max_session_min_30d", "longest session (minutes), last 30 days", "float"),
        Feature(
            "total_session_hours_30d", "total session time (hours), last 30 days", "float", 0.0
        ),
    ],
)
def session_duration(ds: Dataset, keys: ir.Table) -> ir.Table:
    ev = _before(keys, ds["events"], "ts", 30)
    ev = ev.filter(ev.event_type == "login")
    return ev.group_by(KEYS).agg(
        mean_session_min_30d=ev.duration_s.mean() / 60.0,
        max_session_min_30d=ev.duration_s.max() / 60.0,
        total_session_hours_30d=ev.duration_s.sum() / 3600.0,
    )


@feature_builder(
    "activity_trend",
    driver="engagement",
    description="activity churn: last 30 days vs the prior 60, and the 12-week slope",
    requires=("events",),
    features=[
        Feature(
            "activity_ratio_30_60",
            "events in the last 30 days / half the events of the 60 before (+1 smoothing; null before 90 days of tenure)",
            "float",
        ),
        Feature(
            "weekly_activity_slope_12w",
            "least-squares slope of weekly events over 12 weeks, relative to the weekly mean (null before 12 weeks of tenure)",
            "float",
        ),
    ],
)
def activity_trend(ds: Dataset, keys: ir.Table) -> ir.Table:
    ev = _before(keys, ds["events"], "ts", 90)
    recent = ev.count(where=ev.age_days <= 30)
    prior = ev.count(where=ev.age_days > 30)
    # weeks k = 0..11 in time order (11 = the week before the cutoff); with x fixed, the slope
    # sum((x - 5.5)(y - mean y)) / sum((x - 5.5)^2) reduces to a sum over events, zeros included
    week = 11 - (ev.age_days / 7).floor()
    in12 = ev.age_days <= 84
    sxx = sum((k - 5.5) ** 2 for k in range(12))
    slope = ((week - 5.5) * in12.cast("float64")).sum() / sxx
    weekly_mean = ev.count(where=in12).cast("float64") / 12
    g = ev.group_by(KEYS).agg(
        ratio=(recent + 1).cast("float64") / (prior.cast("float64") / 2 + 1),
        slope=slope / (weekly_mean + 1),
    )
    t = _with_tenure(ds, keys).left_join(g, KEYS)
    return t.select(
        *KEYS,
        activity_ratio_30_60=ibis.ifelse(
            t.tenure_days >= 90, t.ratio.fill_null(1.0), ibis.null("float64")
        ),
        weekly_activity_slope_12w=ibis.ifelse(
            t.tenure_days >= 84, t.slope.fill_null(0.0), ibis.null("float64")
        ),
    )


def _with_tenure(ds: Dataset, keys: ir.Table, *columns: str) -> ir.Table:
    t = keys.join(ds["accounts"].select("account_id", "signup_at", *columns), "account_id")
    return t.mutate(tenure_days=days_between(t.cutoff, t.signup_at))


@feature_builder(
    "danger_zone",
    driver="engagement",
    description="30-day events relative to the cutoff's active population (bottom quartile = danger zone)",
    requires=("events",),
    features=[
        Feature(
            "engagement_percentile_30d",
            "percentile rank of 30-day events among accounts active at the cutoff",
            "float",
        ),
        Feature(
            "in_danger_zone",
            "30-day events at or below the bottom quartile of accounts active at the cutoff",
            "bool",
        ),
    ],
)
def danger_zone(ds: Dataset, keys: ir.Table) -> ir.Table:
    pop = active_population(ds, _cutoffs(keys))
    days = _before(pop, _daily_activity(ds), "day", 30)
    counts = days.group_by(KEYS).agg(n=days.n_events.sum())
    pop = pop.left_join(counts, KEYS).select(*KEYS, n=lambda t: t.n.fill_null(0))
    by_cutoff = ibis.window(group_by="cutoff", order_by=["n", "account_id"])
    pop = pop.mutate(
        rank=ibis.row_number().over(by_cutoff),
        size=pop.count().over(ibis.window(group_by="cutoff")),
        pct=ibis.percent_rank().over(ibis.window(group_by="cutoff", order_by="n")),
    )
    # the lower quartile by rank, exact and identical on every engine
    q = pop.filter(pop.rank == ((pop.size - 1) * 0.25).floor().cast("int64")).select(
        "cutoff", q25="n"
    )
    pop = pop.join(q, "cutoff")
    flagged = pop.select(*KEYS, engagement_percentile_30d="pct", in_danger_zone=pop.n <= pop.q25)
    return keys.join(flagged, KEYS).select(*KEYS, "engagement_percentile_30d", "in_danger_zone")


# ---- team ------------------------------------------------------------------------------------


@feature_builder(
    "seat_activity",
    driver="team",
    description="share of seats active now vs 8 weeks ago",
    requires=("events.user_id", "accounts.seats"),
    features=[
        Feature(
            "active_seat_share_2w", "distinct active users in the last 2 weeks / seats", "float"
        ),
        Feature(
            "active_seat_share_2w_8w_ago",
            "the same share 8 weeks earlier (weeks 9-10 before the cutoff; null before 10 weeks of tenure)",
            "float",
        ),
        Feature("active_seat_share_trend", "active seat share now minus 8 weeks ago", "float"),
        Feature(
            "active_users_change_8w",
            "active users in the last 2 weeks / in the same 2 weeks 8 weeks earlier (+1 smoothing; null before 10 weeks of tenure)",
            "float",
        ),
    ],
)
def seat_activity(ds: Dataset, keys: ir.Table) -> ir.Table:
    days = _before(keys, _daily_users(ds), "day", 70)
    users = days.group_by(KEYS).agg(
        now=days.user_id.nunique(where=days.age_days <= 14),
        then=days.user_id.nunique(where=days.age_days > 56),
    )
    t = _with_tenure(ds, keys, "seats").left_join(users, KEYS)
    t = t.select(*KEYS, "seats", "tenure_days", now=t.now.fill_null(0), then=t.then.fill_null(0))
    denom = ibis.ifelse(t.seats > 0, t.seats.cast("float64"), ibis.null("float64"))
    share_now = t.now / denom
    share_then = ibis.ifelse(t.tenure_days >= 70, t.then / denom, ibis.null("float64"))
    return t.select(
        *KEYS,
        active_seat_share_2w=share_now,
        active_seat_share_2w_8w_ago=share_then,
        active_seat_share_trend=share_now - share_then,
        active_users_change_8w=ibis.ifelse(
            t.tenure_days >= 70, (t.now + 1).cast("float64") / (t.then + 1), ibis.null("float64")
        ),
    )


# ---- onboarding ------------------------------------------------------------------------------


@feature_builder(
    "onboarding",
    driver="onboarding",
    description="onboarding red flags from the first 30 days after sign-up",
    requires=("events",),
    core_event="create_report",
    features=[
        Feature("logins_first_10d", "logins in the first 10 days after sign-up", "int", 0),
        Feature(
            "days_to_first_core_action",
            "days from sign-up to the first core action (null if none yet)",
            "float",
        ),
        Feature(
            "core_actions_first_30d", "core actions in the first 30 days after sign-up", "int", 0
        ),
    ],
)
def onboarding(ds: Dataset, keys: ir.Table, core_event: str) -> ir.Table:
    acc = ds["accounts"].select("account_id", "signup_at")
    early = ds["events"].join(acc, "account_id")
    early = early.filter(early.ts < early.signup_at + ibis.interval(days=30))
    ev = _before(keys, early, "ts")
    since = days_between(ev.ts, ev.signup_at)
    core = ev.event_type == core_event
    return ev.group_by(KEYS).agg(
        logins_first_10d=ev.count(where=(ev.event_type == "login") & (since < 10)),
        days_to_first_core_action=since.min(where=core),
        core_actions_first_30d=ev.count(where=core),
    )


@feature_builder(
    "first_session",
    driver="onboarding",
    description="length of the account's first session",
    requires=("events.duration_s",),
    features=[Feature("first_session_min", "length of the first session (minutes)", "float")],
)
def first_session(ds: Dataset, keys: ir.Table) -> ir.Table:
    # the first login ever is the first before any cutoff that comes after it
    logins = ds["events"].filter(lambda t: t.event_type == "login")
    w = ibis.window(group_by="account_id", order_by=["ts", "duration_s"])
    first = logins.mutate(rn=ibis.row_number().over(w)).filter(lambda t: t.rn == 0)
    j = keys.join(first.select("account_id", "ts", "duration_s"), "account_id")
    j = j.filter(j.ts < j.cutoff)
    return j.select(*KEYS, first_session_min=j.duration_s / 60.0)


# ---- usability -------------------------------------------------------------------------------


@feature_builder(
    "time_on_task",
    driver="usability",
    description="time on task relative to the population for the same task (last 90 days)",
    requires=("events.duration_s",),
    features=[
        Feature(
            "time_on_task_ratio_90d",
            "geometric mean of task time / population geometric mean for the same task",
            "float",
        ),
        Feature(
            "slow_task_share_90d",
            "share of tasks taking over twice the population's typical time",
            "float",
        ),
    ],
)
def time_on_task(ds: Dataset, keys: ir.Table) -> ir.Table:
    tasks = ds["events"].filter(lambda t: ~t.event_type.isin(SYSTEM_EVENTS) & (t.duration_s > 0))
    # population baseline per (cutoff, task): geometric means are exact on every engine
    # one pass over the population's tasks serves both the baseline and every account in it
    pop = _before(active_population(ds, _cutoffs(keys)), tasks, "ts", 90)
    pop = pop.mutate(log_s=pop.duration_s.ln())
    base = pop.group_by(["cutoff", "event_type"]).agg(base_log=pop.log_s.mean())
    ev = pop.join(base, ["cutoff", "event_type"])
    rel = ev.log_s - ev.base_log
    per_account = ev.group_by(KEYS).agg(
        time_on_task_ratio_90d=rel.mean().exp(),
        slow_task_share_90d=(rel > math.log(2.0)).cast("float64").mean(),
    )
    return keys.join(per_account, KEYS).select(
        *KEYS, "time_on_task_ratio_90d", "slow_task_share_90d"
    )


# ---- product quality and support --------------------------------------------------------------


@feature_builder(
    "bug_tickets",
    driver="product_quality",
    description="bug tickets: recent, severe and still open at the cutoff",
    requires=("tickets.category", "tickets.resolved_at"),
    features=[
        Feature("bug_tickets_90d", "bug tickets opened in the last 90 days", "int", 0),
        Feature("open_bug_tickets", "bug tickets open at the cutoff", "int", 0),
        Feature("bug_tickets_365d", "bug tickets opened in the last 365 days", "int", 0),
        Feature(
            "mean_bug_resolution_hours_90d",
            "mean hours to resolve bug tickets opened in the last 90 days (resolved before the cutoff)",
            "float",
        ),
    ],
)
def bug_tickets(ds: Dataset, keys: ir.Table) -> ir.Table:
    tk = _before(keys, ds["tickets"].filter(lambda t: t.category == "bug"), "created_at", 365)
    open_now = tk.resolved_at.isnull() | (tk.resolved_at >= tk.cutoff)
    return tk.group_by(KEYS).agg(
        bug_tickets_90d=tk.count(where=tk.age_days <= 90),
        open_bug_tickets=tk.count(where=open_now),
        bug_tickets_365d=tk.count(),
        mean_bug_resolution_hours_90d=(days_between(tk.resolved_at, tk.created_at) * 24).mean(
            where=tk.resolved_at.notnull() & (tk.resolved_at < tk.cutoff) & (tk.age_days <= 90)
        ),
    )


@feature_builder(
    "severe_bugs",
    driver="product_quality",
    description="high or critical bug tickets in the last 90 days",
    requires=("tickets.category", "tickets.severity"),
    features=[
        Feature("severe_bug_tickets_90d", "high/critical bug tickets in the last 90 days", "int", 0)
    ],
)
def severe_bugs(ds: Dataset, keys: ir.Table) -> ir.Table:
    tk = _before(keys, ds["tickets"], "created_at", 90)
    severe = (tk.category == "bug") & tk.severity.isin(("high", "critical"))
    return tk.group_by(KEYS).agg(severe_bug_tickets_90d=tk.count(where=severe))


@feature_builder(
    "support_tickets",
    driver="support",
    description="support tickets by category in the last 90 days",
    requires=("tickets.category",),
    features=[
        Feature("tickets_90d", "tickets of any category in the last 90 days", "int", 0),
        *(
            Feature(f"{c}_tickets_90d", f"'{c}' tickets in the last 90 days", "int", 0)
            for c in ("usability", "how_to", "billing")
        ),
    ],
)
def support_tickets(ds: Dataset, keys: ir.Table) -> ir.Table:
    tk = _before(keys, ds["tickets"], "created_at", 90)
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
        ),
        Feature("open_tickets", "tickets of any category open at the cutoff", "int", 0),
    ],
)
def resolution_time(ds: Dataset, keys: ir.Table) -> ir.Table:
    tk = _before(keys, ds["tickets"], "created_at", 365)
    resolved = tk.resolved_at.notnull() & (tk.resolved_at < tk.cutoff)
    hours = days_between(tk.resolved_at, tk.created_at) * 24
    return tk.group_by(KEYS).agg(
        mean_resolution_hours_90d=hours.mean(where=resolved & (tk.age_days <= 90)),
        open_tickets=tk.count(where=~resolved),
    )


@feature_builder(
    "customer_success",
    driver="support",
    description="proactive customer-success calls in the last 90 days",
    requires=("events",),
    features=[Feature("csm_calls_90d", "customer-success calls in the last 90 days", "int", 0)],
)
def customer_success(ds: Dataset, keys: ir.Table) -> ir.Table:
    ev = _before(keys, ds["events"].filter(lambda t: t.event_type == "csm_call"), "ts", 90)
    return ev.group_by(KEYS).agg(csm_calls_90d=ev.count())


# ---- satisfaction ----------------------------------------------------------------------------


@feature_builder(
    "nps",
    driver="satisfaction",
    description="latest NPS answer, its change and recency",
    requires=("surveys",),
    features=[
        Feature("last_nps", "latest NPS score (0-10) before the cutoff", "float"),
        Feature("nps_change", "latest NPS minus the one before", "float"),
        Feature("is_detractor", "latest NPS is 6 or below", "bool"),
        Feature("days_since_last_survey", "days since the latest NPS answer", "float"),
        Feature("surveys_answered", "NPS surveys answered before the cutoff", "int", 0),
    ],
)
def nps(ds: Dataset, keys: ir.Table) -> ir.Table:
    s = _before(keys, ds["surveys"], "ts")
    s = s.mutate(rn=ibis.row_number().over(ibis.window(group_by=KEYS, order_by=ibis.desc("ts"))))
    g = s.group_by(KEYS).agg(
        last_nps=s.nps.max(where=s.rn == 0).cast("float64"),
        prev_nps=s.nps.max(where=s.rn == 1).cast("float64"),
        days_since_last_survey=s.age_days.min(),
        surveys_answered=s.count(),
    )
    return g.select(
        *KEYS,
        "last_nps",
        nps_change=g.last_nps - g.prev_nps,
        is_detractor=g.last_nps <= 6,
        days_since_last_survey=g.days_since_last_survey,
        surveys_answered=g.surveys_answered,
    )


# ---- billing ---------------------------------------------------------------------------------


def _subscription_at(ds: Dataset, keys: ir.Table, shift_days: int = 0) -> ir.Table:
    """The subscription in force at ``cutoff - shift_days`` for each key (latest start wins)."""
    j = keys.join(ds["subscriptions"], "account_id")
    at = j.cutoff - ibis.interval(days=shift_days) if shift_days else j.cutoff
    j = j.filter((j.started_at <= at) & (j.ended_at.isnull() | (j.ended_at > at)))
    j = j.mutate(
        rn=ibis.row_number().over(ibis.window(group_by=KEYS, order_by=ibis.desc("started_at")))
    )
    return j.filter(j.rn == 0)


@feature_builder(
    "plan",
    driver="billing",
    description="current plan, MRR and its 90-day change",
    requires=("subscriptions",),
    features=[
        Feature("plan", "plan at the cutoff", "category"),
        Feature("current_mrr", "MRR at the cutoff", "float"),
        Feature(
            "mrr_change_90d",
            "MRR now minus MRR 90 days earlier (null if not subscribed then)",
            "float",
        ),
        Feature("days_on_plan", "days since the current subscription started", "float"),
    ],
)
def plan(ds: Dataset, keys: ir.Table) -> ir.Table:
    now = _subscription_at(ds, keys).select(*KEYS, "plan", "mrr", "started_at")
    then = _subscription_at(ds, keys, 90).select(*KEYS, mrr_then="mrr")
    t = now.left_join(then, KEYS).select(*KEYS, "plan", "mrr", "started_at", "mrr_then")
    return t.select(
        *KEYS,
        plan=t.plan.cast("string"),
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
        Feature("billing_period", "monthly or annual", "category"),
        Feature(
            "days_to_renewal",
            "days to the next renewal (annual: contract anniversary; monthly: next charge)",
            "float",
        ),
    ],
)
def billing_period(ds: Dataset, keys: ir.Table) -> ir.Table:
    now = _subscription_at(ds, keys)
    period = ibis.ifelse(now.billing_period == "annual", 365.0, 30.44)
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
        Feature("downgrades_365d", "downgrades in the last 365 days", "int", 0),
        Feature("upgrades_365d", "upgrades in the last 365 days", "int", 0),
    ],
)
def plan_changes(ds: Dataset, keys: ir.Table) -> ir.Table:
    s = _before(keys, ds["subscriptions"].filter(lambda t: t.ended_at.notnull()), "ended_at", 365)
    return s.group_by(KEYS).agg(
        downgrades_365d=s.count(where=s.end_reason == "downgrade"),
        upgrades_365d=s.count(where=s.end_reason == "upgrade"),
    )


@feature_builder(
    "failed_payments",
    driver="billing",
    description="failed payments in the last 90 and 365 days",
    requires=("events",),
    features=[
        Feature("failed_payments_90d", "failed payments in the last 90 days", "int", 0),
        Feature("failed_payments_365d", "failed payments in the last 365 days", "int", 0),
    ],
)
def failed_payments(ds: Dataset, keys: ir.Table) -> ir.Table:
    ev = _before(keys, ds["events"].filter(lambda t: t.event_type == "payment_failed"), "ts", 365)
    return ev.group_by(KEYS).agg(
        failed_payments_90d=ev.count(where=ev.age_days <= 90),
        failed_payments_365d=ev.count(),
    )


# ---- account ---------------------------------------------------------------------------------


@feature_builder(
    "tenure",
    driver="account",
    description="days since sign-up",
    requires=("accounts",),
    features=[Feature("tenure_days", "days since sign-up", "float")],
)
def tenure(ds: Dataset, keys: ir.Table) -> ir.Table:
    return _with_tenure(ds, keys).select(*KEYS, "tenure_days")


def _account_attribute(column: str, dtype: str, description: str) -> None:
    def build(ds: Dataset, keys: ir.Table) -> ir.Table:
        t = keys.join(ds["accounts"].select("account_id", column), "account_id")
        value = t[column].cast("string") if dtype == "category" else t[column].cast("float64")
        return t.select(*KEYS, **{column: value})

    feature_builder(
        column,
        driver="account",
        description=description,
        requires=(f"accounts.{column}",),
        features=[Feature(column, description, dtype)],
    )(build)


for _col, _dtype, _desc in (
    ("seats", "float", "team size (licensed seats)"),
    ("segment", "category", "customer segment"),
    ("industry", "category", "industry"),
    ("country", "category", "country"),
    ("acquisition_channel", "category", "how the account was acquired"),
):
    _account_attribute(_col, _dtype, _desc)
