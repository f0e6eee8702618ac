"""Reliability cases of issue 16 (items 1-15). Results: bench/results/reliability.json.

Runs ``tests/reliability`` and the REST tests (real processes, a real HTTP server, real
signals, real DuckDB and SQLite stores; see each module's docstring) and lists every case tried
with its outcome and time, grouped by the issue's item numbers.

Usage: python bench/reliability.py [-n WORKERS]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "reliability.json"
ITEMS = {
    "test_folders": [1, 10],
    "test_sql": [2],
    "test_numbers_and_timestamps": [3, 4],
    "test_model_outputs": [1, 10, 11, 13],
    "test_io_errors": [11],
    "test_signals": [12],
    "test_make_clean": [14],
    "test_concurrency_store": [5],
    "test_rest": [6],
    "test_concurrency_tune": [7],
    "test_interrupts_train": [8, 15],
    "test_concurrency_promote": [8, 9],
}
PATHS = ["tests/reliability", "tests/scoring/test_rest.py"]  # item 6: REST against batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", default="2", help="pytest-xdist workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        started = datetime.now(UTC)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", args.n, "--dist", "loadfile",
             *PATHS, f"--junitxml={report}"],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        cases = []
        for case in ET.parse(report).getroot().iter("testcase"):
            module = case.get("classname", "").rsplit(".", 1)[-1]
            outcome, detail = "passed", None
            for tag in ("failure", "error", "skipped"):
                found = case.find(tag)
                if found is not None:
                    outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                    detail = (found.get("message") or "").splitlines()[:1]
            cases.append(
                {
                    "items": ITEMS.get(module, []),
                    "case": f"{module}::{case.get('name')}",
                    "outcome": outcome,
                    "seconds": round(float(case.get("time", 0)), 2),
                    **({"detail": detail[0]} if detail else {}),
                }
            )
    result = {
        "issue": 16,
        "run_at": started.isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "workers": args.n,
        "exit_code": done.returncode,
        "summary": {o: sum(c["outcome"] == o for c in cases) for o in ("passed", "failed",
                                                                      "error", "skipped")},
        "cases": sorted(cases, key=lambda c: (c["items"], c["case"])),
    }  # fmt: skip
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['summary']} -> {OUT}")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
