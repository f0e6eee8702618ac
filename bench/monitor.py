"""Monitoring benchmark. Results: bench/results/monitor.json.

On the demo-sized simulation (5,000 accounts, 24 months, seed 42) with the ``price_increase``
scenario (prices up 25% on ``--change-at``, default 2025-02-01; price-sensitive accounts
likelier to leave from then on):

* the champion: ``experiments/lightgbm.yaml`` trained on cutoffs 2024-03-01 to 2024-11-01,
  whose test label window closes before the change;
* 12 monthly batches (2025-01-01 to 2025-12-01) logged as ``score --log`` logs them (all
  built in one feature pass, ``score_batches``: how they were scored does not change what
  ``monitor`` reads);
* ``monitor``: its wall time over the 12 batches in this process and as the command
  ``churnlab monitor --no-log`` in a fresh process (imports included; goal < 30 s), and the
  verdict per batch;
* **decay**, measured so that the churn rate does not pass for ranking quality: raw PR-AUC
  rises with the share of churners (a batch with more churners scores higher with the same
  ranking), and the price increase raises that share. So every matured batch's champion scores
  are set beside the simulator's oracle on *the same rows* (the true probability of churning
  in the label window, ``evaluation.oracle_risk``): the *gap* oracle minus champion, in PR-AUC
  and in ROC-AUC, holds prevalence and the batch's intrinsic difficulty fixed. The decay is
  the mean gap on the matured batches dated on or after the change minus the gap on the
  champion's own test cutoff (whose label window closed before the change). Batches whose
  label window straddles the change are reported, not averaged. Also reported per batch:
  ROC-AUC and PR-AUC normalized by prevalence, (PR-AUC - rate) / (1 - rate);
* **recovery**: ``retrain`` trains a challenger on the newest complete cutoffs and scores
  champion and challenger on the challenger's test cutoff, which it never trained on (its
  training and validation cutoffs and their label windows lie before it). On those rows the
  share of the champion's decay the challenger recovers is
  (challenger - champion) / (champion's gap there - champion's gap on its test cutoff), with
  paired bootstrap standard errors over rows, and whether that decay is beyond two of them
  (no share when there is no decay).

Everything runs in a throwaway project (its own MLflow store; ``--keep DIR`` keeps it). The
CPU is shared with other work on this machine: times are noisy.

Usage: python bench/monitor.py [--change-at 2025-02-01] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "monitor.json"
TRAIN_CUTOFFS = "2024-03-01:2024-11-01:1M"
BATCHES = [str(d.date()) for d in pd.date_range("2025-01-01", "2025-12-01", freq="MS")]
DRAWS = 200  # paired bootstrap resamples of a batch's rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--change-at", default="2025-02-01")
    ap.add_argument("--keep", type=Path, default=None, help="run in DIR and keep the project")
    args = ap.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        result = run(args.keep.resolve(), args.change_at)
    else:
        with tempfile.TemporaryDirectory(prefix="churnlab-bench-monitor-") as tmp:
            result = run(Path(tmp), args.change_at)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _ranking(y: np.ndarray, p: np.ndarray, oracle: np.ndarray) -> dict[str, float]:
    """Champion and oracle on the same rows: ROC-AUC, PR-AUC, the gaps, normalized PR-AUC."""
    rate = float(y.mean())
    pr, roc = average_precision_score(y, p), roc_auc_score(y, p)
    opr, oroc = average_precision_score(y, oracle), roc_auc_score(y, oracle)
    return {
        "rows": len(y),
        "positive_rate": rate,
        "roc_auc": roc,
        "pr_auc": pr,
        "pr_auc_normalized": (pr - rate) / (1 - rate),
        "oracle_roc_auc": oroc,
        "oracle_pr_auc": opr,
        "gap_roc_auc": oroc - roc,
        "gap_pr_auc": opr - pr,
    }


def _paired_se(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Bootstrap standard errors over rows of metric(a) - metric(b), both scored on the same
    resamples, for PR-AUC and ROC-AUC."""
    from churnlab.evaluation import bootstrap_scores

    out = {}
    for metric in ("pr_auc", "roc_auc"):
        diff = bootstrap_scores(y, a, metric, DRAWS) - bootstrap_scores(y, b, metric, DRAWS)
        out[metric] = float(np.std(diff, ddof=1))
    return out


