"""Onboarding: time to the first core action and the first session."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.features.builtin.common import KEYS, before
from churnlab.features.observations import days_between
from churnlab.features.registry import Feature, feature_builder


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
    ev = before(keys, early, "ts")
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
