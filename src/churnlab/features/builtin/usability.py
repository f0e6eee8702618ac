"""Usability: time on task against the population baseline."""

from __future__ import annotations

import math

import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary, distinct_events
from churnlab.features.builtin.common import KEYS, active_population, cutoff_dates
from churnlab.features.cube import calendar, flag, for_keys, task_windows
from churnlab.features.registry import EACH_EVENT, Feature, feature_builder

SLOW = math.log(2.0)  # a task is slow above twice the population's typical time


@feature_builder(
    "time_on_task",
    driver="usability",
    description="time on task relative to the population for the same task (last 90 days)",
    requires=("events.duration_s", EACH_EVENT),
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
    # population baseline per (cutoff, task): the mean log duration over the tasks of the
    # accounts active at the cutoff, from the cube's per-day sums (geometric means are exact
    # on every engine); an account's ratio is exp(mean of its log durations minus the baseline)
    per_type = task_windows(ds, keys)
    per_type = per_type.filter(~per_type.event_type.isin(system or [""]))
    pop = for_keys(per_type, active_population(ds, cutoff_dates(keys)))
    base = pop.group_by(["cutoff", "event_type"]).agg(base_log=pop.s.sum() / pop.n.sum())
    mine = for_keys(pop, keys).join(base, ["cutoff", "event_type"])
    per_account = mine.group_by(KEYS).agg(
        _n=mine.n.sum(), _rel=(mine.s - mine.n * mine.base_log).sum()
    )
    # slow tasks need each task's own duration: one pass over the timed events, each dated
    # into the cutoffs whose 90 days hold it by one join on (day, task) to the baselines,
    # after dropping the tasks faster than twice the lowest baseline of their type (they are
    # slow at no cutoff)
    ev = ds["events"]
    tasks = distinct_events(
        ds, ev.filter((ev.duration_s > 0) & ~ev.event_type.isin(system or [""]))
    )
    tasks = tasks.select(
        "account_id", "event_type", day=tasks.ts.truncate("D"), log_s=tasks.duration_s.ln()
    )
    lowest = base.group_by("event_type").agg(low=base.base_log.min())
    tasks = tasks.join(lowest, "event_type")
    tasks = tasks.filter(tasks.log_s - tasks.low > SLOW)
    thresholds = calendar(keys, 90).join(base, "cutoff")
    slow = tasks.join(thresholds, ["day", "event_type"])
    slow = slow.group_by(KEYS).agg(_slow=flag(slow.log_s - slow.base_log > SLOW).sum())
    t = for_keys(per_account, keys).left_join(slow, KEYS)
    n = t._n.cast("float64")
    return t.select(
        *KEYS,
        time_on_task_ratio_90d=(t._rel / n).exp(),
        slow_task_share_90d=t._slow.fill_null(0).cast("float64") / n,
    )
