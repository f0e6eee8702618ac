"""Simulator benchmark: events/s and peak RSS for the demo of every product profile and for
100,000 accounts x 24 months (b2b_saas).

Each case runs in its own process so its peak RSS is its own. Results: bench/results/simulate.json.
Targets: >= 1 million events/s on 2 cores; 100k accounts with peak RSS < 6 GiB.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "simulate.json"
CASES = [
    ("demo", 5000, 24, "b2b_saas"),
    ("demo_consumer_social", 5000, 24, "consumer_social"),
    ("demo_streaming", 5000, 24, "streaming"),
    ("100k_accounts", 100_000, 24, "b2b_saas"),
]
TARGET_EVENTS_PER_S = 1_000_000
TARGET_PEAK_RSS_GIB = 6.0


def one(accounts: int, months: int, profile: str) -> None:
    from churnlab.data import SimulationParams, simulate

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        manifest = simulate(
            Path(tmp) / "d",
            SimulationParams(accounts=accounts, months=months, seed=42, profile=profile),
        )
        seconds = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in (Path(tmp) / "d").iterdir())
    events = manifest["rows"]["events"]
    print(
        json.dumps(
            {
                "profile": profile,
                "accounts": accounts,
                "months": months,
                "rows": manifest["rows"],
                "seconds": round(seconds, 2),
                "events_per_s": round(events / seconds),
                "peak_rss_gib": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3
                ),
                "parquet_mib": round(size / 2**20, 1),
            }
        )
    )


def main() -> None:
    results = {}
    for name, accounts, months, profile in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(accounts), str(months), profile],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results[name] = r
        print(
            f"{name}: {r['rows']['events']:,} events in {r['seconds']}s = {r['events_per_s']:,}/s, peak RSS {r['peak_rss_gib']} GiB"
        )
    big = results["100k_accounts"]
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "results": results,
        "targets": {
            "events_per_s": TARGET_EVENTS_PER_S,
            "peak_rss_gib_100k": TARGET_PEAK_RSS_GIB,
        },
        "met": {
            "events_per_s": all(r["events_per_s"] >= TARGET_EVENTS_PER_S for r in results.values()),
            "peak_rss_100k": big["peak_rss_gib"] < TARGET_PEAK_RSS_GIB,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}: {report['met']}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        one(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        main()
