"""Tuning benchmark. Results: bench/results/tune.json.

On the default demo (5,000 accounts x 24 months, ``experiments/lightgbm.yaml``), with the
features built once and shared by every arm:

* ``untuned``: the spec's LightGBM at 3 seeds (42, 43, 44): validation and test PR-AUC; the
  spread of the test PR-AUC over the seeds is the noise the tuned model is judged against.
* ``tuned``: 50 Optuna trials (seeded TPE, the spec's default pruner), then the final model with the best
  params, evaluated once on the test cutoff. Targets: best validation >= untuned validation;
  test not worse than the untuned mean by more than the seed noise (max - min).
* ``no_pruning``, ``median``, ``percentile``, ``hyperband``: the same 50 seeded trials with
  pruning off and with each pruner, each study one ``tune`` call as ``churnlab tune`` makes it,
  repeated twice in alternating order so load from other jobs falls on every arm alike; wall
  and process CPU time per arm (fastest repeat).
  Target: pruning cuts wall time by >= 40% at an equal or better best value.
* ``random_search``: scikit-learn ``RandomizedSearchCV`` over the same space (scipy-like
  distributions made from the same ``SearchParam`` entries), the same 50 fits of
  ``LGBMClassifier`` with the same fixed params and early stopping on the same validation
  cutoff (``PredefinedSplit``: train rows -> -1, validation rows -> fold 0), PR-AUC scoring.

LightGBM runs single-threaded (``CHURNLAB_THREADS=1`` unless set): the CPU is shared with
other jobs, and two threads on a busy 2-core machine are many times slower than one.

Usage: python bench/tune.py [--trials 50]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "tune.json"
DATA = ROOT / "data" / "bench" / "demo-5000x24"
SEEDS = (42, 43, 44)


def _dataset() -> Path:
    from churnlab.data import SimulationParams, simulate

    if not (DATA / "dataset.json").exists():
        simulate(DATA, SimulationParams(accounts=5000, months=24, seed=42))
    return DATA


def _with(spec, **model_params):
    params = {**spec.model.params, **model_params}
    return spec.model_copy(update={"model": spec.model.model_copy(update={"params": params})})


def _final(spec, data) -> dict:
    """Train as ``churnlab train`` does (fit, calibrate, evaluate, explain): both parts."""
    from churnlab.training.train import train

    m = train(spec, data=data).metrics
    return {"validation_pr_auc": m["validation_pr_auc"], "test_pr_auc": m["test_pr_auc"]}


def _arms(spec, data, splits, trials: int, pruners: dict[str, str], repeats: int = 2) -> dict:
    """One whole study per pruner, as ``churnlab tune`` runs it (one ``tune`` call of
    ``trials`` trials), repeated ``repeats`` times in alternating order (A B C D, D C B A) so
    load from other jobs falls on every arm alike; wall and process CPU time per arm are the
    fastest repeat's (the studies are seeded: every repeat runs the same trials)."""
    from churnlab.modeling import LightGBMChurnModel
    from churnlab.training.tuning import open_study, tune

    runs: dict[str, list] = {name: [] for name in pruners}
    for rep in range(repeats):
        order = list(pruners) if rep % 2 == 0 else list(reversed(pruners))
        for name in order:
            study = open_study(spec, data, None, pruners[name])
            w, c = time.perf_counter(), time.process_time()
            res = tune(spec, data, splits, trials=trials, pruner=pruners[name], study=study)
            runs[name].append((time.perf_counter() - w, time.process_time() - c, res))
    params = {**LightGBMChurnModel.model_defaults(), **spec.model.params}
    cap, stop = params["n_estimators"], params["early_stopping_rounds"]
    out = {}
    for name, reps in runs.items():
        res = reps[0][2]
        values = {[t.value for t in r.study.trials].__repr__() for _, _, r in reps}
        assert len(values) == 1, f"{name}: repeats ran different trials"
        rounds = [  # boosting rounds each trial ran: pruned at its last report, else early-stopped
            max(t.intermediate_values)
            if t.state.name == "PRUNED"
            else min(t.user_attrs.get("best_iteration", 0) + stop, cap)
            for t in res.study.trials
        ]
        final = _final(res.tuned_spec(spec), data)
        out[name] = {
            "pruner": pruners[name],
            "seconds": round(min(r[0] for r in reps), 1),
            "cpu_seconds": round(min(r[1] for r in reps), 1),
            "seconds_per_repeat": [round(r[0], 1) for r in reps],
            "best_validation_pr_auc": round(res.best_value, 4),
            "best_trial": res.best_trial,
            "trials": res.counts,
            "boosting_rounds_run": int(sum(rounds)),
            "best_params": res.best_params,
            "final_model": {k: round(v, 4) for k, v in final.items()},
        }
        print(f"{name}: {out[name]}", file=sys.stderr)
    return out


class _Dist:
    """A ``SearchParam`` as a distribution ``RandomizedSearchCV`` can sample (``rvs``)."""

    def __init__(self, p):
        self.p = p

    def rvs(self, random_state=None):
        p, rng = self.p, random_state
        if p.type == "categorical":
            return p.choices[rng.integers(len(p.choices))]
        log = p.log or p.type == "log"
        lo, hi = (math.log(p.low), math.log(p.high)) if log else (p.low, p.high)
        if p.type == "int":
            lo, hi = (
                (math.log(p.low - 0.5), math.log(p.high + 0.5)) if log else (lo - 0.5, hi + 0.5)
            )
        v = rng.uniform(lo, hi)
        v = math.exp(v) if log else v
        return int(min(max(round(v), p.low), p.high)) if p.type == "int" else float(v)


