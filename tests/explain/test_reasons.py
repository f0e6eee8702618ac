"""Reasons people can act on: templates in plain words with units (never the catalogue
description, never fractional days), context apart from reasons, a threshold, tiers, and a
hint per driver that the spec can edit."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from churnlab.config import DEFAULT_HINTS, ReasonsSpec, SpecError, parse_spec
from churnlab.data import Vocabulary
from churnlab.explain import reason_text, top_reasons
from churnlab.features import Feature, catalogue, feature_builder, remove_builder
from churnlab.features.reasons import ReasonTemplate, TemplateError, column_template
from churnlab.features.registry import reason_templates

FRACTIONAL_DAYS = re.compile(r"\d+\.\d+\s*days?\b")
# a consumer app's own event names, nothing like the simulator's
CONSUMER = Vocabulary(
    types=("app_open", "post", "like", "Friend Removed", "Ad View (video)", "{odd}"),
    roles={"core_action": ("post",), "session_start": ("app_open",)},
    ratios=(("like", "post"),),
)
B2B = Vocabulary(
    types=("login", "create_report", "share_report", "csm_call", "payment_failed"),
    roles={"core_action": ("create_report",), "session_start": ("login",)},
    ratios=(("share_report", "create_report"),),
)
VALUES = (0.0, 0.31, 1.0, 2.5, 8.0, 12.7, 23.4, 59.5, 131.6, 365.0, 800.2, -0.4, -3.0, True)


def _rows(names: list[str]) -> list[dict]:
    """Rows where every feature takes each test value (and seats are set for the seat share)."""
    return [{**dict.fromkeys(names, v), "seats": 8.0} for v in VALUES]


@pytest.mark.parametrize("vocabulary", [B2B, CONSUMER], ids=["b2b", "consumer"])
def test_every_built_in_reason_has_units_and_no_description_or_fractional_days(vocabulary):
    templates = reason_templates(vocabulary)
    descriptions = {r["name"]: r["description"] for r in catalogue(vocabulary=vocabulary)}
    assert set(templates) == set(descriptions)
    rendered = 0
    for name, template in templates.items():
        assert template.templates, f"{name} has no reason template"
        for row in _rows(list(templates)):
            text = template.render(row[name], row)
            if text is None:
                continue
            rendered += 1
            assert descriptions[name] not in text, (name, text)
            assert not FRACTIONAL_DAYS.search(text), (name, text)
            assert "unknown" not in text and "nan" not in text.lower().split(), (name, text)
    assert rendered > 10 * len(templates)


def test_per_type_reasons_read_the_customers_own_event_names():
    t = reason_templates(CONSUMER)
    assert t["days_since_like"].render(23.4, {}) == "no 'like' for 23 days"
    assert t["days_since_like"].render(365.0, {}) == "no 'like' in the last year"
    assert t["days_since_like"].render(365.0, {"tenure_days": 12.0}) == "no 'like' since sign-up"
    assert t["days_since_like"].render(365.0, {"tenure_days": 900.0}) == (
        "no 'like' in the last year"
    )
    assert (
        t["post_trend_30_60"].render(0.4, {})
        == "'post' fell 60% in the last 30 days vs the 60 before"
    )
    assert t["n_friend_removed_30d"].render(1, {}) == (
        "1 'Friend Removed' event in the last 30 days"
    )
    assert t["like_per_post_30d"].render(0.25, {}) == "0.25 'like' per 'post' in the last 30 days"
    assert t["n_odd_7d"].render(3, {}) == "3 '{odd}' events in the last 7 days"


def test_built_in_reasons_in_words():
    t = reason_templates(B2B)
    row = {"seats": 8.0, "active_seat_share_2w": 3 / 8, "active_seat_share_2w_8w_ago": 1.0}
    assert (
        t["active_seat_share_trend"].render(-5 / 8, row)
        == "active seats fell from 8 to 3 in 8 weeks"
    )
    # without the seats column it falls back to the share
    assert (
        t["active_seat_share_trend"].render(-0.625, {})
        == "active seat share fell 62 percentage points in 8 weeks"
    )
    assert t["days_since_last_activity"].render(23.4, {}) == "no activity for 23 days"
    assert t["open_bug_tickets"].render(1, {}) == "1 open bug ticket"
    assert t["open_bug_tickets"].render(2, {}) == "2 open bug tickets"
    assert t["days_to_renewal"].render(0.31, {}) == "renewal in less than a day"
    assert t["days_to_renewal"].render(12.6, {}) == "renewal in 13 days"
    assert t["tenure_days"].render(731.0, {}) == "customer for 2 years"
    assert (
        t["mean_bug_resolution_hours_90d"].render(130.0, {}).startswith("bug tickets took 5 days")
    )
    assert t["last_nps"].render(float("nan"), {}) == "no NPS answer yet"
    # a missing value without an if_missing text is no reason at all (no "unknown")
    assert t["weekly_activity_slope_12w"].render(float("nan"), {}) is None
    # a false flag is no reason
    assert t["in_danger_zone"].render(False, {}) is None
    assert t["is_detractor"].render(True, {"last_nps": 3.0}) == (
        "NPS detractor (latest answer 3 of 10)"
    )
    context = {n for n, tpl in t.items() if tpl.context}
    assert {"country", "segment", "plan", "tenure_days", "days_to_renewal"} <= context
    assert not {"open_bug_tickets", "days_since_last_activity", "failed_payments_90d"} & context


def test_single_table_columns_read_as_name_and_value():
    assert (
        column_template("TotalCharges", categorical=False).render(494.3, {}) == "TotalCharges 494"
    )
    assert column_template("Contract", categorical=True).render("Month-to-month", {}) == (
        "Contract: Month-to-month"
    )
    assert column_template("odd {name}", categorical=False).render(0.25, {}) == "odd {name} 0.25"
    assert reason_text("TotalCharges", 494.3) == "TotalCharges 494"
    assert column_template("[x] rate", categorical=False).render(2.0, {}) == "[x] rate 2"


def test_bad_templates_are_refused_when_a_builder_registers():
    with pytest.raises(TemplateError, match="unknown format 'dayz'"):
        ReasonTemplate(("no login for {value:dayz}",))
    with pytest.raises(ValueError, match=r"feature 'x_30d'.*unknown format"):
        feature_builder(
            "bad_reason_builder",
            driver="engagement",
            features=[Feature("x_30d", "x", reason="{value:weird}")],
        )(lambda ds, keys: None)
    remove_builder("bad_reason_builder")


def _frames():
    values = pd.DataFrame(
        {
            "days_since_last_activity": [0.9, 0.9, 0.05, 0.9],
            "open_bug_tickets": [0.4, 0.4, 0.04, 0.4],
            "country": [1.2, 1.2, 0.0, 1.2],
            "days_to_renewal": [0.3, 0.3, 0.0, 0.3],
            "failed_payments_90d": [-0.5, -0.5, -0.5, 0.2],
        }
    )
    data = pd.DataFrame(
        {
            "days_since_last_activity": [23.4, 23.4, 2.0, 23.4],
            "open_bug_tickets": [2, 2, 0, 2],
            "country": ["NL", "NL", "DE", "NL"],
            "days_to_renewal": [12.4, 12.4, 100.0, 12.4],
            "failed_payments_90d": [0, 0, 0, 1],
        }
    )
    drivers = {
        "days_since_last_activity": "engagement",
        "open_bug_tickets": "product_quality",
        "country": "account",
        "days_to_renewal": "billing",
        "failed_payments_90d": "billing",
    }
    return values, data, drivers


def test_top_reasons_skip_context_weak_contributions_and_low_tiers():
    values, data, drivers = _frames()
    templates = reason_templates(B2B)
    tiers = np.array(["high", "low", "high", "medium"])
    out = top_reasons(values, data, templates, drivers, tiers=tiers)
    first = out.iloc[0]
    # country raises the risk most but is context; reasons are what a team can act on
    assert first.reason_1 == "no activity for 23 days"
    assert first.reason_2 == "2 open bug tickets"
    assert first.driver_1 == "engagement" and first.hint_1 == DEFAULT_HINTS["engagement"]
    assert first.hint_2 == DEFAULT_HINTS["product_quality"]
    assert first.contribution_1 == 0.9
    assert pd.isna(first.reason_3)  # a negative contribution is no reason
    assert first.context == "country NL; renewal in 12 days"
    # the low tier gets no reasons; weak contributions (< 0.1) are none
    assert out.iloc[1][["reason_1", "context"]].isna().all()
    assert out.iloc[2][["reason_1", "reason_2", "context"]].isna().all()
    assert out.iloc[3].reason_3 == "1 failed payment in the last 90 days"
    assert out.iloc[3].hint_3 == DEFAULT_HINTS["billing"]


def test_reason_settings_come_from_the_spec():
    values, data, drivers = _frames()
    settings = ReasonsSpec(min_contribution=0.5, tiers=["high", "medium", "low"], hints={
        "engagement": "call them this week"
    })  # fmt: skip
    out = top_reasons(values, data, reason_templates(B2B), drivers, settings=settings,
                      tiers=np.array(["low"] * 4))  # fmt: skip
    assert out.reason_1[1] == "no activity for 23 days"
    assert out.hint_1[1] == "call them this week"
    assert pd.isna(out.reason_2[1])  # 0.4 < 0.5
    raw = {
        "name": "x",
        "data": {"path": "d"},
        "cutoffs": "2024-01-01",
        "model": {"family": "logistic"},
    }
    assert (
        parse_spec({**raw, "reasons": {"hints": {"billing": "x"}}}).reasons.hint_map()["billing"]
        == "x"
    )
    with pytest.raises(SpecError, match=r"reasons\.hints.*unknown driver"):
        parse_spec({**raw, "reasons": {"hints": {"biling": "x"}}})
