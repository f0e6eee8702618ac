"""Simulator scenarios: each changes what its documentation says, from its date on."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from churnlab.data import SimulationParams, simulate

CHANGE = "2024-09-01"


def _params(scenario: str) -> SimulationParams:
    return SimulationParams(accounts=1500, months=14, seed=5, scenario=scenario, change_at=CHANGE)


@pytest.fixture(scope="module")
def sims(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenarios")
    out = {}
    for scenario in ("none", "price_increase", "product_redesign", "new_channel"):
        simulate(root / scenario, _params(scenario))
        out[scenario] = root / scenario
    return out


def _sql(query: str) -> list[tuple]:
    return duckdb.sql(query).fetchall()


def test_price_increase_reprices_monthly_subscriptions_and_raises_price_churn(sims):
    folder = sims["price_increase"]
    (ends,) = _sql(f"""select count(*), min(ended_at), max(ended_at)
        from '{folder}/subscriptions.parquet' where end_reason = 'price_change'""")
    assert ends[0] > 100 and str(ends[1])[:10] == str(ends[2])[:10] == CHANGE
    (ratio,) = _sql(f"""
        with s as (select * from '{folder}/subscriptions.parquet')
        select median(n.mrr / o.mrr) from s o join s n
          on n.account_id = o.account_id and n.started_at = o.ended_at
        where o.end_reason = 'price_change'""")[0]
    assert ratio == pytest.approx(1.25, abs=0.01)

    def too_expensive(sim):
        return _sql(f"""select count(*) from '{sim}/subscriptions.parquet'
            where end_reason = 'too_expensive' and ended_at >= TIMESTAMP '{CHANGE}'""")[0][0]

    assert too_expensive(folder) > 1.5 * too_expensive(sims["none"])


def test_product_redesign_changes_usage_but_not_churn(sims):
    folder, none = sims["product_redesign"], sims["none"]
    digest = {
        s: hashlib.sha256((sims[s] / "subscriptions.parquet").read_bytes()).hexdigest()
        for s in ("none", "product_redesign")
    }
    assert digest["none"] == digest["product_redesign"]  # the same accounts leave, the same day

    def search_share(sim, after: bool):
        op = ">=" if after else "<"
        return _sql(f"""select avg((event_type = 'search')::int) from '{sim}/events.parquet'
            where event_type != 'login' and ts {op} TIMESTAMP '{CHANGE}'""")[0][0]

    assert search_share(folder, after=False) == pytest.approx(search_share(none, False), abs=0.01)
    assert search_share(folder, after=True) < 0.5 * search_share(none, after=True)


def test_new_channel_brings_low_fit_accounts_from_its_date(sims):
    folder = sims["new_channel"]
    rows = dict(
        _sql(f"""select acquisition_channel = 'marketplace', min(signup_at)
            from '{folder}/accounts.parquet' group by 1""")
    )
    assert str(rows[True]) >= CHANGE
    churn = dict(
        _sql(f"""
        with s as (select account_id, count(*) filter (where ended_at is null) = 0 churned
                   from '{folder}/subscriptions.parquet' group by 1)
        select a.acquisition_channel = 'marketplace', avg(s.churned::int)
        from '{folder}/accounts.parquet' a join s using (account_id)
        where a.signup_at >= TIMESTAMP '{CHANGE}' group by 1""")
    )
    assert churn[True] > churn[False] + 0.1

    def after_to_before(sim):
        return _sql(f"""select count(*) filter (where signup_at >= TIMESTAMP '{CHANGE}')
            / count(*) filter (where signup_at < TIMESTAMP '{CHANGE}')
            from '{sim}/accounts.parquet'""")[0][0]

    # sign-ups per month double from the change on (the number of accounts is fixed)
    assert after_to_before(folder) == pytest.approx(2 * after_to_before(sims["none"]), rel=0.2)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (SimulationParams(accounts=10, months=2, scenario="recession"), "unknown scenario"),
        (
            SimulationParams(accounts=10, months=2, scenario="new_channel", profile="streaming"),
            "b2b_saas profile only",
        ),
        (
            SimulationParams(accounts=10, months=2, scenario="new_channel", change_at="2030-01-01"),
            "outside the simulated history",
        ),
    ],
)
def test_bad_scenarios_are_refused(tmp_path, params, message):
    with pytest.raises(ValueError, match=message):
        simulate(tmp_path / "x", params)
    assert not (tmp_path / "x").exists()