def _random_search(spec, data, splits, trials: int) -> dict:
    import lightgbm as lgb
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import PredefinedSplit, RandomizedSearchCV

    from churnlab.modeling import LightGBMChurnModel
    from churnlab.modeling.base import is_categorical
    from churnlab.training.tuning import search_space

    split = splits[0]
    tr, va = split.masks["train"], split.masks["validation"]
    rows = tr | va
    frame = data.frame.loc[rows]
    X = frame[data.features].copy()
    for c in data.features:
        if is_categorical(X[c]):
            X[c] = pd.Categorical(X[c].astype("string").astype(object))
        else:
            X[c] = pd.to_numeric(X[c]).astype("float64")
    y = frame.churned_within_h.fillna(False).astype(int).to_numpy()
    fold = np.where(va[rows], 0, -1)
    params = {**LightGBMChurnModel.model_defaults(), **spec.model.params}
    stop = int(params.pop("early_stopping_rounds"))
    est = lgb.LGBMClassifier(
        random_state=spec.seed,
        deterministic=True,
        force_row_wise=True,
        n_jobs=int(os.environ["CHURNLAB_THREADS"]),
        verbose=-1,
        **params,
    )
    space = {k: _Dist(p) for k, p in search_space(spec).items()}
    search = RandomizedSearchCV(
        est,
        space,
        n_iter=trials,
        scoring="average_precision",
        cv=PredefinedSplit(fold),
        refit=False,
        random_state=spec.seed,
        n_jobs=1,
    )
    Xv, yv = X[fold == 0], y[fold == 0]
    t0, c0 = time.perf_counter(), time.process_time()
    search.fit(
        X,
        y,
        eval_X=Xv,
        eval_y=yv,
        eval_metric="binary_logloss",
        callbacks=[lgb.early_stopping(stop, verbose=False)],
    )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "fits": len(search.cv_results_["params"]),
        "best_validation_pr_auc": round(float(search.best_score_), 4),
        "best_params": {k: _plain(v) for k, v in search.best_params_.items()},
    }


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=50)
    args = ap.parse_args()
    os.environ.setdefault("CHURNLAB_THREADS", "1")

    import numpy as np

    from churnlab.config import load_spec
    from churnlab.training.data import load_training_data
    from churnlab.training.train import make_splits

    spec = load_spec(ROOT / "experiments" / "lightgbm.yaml")
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"path": _dataset()})})
    t0 = time.perf_counter()
    data = load_training_data(spec)
    data_seconds = time.perf_counter() - t0
    splits = make_splits(spec, data)
    print(f"features built once in {data_seconds:.1f}s", file=sys.stderr)

    untuned = {}
    for seed in SEEDS:
        untuned[str(seed)] = {
            k: round(v, 4) for k, v in _final(spec.model_copy(update={"seed": seed}), data).items()
        }
    test = np.array([u["test_pr_auc"] for u in untuned.values()])
    noise = float(test.max() - test.min())
    print(f"untuned: {untuned}", file=sys.stderr)

    arms = _arms(
        spec,
        data,
        splits,
        args.trials,
        {
            "no_pruning": "none",
            "median": "median",
            "percentile": "percentile",
            "hyperband": "hyperband",
        },
    )
    rs = _random_search(spec, data, splits, args.trials)
    print(f"random_search: {rs}", file=sys.stderr)

    tuned, off = arms[spec.tuning.pruner], arms["no_pruning"]  # tuned: the default pruner
    base = untuned[str(spec.seed)]
    saving = {
        name: {
            "wall": round(1 - arm["seconds"] / off["seconds"], 3),
            "cpu": round(1 - arm["cpu_seconds"] / off["cpu_seconds"], 3),
            "best_value_equal_or_better": arm["best_validation_pr_auc"]
            >= off["best_validation_pr_auc"],
        }
        for name, arm in arms.items()
        if name != "no_pruning"
    }
    out = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "lightgbm_threads": int(os.environ["CHURNLAB_THREADS"]),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "data": {
            "accounts": 5000,
            "months": 24,
            "spec": "experiments/lightgbm.yaml",
            "features_seconds": round(data_seconds, 1),
            "split": splits[0].describe(),
        },
        "trials": args.trials,
        "untuned": {
            "by_seed": untuned,
            "test_pr_auc_mean": round(float(test.mean()), 4),
            "test_pr_auc_std": round(float(test.std(ddof=1)), 4),
            "test_pr_auc_noise_max_minus_min": round(noise, 4),
        },
        "tuned_pruner": spec.tuning.pruner,
        **arms,
        "random_search": rs,
        "targets": {
            "tuned_validation_ge_untuned": tuned["best_validation_pr_auc"]
            >= base["validation_pr_auc"],
            "tuned_final_validation_ge_untuned": tuned["final_model"]["validation_pr_auc"]
            >= base["validation_pr_auc"],
            "tuned_test_within_noise": tuned["final_model"]["test_pr_auc"]
            >= float(test.mean()) - noise,
            "default_pruner": spec.tuning.pruner,
            "pruning_saving_vs_off": saving,
            "pruning_saves_40pct_at_equal_or_better_best": {
                name: v["wall"] >= 0.40 and v["best_value_equal_or_better"]
                for name, v in saving.items()
            },
            "tuned_beats_random_search": tuned["best_validation_pr_auc"]
            >= rs["best_validation_pr_auc"],
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(RESULTS)
    print(json.dumps(out["targets"], indent=2))


if __name__ == "__main__":
    main()
