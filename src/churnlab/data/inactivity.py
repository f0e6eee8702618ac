"""Churn read from activity, for products without subscriptions (a free app, a consumer
service billed elsewhere): an account is active from its first event until ``inactive_days``
pass without one; it churns then, and is active again from its next event.

``dataset.json`` opts in (``"churn": {"inactive_days": 30}``) in a dataset without a
``subscriptions`` table; the spells of activity then stand in for subscriptions everywhere
(observations, labels, survival times), with MRR unknown (0). The churn date is the moment
the rule can tell: the last event plus ``inactive_days``, never the last event itself, which
nobody knows to be the last until that much time has passed (point in time: an account
silent for a week at a cutoff is still active there, and its label says whether it churns
within the horizon)."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

CHURN_KEYS = ("inactive_days",)


def churn_rule(manifest: dict[str, Any]) -> tuple[int | None, list[str]]:
    """dataset.json's ``churn`` section: the inactivity rule's days (None without the section)
    and the problems of a malformed one."""
    rule = manifest.get("churn")
    if rule is None:
        return None, []
    if not isinstance(rule, dict):
        return None, ['must be an object such as {"inactive_days": 30}']
    unknown = sorted(set(rule) - set(CHURN_KEYS))
    if unknown:
        return None, [f"unknown key(s) {unknown}; known: {list(CHURN_KEYS)}"]
    days = rule.get("inactive_days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        return None, [f"inactive_days must be a whole number of days >= 1, not {days!r}"]
    return days, []


def activity_spells(events: ir.Table, inactive_days: int, observed_until: pd.Timestamp) -> ir.Table:
    """Per account, its spells of activity as subscription rows: ``started_at`` at a spell's
    first event, ``ended_at`` at its last event plus ``inactive_days`` (null while that lies
    after ``observed_until``: still active), ``mrr`` 0, ``end_reason`` ``inactive``. A new
    spell starts at an event more than ``inactive_days`` after the one before. Events are
    rolled up per (account, day) first: the window then runs over active days, not events."""
    gap = ibis.interval(days=inactive_days)
    daily = events.group_by(events.account_id, day=events.ts.truncate("D")).agg(
        first=events.ts.min(), last=events.ts.max()
    )
    order = ibis.window(group_by="account_id", order_by="day")
    previous = daily["last"].lag().over(order)
    daily = daily.mutate(
        opens=(previous.isnull() | (daily["first"] > previous + gap)).cast("int64")
    )
    running = ibis.cumulative_window(group_by="account_id", order_by="day")
    daily = daily.mutate(spell=daily.opens.sum().over(running))
    spells = daily.group_by("account_id", "spell").agg(
        started_at=daily["first"].min(), last=daily["last"].max()
    )
    end = spells["last"] + gap
    ended = end <= ibis.literal(pd.Timestamp(observed_until).to_pydatetime())
    return spells.select(
        "account_id",
        "started_at",
        ended_at=ibis.ifelse(ended, end, ibis.null("timestamp")),
        mrr=ibis.literal(0.0, "float64"),
        end_reason=ibis.ifelse(ended, ibis.literal("inactive"), ibis.null("string")),
    )
