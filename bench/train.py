"""Training benchmark. Results: bench/results/train.json.

* ``train``: both shipped specs (logistic, lightgbm) on the default demo (5,000 accounts x 24
  months), end to end as ``churnlab train`` runs them: features, out-of-time split, fit with
  calibration, evaluation, SHAP, plots and MLflow logging (a throwaway SQLite store).
  Targets: LightGBM test ROC-AUC within 0.03 of the simulator's oracle and above the logistic
  baseline; expected calibration error < 0.02 for both; both under 3 minutes in total.
* ``shap``: exact tree SHAP throughput (rows/s) of ``shap.TreeExplainer`` (single-threaded)
  and of churnlab's path (LightGBM ``pred_contrib`` on every core, once per distinct decision
  pattern per tree) on the same model and rows (the demo's features at weekly cutoffs),
  and the largest difference between them. Target: >= 2x TreeExplainer, identical values.
  For LightGBM models TreeExplainer calls the same LightGBM routine, so on 2 cores the
  speedup is bounded by the thread count; shap's own C++ implementation is also timed on a
  sample (it misreads LightGBM's categorical splits, so its values differ).
* ``calibration_folds``: how much one test cutoff's ECE says. Both specs re-run with five
  rolling-origin folds (test cutoffs 2025-06..2025-10, each with its own purged validation
  cutoff and calibrator), ECE and ROC-AUC per fold; and the ECE a perfectly calibrated model
  would show on the final test rows (outcomes drawn from its own probabilities, 500 draws).

* ``calibration_seeds`` (``--calibration-seeds N``, not part of the default run): test ECE of
  both specs on N independently simulated default demos (simulator seeds 1..N).
* ``profiles``: one entry per simulator product profile (``b2b_saas``, ``consumer_social``,
  ``streaming``): the LightGBM spec on that profile's default demo (5,000 accounts x 24
  months, seed 42), its test metrics and the profile's oracle. Target: LightGBM test ROC-AUC
  within 0.03 of the oracle on every profile. ``--profile NAME`` (repeatable) re-runs only
  this section for the profiles named and merges them into the results.

Usage: python bench/train.py [--shap-rows 100000]
       [--calibration-only | --calibration-seeds N | --profile NAME ...]

"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from churnlab.vocab import SIMULATOR_PROFILES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "train.json"
DATA = ROOT / "data" / "bench" / "demo-5000x24"


def _dataset(profile: str = "b2b_saas") -> Path:
    """The default demo of a simulator profile (made once; the b2b_saas demo keeps its path)."""
    from churnlab.data import SimulationParams, simulate

    path = DATA if profile == "b2b_saas" else DATA.with_name(f"{DATA.name}-{profile}")
    if not (path / "dataset.json").exists():
        simulate(path, SimulationParams(accounts=5000, months=24, seed=42, profile=profile))
    return path


def bench_profiles(profiles: list[str]) -> dict:
    """The LightGBM spec on each profile's default demo: test metrics beside the oracle."""
    from churnlab.config import load_spec
    from churnlab.tracking import train_and_log

    out = {}
    for profile in profiles:
        data = _dataset(profile)
        spec = load_spec(ROOT / "experiments" / "lightgbm.yaml", experiment=f"bench-{profile}")
        spec = spec.model_copy(update={"data": spec.data.model_copy(update={"path": data})})
        t0 = time.perf_counter()
        summary = train_and_log(spec)
        test = {
            k.removeprefix("test_"): round(v, 4)
            for k, v in summary.metrics.items()
            if k.startswith("test_")
        }
        out[profile] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "split": summary.split,
            "test": test,
            "within_0.03_of_oracle": test["oracle_roc_auc"] - test["roc_auc"] <= 0.03,
        }
        print(f"{profile}: {out[profile]['test']}", file=sys.stderr)
    return out


