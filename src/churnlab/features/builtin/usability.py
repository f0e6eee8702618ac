"""Usability: time on task against the population baseline."""

from __future__ import annotations

import math

import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary
from churnlab.features.builtin.common import (
    KEYS,
    active_population,
    before,
    cutoff_dates,
)
from churnlab.features.registry import Feature, feature_builder


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
            reason="tasks take {value:x} as long as for other accounts (last 90 days)",
        ),
        Feature(
            "slow_task_share_90d",
            "share of tasks taking over twice the population's typical time",
            "float",
            reason="{value:pct} of tasks took over twice the usual time (last 90 days)",
        ),
    ],
)
def time_on_task(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    # tasks: timed events other than sessions, contacts, failed payments and ignored types
    system = [
        t
        for r in ("session_start", "contact", "payment_failure", "ignore")
        for t in vocabulary.role(r)
    ]
    ev = ds["events"]
    tasks = ev.filter((ev.duration_s > 0) & ~ev.event_type.isin(system or [""]))
    # population baseline per (cutoff, task): geometric means are exact on every engine
    # one pass over the population's tasks serves both the baseline and every account in it
    pop = before(active_population(ds, cutoff_dates(keys)), tasks, "ts", 90)
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
