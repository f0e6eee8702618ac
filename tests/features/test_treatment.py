"""Point-in-time treatment status: only contacts in [cutoff - window, cutoff) count, a contact at
or after the cutoff changes nothing, and the randomized rows are balanced before the contact
while the offer's effect shows in the outcomes as the oracle says."""

from __future__ import annotations

import dataclasses

import ibis
import numpy as np
import pandas as pd
import pytest

from churnlab.data import load_dataset
from churnlab.data.simulate import SimulationParams, oracle_uplift, simulate
from churnlab.errors import ChurnlabError
from churnlab.features import build_observations, treatment_status
from tests.conftest import tiny_frames, write_frames

ts = pd.Timestamp


def _tiny(tmp_path, campaigns: pd.DataFrame | None):
    frames = tiny_frames()
    if campaigns is not None:
        frames["campaigns"] = campaigns
    return load_dataset(write_frames(frames, tmp_path / "ds"), observed_until="2024-07-01")


def _status(ds, window: int = 7) -> pd.DataFrame:
    obs = build_observations(ds, ["2024-04-01", "2024-05-01"], 30)
    out = ds.con.execute(treatment_status(ds, obs, window).order_by(["cutoff", "account_id"]))
    return out.set_index(["account_id", out.cutoff.dt.strftime("%m-%d")])


def test_only_contacts_in_the_window_before_the_cutoff_count(tmp_path):
    cp = pd.DataFrame(
        {
            "account_id": [1, 2, 3, 1, 2, 3, 2, 1],
            "ts": [
                ts("2024-03-31 12:00"), ts("2024-03-31 12:00"), ts("2024-03-20"),  # c-03
                ts("2024-05-01"), ts("2024-04-28"), ts("2024-05-03"),  # c-04
                ts("2024-04-30"), ts("2024-06-15"),  # c-04b
            ],
            "campaign": ["c-03"] * 3 + ["c-04"] * 3 + ["c-04b"] * 2,
            "treated": [True, False, True, False, True, False, False, True],
            "cost": [12.0, 0.0, 30.0, 0.0, 5.0, 0.0, 0.0, 9.0],
        }
    )  # fmt: skip
    got = _status(_tiny(tmp_path, cp))
    assert got.loc[(1, "04-01")].treated == 1 and got.loc[(1, "04-01")].campaign_cost == 12.0
    assert got.loc[(2, "04-01")].treated == 0 and got.loc[(2, "04-01")].campaign == "c-03"
    assert pd.isna(got.loc[(3, "04-01")].treated)  # 12 days before: outside the 7-day window
    assert pd.isna(got.loc[(1, "05-01")].treated)  # contacted at the cutoff itself: not before
    assert pd.isna(got.loc[(3, "05-01")].treated)  # contacted after the cutoff
    # two contacts in the window: the latest (c-04b, control) counts
    assert got.loc[(2, "05-01")].treated == 0 and got.loc[(2, "05-01")].campaign == "c-04b"
    assert got.loc[(2, "05-01")].contact_ts == ts("2024-04-30")
    assert len(got) == 6  # every observation kept
    wider = _status(_tiny(tmp_path / "w", cp), window=14)
    assert wider.loc[(3, "04-01")].treated == 1


def test_no_campaigns_table_is_a_clear_error(tmp_path):
    ds = _tiny(tmp_path, None)
    obs = build_observations(ds, ["2024-04-01"], 30)
    with pytest.raises(ChurnlabError, match="no campaigns table"):
        treatment_status(ds, obs)
    with pytest.raises(ValueError, match="at least 1"):
        treatment_status(ds, obs, 0)


def test_a_single_customer_table_has_no_treatment_status(tmp_path):
    from churnlab.data import load_customer_table

    path = tmp_path / "crm.csv"
    frame = pd.DataFrame({"id": range(8), "Churn": ["Yes", "No"] * 4, "treated": [1, 0] * 4})
    frame.to_csv(path, index=False)
    ds = load_customer_table(path, id_col="id", label_col="Churn")
    assert ds.kind == "customers" and not ds.has("campaigns")
    keys = ibis.memtable(pd.DataFrame({"account_id": [1], "cutoff": [ts("2024-01-01")]}))
    with pytest.raises(ChurnlabError, match="single customer table has no campaigns"):
        treatment_status(ds, keys)


def test_contacts_at_or_after_the_cutoff_change_nothing(small_sim):
    ds = load_dataset(small_sim)
    obs = build_observations(ds, "2024-03-01:2025-05-01:1M", 90)
    before = ds.con.execute(treatment_status(ds, obs).order_by(["cutoff", "account_id"]))
    assert before.treated.notna().sum() > 200
    # every observation gets contacts at its cutoff and after it, in the opposite arm
    keys = ds.con.execute(obs.select("account_id", "cutoff"))
    late = pd.concat(
        [
            keys.assign(
                ts=keys.cutoff + pd.Timedelta(hours=h),
                campaign="late-" + keys.cutoff.dt.strftime("%Y-%m") + f"-{h}",
                treated=(keys.account_id + h) % 2 == 0,
                offer=None,
                cost=1.0,
            )
            for h in (0, 1, 24 * 6)
        ]
    ).drop(columns="cutoff")
    cp = ds["campaigns"]
    late = late[late.ts <= ds.observed_until]
    more = cp.union(ibis.memtable(late[list(cp.columns)]).cast(cp.schema()))
    changed = dataclasses.replace(ds, tables={**ds.tables, "campaigns": more})
    after = ds.con.execute(treatment_status(changed, obs).order_by(["cutoff", "account_id"]))
    pd.testing.assert_frame_equal(before, after)