def _rounded(d: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


def _oracle(truth: Path, keys: pd.DataFrame, horizon_days: int, lead_days: int) -> np.ndarray:
    """The simulator's true P(churn in the label window): 1 - prod(1 - weekly hazard) over the
    simulator's weeks that overlap the window. ``evaluation.oracle_risk`` takes the weeks that
    *start* in it, so an account that left between a mid-week cutoff and the next week start
    has no week there and no score (17 of 1,993 rows of 2025-10-01, nearly all churners);
    dropping them would leave the compared rows unlike the ones ``monitor`` measures."""
    import duckdb

    con = duckdb.connect()
    con.register("keys", keys[["account_id", "cutoff"]].reset_index(drop=True))
    con.register("truth", con.read_parquet(str(truth)))
    q = """
        SELECT k.account_id, k.cutoff,
               1 - exp(sum(ln(greatest(1 - t.hazard, 1e-12)))) AS p
        FROM keys k JOIN truth t
          ON t.account_id = k.account_id
         AND t.week_start >  k.cutoff + to_days(CAST($lead AS INTEGER)) - INTERVAL 7 DAY
         AND t.week_start <  k.cutoff + to_days(CAST($until AS INTEGER))
        GROUP BY 1, 2
    """
    found = con.execute(q, {"lead": lead_days, "until": lead_days + horizon_days}).df()
    merged = keys[["account_id", "cutoff"]].merge(found, on=["account_id", "cutoff"], how="left")
    return merged.p.to_numpy(dtype=float)


def _matured_rows(uri: str, data: Path) -> pd.DataFrame:
    """Every matured logged batch's stored champion scores joined to its realized labels (the
    rows ``monitor``'s realized metrics use) and the oracle on the same rows."""
    from churnlab.monitoring.monitor import realized_labels
    from churnlab.tracking import resolve_model
    from churnlab.tracking.monitoring import load_reference, logged_batches

    ref = resolve_model(uri)
    reference = load_reference(ref)
    batches = logged_batches(ref)
    labels = realized_labels(data, batches, reference, None)
    parts = []
    for b in batches:
        own = labels[labels.cutoff == b.batch_date]
        if own.empty:
            continue
        joined = b.predictions[["account_id", "p_churn"]].merge(
            own[["account_id", "cutoff", "churned_within_h"]], on="account_id"
        )
        parts.append(joined[joined.churned_within_h.notna()])
    rows = pd.concat(parts, ignore_index=True)
    rows["y"] = rows.churned_within_h.astype(int)
    rows["oracle"] = _oracle(
        data / "truth.parquet", rows, int(reference["horizon_days"]),
        int(reference.get("lead_days", 0)),
    )  # fmt: skip
    return rows


def _decay(rows: pd.DataFrame, test: pd.DataFrame, change: pd.Timestamp, horizon: int) -> dict:
    """Per matured batch the champion beside the oracle; the decay of the gap after the change
    against the champion's test cutoff."""
    base = _ranking(test.y.to_numpy(int), test.p.to_numpy(float), test.oracle.to_numpy(float))
    base_se = _paired_se(test.y.to_numpy(int), test.oracle.to_numpy(), test.p.to_numpy())
    per_batch, after, after_se = [], [], []
    for cutoff, part in rows.groupby("cutoff"):
        y, p, o = part.y.to_numpy(int), part.p_churn.to_numpy(float), part.oracle.to_numpy()
        when = pd.Timestamp(cutoff)
        if when >= change:
            period = "after"
        elif when + pd.Timedelta(days=horizon) > change:
            period = "straddles"
        else:
            period = "before"
        se = _paired_se(y, o, p)
        entry = {"batch_date": str(when.date()), "period": period, **_ranking(y, p, o)}
        entry.update({f"gap_{k}_se": v for k, v in se.items()})
        per_batch.append(_rounded(entry))
        if period == "after":
            after.append(entry)
            after_se.append(se)
    out = {
        "champion_test_cutoff": _rounded(
            {**base, **{f"gap_{k}_se": v for k, v in base_se.items()}}
        ),
        "batches": per_batch,
    }
    for metric in ("pr_auc", "roc_auc"):
        gaps = [e[f"gap_{metric}"] for e in after]
        if not gaps:
            continue
        # batches share accounts, so their errors are not independent: a rough figure
        se_mean = float(np.sqrt(sum(s[metric] ** 2 for s in after_se)) / len(gaps))
        out[f"{metric}_gap_after_change_mean"] = round(float(np.mean(gaps)), 4)
        out[f"{metric}_decay"] = round(float(np.mean(gaps)) - base[f"gap_{metric}"], 4)
        out[f"{metric}_decay_se"] = round(float(np.hypot(se_mean, base_se[metric])), 4)
        out[f"{metric}_raw_after_change_mean"] = round(
            float(np.mean([e[metric] for e in after])), 4
        )
    out["positive_rate_after_change_mean"] = round(
        float(np.mean([e["positive_rate"] for e in after])), 4
    ) if after else None  # fmt: skip
    return out


def _recovery(challenge, rows: pd.DataFrame, test: pd.DataFrame) -> dict:
    """On the retrain window (the challenger's test cutoff): champion, challenger and oracle
    on the same rows, and the share of the champion's decay the challenger recovers."""
    import mlflow

    from churnlab.tracking import run_table

    window = pd.Timestamp(challenge.window)
    chall = run_table(challenge.training_run_id, "predictions/test.json")
    chall = chall[chall.cutoff == window][["account_id", "y", "p"]]
    champ = rows[rows.cutoff == window][["account_id", "y", "p_churn", "oracle"]]
    both = champ.merge(chall, on="account_id", suffixes=("", "_challenger"))
    if not (both.y == both.y_challenger).all():
        raise RuntimeError(f"labels of {window.date()} differ between monitor and retrain")
    y, o = both.y.to_numpy(int), both.oracle.to_numpy(float)
    p_champ, p_chall = both.p_churn.to_numpy(float), both.p.to_numpy(float)
    base = _ranking(test.y.to_numpy(int), test.p.to_numpy(float), test.oracle.to_numpy(float))
    base_se = _paired_se(test.y.to_numpy(int), test.oracle.to_numpy(), test.p.to_numpy())
    c, n = _ranking(y, p_champ, o), _ranking(y, p_chall, o)
    gain_se = _paired_se(y, p_chall, p_champ)
    champ_gap_se = _paired_se(y, o, p_champ)
    out = {
        "window": challenge.window,
        "rows": len(both),
        "challenger_cutoffs": challenge.cutoffs,
        # which of them the challenger fitted on, was validated (early stopping, calibration)
        # and tested on, as its training run logged them
        "challenger_split": {
            k.removeprefix("split."): v
            for k, v in mlflow.MlflowClient().get_run(challenge.training_run_id).data.params.items()
            if k.startswith("split.") and k.endswith((".cutoffs", ".rows"))
        },
        "champion": _rounded(c),
        "challenger": _rounded({k: v for k, v in n.items() if not k.startswith("oracle")}),
    }
    for metric in ("pr_auc", "roc_auc"):
        decay = c[f"gap_{metric}"] - base[f"gap_{metric}"]
        decay_se = float(np.hypot(champ_gap_se[metric], base_se[metric]))
        gain = n[metric] - c[metric]
        out[f"{metric}_decay_on_window"] = round(decay, 4)
        out[f"{metric}_decay_on_window_se"] = round(decay_se, 4)
        out[f"{metric}_challenger_gain"] = round(gain, 4)
        out[f"{metric}_challenger_gain_se"] = round(gain_se[metric], 4)
        out[f"{metric}_share_of_decay_recovered"] = round(gain / decay, 3) if decay > 0 else None
        out[f"{metric}_decay_beyond_2se"] = bool(decay > 2 * decay_se)
    return out


def _cli_seconds(root: Path, uri: str, data: Path) -> float:
    """``churnlab monitor --no-log --json`` in a fresh process: the scheduled job's wall time."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "churnlab.cli", "monitor", "--model", uri, "--data", str(data),
         "--json", "--no-log"],
        capture_output=True, text=True, cwd=root, env={**os.environ, "CHURNLAB_HOME": str(root)},
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 3):
        raise RuntimeError(done.stderr[-2000:])
    return seconds


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(root: Path, change_at: str) -> dict:
    import mlflow

    from churnlab.config import load_spec
    from churnlab.data.simulate import SimulationParams, simulate
    from churnlab.monitoring import monitor
    from churnlab.monitoring.retrain import retrain
    from churnlab.scoring import score_batches
    from churnlab.tracking import run_table, train_and_log
    from churnlab.tracking.store import connect

    (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    os.environ["CHURNLAB_HOME"] = str(root)
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
    version_uri = f"models:/{summary.model_name}/{summary.model_version}"
    t0 = time.perf_counter()
    score_batches(uri, data, [pd.Timestamp(d) for d in BATCHES])
    seconds["score_12_batches"] = time.perf_counter() - t0
    load = {"before_monitor": _load()}
    t0 = time.perf_counter()
    watched = monitor(uri, data=data)
    seconds["monitor_12_batches"] = time.perf_counter() - t0
    seconds["monitor_12_batches_cli"] = _cli_seconds(root, uri, data)
    load["after_monitor"] = _load()

    change = pd.Timestamp(change_at)
    test = run_table(summary.run_id, "predictions/test.json")
    test["oracle"] = _oracle(data / "truth.parquet", test, spec.horizon_days, spec.lead_days)
    rows = _matured_rows(version_uri, data)
    # rows the truth table has no week for have no oracle score; left out of the comparison
    no_oracle = {"batches": int(rows.oracle.isna().sum()), "test": int(test.oracle.isna().sum())}
    rows, test = rows.dropna(subset=["oracle"]), test.dropna(subset=["oracle"])
    decay = _decay(rows, test, change, spec.horizon_days + spec.lead_days)
    decay["rows_without_oracle"] = no_oracle

    t0 = time.perf_counter()
    challenge = retrain(spec, root=root)
    seconds["retrain"] = time.perf_counter() - t0
    return {
        "scenario": "price_increase",
        "change_at": change_at,
        "simulation": {"accounts": 5000, "months": 24, "seed": 42},
        "champion": {
            "spec": "experiments/lightgbm.yaml",
            "cutoffs": TRAIN_CUTOFFS,
            "test_pr_auc": round(summary.metrics["test_pr_auc"], 4),
            "test_roc_auc": round(summary.metrics["test_roc_auc"], 4),
        },
        "batches": [
            {
                "batch_date": b["batch_date"],
                "verdict": b["verdict"],
                "drifted": f"{b['drift']['drifted']}/{b['drift']['features']}",
                "top_driver": b["drift"]["drivers"][0]["driver"],
                "prediction_psi": round(b["prediction"]["prediction_psi"], 4),
                "estimated_roc_auc": round(b["estimated"]["roc_auc"], 4),
                "estimated_pr_auc": round(b["estimated"]["pr_auc"], 4),
                "realized_roc_auc": round(b["realized"]["roc_auc"], 4) if b["realized"] else None,
                "realized_pr_auc": round(b["realized"]["pr_auc"], 4) if b["realized"] else None,
                "realized_positive_rate": round(b["realized"]["positive_rate"], 4)
                if b["realized"]
                else None,
                "reasons": b["reasons"],
            }
            for b in watched.batches
        ],
        "overall_verdict": watched.overall["verdict"],
        "decay": decay,
        "retrain": {
            **_recovery(challenge, rows, test),
            "promoted": challenge.promoted,
            "message": challenge.message,
        },
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "load_average": load,
        "goals": {"monitor_12_batches_seconds": 30, "share_of_decay_recovered": 0.5},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other sessions",
    }


if __name__ == "__main__":
    main()
