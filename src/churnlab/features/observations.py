"""Observations: one row per (account_id, cutoff) for accounts active at the cutoff, with labels.

* ``churned_within_h``: the account churned in (cutoff + lead, cutoff + lead + horizon]
  ([cutoff, cutoff + horizon] without a lead: an end dated at the cutoff's instant is after
  what its features see): the
  spell of cover it is in at the cutoff (subscriptions back to back or overlapping,
  :func:`~churnlab.data.coverage_spells`) ends then, whether or not it comes back later;
  null when it churned inside the lead gap (cutoff, cutoff + lead].
* ``duration_days`` / ``event``: days from cutoff to churn (event = 1) or to the end of
  observation (event = 0, censored): the survival target.
* ``label_complete``: the label window, and the grace days after it that tell a churn from a
  late renewal (:func:`~churnlab.data.inactivity.grace_days`), end on or before
  ``observed_until`` (and the label is defined). Incomplete rows stay for survival models;
  classifiers drop them.
* ``mrr``: monthly recurring revenue of the subscription in force at the cutoff.

Nothing here reads data after ``observed_until``; labels read only (cutoff, cutoff + lead +
horizon + grace days].
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from churnlab.data import Dataset, coverage_spells, in_force
from churnlab.data.inactivity import grace_days
from churnlab.errors import ChurnlabError

SECONDS_PER_DAY = 86_400.0
# a date as churnlab reads one typed by a user: ISO (2024-03-01, optionally with a time);
# 03/04/2024 could be March 4 or April 3 and is refused rather than guessed
_ISO_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ].*)?|\d{8}")
_RANGE = re.compile(r"^(?P<start>[^:]+):(?P<end>[^:]+):(?P<n>\d+)(?P<unit>[DWM])$", re.IGNORECASE)


def parse_cutoffs(spec: str | Sequence[str | pd.Timestamp]) -> list[pd.Timestamp]:
    """Cutoff dates from a list, a comma-separated string, or ``START:END:STEP``.

    STEP is a number of days, weeks or months: ``7D``, ``2W``, ``1M``. END is inclusive. A cutoff
    is a date (midnight): a feature at a cutoff sees everything before that day.

    >>> [str(c.date()) for c in parse_cutoffs("2024-03-01:2024-05-01:1M")]
    ['2024-03-01', '2024-04-01', '2024-05-01']
    """
    if isinstance(spec, str):
        match = _RANGE.match(spec.strip())
        _check_iso([match["start"], match["end"]] if match else spec.split(","))
        if match:
            start, end = pd.Timestamp(match["start"]), pd.Timestamp(match["end"])
            n, unit = int(match["n"]), match["unit"].upper()
            if n < 1:
                raise ValueError(f"cutoff step must be positive: {spec!r}")
            step = (
                pd.DateOffset(months=n)
                if unit == "M"
                else pd.Timedelta(days=n * (7 if unit == "W" else 1))
            )
            out, k = [], 0
            while (
                c := start + step * k if unit != "M" else start + pd.DateOffset(months=n * k)
            ) <= end:
                out.append(pd.Timestamp(c))
                k += 1
            if not out:
                raise ValueError(f"cutoff range {spec!r} is empty (END before START)")
            return out
        spec = [s for s in spec.split(",") if s.strip()]
    try:
        cutoffs = sorted({pd.Timestamp(s) for s in spec})
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"cannot read cutoffs {spec!r}: give dates (2024-03-01,2024-04-01) or START:END:STEP "
            "with STEP like 7D, 2W, 1M"
        ) from exc
    if not cutoffs:
        raise ValueError("no cutoffs given")
    with_time = [str(c) for c in cutoffs if c != c.normalize()]
    if with_time:
        raise ValueError(
            f"cutoffs are dates (features use whole days before them): got {with_time}"
        )
    return cutoffs


def cutoff_range(spec: str) -> tuple[pd.Timestamp, pd.Timestamp, str] | None:
    """START, END and STEP (``1M``, ``7D``, ...) of a ``START:END:STEP`` cutoff range; None
    for a list of dates."""
    match = _RANGE.match(spec.strip())
    if match is None:
        return None
    step = f"{int(match['n'])}{match['unit'].upper()}"
    return pd.Timestamp(match["start"]), pd.Timestamp(match["end"]), step


def cutoff_table(cutoffs: Sequence[pd.Timestamp]) -> ir.Table:
    return ibis.memtable(
        pd.DataFrame({"cutoff": pd.to_datetime(list(cutoffs)).astype("datetime64[us]")})
    )


def days_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """Days from ``earlier`` to ``later`` at one-second resolution, identical on every engine
    (Spark's epoch seconds are whole seconds; DuckDB's carry microseconds)."""
    seconds = later.epoch_seconds().floor() - earlier.epoch_seconds().floor()
    return seconds.cast("float64") / SECONDS_PER_DAY


def subscribed_at(dataset: Dataset, cut: ir.Table) -> ir.Table:
    """(account_id, cutoff, mrr, started_at, churned_at) for the accounts active at each
    cutoff: a subscription in force then (``mrr`` the total in force,
    :func:`churnlab.data.in_force`), a signup before it, and a spell of cover
    (:func:`~churnlab.data.coverage_spells`) begun before it; ``churned_at`` is that spell's
    end (null while open). Observations, scoring and the statistics over a cutoff's active
    population all read this one rule.

    Everything dated at the cutoff's instant is data of that instant, as for features: the
    rule reads cover in force just before it (``in_force(..., before=True)``). Cover that
    begins then (a win-back dated at midnight, a spell read from activity back that day) is
    no row at the cutoff; cover that ends then (a subscription ending at midnight, a cancel
    event logged then, 30 quiet days completed then) still is, churning at once. A renewal
    continues a spell begun before."""
    subs = dataset["subscriptions"].select("account_id", "mrr", "started_at", "ended_at")
    acc = dataset["accounts"].select("account_id", "signup_at")
    paired = subs.cross_join(cut)
    active = in_force(paired, paired.cutoff, ["account_id", "cutoff"], before=True)
    active = active.select("account_id", "cutoff", "mrr", "started_at")
    active = active.join(acc, "account_id").filter(lambda t: t.signup_at < t.cutoff)
    spells = coverage_spells(dataset).rename(churned_at="ended_at", spell_start="started_at")
    return active.join(
        spells,
        (active.account_id == spells.account_id)
        & (spells.spell_start < active.cutoff)
        & (spells.churned_at.isnull() | (spells.churned_at >= active.cutoff)),
    ).select("account_id", "cutoff", "mrr", "started_at", "churned_at")


def check_cutoffs_end(
    cutoffs: Sequence[pd.Timestamp], end: pd.Timestamp, for_scoring: bool, covers: str
) -> None:
    """A :class:`ChurnlabError` naming the cutoffs past the data's end ``end``: on or after it
    for training rows (labels), after it for scoring rows (the end itself is scoring's date)."""
    late = [c for c in cutoffs if (c > end if for_scoring else c >= end)]
    if late:
        when = "after" if for_scoring else "on or after"
        raise ChurnlabError(
            f"cutoffs {when} the end of observation ({end.date()}): "
            f"{[str(c.date()) for c in late]}; {covers}"
        )


def build_observations(
    dataset: Dataset,
    cutoffs: Sequence[pd.Timestamp] | str,
    horizon_days: int,
    lead_days: int = 0,
    *,
    for_scoring: bool = False,
) -> ir.Table:
    """The observation table for ``cutoffs`` (an Ibis expression on the dataset's engine).

    A cutoff must lie before the end of observation: at the end itself no label has begun.
    ``for_scoring`` (features a model scores, ``churnlab features --model``) also takes the
    end itself, as :func:`active_accounts` does (scoring's default date where the data end at
    a midnight); its rows' labels are all incomplete."""
    cutoffs = parse_cutoffs(cutoffs)
    if horizon_days < 1 or lead_days < 0:
        raise ValueError("horizon_days must be >= 1 and lead_days >= 0")
    end = dataset.observed_until
    check_cutoffs_end(cutoffs, end, for_scoring, dataset.covers())
    first = dataset.first_signup()
    if first is not None and all(c <= first for c in cutoffs):
        raise ChurnlabError(
            f"no cutoff inside the data: {_dates(cutoffs)} are all on or before the first "
            f"sign-up ({first.date()}), when no account is active yet; {dataset.covers()}"
        )
    # churn: the end of the spell of cover the cutoff lies in (one per active account)
    obs = subscribed_at(dataset, cutoff_table(cutoffs))
    end_lit = ibis.literal(end.to_pydatetime())
    lead = ibis.interval(days=lead_days)
    h = ibis.interval(days=horizon_days)
    grace = ibis.interval(days=grace_days(dataset.manifest))
    churned = obs.churned_at.notnull()
    # without a lead, a churn at the cutoff's own instant (a cancel event logged then) is in
    # the window: after everything the cutoff's features see
    in_gap = churned & (
        (obs.churned_at <= obs.cutoff + lead) if lead_days else (obs.churned_at < obs.cutoff)
    )
    in_window = churned & ~in_gap & (obs.churned_at <= obs.cutoff + lead + h)
    return obs.select(
        "account_id",
        "cutoff",
        churned_within_h=ibis.ifelse(in_gap, ibis.null("boolean"), in_window),
        duration_days=days_between(obs.churned_at.fill_null(end_lit), obs.cutoff),
        event=churned.cast("int8"),
        # whether a gap after the window's end is a churn or a renewal within the grace days
        # is known only once they have passed: the label reads them too
        label_complete=(obs.cutoff + lead + h + grace <= end_lit) & ~in_gap,
        mrr=obs.mrr.cast("float64"),
    ).order_by(["cutoff", "account_id"])


def active_accounts(dataset: Dataset, as_of: pd.Timestamp | str | None = None) -> ir.Table:
    """Scoring observations: every account active at ``as_of`` as (account_id, cutoff, mrr).

    The same activity rule as :func:`build_observations` (a subscription in force at the cutoff,
    signup before it), without labels: at scoring time the future is unknown. ``as_of`` may be
    the data's end of observation itself (features read only rows before it); without one,
    :func:`default_as_of`."""
    cutoff = default_as_of(dataset) if as_of is None else as_of_date(as_of)
    end, first = dataset.observed_until, dataset.first_signup()
    if end is not None and cutoff > end:
        raise ChurnlabError(
            f"no accounts known to be active on {cutoff.date()}: it is after the end of "
            f"observation; {dataset.covers()}"
        )
    if first is not None and cutoff <= first:
        raise ChurnlabError(
            f"no accounts active on {cutoff.date()}: no account had signed up yet; "
            f"{dataset.covers()}"
        )
    return (
        subscribed_at(dataset, cutoff_table([cutoff]))
        .select("account_id", "cutoff", mrr=ibis._.mrr.cast("float64"))
        .order_by(["cutoff", "account_id"])
    )


def default_as_of(dataset: Dataset) -> pd.Timestamp:
    """The day scoring uses when none is given: the last midnight at or before the data's end of
    observation. Features read whole days before it, so an end in the middle of a day (the
    latest event's time, where the dataset names no end) leaves that partial day out rather
    than counting it as a whole one."""
    if dataset.observed_until is None:
        raise ChurnlabError("the data has no end of observation: give the as-of date")
    return pd.Timestamp(dataset.observed_until).normalize()


def _check_iso(values: Sequence[str]) -> None:
    written = [v.strip() for v in values if v.strip() and not _ISO_DATE.fullmatch(v.strip())]
    if written:
        raise ValueError(
            f"cannot read cutoff(s) {written}: give dates as YYYY-MM-DD (2024-03-01,2024-04-01) "
            "or START:END:STEP with STEP like 7D, 2W, 1M"
        )


def as_of_date(value: pd.Timestamp | str) -> pd.Timestamp:
    """The date to score at, from a date or its text (``2026-01-01``; ``03/04/2025``, March 4
    or April 3, is refused rather than guessed)."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value.strip()):
        guess = " (YYYY-MM-DD: 03/04/2025 could be March 4 or April 3)" * bool(
            re.search(r"\d[/.]\d", value)
        )
        raise ChurnlabError(
            f"cannot read the as-of date {value!r}: give a date like 2026-01-01{guess}"
        )
    try:
        date = pd.Timestamp(value)
    except (ValueError, TypeError):
        date = pd.NaT
    if pd.isna(date):
        raise ChurnlabError(
            f"cannot read the as-of date {str(value)!r}: give a date like 2026-01-01"
        )
    if date != date.normalize():
        raise ChurnlabError(
            f"the as-of date is a day (features use whole days before it): got {str(value)!r}"
        )
    return date


def _dates(cutoffs: Sequence[pd.Timestamp]) -> str:
    first, last = min(cutoffs).date(), max(cutoffs).date()
    return f"the cutoff {first}" if first == last else f"the cutoffs {first} to {last}"
