"""Churn read from activity, for products without subscriptions (a free app, a consumer
service billed elsewhere): an account is active from its first event until it churns, and
active again from its next event. It churns when ``inactive_days`` pass without an event, or
at an event that says it left (``events``: a cancellation confirmed, an account deleted),
whichever comes first.

``dataset.json`` opts in (``"churn": {"inactive_days": 30}``, ``{"events": ["Cancellation
Confirmation"]}`` or both) in a dataset without a ``subscriptions`` table; the spells of
activity then stand in for subscriptions everywhere (observations, labels, survival times),
with MRR unknown (0). The churn date is the moment the rule can tell: the last event plus
``inactive_days``, never the last event itself, which nobody knows to be the last until that
much time has passed (point in time: an account silent for a week at a cutoff is still
active there, and its label says whether it churns within the horizon); or the churn
event's time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

CHURN_KEYS = ("inactive_days", "events", "grace_days")
# a gap between subscriptions of at most this many days is no churn (a renewal dated the day
# after the last period's end, as date-only exports write it)
GRACE_DAYS = 1


@dataclass(frozen=True)
class ChurnRule:
    """dataset.json's ``churn`` section: days without an event after which an account has
    churned, and event types that say it has (churn read from activity where either is
    given); and the longest gap between subscriptions that is no churn."""

    inactive_days: int | None = None
    events: tuple[str, ...] = ()
    grace_days: int = GRACE_DAYS

    @property
    def from_activity(self) -> bool:
        """Whether churn is read from the events (no subscriptions table)."""
        return bool(self.inactive_days or self.events)

    def describe(self) -> str:
        """The rule in words, for notices."""
        said = []
        if self.inactive_days:
            said.append(f"{self.inactive_days} days pass without one")
        if self.events:
            said.append(f"at its first event of type {', '.join(map(repr, self.events))}")
        return " or ".join(said)


def grace_days(manifest: dict[str, Any]) -> int:
    """The longest gap between subscriptions that is no churn: dataset.json's
    ``churn.grace_days`` (default :data:`GRACE_DAYS`); 0 where churn is read from activity,
    whose spells the rule itself separates (a return a day after a cancel is a win-back)."""
    rule = manifest.get("churn")
    if not isinstance(rule, dict):
        return GRACE_DAYS
    if rule.get("inactive_days") or rule.get("events"):
        return 0
    return int(rule.get("grace_days", GRACE_DAYS))


def from_activity(manifest: dict[str, Any]) -> bool:
    """Whether the dataset's subscriptions are spells read from its events (dataset.json's
    ``churn`` rule has ``inactive_days`` or ``events``)."""
    rule = manifest.get("churn")
    return isinstance(rule, dict) and bool(rule.get("inactive_days") or rule.get("events"))


def churn_rule(manifest: dict[str, Any]) -> tuple[ChurnRule | None, list[str]]:
    """dataset.json's ``churn`` section as a rule (None without the section), and the problems
    of a malformed one."""
    rule = manifest.get("churn")
    if rule is None:
        return None, []
    example = '{"inactive_days": 30} or {"events": ["account_deleted"]}'
    if not isinstance(rule, dict) or not rule:
        return None, [f"must be an object such as {example}"]
    unknown = sorted(set(rule) - set(CHURN_KEYS))
    if unknown:
        return None, [f"unknown key(s) {unknown}; known: {list(CHURN_KEYS)}"]
    problems = []
    days = rule.get("inactive_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        problems.append(f"inactive_days must be a whole number of days >= 1, not {days!r}")
    grace = rule.get("grace_days", GRACE_DAYS)
    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
        problems.append(f"grace_days must be a whole number of days >= 0, not {grace!r}")
    events = rule.get("events", [])
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, str) and e for e in events):
        problems.append(f"events must be a list of event types, not {events!r}")
    if problems:
        return None, problems
    return ChurnRule(inactive_days=days, events=tuple(events), grace_days=grace), []


def activity_spells(events: ir.Table, rule: ChurnRule, observed_until: pd.Timestamp) -> ir.Table:
    """Per account, its spells of activity as subscription rows: ``started_at`` at a spell's
    first event; ``ended_at`` at its first churn event (``rule.events``), else at its last event
    plus ``rule.inactive_days`` (null while that lies after ``observed_until``, or without an
    inactivity rule: still active); ``mrr`` 0; ``end_reason`` ``inactive`` or the churn
    event's type. A new spell starts at an event ``inactive_days`` or more after the one
    before, or on the first day with events after a churn event. Events are rolled up per
    (account, day) first: the windows then run over active days, not events."""
    is_churn = events.event_type.isin(list(rule.events)) if rule.events else ibis.literal(False)
    daily = events.group_by(events.account_id, day=events.ts.truncate("D")).agg(
        first=events.ts.min(),
        last=events.ts.max(),
        churn_at=events.ts.min(where=is_churn),
        churn_type=events.event_type.min(where=is_churn),
    )
    order = ibis.window(group_by="account_id", order_by="day")
    opens = daily["last"].lag().over(order).isnull() | daily.churn_at.lag().over(order).notnull()
    if rule.inactive_days:
        gap = ibis.interval(days=rule.inactive_days)
        # the spell ended at its last event plus the gap: an event at that instant or later
        # comes after the end (so whether an account is active at a cutoff never turns on an
        # event dated at the cutoff itself, as with day-level timestamps)
        opens = opens | (daily["first"] >= daily["last"].lag().over(order) + gap)
    daily = daily.mutate(opens=opens.cast("int64"))
    running = ibis.cumulative_window(group_by="account_id", order_by="day")
    daily = daily.mutate(spell=daily.opens.sum().over(running))
    spells = daily.group_by("account_id", "spell").agg(
        started_at=daily["first"].min(),
        last=daily["last"].max(),
        churn_at=daily.churn_at.min(),
        churn_type=daily.churn_type.min(),
    )
    end = ibis.null("timestamp")
    if rule.inactive_days:
        quiet = spells["last"] + ibis.interval(days=rule.inactive_days)
        end_lit = ibis.literal(pd.Timestamp(observed_until).to_pydatetime())
        end = ibis.ifelse(quiet <= end_lit, quiet, end)
    ended_at = spells.churn_at.coalesce(end)
    reason = ibis.ifelse(spells.churn_at.notnull(), spells.churn_type, ibis.literal("inactive"))
    return spells.select(
        "account_id",
        "started_at",
        ended_at=ended_at,
        mrr=ibis.literal(0.0, "float64"),
        end_reason=ibis.ifelse(ended_at.notnull(), reason, ibis.null("string")),
    )
