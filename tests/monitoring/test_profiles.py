"""Reference and batch profiles, PSI and confidence-based performance estimation on small
hand-made data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnlab.evaluation import expected_metrics
from churnlab.evaluation.profiles import (
    batch_profile,
    feature_drift,
    psi,
    reference_profile,
)

TIERS = ("high", "medium", "low")


def _frame(rng, n, shift=0.0, plans=("basic", "pro")):
    return pd.DataFrame(
        {
            "logins_30d": rng.poisson(5 + shift, n).astype(float),
            "mrr": rng.lognormal(4 + shift, 0.5, n),
            "plan": rng.choice(plans, n),
        }
    )


def _profiles(ref, cur, rng):
    drivers = {"logins_30d": "engagement", "mrr": "billing", "plan": "billing"}
    p_ref, p_cur = rng.random(len(ref)) * 0.3, rng.random(len(cur)) * 0.3
    reference = reference_profile(ref, drivers, p_ref, np.full(len(ref), "low"), TIERS)
    return reference, batch_profile(reference, cur, p_cur, np.full(len(cur), "low"), TIERS)


def test_psi_by_hand():
    ref, cur = np.array([0.5, 0.5]), np.array([30, 10])
    expected = (0.75 - 0.5) * np.log(0.75 / 0.5) + (0.25 - 0.5) * np.log(0.25 / 0.5)
    assert psi(ref, cur) == pytest.approx(expected)
    assert psi(ref, ref * 7) == pytest.approx(0.0)


def test_same_distribution_is_stable_and_a_shift_is_not():
    rng = np.random.default_rng(0)
    ref = _frame(rng, 4000)
    reference, same = _profiles(ref, _frame(rng, 4000), rng)
    assert feature_drift(reference, same).psi.max() < 0.05
    _, shifted = _profiles(ref, _frame(rng, 4000, shift=1.0), rng)
    drift = feature_drift(reference, shifted).set_index("feature")
    assert drift.loc["mrr", "psi"] > 0.2 and drift.loc["logins_30d", "psi"] > 0.1
    assert drift.loc["plan", "psi"] < 0.05


def test_new_categories_and_missing_values_have_their_own_bins():
    rng = np.random.default_rng(1)
    ref = _frame(rng, 2000)
    cur = _frame(rng, 2000, plans=("basic", "pro", "marketplace"))
    cur.loc[:499, "mrr"] = np.nan
    reference, batch = _profiles(ref, cur, rng)
    counts = batch["features"]
    assert counts["plan"][-2] == pytest.approx((cur.plan == "marketplace").sum())  # (other)
    assert counts["mrr"][-1] == 500  # missing
    drift = feature_drift(reference, batch).set_index("feature")
    assert drift.loc["plan", "psi"] > 0.2 and drift.loc["mrr", "psi"] > 0.2
    assert sum(counts["logins_30d"]) == len(cur)


def test_expected_metrics_match_the_mean_over_labels_drawn_from_p():
    rng = np.random.default_rng(2)
    p = rng.beta(1, 8, 3000)
    draws = [roc_auc_score(rng.random(len(p)) < p, p) for _ in range(200)]
    est = expected_metrics(p)
    assert est["roc_auc"] == pytest.approx(np.mean(draws), abs=0.005)
    assert est["positive_rate"] == pytest.approx(p.mean())
    # a constant score ranks nothing
    assert expected_metrics(np.full(500, 0.1))["roc_auc"] == pytest.approx(0.5)
