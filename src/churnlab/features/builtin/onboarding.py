"""Onboarding: sessions and the first session, time to the first core action."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary, distinct_events
from churnlab.features.builtin.common import KEYS, before
from churnlab.features.cube import count_events, sessions
from churnlab.features.observations import days_between
from churnlab.features.registry import EACH_EVENT, Feature, feature_builder


@feature_builder(
    "onboarding",
    driver="onboarding",
    description="sessions in the first 10 days after sign-up",
    requires=("events", EACH_EVENT),
    features=[
        # the name predates derived sessions: session-start events or inactivity-gap sessions
        Feature(
            "logins_first_10d",
            "count of sessions started within 10 days of sign-up",
            "int",
            0,
            reason="{value:int} session{value:s} in the first 10 days after sign-up",
            window="signup",
        ),
    ],
)
def onboarding(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    acc = ds["accounts"].select("account_id", "signup_at")
    early = sessions(ds, vocabulary).join(acc, "account_id")
    early = early.filter(early.start < early.signup_at + ibis.interval(days=10))
    s = before(keys, early, "day")
    return s.group_by(KEYS).agg(logins_first_10d=s.count())


@feature_builder(
    "core_action",
    driver="onboarding",
    description="time to the first core action and core actions in the first 30 days",
    requires=("events",),
    roles=("core_action",),
    features=[
        Feature(
            "days_to_first_core_action",
            "days from sign-up to the first core action (null if none yet)",
            "float",
            reason="first core action {value:days} after sign-up",
            if_missing="no core action in the first 30 days after sign-up",
            window="signup",
        ),
        Feature(
            "core_actions_first_30d",
            "count of core-action events within 30 days of sign-up",
            "int",
            0,
            reason="{value:int} core action{value:s} in the first 30 days after sign-up",
            window="signup",
        ),
    ],
)
def core_action(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    acc = ds["accounts"].select("account_id", "signup_at")
    ev = ds["events"]
    if "count" in ev.columns:  # a log rolled up per day: sign-up counts from its day too
        acc = acc.mutate(signup_at=acc.signup_at.truncate("D"))
    core = distinct_events(ds, ev.filter(ev.event_type.isin(vocabulary.role("core_action"))))
    early = core.join(acc, "account_id")
    early = early.filter(early.ts < early.signup_at + ibis.interval(days=30))
    ev = before(keys, early, "ts")
    return ev.group_by(KEYS).agg(
        days_to_first_core_action=days_between(ev.ts, ev.signup_at).min(),
        core_actions_first_30d=count_events(ev),
    )


@feature_builder(
    "first_session",
    driver="onboarding",
    description="length of the account's first session",
    requires=("events", EACH_EVENT),
    features=[
        Feature(
            "first_session_min",
            "length of the first session (minutes)",
            "float",
            reason="first session lasted {value:minutes}",
            window="signup",
        )
    ],
)
def first_session(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    # the first session ever is the first before any cutoff that comes after it; of sessions
    # starting at the same time, the shortest
    s = sessions(ds, vocabulary)
    starts = s.group_by("account_id").agg(start=s.start.min())
    f = s.join(starts, ["account_id", "start"])
    first = f.group_by("account_id").agg(day=f.day.min(), length_s=f.length_s.min())
    j = keys.join(first, "account_id")
    j = j.filter(j.day < j.cutoff)
    return j.select(*KEYS, first_session_min=j.length_s / 60.0)
