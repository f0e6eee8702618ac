"""The drift rules of a batch's verdict on hand-made drift summaries: the share of all
features, and one driver's features moving together."""

from __future__ import annotations

from churnlab.config import MonitoringSpec
from churnlab.monitoring.verdict import batch_verdict


def _checks(drivers: list[tuple[str, int, int]]) -> dict:
    drifted = sum(k for _, _, k in drivers)
    features = sum(n for _, n, _ in drivers)
    drift = {
        "drifted": drifted,
        "features": features,
        "drifted_share": drifted / features,
        "drivers": [
            {"driver": d, "features": n, "drifted": k, "mean_psi": 0.1, "max_psi": 0.5}
            for d, n, k in drivers
        ],
    }
    quiet = {"prediction_psi": 0.0}
    # no estimate drop (the reference has none to compare with), no realized labels
    return {"shift": None, "drift": drift, "prediction": quiet, "estimated": {"roc_auc": 0.7},
            "realized": None}  # fmt: skip


def test_one_drivers_features_drifting_together_warn():
    """A price change moved 7 of the 10 billing features (4% of 171): under the 10% rule for
    all features, it never warned; half of a driver's (at least 5) features warns."""
    settings = MonitoringSpec()
    verdict, reasons = batch_verdict(
        _checks([("engagement", 117, 0), ("billing", 10, 7), ("support", 44, 0)]), {}, settings
    )
    assert verdict == "warn"
    assert reasons == [
        "7 of 10 billing features drifted from the reference (PSI >= 0.2; 7 of 171 in all)"
    ]
    # fewer than half, or a driver too small to judge alone: ok
    assert (
        batch_verdict(_checks([("engagement", 117, 0), ("billing", 10, 4)]), {}, settings)[0]
        == "ok"
    )
    assert batch_verdict(_checks([("engagement", 117, 0), ("plan", 3, 3)]), {}, settings)[0] == "ok"
    # the share of all features still decides first
    verdict, reasons = batch_verdict(
        _checks([("engagement", 20, 10), ("billing", 10, 0)]), {}, settings
    )
    assert verdict == "retrain" and reasons[0].startswith("10 of 30 features drifted")
