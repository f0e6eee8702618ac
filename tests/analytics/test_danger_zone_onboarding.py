"""The danger-zone rule and the onboarding tables on frames where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.analytics import find_danger_zone, onboarding_table, plot_danger_zone, plot_onboarding


def _frame(rate, n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 31, n)
    return pd.DataFrame({"active_days_30d": x, "churned_within_h": rng.random(n) < rate(x)})


def test_sharp_rise_below_a_level_is_found():
    frame = _frame(lambda x: np.where(x <= 6, 0.4, 0.05))
    zone = find_danger_zone(frame, "active_days_30d")
    assert zone.method == "change_point"
    assert 5 <= zone.threshold <= 7
    assert zone.churn_rate_in_zone > 3 * zone.churn_rate_outside
    inside = frame.active_days_30d <= zone.threshold
    assert zone.share_in_zone == pytest.approx(inside.mean())
    ax = plot_danger_zone(zone)
    assert ax.get_xlabel() == "active_days_30d"


def test_flat_churn_falls_back_to_the_bottom_quartile():
    frame = _frame(lambda x: np.full(len(x), 0.1))
    zone = find_danger_zone(frame, "active_days_30d")
    assert zone.method == "bottom_quartile"
    assert zone.threshold == frame.active_days_30d.quantile(0.25)


def test_unknown_feature_is_named():
    with pytest.raises(ValueError, match="'sessions_7d' not in the frame"):
        find_danger_zone(_frame(lambda x: x * 0 + 0.1), "sessions_7d")


def test_onboarding_rates_per_bin():
    rng = np.random.default_rng(1)
    logins = rng.integers(0, 15, 5000)
    frame = pd.DataFrame(
        {
            "logins_first_10d": logins,
            "tenure_days": rng.integers(10, 400, 5000),
            "churned_within_h": rng.random(5000) < np.where(logins == 0, 0.6, 0.1),
        }
    )
    table = onboarding_table(frame, "logins_first_10d").set_index("logins_first_10d")
    young = frame[frame.tenure_days <= 180]
    assert table.observations.sum() == len(young)
    assert table.loc["0", "churn_rate"] == pytest.approx(
        young.churned_within_h[young.logins_first_10d == 0].mean()
    )
    assert table.chi2_p.iloc[0] < 1e-6
    assert len(plot_onboarding(table.reset_index()).patches) == len(table)
