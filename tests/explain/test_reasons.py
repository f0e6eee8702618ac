"""Reason codes: the largest risk-raising contributions, in words, with their driver."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.explain import reason_text, top_reasons


def test_top_reasons_pick_largest_positive_contributions():
    values = pd.DataFrame(
        {
            "active_seat_share_trend": [0.9, -0.2],
            "open_bug_tickets": [0.4, -0.1],
            "plan": [0.1, -0.3],
        }
    )
    data = pd.DataFrame(
        {
            "active_seat_share_trend": [-0.6, 0.1],
            "open_bug_tickets": [3, 0],
            "plan": ["basic", "pro"],
        }
    )
    drivers = {
        "active_seat_share_trend": "team",
        "open_bug_tickets": "product_quality",
        "plan": "billing",
    }
    out = top_reasons(values, data, {"plan": "plan at the cutoff"}, drivers)
    assert out.reason_1[0] == "active seat share fell 60% points in 8 weeks (team)"
    assert out.reason_2[0] == "3 open bug tickets (product_quality)"
    assert out.reason_3[0] == "plan at the cutoff: basic (billing)"
    assert list(out.loc[0, ["driver_1", "driver_2", "driver_3"]]) == [
        "team",
        "product_quality",
        "billing",
    ]
    assert out.contribution_1[0] == 0.9
    # nothing raises the second customer's risk: no reasons
    assert out.loc[1, ["reason_1", "reason_2", "reason_3"]].isna().all()
    assert np.isnan(out.contribution_1[1])


def test_reason_text_fallbacks():
    assert (
        reason_text("x", float("nan"), "some metric", "support") == "some metric: unknown (support)"
    )
    assert reason_text("x", 12345.0, "events", None) == "events: 12,345"
