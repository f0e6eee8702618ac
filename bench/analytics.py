"""Retention analytics benchmark: seconds per step on the demo data (5,000 accounts x 24 months).

Steps: monthly churn/MRR/NRR, cohort tables (accounts, revenue), the survival table with four
log-rank tests, the point-in-time frame for the danger zone and onboarding (22 cutoffs), the
danger-zone rule, the onboarding tables, and the profit curve on 100,000 scored customers.
Results: bench/results/analytics.json. Target: the report's analytics in < 15 s on 2 cores (simulation excluded).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "analytics.json"
TARGET_SECONDS = 15.0


def main() -> None:
    from churnlab.analytics import (
        cohort_retention,
        find_danger_zone,
        logrank,
        monthly_retention,
        observation_frame,
        onboarding_table,
        survival_table,
    )
    from churnlab.analytics.survival_curves import GROUPINGS
    from churnlab.data import SimulationParams, load_dataset, simulate
    from churnlab.evaluation.profit import best_k, profit_curve

    seconds: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        seconds[name] = round(time.perf_counter() - t0, 2)
        return out

    with tempfile.TemporaryDirectory() as tmp:
        simulate(Path(tmp) / "demo", SimulationParams(accounts=5000, months=24, seed=42))
        ds = timed("load_dataset", lambda: load_dataset(Path(tmp) / "demo"))
        timed("monthly_retention", lambda: monthly_retention(ds))
        timed("cohort_accounts", lambda: cohort_retention(ds, "accounts"))
        timed("cohort_revenue", lambda: cohort_retention(ds, "revenue"))
        table = timed("survival_table", lambda: survival_table(ds))
        timed("logrank_4_groupings", lambda: [logrank(table, g) for g in GROUPINGS])
        feats = ["active_days_30d", "logins_first_10d", "first_session_min", "tenure_days"]
        frame = timed(
            "observation_frame_22_cutoffs",
            lambda: observation_frame(ds, "2024-03-01:2025-12-01:1M", 90, feats),
        )
        zone = timed("danger_zone", lambda: find_danger_zone(frame, "active_days_30d"))
        timed(
            "onboarding_tables",
            lambda: [onboarding_table(frame, f) for f in ("logins_first_10d", "first_session_min")],
        )
    rng = np.random.default_rng(0)
    p, mrr = rng.beta(1, 8, 100_000), rng.lognormal(5, 1, 100_000)
    timed("profit_curve_100k", lambda: (profit_curve(p, mrr), best_k(p, mrr)))
    analytics_total = round(sum(v for k, v in seconds.items() if k != "profit_curve_100k"), 2)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "data": {"accounts": 5000, "months": 24, "observations": len(frame)},
        "seconds": seconds,
        "analytics_total_seconds": analytics_total,
        "target_seconds": TARGET_SECONDS,
        "meets_target": analytics_total < TARGET_SECONDS,
        "danger_zone": zone.summary(),
        "note": "the machine is shared with other jobs; timings are noisy",
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
