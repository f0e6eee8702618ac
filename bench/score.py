"""Scoring benchmark. Results: bench/results/score.json.

* ``prepared``: scoring a prepared feature table with the demo's LightGBM through the pyfunc
  path a batch job uses (input checks, MLflow signature enforcement, ``ChurnModel.predict``):
  risk only (target >= 150,000 accounts/s on 2 cores) and with reasons for every account,
  compared with the raw LightGBM booster's ``predict`` + ``predict(pred_contrib=True)`` on the
  same rows (target: pyfunc with reasons within 1.2x of that). Rows: the demo's monthly
  feature table, tiled with fresh account ids to at least ``--rows`` rows.
* ``end_to_end``: ``score_job`` from raw data for the default demo as of its last date, time
  split into loading the model, features, scoring and writing.
* ``rest``: ``mlflow models serve`` (via ``churnlab.scoring.serve``) on 127.0.0.1: p50 / p99
  latency of 200 sequential single-account requests after 20 warm-up requests (target p99 <
  50 ms).

The model: ``--model URI`` (e.g. the LightGBM version ``make run`` registered), else the demo
LightGBM spec trained here into a throwaway MLflow store. The CPU is shared with other work on
this machine: numbers are noisy.

Usage: python bench/score.py [--model models:/churn-demo/2] [--rows 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "score.json"
DATA = ROOT / "data" / "bench" / "demo-5000x24"
CUTOFFS = "2024-03-01:2025-12-01:1M"


def _dataset() -> Path:
    from churnlab.data import SimulationParams, simulate

    if not (DATA / "dataset.json").exists():
        simulate(DATA, SimulationParams(accounts=5000, months=24, seed=42))
    return DATA


def _train_demo_lightgbm(data: Path) -> str:
    from churnlab.config import load_spec
    from churnlab.tracking import train_and_log

    spec = load_spec(ROOT / "experiments" / "lightgbm.yaml", experiment="bench-score")
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"path": data})})
    summary = train_and_log(spec)
    return f"models:/{summary.model_name}/{summary.model_version}"


def _feature_table(loaded, data: Path, rows: int) -> pd.DataFrame:
    """The demo's features at monthly cutoffs (the training path), tiled to >= ``rows``."""
    from churnlab.data import load_dataset
    from churnlab.features import build_observations, feature_frame

    ds = load_dataset(data)
    spec = loaded.model.feature_spec
    obs = build_observations(ds, CUTOFFS, spec.horizon_days, spec.lead_days)
    frame, _ = feature_frame(ds, obs, spec.builders, spec.vocabulary)
    frame = frame[loaded.model.input_columns()]
    copies, step = -(-rows // len(frame)), int(frame.account_id.max()) + 1
    tiled = pd.concat(
        [frame.assign(account_id=frame.account_id + k * step) for k in range(copies)],
        ignore_index=True,
    )
    return tiled


def _best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_prepared(loaded, frame: pd.DataFrame) -> dict:
    est = loaded.model.estimator.estimator  # the fitted estimator inside the calibration
    n = len(frame)
    loaded.predict(frame.head(1000), reasons=False)  # warm-up
    risk_s = _best_of(lambda: loaded.predict(frame, reasons=False))
    reasons_s = _best_of(lambda: loaded.predict(frame, reasons=True), repeat=2)
    out = {
        "rows": n,
        "features": len(loaded.model.features),
        "threads": int(os.environ.get("CHURNLAB_THREADS", os.cpu_count() or 1)),
        "risk_only": {"seconds": round(risk_s, 3), "accounts_per_s": round(n / risk_s)},
        "with_reasons": {"seconds": round(reasons_s, 3), "accounts_per_s": round(n / reasons_s)},
    }
    booster = est.booster_ if est.family == "lightgbm" else None
    if booster is not None:
        X = est.prepare(frame[loaded.model.features])
        best = booster.best_iteration if booster.best_iteration > 0 else None
        predict_s = _best_of(lambda: booster.predict(X, raw_score=True, num_iteration=best))
        contrib_s = _best_of(
            lambda: booster.predict(X, pred_contrib=True, num_iteration=best), repeat=1
        )
        raw = predict_s + contrib_s
        out["raw_booster"] = {
            "trees": best or booster.num_trees(),
            "predict_seconds": round(predict_s, 3),
            "predict_rows_per_s": round(n / predict_s),
            "pred_contrib_seconds": round(contrib_s, 3),
            "predict_plus_contrib_seconds": round(raw, 3),
        }
        out["with_reasons_vs_raw_booster"] = round(reasons_s / raw, 3)
    out["targets"] = {
        "risk_only_accounts_per_s": 150_000,
        "risk_only_met": n / risk_s >= 150_000,
        "with_reasons_vs_raw_booster_max": 1.2,
        "with_reasons_met": out.get("with_reasons_vs_raw_booster", np.inf) <= 1.2,
    }
    return out


def bench_end_to_end(uri: str, data: Path) -> dict:
    from churnlab.scoring.batch import score_job

    with tempfile.TemporaryDirectory() as tmp:
        job = score_job(uri, data=data, out=Path(tmp) / "scores.parquet")
    return {
        "as_of": job.summary["cutoffs"],
        "accounts": job.summary["accounts"],
        "seconds": {k: round(v, 2) for k, v in job.seconds.items()},
        "tiers": {k: v["accounts"] for k, v in job.summary["tiers"].items()},
    }


def bench_rest(uri: str, frame: pd.DataFrame, requests: int = 200, warmup: int = 20) -> dict:
    from churnlab.scoring.serve import invoke, start_server, stop_server

    rows = json.loads(frame.head(requests).to_json(orient="records", date_format="iso"))
    process, url = start_server(uri, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for i in range(warmup):
            invoke(url, [rows[i % len(rows)]])
        latencies = []
        for i in range(requests):
            t0 = time.perf_counter()
            invoke(url, [rows[i % len(rows)]])
            latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        stop_server(process)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": requests,
        "warmup": warmup,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(max(latencies), 2),
        "target_p99_ms": 50,
        "met": q[98] < 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="model URI (default: train the demo LightGBM here)")
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()

    from churnlab.scoring import load_model

    data = _dataset()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    tmp = None
    if args.model:
        uri = args.model
    else:
        tmp = tempfile.TemporaryDirectory()
        (Path(tmp.name) / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
        os.environ["CHURNLAB_HOME"] = tmp.name
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        uri = _train_demo_lightgbm(data)
    loaded = load_model(uri)
    results["model"] = {"uri": uri, "version": loaded.ref.version}
    print(f"model {uri} (version {loaded.ref.version})", file=sys.stderr)
    frame = _feature_table(loaded, data, args.rows)
    results["prepared"] = bench_prepared(loaded, frame)
    print(json.dumps(results["prepared"], indent=1), file=sys.stderr)
    results["end_to_end"] = bench_end_to_end(uri, data)
    print(json.dumps(results["end_to_end"], indent=1), file=sys.stderr)
    results["rest"] = bench_rest(uri, frame)
    print(json.dumps(results["rest"], indent=1), file=sys.stderr)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}", file=sys.stderr)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
