"""The oracle uplift: the true effect of a retention contact at a cutoff, from the simulator's
own churn process (``truth``), which no model sees.

For an observation (account_id, cutoff) and a horizon, the uplift is

    P(churn within the horizon | not contacted) - P(churn within the horizon | contacted)

with the contact made just before the cutoff, as the simulated campaigns make it
(:mod:`churnlab.data.simulate.campaigns`): positive when the offer keeps the account, zero where
it changes nothing, negative for ``do_not_disturb`` accounts. Both probabilities come from the
same weekly process the simulator runs for monthly-billed accounts, computed forward over the
horizon weeks (the weeks starting in [cutoff, cutoff + horizon), as
:func:`churnlab.evaluation.metrics.oracle_risk` counts them), without sampling:

* a healthy account decides to leave with the week's ``decide_hazard`` (times the account's
  ``effect`` multiplier in the first ``EFFECT_WEEKS`` weeks if contacted); a decider leaves at
  once with probability ``abrupt_share``, else starts disengaging;
* a disengaging account leaves with probability ``disengage_exit`` a week (the offer does not
  reach it: it has decided);
* a failed payment ends the account with the week's ``involuntary_hazard`` in either arm.

The start state is the account's ``disengaging`` flag in the first horizon week. The weekly
decision hazards are those of the account's simulated path; after the account left (the
simulator tracks it no further) the last one is carried forward. Annual contracts and trials
have no decision hazard here (campaigns do not contact them): their uplift is 0, as it is for
an account with no simulated week in the horizon (it left before the offer could act).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from churnlab.data.dataset import MANIFEST, Dataset
from churnlab.data.simulate._common import SimulationParams
from churnlab.data.simulate.campaigns import EFFECT_WEEKS

TRUTH_COLUMNS = ("decide_hazard", "involuntary_hazard", "effect", "effect_segment")


def _truth_and_params(source: Dataset | str | Path) -> tuple[Any, Any, dict[str, Any]]:
    """The connection, the truth table (Ibis) and the simulation's parameters, from a dataset
    or a path (the dataset folder or its ``truth.parquet``)."""
    if isinstance(source, Dataset):
        if "truth" not in source.tables:
            raise ValueError(f"{source.source}: no truth table (only simulated data has one)")
        return source.con, source["truth"], dict(source.manifest.get("params") or {})
    path = Path(source)
    folder, file = (path, path / "truth.parquet") if path.is_dir() else (path.parent, path)
    if not file.exists():
        raise FileNotFoundError(f"{file}: no truth table (only simulated data has one)")
    manifest = folder / MANIFEST
    params = json.loads(manifest.read_text()).get("params", {}) if manifest.exists() else {}
    con = ibis.duckdb.connect()
    return con, con.read_parquet(str(file)), params


def oracle_uplift(
    source: Dataset | str | Path, observations: pd.DataFrame, horizon_days: int
) -> pd.DataFrame:
    """The true uplift of contacting each (account_id, cutoff) of ``observations`` just before
    its cutoff, over ``horizon_days``; one row per observation, in their order: ``account_id``,
    ``cutoff``, ``uplift`` (the reduction in churn probability; negative: the contact causes
    churn), ``effect`` (the account's hazard multiplier when treated) and ``effect_segment``.

    ``source``: a simulated :class:`~churnlab.data.Dataset`, its folder or its truth.parquet.
    The horizon starts at the cutoff (no lead gap: a spec's ``lead_days`` is not applied).

    >>> oracle_uplift("data/demo", obs[["account_id", "cutoff"]], 90)  # doctest: +SKIP
    """
    if horizon_days < 1:
        raise ValueError("horizon_days must be >= 1")
    con, truth, params = _truth_and_params(source)
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise ValueError(
            f"the truth table has no {', '.join(missing)}: simulate the data again with this "
            "version of churnlab (campaigns came with it)"
        )
    defaults = SimulationParams()
    abrupt = float(params.get("abrupt_share", defaults.abrupt_share))
    exit_rate = float(params.get("disengage_exit", defaults.disengage_exit))
    keys = observations[["account_id", "cutoff"]].reset_index(drop=True)
    weeks, effects = _horizon_weeks(con, truth, keys, horizon_days)
    n_weeks = -(-horizon_days // 7) + 1
    decide, involuntary, healthy0, n_h = _week_arrays(weeks, len(keys), n_weeks, horizon_days)
    by_account = keys[["account_id"]].merge(effects, on="account_id", how="left")
    multiplier = by_account.effect.to_numpy(dtype=float)
    churn = [
        _churn_within(decide, involuntary, healthy0, n_h, m, abrupt, exit_rate)
        for m in (np.ones(len(keys)), np.nan_to_num(multiplier, nan=1.0))
    ]
    uplift = np.where(n_h > 0, churn[0] - churn[1], 0.0)
    return keys.assign(
        uplift=uplift, effect=multiplier, effect_segment=by_account.effect_segment.to_numpy()
    )


def _horizon_weeks(
    con: Any, truth: Any, keys: pd.DataFrame, horizon_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The truth weeks in each observation's horizon (row, week_start, hazards, disengaging)
    and the effect of each observed account."""
    frame = keys.assign(
        _row=np.arange(len(keys)), cutoff=pd.to_datetime(keys.cutoff).astype("datetime64[us]")
    )
    k = ibis.memtable(frame)
    t = truth
    joined = k.join(
        t,
        [
            k.account_id == t.account_id,
            t.week_start >= k.cutoff,
            t.week_start < k.cutoff + ibis.interval(days=int(horizon_days)),
        ],
    ).select(
        "_row",
        "cutoff",
        "week_start",
        "disengaging",
        "decide_hazard",
        "involuntary_hazard",
    )
    weeks = con.execute(joined.order_by(["_row", "week_start"]))
    accounts = k.select("account_id").distinct()
    effects = con.execute(
        t.semi_join(accounts, "account_id")
        .select("account_id", "effect", "effect_segment")
        .distinct()
    )
    return weeks, effects.astype({"effect_segment": str}).drop_duplicates("account_id")


def _week_arrays(
    weeks: pd.DataFrame, n_obs: int, n_weeks: int, horizon_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per observation and horizon week: decision hazard (the last one carried forward after
    the account's simulated path ends), involuntary hazard (0 there), whether healthy at the
    start, and the number of horizon weeks."""
    decide = np.full((n_obs, n_weeks), np.nan)
    involuntary = np.zeros((n_obs, n_weeks))
    healthy0 = np.ones(n_obs, bool)
    n_h = np.zeros(n_obs, int)
    if len(weeks):
        row = weeks["_row"].to_numpy()
        col = weeks.groupby("_row").cumcount().to_numpy()
        decide[row, col] = weeks.decide_hazard.to_numpy(dtype=float)
        involuntary[row, col] = weeks.involuntary_hazard.to_numpy(dtype=float)
        first = weeks.drop_duplicates("_row")
        healthy0[first._row.to_numpy()] = ~first.disengaging.to_numpy(dtype=bool)
        end = first.cutoff + pd.Timedelta(days=int(horizon_days))
        span = (end - first.week_start).dt.total_seconds() / (7 * 86_400.0)
        n_h[first._row.to_numpy()] = np.ceil(span.to_numpy()).astype(int)
    decide = pd.DataFrame(decide).ffill(axis=1).fillna(0.0).to_numpy()
    return decide, involuntary, healthy0, np.minimum(n_h, n_weeks)


def _churn_within(
    decide: np.ndarray,
    involuntary: np.ndarray,
    healthy0: np.ndarray,
    n_h: np.ndarray,
    multiplier: np.ndarray,
    abrupt: float,
    exit_rate: float,
) -> np.ndarray:
    """P(churn within the horizon weeks), the offer's multiplier on the decision hazard in the
    first ``EFFECT_WEEKS`` weeks."""
    healthy = healthy0.astype(float)
    leaving = 1.0 - healthy
    for w in range(decide.shape[1]):
        m = multiplier if w < EFFECT_WEEKS else 1.0
        d = np.minimum(decide[:, w] * m, 1.0)
        keep = 1.0 - involuntary[:, w]
        on = w < n_h
        new_leaving = healthy * keep * d * (1 - abrupt) + leaving * keep * (1 - exit_rate)
        healthy = np.where(on, healthy * keep * (1 - d), healthy)
        leaving = np.where(on, new_leaving, leaving)
    return 1.0 - healthy - leaving
