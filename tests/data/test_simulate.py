"""The simulator: deterministic, valid, and each churn mechanism visible in its tables."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest
from sklearn.metrics import roc_auc_score

from churnlab.data import SimulationParams, load_dataset, simulate


@pytest.fixture(scope="module")
def db(small_sim):
    con = duckdb.connect()
    for t in ("accounts", "subscriptions", "events", "tickets", "surveys", "truth"):
        con.execute(f"create view {t} as select * from '{small_sim}/{t}.parquet'")
    end = json.loads((small_sim / "dataset.json").read_text())["observed_until"]
    con.execute(f"""
        create temp table acc as
        with s as (
            select account_id,
                   count(*) filter (where ended_at is null) = 0 as churned,
                   max(ended_at) as last_end,
                   arg_max(plan, started_at) as last_plan,
                   arg_min(plan, started_at) as first_plan
            from subscriptions group by 1)
        select a.*, s.churned, case when s.churned then s.last_end end as churned_at, s.last_plan,
               s.first_plan,
               date_diff('day', a.signup_at,
                         coalesce(case when s.churned then s.last_end end, TIMESTAMP '{end}')) as life_days
        from accounts a join s using (account_id)""")
    return con


def _digest(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))
    }


def test_same_seed_gives_byte_identical_parquet(tmp_path):
    params = SimulationParams(accounts=2300, months=6, seed=11)  # two chunks
    simulate(tmp_path / "a", params)
    simulate(tmp_path / "b", params)
    simulate(tmp_path / "c", SimulationParams(accounts=2300, months=6, seed=12))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["events.parquet"] != _digest(tmp_path / "c")["events.parquet"]


def test_output_replaces_folder_only_when_complete(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    simulate(out, SimulationParams(accounts=50, months=3, seed=1))
    before = _digest(out)

    import importlib

    sim = importlib.import_module("churnlab.data.simulate")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sim, "_simulate_chunk", boom)
    with pytest.raises(RuntimeError):
        simulate(out, SimulationParams(accounts=50, months=3, seed=2))
    assert _digest(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temp folder left behind


def test_an_identical_simulation_is_kept_and_a_changed_one_remade(tmp_path):
    """Issue 18: a second `make run` does not simulate the same data again."""
    out, params = tmp_path / "ds", SimulationParams(accounts=60, months=3, seed=1)
    first = simulate(out, params, reuse=True)
    assert "reused" not in first and set(first["files"]) >= {"events.parquet", "truth.parquet"}
    stamp = (out / "events.parquet").stat().st_mtime_ns
    kept = simulate(out, params, reuse=True)
    assert kept["reused"] and kept["files"] == first["files"]
    assert (out / "events.parquet").stat().st_mtime_ns == stamp
    # without reuse (the library default) it is written again, to the same bytes
    assert "reused" not in simulate(out, params)
    # a changed file, a new seed: simulated again
    before = _digest(out)
    (out / "accounts.parquet").write_bytes(b"not parquet")
    assert "reused" not in simulate(out, params, reuse=True) and _digest(out) == before
    assert "reused" not in simulate(
        out, SimulationParams(accounts=60, months=3, seed=2), reuse=True
    )


def test_simulated_data_passes_validation(small_sim):
    ds = load_dataset(small_sim)
    s = ds.summary()
    assert s["accounts"] == 1500
    assert 0.2 < s["churn_rate"] < 0.8
    assert set(ds.tables) >= {"accounts", "subscriptions", "events", "tickets", "surveys", "truth"}
    assert not ds.notices


def test_cohorts_grow_and_plans_are_mixed(db):
    months = db.sql(
        "select date_trunc('month', signup_at) m, count(*) n from accounts group by 1 order by 1"
    ).fetchnumpy()["n"]
    assert months[-6:].mean() > months[:6].mean() * 1.2
    plans = dict(db.sql("select plan, count(*) from subscriptions group by 1").fetchall())
    assert set(plans) == {"trial", "basic", "pro", "enterprise"}
    bp = dict(db.sql("select billing_period, count(*) from subscriptions group by 1").fetchall())
    assert bp["annual"] > 0.1 * bp["monthly"]
    reasons = dict(db.sql("select end_reason, count(*) from subscriptions group by 1").fetchall())
    assert {"upgrade", "downgrade", "payment_failed", "trial_expired"} <= set(reasons)


def test_trial_one_and_done_share(db):
    share = db.sql("""
        with s as (select account_id, count(*) filter (where event_type = 'login') logins
                   from events group by 1)
        select avg((logins = 1)::int) from acc join s using (account_id) where first_plan = 'trial'
    """).fetchone()[0]
    assert 0.4 <= share <= 0.6


def test_onboarding_red_flags(db):
    rows = dict(
        (grp, (first, logins))
        for grp, first, logins in db.sql("""
        with f as (
            select e.account_id, arg_min(e.duration_s, e.ts) first_s,
                   count(*) filter (where e.ts < a.signup_at + interval 10 day) logins10
            from events e join accounts a using (account_id)
            where e.event_type = 'login' group by 1)
        select case when churned and life_days <= 90 then 'early' when not churned and life_days > 180
                    then 'retained' end grp, median(first_s), median(logins10)
        from acc join f using (account_id) group by 1 having grp is not null
        """).fetchall()
    )
    early_first, early_logins = rows["early"]
    kept_first, kept_logins = rows["retained"]
    assert early_first < 60 < 180 < kept_first  # well under a minute vs several minutes
    assert kept_logins >= 3 * early_logins


def test_active_seat_share_falls_before_churn(db):
    share = dict(
        db.sql("""
        with ch as (select account_id, churned_at, seats from acc
                    where churned and last_plan <> 'trial' and seats >= 3 and life_days > 120),
        wk as (select account_id, seats, unnest(range(0, 12)) wb from ch),
        w as (select c.account_id, date_diff('week', e.ts, c.churned_at) wb,
                     count(distinct user_id) au
              from ch c join events e using (account_id)
              where e.ts < c.churned_at and user_id is not null group by all)
        select wb // 4 as block, avg(coalesce(au, 0) / seats)
        from wk left join w using (account_id, wb) group by 1
        """).fetchall()
    )
    # weeks 0-3 before cancelling vs weeks 8-11 before
    assert share[0] < 0.85 * share[2]


def test_a_third_of_paying_churners_active_on_last_day(db):
    active = db.sql("""
        with l as (select account_id, max(ts) last_ts from events
                   where user_id is not null group by 1)
        select avg((last_ts >= churned_at - interval 1 day)::int)
        from acc left join l using (account_id) where churned and last_plan <> 'trial'
    """).fetchone()[0]
    assert 0.2 <= active <= 0.5


def test_annual_customers_leave_only_at_renewal(db):
    off_cycle = db.sql("""
        select count(*) filter (where abs(date_diff('hour', started_at, ended_at) / 24.0 % 365) > 0.01),
               count(*)
        from subscriptions
        where billing_period = 'annual' and ended_at is not null
          and end_reason not in ('upgrade', 'downgrade')
    """).fetchone()
    assert off_cycle[1] > 0 and off_cycle[0] == 0


def test_bugs_raise_churn(db):
    rates = db.sql("""
        with cut as (select unnest(range(TIMESTAMP '2024-05-01', TIMESTAMP '2025-04-01', interval 1 month)) c),
        obs as (select a.account_id, c.c,
                       a.churned and a.churned_at > c.c and a.churned_at <= c.c + interval 56 day y
                from acc a, cut c
                where a.signup_at < c.c - interval 30 day and (not a.churned or a.churned_at > c.c)
                  and a.first_plan <> 'trial'),
        b as (select o.account_id, o.c, count(t.ticket_id) nb from obs o left join tickets t
              on t.account_id = o.account_id and t.category = 'bug'
             and t.created_at < o.c and t.created_at >= o.c - interval 28 day group by all)
        select nb > 0, avg(y::int) from obs join b using (account_id, c) group by 1 order by 1
    """).fetchall()
    assert rates[1][1] > 1.15 * rates[0][1]


def test_usability_friction_lengthens_time_on_task_and_raises_tickets(db):
    r = db.sql("""
        with t as (select account_id, median(duration_s) create_s from events
                   where event_type = 'create_report' group by 1),
        u as (select account_id, count(*) n from tickets where category = 'usability' group by 1)
        select corr(t.create_s, coalesce(u.n, 0)) from t left join u using (account_id)
    """).fetchone()[0]
    assert r > 0.05


def test_detractors_churn_more_than_promoters(db):
    rates = dict(
        db.sql("""
        select case when nps <= 6 then 'detractor' when nps >= 9 then 'promoter' end g,
               avg((a.churned and a.churned_at <= s.ts + interval 180 day)::int)
        from surveys s join acc a using (account_id) group by 1 having g is not null
        """).fetchall()
    )
    assert rates["detractor"] > 1.5 * rates["promoter"]


def test_truth_hazard_ranks_churners(db):
    """The oracle: 1 - prod(1 - hazard) over a window ranks who churns in that window."""
    df = db.sql("""
        with obs as (
            select a.account_id, a.churned and a.churned_at <= TIMESTAMP '2024-11-01' + interval 56 day y
            from acc a
            where a.signup_at < TIMESTAMP '2024-11-01'
              and (not a.churned or a.churned_at > TIMESTAMP '2024-11-01'))
        select o.y, 1 - exp(sum(ln(greatest(1 - t.hazard, 1e-9)))) score
        from obs o join truth t using (account_id)
        where t.week_start >= TIMESTAMP '2024-10-28' and t.week_start < TIMESTAMP '2024-11-01' + interval 56 day
        group by o.account_id, o.y
    """).df()
    assert df.y.sum() > 20
    assert roc_auc_score(df.y, df.score) > 0.85


# ---- product profiles ------------------------------------------------------------------------

NEW_PROFILES = ("consumer_social", "streaming")
GENERIC_EVENTS = {"search"}  # names any product may use


@pytest.fixture(scope="module", params=NEW_PROFILES)
def profile_sim(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("profile") / request.param
    simulate(out, SimulationParams(accounts=1500, months=18, seed=7, profile=request.param))
    return request.param, out


def _events_by_type(folder) -> dict[str, int]:
    return dict(
        duckdb.sql(
            f"select event_type, count(*) from '{folder}/events.parquet' group by 1"
        ).fetchall()
    )


def test_b2b_manifest_maps_its_events(small_sim):
    manifest = json.loads((small_sim / "dataset.json").read_text())
    assert manifest["profile"] == "b2b_saas"
    assert manifest["events"]["roles"] == {
        "session_start": ["login"],
        "core_action": ["create_report"],
        "contact": ["csm_call"],
        "payment_failure": ["payment_failed"],
    }


def test_profile_has_its_own_vocabulary_and_maps_it(profile_sim, small_sim):
    _, folder = profile_sim
    types = _events_by_type(folder)
    assert len(types) >= 7 and min(types.values()) > 0
    assert not (set(types) & set(_events_by_type(small_sim))) - GENERIC_EVENTS
    mapping = json.loads((folder / "dataset.json").read_text())["events"]
    named = {e for names in mapping["roles"].values() for e in names}
    named |= {e for pair in mapping.get("ratios", []) for e in pair}
    assert named and named <= set(types)
    assert set(mapping["roles"]) <= {
        "session_start",
        "core_action",
        "contact",
        "payment_failure",
        "ignore",
    }


def test_profile_passes_validation_with_truth(profile_sim):
    profile, folder = profile_sim
    ds = load_dataset(folder)
    s = ds.summary()
    assert s["accounts"] == 1500
    assert 0.2 < s["churn_rate"] < 0.8
    assert "truth" in ds.tables
    if profile == "consumer_social":  # a consumer app without tickets or surveys
        assert not (folder / "tickets.parquet").exists()


def test_profile_same_seed_same_bytes(tmp_path):
    for profile in NEW_PROFILES:
        params = SimulationParams(accounts=2100, months=4, seed=3, profile=profile)  # two chunks
        simulate(tmp_path / f"{profile}-a", params)
        simulate(tmp_path / f"{profile}-b", params)
        assert _digest(tmp_path / f"{profile}-a") == _digest(tmp_path / f"{profile}-b")


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown profile"):
        simulate(tmp_path / "x", SimulationParams(accounts=10, months=2, profile="telco"))


def _window_features(folder, columns: str):
    """Per (account, monthly cutoff): the label (churn within 56 days) and 28-day counts."""
    return duckdb.sql(f"""
        with s as (select account_id, max(ended_at) e,
                          count(*) filter (where ended_at is null) = 0 churned
                   from '{folder}/subscriptions.parquet' group by 1),
        cut as (select unnest(range(TIMESTAMP '2024-06-01', TIMESTAMP '2025-04-01',
                                    interval 1 month)) c),
        obs as (select a.account_id, c.c, s.churned and s.e <= c.c + interval 56 day y
                from '{folder}/accounts.parquet' a join s using (account_id), cut c
                where a.signup_at < c.c - interval 60 day and (not s.churned or s.e > c.c))
        select o.y, {columns}
        from obs o join '{folder}/events.parquet' e
          on e.account_id = o.account_id and e.ts < o.c and e.ts >= o.c - interval 28 day
        group by o.account_id, o.c, o.y
    """).df()


def test_profile_behaviours_drive_churn(profile_sim):
    profile, folder = profile_sim
    if profile == "consumer_social":
        df = _window_features(
            folder,
            """count(*) filter (where event_type = 'reply_received')
                 / greatest(count(*) filter (where event_type = 'post'), 1) replies_per_post,
               count(*) filter (where event_type = 'friend_lost') lost,
               count(*) filter (where event_type = 'ad_view')
                 / greatest(count(*) filter (where event_type = 'app_open'), 1) ads_per_session,
               count(*) filter (where event_type = 'post') posts""",
        )
        m = df.groupby("y").mean()
        assert m.replies_per_post[True] < 0.9 * m.replies_per_post[False]
        assert m.lost[True] > 1.2 * m.lost[False]
        assert m.ads_per_session[True] > 1.2 * m.ads_per_session[False]
        assert m.posts[True] < 0.5 * m.posts[False]
    else:
        df = _window_features(
            folder,
            """count(*) filter (where event_type = 'skip')
                 / greatest(count(*) filter (where event_type = 'play_start'), 1) skip_share,
               count(*) filter (where event_type = 'play_complete') completions,
               count(distinct title_id)
                 / greatest(count(*) filter (where event_type = 'play_start'), 1) titles_per_play,
               count(distinct genre) genres""",
        )
        m = df.groupby("y").mean()
        assert m.skip_share[True] > 1.2 * m.skip_share[False]
        assert m.completions[True] < 0.8 * m.completions[False]
        assert m.titles_per_play[True] < 0.9 * m.titles_per_play[False]
        assert m.genres[True] < m.genres[False]


def test_profile_truth_hazard_ranks_churners(profile_sim):
    _, folder = profile_sim
    df = duckdb.sql(f"""
        with s as (select account_id, max(ended_at) e,
                          count(*) filter (where ended_at is null) = 0 churned
                   from '{folder}/subscriptions.parquet' group by 1),
        obs as (select a.account_id, s.churned and s.e <= TIMESTAMP '2024-11-01' + interval 56 day y
                from '{folder}/accounts.parquet' a join s using (account_id)
                where a.signup_at < TIMESTAMP '2024-11-01'
                  and (not s.churned or s.e > TIMESTAMP '2024-11-01'))
        select o.y, 1 - exp(sum(ln(greatest(1 - t.hazard, 1e-9)))) score
        from obs o join '{folder}/truth.parquet' t using (account_id)
        where t.week_start >= TIMESTAMP '2024-10-28'
          and t.week_start < TIMESTAMP '2024-11-01' + interval 56 day
        group by o.account_id, o.y
    """).df()
    assert df.y.sum() > 20
    assert roc_auc_score(df.y, df.score) > 0.72


def test_cli_simulate_profile(tmp_path):
    from typer.testing import CliRunner

    from churnlab.cli import app

    out = tmp_path / "st"
    result = CliRunner().invoke(
        app,
        ["simulate", "--profile", "streaming", "--accounts", "120", "--months", "4",
         "--out", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["profile"] == "streaming" and manifest["params"]["profile"] == "streaming"
    assert "play_start" in _events_by_type(out)


@pytest.mark.parametrize("profile", ["b2b_saas", *NEW_PROFILES])
def test_tiny_simulation_is_valid(tmp_path, profile):
    """A sparse table nobody filled is left out (allowed), not written empty (invalid)."""
    out = tmp_path / profile
    manifest = simulate(out, SimulationParams(accounts=3, months=1, seed=1, profile=profile))
    assert "surveys" not in manifest["rows"] and not (out / "surveys.parquet").exists()
    assert load_dataset(out).summary()["accounts"] == 3