# A business large enough for balance to be judged (SMD's sampling error is about
# sqrt(2 / n) for n rows per arm), with few events so it simulates in seconds: usage only
# thins events, it does not feed back into the churn process or the campaigns' risk rule.
BIG = SimulationParams(
    accounts=20_000, months=24, seed=3, sessions_per_user_week=0.05, events_per_session=0.5
)


@pytest.fixture(scope="module")
def randomized(tmp_path_factory) -> pd.DataFrame:
    """Observations at monthly cutoffs with treatment status, pre-contact covariates and the
    oracle uplift."""
    out = tmp_path_factory.mktemp("campaigns") / "big"
    simulate(out, BIG)
    ds = load_dataset(out)
    obs = treatment_status(ds, build_observations(ds, "2024-02-01:2025-12-01:1M", 90))
    # the randomized rows, and for comparison every row of three cutoffs
    three = [pd.Timestamp(d).to_pydatetime() for d in ("2024-10-01", "2025-01-01", "2025-04-01")]
    obs = obs.filter(obs.treated.notnull() | obs.cutoff.isin(three))
    frame = ds.con.execute(_pre_contact(ds, obs).order_by(["cutoff", "account_id"]))
    oracle = oracle_uplift(ds, frame, 90)
    return frame.assign(uplift=oracle.uplift, segment=oracle.effect_segment)


def _pre_contact(ds, obs):
    """Covariates known before any contact of the window: account traits, MRR, tenure, tickets
    and logins up to a week before the cutoff, and the simulator's latent satisfaction in the
    last week that ended a week before the cutoff."""
    acc, tk, ev, tr = ds["accounts"], ds["tickets"], ds["events"], ds["truth"]
    week = ibis.interval(days=7)
    base = obs.join(acc.select("account_id", "signup_at", "seats"), "account_id")
    base = base.mutate(tenure_days=(base.cutoff.epoch_seconds() - base.signup_at.epoch_seconds()))
    keys = obs.select("account_id", "cutoff")

    def count(table, time, name, days, cond=True):
        t = table.filter(cond).select(_acc=table.account_id, _ts=table[time])
        j = keys.join(
            t,
            [
                keys.account_id == t._acc,
                t._ts < keys.cutoff - week,
                t._ts >= keys.cutoff - ibis.interval(days=days),
            ],
        )
        return j.group_by(["account_id", "cutoff"]).agg(**{name: j.count()})

    t = tr.select(_acc=tr.account_id, week_start=tr.week_start, satisfaction=tr.satisfaction)
    sat = keys.join(
        t,
        [
            keys.account_id == t._acc,
            t.week_start <= keys.cutoff - ibis.interval(days=14),
            t.week_start > keys.cutoff - ibis.interval(days=28),
        ],
    )
    last = ibis.window(group_by=["account_id", "cutoff"], order_by=ibis.desc("week_start"))
    sat = sat.mutate(_r=ibis.row_number().over(last)).filter(lambda t: t._r == 0)
    for part in (
        count(tk, "created_at", "tickets_90d", 90),
        count(ev, "ts", "logins_28d", 28, ev.event_type == "login"),
        sat.select("account_id", "cutoff", "satisfaction"),
    ):
        base = base.left_join(part, ["account_id", "cutoff"]).select(
            *base.columns, *[c for c in part.columns if c not in ("account_id", "cutoff")]
        )
    return base.mutate(
        tickets_90d=base.tickets_90d.fill_null(0), logins_28d=base.logins_28d.fill_null(0)
    )


COVARIATES = ["mrr", "seats", "tenure_days", "tickets_90d", "logins_28d", "satisfaction"]


def _smd(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    pooled = np.sqrt((a[COVARIATES].var() + b[COVARIATES].var()) / 2)
    return (a[COVARIATES].mean() - b[COVARIATES].mean()) / pooled


def test_treated_and_control_are_balanced_before_the_contact(randomized):
    rows = randomized[randomized.treated.notna()]
    treated, control = rows[rows.treated == 1], rows[rows.treated == 0]
    assert min(len(treated), len(control)) > 2000
    smd = _smd(treated, control)
    assert (smd.abs() < 0.1).all(), smd.to_dict()
    # the check can see imbalance: contacted accounts were picked by a risk rule, and differ
    # from the monthly-billed accounts that were not
    others = randomized[randomized.treated.isna() & randomized.mrr.gt(0)]
    assert _smd(rows, others).abs().max() > 0.3


def test_the_offer_moves_churn_as_the_oracle_says(randomized):
    rows = randomized[randomized.treated.notna() & randomized.label_complete]
    y = rows.churned_within_h.astype(float)

    def observed(mask) -> tuple[float, float]:
        t, c = y[mask & (rows.treated == 1)], y[mask & (rows.treated == 0)]
        se = np.sqrt(t.var() / len(t) + c.var() / len(c))
        return c.mean() - t.mean(), se

    everyone = pd.Series(True, index=rows.index)
    diff, se = observed(everyone)
    assert abs(diff - rows.uplift.mean()) < 3 * se
    for segment, sign in (("persuadable", 1), ("do_not_disturb", -1)):
        diff, se = observed(rows.segment == segment)
        assert sign * diff > 2 * se, (segment, diff, se)
        assert np.sign(rows.uplift[rows.segment == segment].mean()) == sign
