"""What every profile shares: the parameters, the clock, column buffers and sign-up cohorts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

CHUNK_ACCOUNTS = 2000  # fixed: output must not depend on the machine


@dataclass(frozen=True)
class SimulationParams:
    """Documented knobs of the simulator; defaults make the demo dataset.

    ``profile`` picks the product (``churnlab.vocab.SIMULATOR_PROFILES``). The knobs up to ``cohort_growth`` apply to
    every profile; the rest are the ``b2b_saas`` profile's (the other profiles document their
    constants in their own modules).
    """

    accounts: int = 5000
    months: int = 24
    seed: int = 42
    start: str = "2024-01-01"
    profile: str = "b2b_saas"
    cohort_growth: float = 0.04  # month-over-month growth of sign-ups
    trial_share: float = 0.55  # sign-ups that start on a 14-day free trial
    trial_days: int = 14
    plan_mix: tuple[float, float, float] = (0.55, 0.33, 0.12)  # basic, pro, enterprise (paid)
    price_per_seat: tuple[float, float, float] = (15.0, 35.0, 60.0)
    annual_share: tuple[float, float, float] = (0.15, 0.35, 0.75)
    annual_discount: float = 0.15
    hazard_intercept: float = -5.6  # weekly logit of deciding to leave at average state
    abrupt_share: float = 0.33  # deciders who cancel without disengaging first
    disengage_exit: float = 0.13  # weekly probability that a disengaging account cancels
    disengage_decay: float = 0.7  # weekly factor on active-seat probability while disengaging
    bug_rate: float = 0.06  # bugs per account-week, at random
    payment_fail: tuple[float, float, float] = (0.035, 0.02, 0.006)  # per monthly charge
    payment_recover: float = 0.6
    survey_response: float = 0.35
    cs_contact_rate: float = 0.12  # weekly, covered accounts; tripled when at risk
    sessions_per_user_week: float = 1.0
    events_per_session: float = 2.2
    # what changes at ``change_at`` (default: the first day of the month two thirds into the
    # history); see the module docstring of ``b2b_saas`` for each scenario
    scenario: str = "none"
    change_at: str | None = None
    # monthly randomized retention campaigns (b2b_saas; see the module docstring of
    # ``churnlab.data.simulate.campaigns``); False writes no ``campaigns`` table
    campaigns: bool = True


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Rows:
    """Column lists for one output table, concatenated once per chunk."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            self.parts.setdefault(k, []).append(np.asarray(v))

    def get(self, name: str, dtype=None) -> np.ndarray:
        parts = self.parts.get(name, [])
        if not parts:
            return np.array([], dtype=dtype)
        return np.concatenate(parts).astype(dtype) if dtype else np.concatenate(parts)


class Clock:
    """Float days since ``start`` <-> timestamps; calendar months of weeks."""

    def __init__(self, start: str, months: int):
        self.start = pd.Timestamp(start)
        self.end = self.start + pd.DateOffset(months=months)
        self.days = float((self.end - self.start).days)
        self.weeks = int(np.ceil(self.days / 7))
        self.month_starts = np.array(
            [(self.start + pd.DateOffset(months=m) - self.start).days for m in range(months + 1)],
            dtype=float,
        )
        week_mid = np.arange(self.weeks) * 7.0 + 3.5
        self.week_calendar_month = np.array(
            [(self.start + pd.Timedelta(days=float(d))).month for d in week_mid]
        )
        self._origin_us = self.start.value // 1000

    def timestamps(self, days: np.ndarray) -> pa.Array:
        us = self._origin_us + np.round(np.asarray(days, dtype=float) * 86_400e6).astype(np.int64)
        return pa.array(us, type=pa.timestamp("us"))

    def nullable_timestamps(self, days: np.ndarray) -> pa.Array:
        days = np.asarray(days, dtype=float)
        mask = ~np.isfinite(days)
        us = self._origin_us + np.round(np.where(mask, 0, days) * 86_400e6).astype(np.int64)
        return pa.array(us, type=pa.timestamp("us"), mask=mask)


