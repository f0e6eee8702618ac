"""Univariate lift against scikit-learn, and the leakage check catching a builder that peeks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnlab.analytics.lift import driver_lift, univariate_lift
from churnlab.data import load_dataset
from churnlab.features import Feature, feature_builder, remove_builder
from churnlab.features.leakage import leakage_check
from tests.conftest import tiny_frames, write_frames


def test_univariate_lift():
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.2
    frame = pd.DataFrame(
        {
            "churned_within_h": y,
            "logins": np.where(y, 1, 5) + rng.normal(0, 2, 2000),
            "noise": rng.normal(size=2000),
            "plan": "basic",
        }
    )
    lift = univariate_lift(frame, ["logins", "noise", "plan"], {"logins": "engagement"})
    assert lift.feature.tolist() == ["logins", "noise"]  # categorical skipped, strongest first
    row = lift.iloc[0]
    assert row.risk_rises_when == "lower"
    assert row.auc == pytest.approx(roc_auc_score(y, -frame.logins))
    assert row.lift_top10 > 2
    assert driver_lift(lift).driver.tolist() == ["engagement", "other"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_dataset(write_frames(tiny_frames(), tmp_path_factory.mktemp("tiny")))


def test_leakage_check_clean_then_catches_a_peek(tiny):
    clean = leakage_check(tiny, "2024-04-15", 30)
    assert len(clean) > 30 and clean.mismatches.sum() == 0

    @feature_builder(
        "peeks_ahead",
        driver="engagement",
        description="events in the 60 days after the cutoff (a bug)",
        requires=("events",),
        features=[Feature("events_next_60d", "events after the cutoff", "int", 0)],
    )
    def peeks_ahead(ds, keys):
        import ibis

        j = keys.join(ds["events"], "account_id")
        j = j.filter((j.ts >= j.cutoff) & (j.ts < j.cutoff + ibis.interval(days=60)))
        return j.group_by(["account_id", "cutoff"]).agg(events_next_60d=j.count())

    try:
        leaks = leakage_check(tiny, "2024-05-01", 30, builder_names=["peeks_ahead"])
    finally:
        remove_builder("peeks_ahead")
    assert leaks.set_index("feature").loc["events_next_60d", "mismatches"] > 0
