"""Built-in builders: hand-computed values, zero-activity accounts, the catalogue."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnlab.data import fit_vocabulary, load_dataset
from churnlab.features import (
    DRIVERS,
    Feature,
    build_features,
    build_observations,
    catalogue,
    catalogue_json,
    catalogue_markdown,
    feature_builder,
    remove_builder,
)
from tests.conftest import add_events_mapping, tiny_frames, write_frames


@pytest.fixture(scope="module")
def tiny_features(tmp_path_factory):
    folder = write_frames(tiny_frames(), tmp_path_factory.mktemp("tiny"))
    ds = load_dataset(
        add_events_mapping(
            folder, {"roles": {"session_start": ["login"], "core_action": ["create_report"]}}
        ),
        observed_until="2024-07-01",
    )
    obs = build_observations(ds, ["2024-04-15"], horizon_days=30)
    # the vocabulary of the whole log (login, create_report, export), as `churnlab features`
    # fits it when the cutoff is after the last event
    table, used = build_features(ds, obs, vocabulary=fit_vocabulary(ds))
    return ds.con.execute(table).set_index("account_id"), used


def test_catalogue_covers_every_driver():
    rows = catalogue()
    assert len(rows) >= 40
    assert {r["driver"] for r in rows} == set(DRIVERS)
    assert len({r["name"] for r in rows}) == len(rows)
    assert json.loads(catalogue_json())[0].keys() >= {"name", "driver", "description", "dtype"}
    md = catalogue_markdown()
    table = md[md.index("| feature |") :]
    assert table.count("\n") == len(rows) + 2 and "`active_seat_share_trend`" in md
    # the preamble shows the mapping on a log that is not the demo's, with generated names
    assert '"core_action": ["post"]' in md and "`n_friend_removed_30d`" in md


def test_engagement_by_hand(tiny_features):
    f, _ = tiny_features
    a1 = f.loc[1]
    # account 1 at 2024-04-15: a create_report on 04-01 (14 days earlier), a login on 01-05
    assert (a1.events_7d, a1.events_30d, a1.events_90d, a1.sessions_90d) == (0, 1, 1, 0)
    assert a1.active_days_30d == 1 and a1.active_users_30d == 1
    assert a1.days_since_last_activity == pytest.approx(14.0)
    assert a1.n_create_report_30d == 1 and a1.n_export_30d == 0
    # account 3: its export on 06-29 is after the cutoff and must not count
    assert f.loc[3].events_90d == 1 and f.loc[3].n_export_30d == 0
    assert f.loc[3].days_since_last_activity == pytest.approx(35.0)


def test_team_onboarding_by_hand(tiny_features):
    f, _ = tiny_features
    a1 = f.loc[1]
    assert a1.active_seat_share_2w == pytest.approx(1 / 3)  # user 1002 of 3 seats, 04-01
    assert a1.active_seat_share_2w_8w_ago == 0.0
    assert a1.active_seat_share_trend == pytest.approx(1 / 3)
    assert a1.active_users_change_8w == pytest.approx(2.0)
    assert a1.first_session_min == pytest.approx(5.0)
    assert a1.logins_first_10d == 1
    assert pd.isna(a1.days_to_first_core_action)  # the only core action came after day 30
    assert a1.core_actions_first_30d == 0
    assert f.loc[2].first_session_min == pytest.approx(20 / 60)
    # account 3 (40 days old) is too young for an 8-week comparison
    assert pd.isna(f.loc[3].active_seat_share_trend) and pd.isna(f.loc[3].activity_ratio_30_60)


def test_tickets_nps_billing_by_hand(tiny_features):
    f, _ = tiny_features
    a1, a3 = f.loc[1], f.loc[3]
    assert (a1.bug_tickets_90d, a1.open_bug_tickets, a1.severe_bug_tickets_90d) == (1, 0, 1)
    assert a1.mean_resolution_hours_90d == pytest.approx(48.0)
    assert (a3.how_to_tickets_90d, a3.open_tickets, a3.tickets_90d) == (1, 1, 1)
    assert (a1.last_nps, a1.days_since_last_survey, a1.surveys_answered) == (9.0, 14.0, 1)
    assert not a1.is_detractor and pd.isna(a1.nps_change)
    assert pd.isna(a3.last_nps) and a3.surveys_answered == 0  # its survey is after the cutoff
    assert (a1.plan, a1.current_mrr, a1.mrr_change_90d) == ("pro", 105.0, 60.0)
    assert a1.days_on_plan == pytest.approx(45.0) and a1.upgrades_365d == 1
    assert a1.days_to_renewal == 16.0  # monthly since 2024-03-01: renews 05-01
    assert a3.billing_period == "annual" and a3.days_to_renewal == 329.0  # 2025-03-10
    assert pd.isna(a3.mrr_change_90d)
    assert a1.tenure_days == pytest.approx(101.0) and a3.segment == "enterprise"


def _renewals(tmp_path, subscriptions: list[tuple[str, str, str]], cutoffs: list[str]):
    """days_to_renewal of hand-made subscriptions (billing period, start, ...) held by accounts
    1, 2, ..., at each cutoff."""
    frames = tiny_frames()
    ids = list(range(1, len(subscriptions) + 1))
    frames["accounts"] = pd.DataFrame({"account_id": ids, "signup_at": pd.Timestamp("2023-01-01")})
    frames["subscriptions"] = pd.DataFrame(
        {
            "account_id": ids,
            "mrr": 100.0,
            "billing_period": [period for period, _ in subscriptions],
            "started_at": [pd.Timestamp(start) for _, start in subscriptions],
            "ended_at": pd.NaT,
        }
    )
    frames["events"] = pd.DataFrame(
        {"account_id": ids, "ts": pd.Timestamp("2023-01-02"), "event_type": "login"}
    )
    for name in ("tickets", "surveys"):
        del frames[name]
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until="2026-01-01")
    table, _ = build_features(ds, build_observations(ds, cutoffs, 10), names=["billing_period"])
    f = ds.con.execute(table)
    return f.set_index(["account_id", f.cutoff.dt.strftime("%Y-%m-%d")]).days_to_renewal


def test_days_to_renewal_is_the_next_calendar_anniversary(tmp_path):
    """The next charge is the start's anniversary on the calendar (same day of the month, the
    month's last day where it is shorter), strictly after the cutoff: before, a fixed 30.44-day
    month and 365-day year put a renewal hours away about a whole period away."""
    days = _renewals(
        tmp_path,
        [
            ("monthly", "2024-12-01 18:00"),  # 1: renews 2025-02-01 18:00
            ("annual", "2024-02-01 12:00"),  # 2: a year holding 29 February
            ("monthly", "2024-01-31"),  # 3: renews on February's last day, then 31 March
            ("annual", "2024-02-29"),  # 4: renews 2025-02-28
            ("monthly", "2024-12-01"),  # 5: a renewal at the cutoff's instant is past
            ("quarterly", "2024-11-30 06:00"),  # 6: 02-28, then 05-30
        ],
        ["2024-02-15", "2024-03-15", "2025-01-01", "2025-02-01", "2025-02-15", "2025-04-01"],
    )
    assert days[1, "2025-02-01"] == 0.75
    assert days[1, "2025-04-01"] == 0.75
    assert days[2, "2025-02-01"] == 0.5
    assert days[2, "2025-04-01"] == 306.5  # to 2026-02-01 12:00
    assert days[3, "2024-02-15"] == 14.0  # 2024-02-29
    assert days[3, "2024-03-15"] == 16.0  # 2024-03-31
    assert days[3, "2025-02-15"] == 13.0  # 2025-02-28
    assert days[4, "2025-01-01"] == 58.0  # 2025-02-28
    assert days[5, "2025-02-01"] == 28.0  # 2025-03-01
    assert days[6, "2025-02-15"] == 13.25  # 2025-02-28 06:00
    assert days[6, "2025-04-01"] == 59.25  # 2025-05-30 06:00


def test_scheduled_cancellation_from_canceled_at(tmp_path):
    """A cancellation asked for before the cutoff of a subscription still in force (Stripe's
    cancel_at_period_end) is seen: before, only a later ended_at could say it, read as still in
    force. One asked at or after the cutoff, or of a subscription that already ended, is not.
    The column is named through dataset.json like any other."""
    frames = tiny_frames()
    ts = pd.Timestamp
    frames["subscriptions"]["cancel_requested"] = [
        ts("2024-02-20"),  # account 1's basic, ended 03-01: not in force at the cutoff
        ts("2024-04-15"),  # account 1's pro: asked at the cutoff's instant, not seen
        ts("2024-04-10 12:00"),  # account 2, ending 05-20
        ts("2024-04-01"),  # account 3's open annual
    ]
    folder = write_frames(frames, tmp_path / "ds")
    (folder / "dataset.json").write_text(
        json.dumps({"columns": {"subscriptions": {"canceled_at": "cancel_requested"}}})
    )
    ds = load_dataset(folder, observed_until="2024-07-01")
    table, used = build_features(ds, build_observations(ds, ["2024-04-15"], 30))
    assert "cancellation_request" in {b.name for b in used}
    f = ds.con.execute(table).set_index("account_id")
    assert f.cancellation_scheduled.tolist() == [0, 1, 1]
    assert pd.isna(f.days_since_cancellation_request.loc[1])
    assert f.days_since_cancellation_request.loc[[2, 3]].tolist() == [4.5, 14.0]
    # without the column (the simulator's data): left out with a notice, not a constant 0
    plain = load_dataset(
        write_frames(tiny_frames(), tmp_path / "plain"), observed_until="2024-07-01"
    )
    table, used = build_features(plain, build_observations(plain, ["2024-04-15"], 30))
    assert "cancellation_scheduled" not in table.columns
    assert any(
        "cancellation_request skipped: needs subscriptions.canceled_at" in n for n in plain.notices
    )
    assert not [n for n in plain.notices if "optional column(s) canceled_at" in n]


def test_accounts_without_events_are_kept_with_zeros(tmp_path):
    frames = tiny_frames()
    frames["events"] = frames["events"][frames["events"].account_id != 2]
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until="2024-07-01")
    table, _ = build_features(ds, build_observations(ds, ["2024-04-15"], horizon_days=30))
    f = ds.con.execute(table).set_index("account_id")
    assert 2 in f.index
    assert (
        f.loc[2, ["events_30d", "sessions_90d", "active_users_90d", "logins_first_10d"]] == 0
    ).all()
    assert f.loc[2, "days_since_last_activity"] == 365.0
    assert pd.isna(f.loc[2, "first_session_min"]) and pd.isna(f.loc[2, "mean_session_min_30d"])


def test_missing_optional_data_skips_builders_with_notice(tmp_path):
    frames = tiny_frames()
    del frames["surveys"]
    frames["events"] = frames["events"].drop(columns=["duration_s"])
    ds = load_dataset(write_frames(frames, tmp_path / "ds"), observed_until="2024-07-01")
    table, used = build_features(ds, build_observations(ds, ["2024-04-15"], horizon_days=30))
    names = {b.name for b in used}
    assert "nps" not in names and "time_on_task" not in names and "activity_windows" in names
    assert any("nps skipped: needs surveys" in n for n in ds.notices)
    assert "last_nps" not in table.columns


def test_user_builder_with_one_decorator(tmp_path, request):
    @feature_builder(
        "test_exports_per_seat",
        driver="engagement",
        requires=("events", "accounts.seats"),
        features=[
            Feature("test_exports_per_seat_30d", "exports per seat, last 30 days", "float", 0.0)
        ],
    )
    def exports_per_seat(ds, keys):
        ev = ds["events"].filter(lambda t: t.event_type == "export")
        j = keys.join(ev, "account_id").join(
            ds["accounts"].select("account_id", "seats"), "account_id"
        )
        j = j.filter((j.ts < j.cutoff) & (j.ts >= j.cutoff - __import__("ibis").interval(days=30)))
        return j.group_by(["account_id", "cutoff"]).agg(
            test_exports_per_seat_30d=j.count() / j.seats.max()
        )

    assert any(r["name"] == "test_exports_per_seat_30d" for r in catalogue())
    request.addfinalizer(lambda: remove_builder("test_exports_per_seat"))
    ds = load_dataset(write_frames(tiny_frames(), tmp_path / "ds"), observed_until="2024-07-01")
    obs = build_observations(ds, ["2024-06-30"], horizon_days=1)
    table, _ = build_features(ds, obs, names=["test_exports_per_seat"])
    f = ds.con.execute(table).set_index("account_id")
    assert f.loc[3, "test_exports_per_seat_30d"] == pytest.approx(1 / 40)
    assert f.loc[1, "test_exports_per_seat_30d"] == 0.0
    with pytest.raises(ValueError, match="unknown driver"):
        feature_builder("bad", driver="vibes", features=[])


def test_committed_catalogue_is_current():
    """docs/feature-catalogue.* are exports of the registry: `make catalogue` refreshes them."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    builtin = [r for r in catalogue() if not r["name"].startswith("test_")]
    assert json.loads((docs / "feature-catalogue.json").read_text()) == builtin