def bench_training() -> tuple[dict, dict]:
    from churnlab.config import load_spec
    from churnlab.tracking import train_and_log

    data = _dataset()
    out, summaries = {}, {}
    t_all = time.perf_counter()
    for family in ("logistic", "lightgbm"):
        spec = load_spec(ROOT / "experiments" / f"{family}.yaml", experiment="bench")
        spec = spec.model_copy(update={"data": spec.data.model_copy(update={"path": data})})
        t0 = time.perf_counter()
        summary = train_and_log(spec)
        seconds = time.perf_counter() - t0
        m = summary.metrics
        summaries[family] = summary
        out[family] = {
            "seconds": round(seconds, 1),
            "stages_s": {k: round(v, 1) for k, v in summary.seconds.items()},
            "split": summary.split,
            "test": {
                k.removeprefix("test_"): round(v, 4) for k, v in m.items() if k.startswith("test_")
            },
            "validation": {
                k.removeprefix("validation_"): round(v, 4)
                for k, v in m.items()
                if k.startswith("validation_")
            },
        }
    out["total_seconds"] = round(time.perf_counter() - t_all, 1)
    return out, summaries


def bench_shap(model_uri: str, rows: int) -> dict:
    import mlflow
    import numpy as np
    import shap

    from churnlab.modeling.tree_shap import lightgbm_contributions
    from churnlab.training.data import OBSERVATION_COLUMNS

    model = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    est = model.estimator.estimator  # the fitted estimator inside the calibration
    from churnlab.config import load_spec
    from churnlab.training.data import load_training_data

    # distinct real rows: the demo's features at weekly cutoffs (about 118k account-weeks)
    spec = load_spec(ROOT / "experiments" / "lightgbm.yaml")
    spec = spec.model_copy(
        update={
            "data": spec.data.model_copy(update={"path": DATA}),
            "cutoffs": "2024-03-04:2025-12-01:1W",
        }
    )
    frame = load_training_data(spec).frame
    X = frame.drop(columns=OBSERVATION_COLUMNS).sample(n=min(rows, len(frame)), random_state=0)
    rows = len(X)
    prepared = est.prepare(X)
    booster = est.booster_
    threads = int(os.environ.get("CHURNLAB_THREADS", os.cpu_count() or 1))

    # churnlab's path: LightGBM's exact tree SHAP on every core, once per decision pattern
    t0 = time.perf_counter()
    ours = lightgbm_contributions(booster, prepared)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = booster.predict(prepared, pred_contrib=True, num_threads=threads)
    t_plain = time.perf_counter() - t0

    # shap.TreeExplainer, single-threaded. For a LightGBM model it delegates to the same
    # LightGBM routine (pred_contrib), with the booster's thread setting: pinned to 1 here.
    # (a booster rebuilt from the model string carries no thread setting, so the OpenMP limit
    # holds; reset_parameter on a pickled booster crashes LightGBM 4.7)
    import lightgbm as lgb
    from threadpoolctl import threadpool_limits

    single = lgb.Booster(model_str=booster.model_to_string())
    explainer = shap.TreeExplainer(single)
    with threadpool_limits(1, user_api="openmp"):
        t1 = time.perf_counter()
        theirs = explainer.shap_values(prepared)
        t_shap = time.perf_counter() - t1

    # shap's own C++ tree SHAP (the path it uses for models it does not delegate), single
    # thread, on a sample: it reads LightGBM's categorical splits as numeric thresholds
    sample = min(rows, 5000)
    numeric = prepared.head(sample).copy()
    for c in est.categorical_:
        codes = numeric[c].cat.codes
        numeric[c] = codes.where(codes >= 0).astype(float)
    internal = shap.TreeExplainer(single)
    internal.model.model_type = "internal"
    t2 = time.perf_counter()
    own = internal.shap_values(numeric.to_numpy(dtype=float))
    t_own = time.perf_counter() - t2
    return {
        "rows": rows,
        "features": X.shape[1],
        "trees": booster.num_trees(),
        "leaves_per_tree": int(booster.params["num_leaves"]),
        "tree_explainer_threads": 1,
        "tree_explainer_s": round(t_shap, 2),
        "tree_explainer_rows_per_s": round(rows / t_shap),
        "churnlab_threads": threads,
        "churnlab_s": round(t_ours, 2),
        "churnlab_rows_per_s": round(rows / t_ours),
        "speedup": round(t_shap / t_ours, 2),
        "plain_pred_contrib_all_threads_rows_per_s": round(rows / t_plain),
        "max_abs_difference_vs_plain": float(np.abs(ours - plain).max()),
        "max_abs_difference": float(np.abs(ours[:, :-1] - theirs).max()),
        "shap_internal_single_thread": {
            "rows": sample,
            "rows_per_s": round(sample / t_own),
            "max_abs_difference": float(np.abs(own - ours[:sample, :-1]).max()),
        },
    }


