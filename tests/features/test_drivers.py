"""On simulator data each driver's features separate churners in the direction the simulator implies.

Window counts are confounded by exposure (young trial accounts churn most and have had less time
to hit a bug or answer a survey), so all but the onboarding check compare established accounts
(tenure >= 120 days). Thresholds sit below the values measured on this seed (in comments).

The measured values changed when the simulator gained its retention campaigns (issue 20): a
flipped churn decision shifts the random stream of the rest of the chunk, so the fixture is a
new draw of the same business; usability (time on task) and NPS came out weaker on it (they
also vary this much between seeds without campaigns: time on task 0.52-0.59, NPS 0.65-0.71 over
seeds 7-9), so their floors were lowered to stay below the new measurements.
"""

from __future__ import annotations

import pytest
from sklearn.metrics import roc_auc_score

from churnlab.data import fit_vocabulary, load_dataset
from churnlab.features import build_features, build_observations

CHECKS = [
    # (driver, feature, sign: +1 if higher means more churn, min AUC, measured)
    ("engagement", "events_30d", -1, 0.62, 0.73),
    ("engagement", "days_since_last_activity", +1, 0.60, 0.72),
    ("team", "active_seat_share_2w", -1, 0.62, 0.70),
    ("team", "active_seat_share_trend", -1, 0.52, 0.56),
    ("usability", "time_on_task_ratio_90d", +1, 0.505, 0.52),
    ("product_quality", "bug_tickets_90d", +1, 0.52, 0.56),
    ("support", "csm_calls_90d", -1, 0.52, 0.56),
    ("satisfaction", "last_nps", -1, 0.58, 0.62),
    ("billing", "current_mrr", -1, 0.53, 0.59),
    ("account", "seats", -1, 0.52, 0.59),
]


@pytest.fixture(scope="module")
def table(small_sim):
    ds = load_dataset(small_sim)
    obs = build_observations(ds, "2024-04-01:2025-04-01:1M", 60)
    vocab = fit_vocabulary(ds, before="2024-04-01")  # the mapping's roles (tests/conftest.py)
    features, _ = build_features(ds, obs, vocabulary=vocab)
    df = ds.con.execute(features)
    return df[df.label_complete]


def _auc(df, feature, sign):
    d = df[df[feature].notna()]
    return roc_auc_score(d.churned_within_h.astype(bool), sign * d[feature].astype(float))


@pytest.mark.parametrize(("driver", "feature", "sign", "floor", "measured"), CHECKS)
def test_driver_direction_established_accounts(table, driver, feature, sign, floor, measured):
    established = table[table.tenure_days >= 120]
    assert _auc(established, feature, sign) > floor


def test_onboarding_red_flags_predict_churn(table):
    assert _auc(table, "logins_first_10d", -1) > 0.68  # measured 0.74
    assert _auc(table, "first_session_min", -1) > 0.66  # measured 0.72
