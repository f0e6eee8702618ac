"""Monitoring benchmark. Results: bench/results/monitor.json.

On the demo-sized simulation (5,000 accounts, 24 months, seed 42) with the ``price_increase``
scenario (prices up 25% on ``--change-at``, default 2025-02-01; price-sensitive accounts
likelier to leave from then on):

* the champion: ``experiments/lightgbm.yaml`` trained on cutoffs 2024-03-01 to 2024-11-01,
  whose test label window closes before the change;
* 12 monthly batches (2025-01-01 to 2025-12-01) scored with ``score --log``;
* ``monitor``: its wall time over the 12 batches (goal < 30 s), the verdict per batch and the
  champion's realized PR-AUC on the matured batches before and after the change (its decay
  from the champion's own test PR-AUC);
* ``retrain``: a challenger on the newest complete cutoffs, both scored on the same newest
  window; how much of the champion's decay on that window the challenger recovers (goal: at
  least half).

Everything runs in a throwaway project (its own MLflow store). The CPU is shared with other work
on this machine: times are noisy.

Usage: python bench/monitor.py [--change-at 2025-02-01]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "monitor.json"
TRAIN_CUTOFFS = "2024-03-01:2024-11-01:1M"
BATCHES = [str(d.date()) for d in pd.date_range("2025-01-01", "2025-12-01", freq="MS")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--change-at", default="2025-02-01")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="churnlab-bench-monitor-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
        os.environ["CHURNLAB_HOME"] = str(root)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        result = run(root, args.change_at)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def run(root: Path, change_at: str) -> dict:
    import mlflow

    from churnlab.config import load_spec
    from churnlab.data.simulate import SimulationParams, simulate
    from churnlab.monitoring import monitor
    from churnlab.monitoring.retrain import retrain
    from churnlab.scoring import score_job
    from churnlab.tracking import train_and_log
    from churnlab.tracking.store import connect

    data = root / "data" / "price_increase"
    t0 = time.perf_counter()
    simulate(
        data,
        SimulationParams(accounts=5000, months=24, seed=42, scenario="price_increase",
                         change_at=change_at),
    )  # fmt: skip
    seconds = {"simulate": time.perf_counter() - t0}
    spec = load_spec(ROOT / "experiments" / "lightgbm.yaml", experiment="bench-monitor")
    spec = spec.model_copy(
        update={"data": spec.data.model_copy(update={"path": data}), "cutoffs": TRAIN_CUTOFFS}
    )
    t0 = time.perf_counter()
    summary = train_and_log(spec, root=root)
    connect()
    mlflow.MlflowClient().set_registered_model_alias(
        summary.model_name, "champion", summary.model_version
    )
    seconds["train"] = time.perf_counter() - t0
    uri = f"models:/{summary.model_name}@champion"
    t0 = time.perf_counter()
    for date in BATCHES:
        score_job(uri, data=data, as_of=pd.Timestamp(date), reasons=False, log_run=True)
    seconds["score_12_batches"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    watched = monitor(uri, data=data)
    seconds["monitor_12_batches"] = time.perf_counter() - t0

    change = pd.Timestamp(change_at)
    test_pr_auc = summary.metrics["test_pr_auc"]
    matured = [b for b in watched.batches if b["matured"]]
    after = [b for b in matured if pd.Timestamp(b["batch_date"]) >= change]
    before = [b for b in matured if pd.Timestamp(b["batch_date"]) < change]
    mean_after = sum(b["realized"]["pr_auc"] for b in after) / len(after) if after else None

    t0 = time.perf_counter()
    challenge = retrain(spec, root=root)
    seconds["retrain"] = time.perf_counter() - t0
    champ_window = challenge.champion["pr_auc"]
    chall_window = challenge.challenger["pr_auc"]
    decay = test_pr_auc - champ_window
    recovered = (chall_window - champ_window) / decay if decay > 0 else None
    return {
        "scenario": "price_increase",
        "change_at": change_at,
        "simulation": {"accounts": 5000, "months": 24, "seed": 42},
        "champion": {
            "spec": "experiments/lightgbm.yaml",
            "cutoffs": TRAIN_CUTOFFS,
            "test_pr_auc": round(test_pr_auc, 4),
            "test_roc_auc": round(summary.metrics["test_roc_auc"], 4),
        },
        "batches": [
            {
                "batch_date": b["batch_date"],
                "verdict": b["verdict"],
                "drifted": f"{b['drift']['drifted']}/{b['drift']['features']}",
                "top_driver": b["drift"]["drivers"][0]["driver"],
                "prediction_psi": round(b["prediction"]["prediction_psi"], 4),
                "estimated_pr_auc": round(b["estimated"]["pr_auc"], 4),
                "realized_pr_auc": round(b["realized"]["pr_auc"], 4) if b["realized"] else None,
                "realized_positive_rate": round(b["realized"]["positive_rate"], 4)
                if b["realized"]
                else None,
                "reasons": b["reasons"],
            }
            for b in watched.batches
        ],
        "overall_verdict": watched.overall["verdict"],
        "realized_pr_auc_before_change_mean": (
            round(sum(b["realized"]["pr_auc"] for b in before) / len(before), 4) if before else None
        ),
        "realized_pr_auc_after_change_mean": round(mean_after, 4) if mean_after else None,
        "decay_after_change": round(test_pr_auc - mean_after, 4) if mean_after else None,
        "retrain": {
            "window": challenge.window,
            "challenger_cutoffs": challenge.cutoffs,
            "champion_pr_auc": round(champ_window, 4),
            "challenger_pr_auc": round(chall_window, 4),
            "champion_revenue_capture_top10": round(
                challenge.champion.get("revenue_capture_top10", float("nan")), 4
            ),
            "challenger_revenue_capture_top10": round(
                challenge.challenger.get("revenue_capture_top10", float("nan")), 4
            ),
            "decay_on_window": round(decay, 4),
            "share_of_decay_recovered": round(recovered, 3) if recovered is not None else None,
            "promoted": challenge.promoted,
            "message": challenge.message,
        },
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "goals": {"monitor_12_batches_seconds": 30, "share_of_decay_recovered": 0.5},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other sessions",
    }


if __name__ == "__main__":
    main()