def bench_calibration_folds(folds: int = 5, draws: int = 500) -> dict:
    import numpy as np

    from churnlab.config import load_spec
    from churnlab.evaluation.metrics import expected_calibration_error
    from churnlab.training.data import load_training_data
    from churnlab.training.train import train

    data_path, out, frame = _dataset(), {}, None
    for family in ("logistic", "lightgbm"):
        spec = load_spec(ROOT / "experiments" / f"{family}.yaml", experiment="bench")
        spec = spec.model_copy(
            update={
                "data": spec.data.model_copy(update={"path": data_path}),
                "split": spec.split.model_copy(update={"backtest_folds": folds}),
            }
        )
        frame = frame or load_training_data(spec)  # same features for both specs
        result = train(spec, data=frame)
        test = result.predictions["test"]
        rng = np.random.default_rng(0)
        p = test.p.to_numpy()
        floor = [expected_calibration_error(rng.binomial(1, p), p) for _ in range(draws)]
        out[family] = {
            "folds": [
                {
                    "test_cutoff": f.split.cutoffs["test"][0],
                    "validation_cutoff": f.split.cutoffs["validation"][0],
                    "ece": round(f.metrics["test"]["ece"], 4),
                    "roc_auc": round(f.metrics["test"]["roc_auc"], 4),
                }
                for f in result.folds
            ],
            "mean_ece": round(float(np.mean([f.metrics["test"]["ece"] for f in result.folds])), 4),
            "perfectly_calibrated_ece_on_final_test_rows": {
                "mean": round(float(np.mean(floor)), 4),
                "p90": round(float(np.quantile(floor, 0.9)), 4),
            },
        }
    return out