def change_day(p: SimulationParams, clock: Clock) -> float:
    """Days from the start to the scenario's change date (``change_at``, else the first day
    of the month two thirds into the history)."""
    if p.change_at is not None:
        return float((pd.Timestamp(p.change_at) - clock.start).days)
    return float(clock.month_starts[(2 * (len(clock.month_starts) - 1)) // 3])


def dictionary(
    codes: np.ndarray, values: tuple[str, ...], mask: np.ndarray | None = None
) -> pa.Array:
    idx = pa.array(np.asarray(codes, dtype=np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(idx, pa.array(values, type=pa.string()))


def signup_days(p: SimulationParams, clock: Clock, rng: np.random.Generator) -> np.ndarray:
    """Sign-up times (days since start), monthly cohorts growing by ``cohort_growth``, sorted."""
    months = len(clock.month_starts) - 1
    weights = (1 + p.cohort_growth) ** np.arange(months)
    if p.scenario == "new_channel":  # the new channel doubles sign-ups from the change on
        weights = np.where(clock.month_starts[:-1] >= change_day(p, clock), 2.0, 1.0) * weights
    cohort = rng.choice(months, size=p.accounts, p=weights / weights.sum())
    lo, hi = clock.month_starts[cohort], clock.month_starts[cohort + 1]
    # leave the last day free so every account has at least a day of history
    hi = np.minimum(hi, clock.days - 1.0)
    return np.sort(lo + rng.random(p.accounts) * (hi - lo))


class Cells:
    """Per account-week counts spread uniformly over the part of the week the account was live.

    ``counts`` is (accounts x weeks); each unit becomes one row with a time in
    [max(week start, sign-up), min(week end, last day)). Cells outside that range are dropped.
    ``first`` and ``size`` index the rows of each kept cell, so other counts of the same cell can
    be attached to these rows (events inside sessions).
    """

    def __init__(
        self,
        rng: np.random.Generator,
        counts: np.ndarray,
        signup: np.ndarray,
        last_day: np.ndarray,
    ):
        acc, week = np.nonzero(counts)
        lo = np.maximum(week * 7.0, signup[acc])
        hi = np.minimum(week * 7.0 + 7.0, last_day[acc])
        keep = hi > lo
        self.acc, self.week, lo, hi = acc[keep], week[keep], lo[keep], hi[keep]
        self.size = counts[self.acc, self.week].astype(np.int64)
        self.first = np.cumsum(self.size) - self.size
        self.cell_of = np.full(counts.shape, -1, np.int64)
        self.cell_of[self.acc, self.week] = np.arange(len(self.acc))
        self.row_cell = np.repeat(np.arange(len(self.acc)), self.size)
        self.row_acc = self.acc[self.row_cell]
        self.row_day = lo[self.row_cell] + rng.random(len(self.row_cell)) * (hi - lo)[self.row_cell]

    def attach(self, rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
        """Row index (into this grid) of each unit of ``counts``, drawn uniformly in its cell."""
        acc, week = np.nonzero(counts)
        cell = self.cell_of[acc, week]
        ok = cell >= 0
        cell = np.repeat(cell[ok], counts[acc[ok], week[ok]])
        return self.first[cell] + (rng.random(len(cell)) * self.size[cell]).astype(np.int64)


def events_table(
    clock: Clock,
    account_id: np.ndarray,
    last_day: np.ndarray,
    types: tuple[str, ...],
    acc: np.ndarray,
    day: np.ndarray,
    type_code: np.ndarray,
    duration_s: np.ndarray,
    user: np.ndarray,
    extra: dict[str, pa.Array | np.ndarray] | None = None,
) -> pa.Table:
    """Events before each account's last day, sorted by (account, time); ``user`` < 0 is null."""
    ok = np.flatnonzero(day < last_day[acc])
    # one float key sorts by (account, time) much faster than lexsort
    span = float(np.ceil(last_day.max(initial=0.0)) + 1.0)
    order = ok[np.argsort(acc[ok] * span + day[ok], kind="stable")]
    acc, day, type_code, duration_s, user = (
        acc[order], day[order], type_code[order], duration_s[order], user[order]
    )  # fmt: skip
    aid = account_id[acc]
    cols = {
        "account_id": pa.array(aid),
        "user_id": pa.array(aid * 1000 + user, mask=user < 0),
        "ts": clock.timestamps(day),
        "event_type": dictionary(type_code, types),
        "duration_s": pa.array(np.round(duration_s, 1), mask=~np.isfinite(duration_s)),
    }
    for name, values in (extra or {}).items():
        cols[name] = values.take(pa.array(order)) if isinstance(values, pa.Array) else values[order]
    return pa.table(cols)


def truth_table(clock: Clock, account_id: np.ndarray, truth: Rows) -> pa.Table:
    """Per account and week: the hazard used, latent satisfaction, whether disengaging."""
    acc = truth.get("account", int)
    return pa.table(
        {
            "account_id": pa.array(account_id[acc]),
            "week_start": clock.timestamps(truth.get("week", float) * 7.0),
            "hazard": pa.array(truth.get("hazard", float).astype(np.float32)),
            "satisfaction": pa.array(truth.get("sat", float).astype(np.float32)),
            "disengaging": pa.array(truth.get("phase", int).astype(bool)),
        }
    )


def subscriptions_table(
    clock: Clock,
    account_id: np.ndarray,
    subs: Rows,
    plans: tuple[str, ...],
    end_reasons: tuple[str, ...],
) -> pa.Table:
    """Subscription rows (account, plan, mrr, annual, start, end, reason < 0 = open), sorted."""
    r_code = subs.get("reason", int)
    acc = subs.get("account", int)
    order = np.lexsort((subs.get("start", float), acc))
    return pa.table(
        {
            "account_id": pa.array(account_id[acc]),
            "plan": dictionary(subs.get("plan", int), plans),
            "mrr": pa.array(np.round(subs.get("mrr", float), 2)),
            "billing_period": dictionary(
                subs.get("annual", bool).astype(int), ("monthly", "annual")
            ),
            "started_at": clock.timestamps(subs.get("start", float)),
            "ended_at": clock.nullable_timestamps(subs.get("end", float)),
            "end_reason": dictionary(np.maximum(r_code, 0), end_reasons, mask=r_code < 0),
        }
    ).take(pa.array(order))