def bench_calibration_seeds(seeds: int = 10) -> dict:
    """Test ECE of both specs on ``seeds`` independently simulated default demos (5,000
    accounts x 24 months, simulator seeds 1..N): how often one draw of the demo lands under
    the 0.02 bar, and how far the validation cutoff's churn rate (which the calibration
    matches) sits from the test cutoff's."""
    import shutil

    import numpy as np

    from churnlab.config import load_spec
    from churnlab.data import SimulationParams, simulate
    from churnlab.training.data import load_training_data
    from churnlab.training.train import train

    rows: list[dict] = []
    for seed in range(1, seeds + 1):
        path = Path(tempfile.mkdtemp(prefix="churnlab-bench-seed-"))
        try:
            simulate(path, SimulationParams(accounts=5000, months=24, seed=seed))
            frame, row = None, {"simulator_seed": seed}
            for family in ("logistic", "lightgbm"):
                spec = load_spec(ROOT / "experiments" / f"{family}.yaml", experiment="bench")
                spec = spec.model_copy(update={"data": spec.data.model_copy(update={"path": path})})
                frame = frame or load_training_data(spec)
                m = train(spec, data=frame).metrics
                row[f"{family}_test_ece"] = round(m["test_ece"], 4)
                row[f"{family}_test_ece_floor"] = round(m["test_ece_floor"], 4)
                row[f"{family}_test_roc_auc"] = round(m["test_roc_auc"], 4)
            row["validation_positive_rate"] = round(m["validation_positive_rate"], 4)
            row["test_positive_rate"] = round(m["test_positive_rate"], 4)
            row["test_mean_p_lightgbm"] = round(m["test_mean_p"], 4)
            rows.append(row)
            print(row, file=sys.stderr)
        finally:
            shutil.rmtree(path, ignore_errors=True)
    out: dict = {"accounts": 5000, "months": 24, "by_seed": rows}
    for family in ("logistic", "lightgbm"):
        ece = np.array([r[f"{family}_test_ece"] for r in rows])
        floor = np.array([r[f"{family}_test_ece_floor"] for r in rows])
        out[family] = {
            "mean_ece": round(float(ece.mean()), 4),
            "mean_ece_floor": round(float(floor.mean()), 4),
            # issue 17's bar: mean ECE over the seeds at most 1.2x the mean floor
            "mean_ece_to_floor": round(float(ece.mean() / floor.mean()), 3),
            "within_1.2x_floor": bool(ece.mean() <= 1.2 * floor.mean()),
            "min_ece": round(float(ece.min()), 4),
            "max_ece": round(float(ece.max()), 4),
            "share_below_0.02": round(float((ece < 0.02).mean()), 2),
        }
    both = [r["logistic_test_ece"] < 0.02 and r["lightgbm_test_ece"] < 0.02 for r in rows]
    out["share_of_seeds_with_both_below_0.02"] = round(float(np.mean(both)), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shap-rows", type=int, default=100_000)
    parser.add_argument(
        "--calibration-only", action="store_true", help="re-run only calibration_folds"
    )
    parser.add_argument(
        "--calibration-seeds",
        type=int,
        metavar="N",
        help="re-run only calibration_seeds, over N simulated demos",
    )
    parser.add_argument(
        "--profile",
        action="append",
        choices=SIMULATOR_PROFILES,
        help="re-run only the per-profile entries, for this profile (repeatable)",
    )
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="churnlab-bench-")
    (Path(home) / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    os.environ["CHURNLAB_HOME"] = home
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    if args.calibration_seeds:
        report = json.loads(RESULTS.read_text())
        report["calibration_seeds"] = bench_calibration_seeds(args.calibration_seeds)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(
            json.dumps(
                {k: v for k, v in report["calibration_seeds"].items() if k != "by_seed"}, indent=2
            ),
            file=sys.stderr,
        )
        return
    if args.profile:
        report = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        report.setdefault("profiles", {}).update(bench_profiles(args.profile))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        return
    if args.calibration_only:
        report = json.loads(RESULTS.read_text())
        report["calibration_folds"] = bench_calibration_folds()
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["calibration_folds"], indent=2), file=sys.stderr)
        return
    training, summaries = bench_training()
    lgb, lr = training["lightgbm"]["test"], training["logistic"]["test"]
    shap_result = bench_shap(summaries["lightgbm"].model_uri, args.shap_rows)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "training": training,
        "shap": shap_result,
        "calibration_folds": bench_calibration_folds(),
        "profiles": bench_profiles(list(SIMULATOR_PROFILES)),
        "targets": {
            "lightgbm_within_0.03_of_oracle": lgb["oracle_roc_auc"] - lgb["roc_auc"] <= 0.03,
            "lightgbm_above_logistic": lgb["roc_auc"] > lr["roc_auc"],
            "ece_below_0.02": lgb["ece"] < 0.02 and lr["ece"] < 0.02,
            "both_under_3_minutes": training["total_seconds"] < 180,
            "shap_2x_tree_explainer": shap_result["speedup"] >= 2,
            "shap_identical_1e-6": shap_result["max_abs_difference"] < 1e-6,
        },
    }
    report["targets"]["lightgbm_within_0.03_of_oracle_every_profile"] = all(
        r["within_0.03_of_oracle"] for r in report["profiles"].values()
    )
    if RESULTS.exists():  # the seed study is run on its own (--calibration-seeds); keep it
        seeds = json.loads(RESULTS.read_text()).get("calibration_seeds")
        if seeds:
            report["calibration_seeds"] = seeds
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["targets"], indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
