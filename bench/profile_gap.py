"""Where a simulator profile's gap to the oracle comes from, measured without the test cutoff.

The LightGBM spec (experiments/lightgbm.yaml) on a profile's bench demo, its population as
shipped or over every account (``--all-accounts``). For two evaluated cutoffs, neither of them
the test cutoff: the spec's validation cutoff (trained on its training cutoffs) and its last
training cutoff (trained on the cutoffs whose label windows closed by then), LightGBM with the
spec's parameters (mean of 3 seeds, early stopping on the evaluated cutoff, as the spec's fit
stops on its validation cutoff) is scored beside:

* ``model_phase_known``: the model's score with every account the simulator has already
  disengaging at the cutoff set to 1, i.e. perfect detection of a decision to leave taken
  before the cutoff (the first week of it leaves no trace in the events);
* ``oracle_at_cutoff``: the latent state at the cutoff frozen over the window
  (bench/oracle_at_cutoff.py); ``oracle``: the future-hazard oracle the bar is measured against;
* ``healthy_model`` / ``healthy_hazard``: among the accounts not disengaging, the model's
  ROC-AUC and that of the true weekly hazard at the cutoff;
* ``families``: the ROC-AUC that candidate generic feature families add (computed here from
  the events, point in time: only events before the cutoff, for every event type used by at
  least 1% of the accounts and the dataset's own ``ratios`` pairs).

Usage: python bench/profile_gap.py PROFILE [--all-accounts]  (demos made by bench/train.py)
Prints, and merges ``profile_gap`` into bench/results/train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnlab.config import load_spec
from churnlab.evaluation.metrics import oracle_risk
from churnlab.training.data import load_training_data
from churnlab.training.train import make_splits

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "train.json"
SEEDS = (0, 1, 2)
WEEKS = 13  # horizon weeks of the 90-day window (the spec's horizon)

PER_TYPE = """
SELECT k.account_id, k.cutoff, e.event_type,
       count(*) AS n_all,
       count(*) FILTER (WHERE e.ts >= k.cutoff - INTERVAL 90 DAY) AS n_90,
       count(*) FILTER (WHERE e.ts >= k.cutoff - INTERVAL 30 DAY) AS n_30,
       count(*) FILTER (WHERE e.ts >= k.cutoff - INTERVAL 7 DAY) AS n_7,
       sum(exp(-date_diff('second', e.ts, k.cutoff) / 86400.0 / 14)) AS decayed_14
FROM keys k JOIN events e ON e.account_id = k.account_id AND e.ts < k.cutoff
GROUP BY ALL
"""
TRUTH_AT_CUTOFF = """
SELECT k.account_id, k.cutoff, t.hazard, t.disengaging
FROM keys k JOIN truth t ON t.account_id = k.account_id
 AND t.week_start >= k.cutoff AND t.week_start < k.cutoff + INTERVAL 7 DAY
"""


def _data(profile: str, all_accounts: bool):
    name = "demo-5000x24" + ("" if profile == "b2b_saas" else f"-{profile}")
    path = ROOT / "data" / "bench" / name
    spec = load_spec(ROOT / "experiments" / "lightgbm.yaml", experiment="bench-gap")
    update = {"data": spec.data.model_copy(update={"path": path})}
    if all_accounts:
        update["population"] = type(spec.population)()
    spec = spec.model_copy(update=update)
    data = load_training_data(spec)
    return spec, data, path


def _per_type(path: Path, keys: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Wide per-(key, type) counts: lifetime, 90/30/7 days and a 14-day decayed count."""
    con = duckdb.connect()
    con.execute("SET threads=1")
    con.register("keys", keys)
    con.register("events", con.read_parquet(str(path / "events.parquet")))
    share = con.execute(
        "SELECT event_type, count(DISTINCT account_id) / (SELECT count(DISTINCT account_id) "
        "FROM events) AS s FROM events GROUP BY 1 ORDER BY 1"
    ).df()
    types = share.event_type[share.s >= 0.01].tolist()
    long = con.execute(PER_TYPE).df()
    wide = long.pivot_table(
        index=["account_id", "cutoff"],
        columns="event_type",
        values=["n_all", "n_90", "n_30", "n_7", "decayed_14"],
        fill_value=0,
    )
    wide.columns = [f"{a}|{b}" for a, b in wide.columns]
    out = keys.merge(wide.reset_index(), on=["account_id", "cutoff"], how="left").fillna(0)
    types = [t for t in types if f"n_all|{t}" in out.columns]
    return out, types


def _families(w: pd.DataFrame, types: list[str], pairs: list, tenure: pd.Series) -> dict:
    """Candidate generic families: name -> frame of columns (index of the training frame)."""
    pairs = [(a, b) for a, b in pairs if a in types and b in types]
    trend = {
        f"{t}_trend_7_23": ((w[f"n_7|{t}"] + 1) / ((w[f"n_30|{t}"] - w[f"n_7|{t}"]) * 7 / 23 + 1))
        .where(tenure >= 30)
        .to_numpy()
        for t in types
    }
    fams = {
        "lifetime_counts": {f"n_{t}_all": w[f"n_all|{t}"] for t in types},
        "lifetime_ratio_pairs": {
            f"{a}_per_{b}_all": w[f"n_all|{a}"] / (w[f"n_all|{b}"] + 1) for a, b in pairs
        },
        "ratio_pairs_90d": {
            f"{a}_per_{b}_90d": w[f"n_90|{a}"] / (w[f"n_90|{b}"] + 1) for a, b in pairs
        },
        "trend_7_vs_23": trend,
        "decayed_counts_14d": {f"{t}_decayed_14": w[f"decayed_14|{t}"] for t in types},
    }
    out = {k: pd.DataFrame({c: np.asarray(v) for c, v in f.items()}, index=tenure.index)
           for k, f in fams.items()}  # fmt: skip
    out["all_of_the_above"] = pd.concat(list(out.values()), axis=1)
    return out


def _fit(spec, X: pd.DataFrame, y: np.ndarray, tr: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """Mean evaluated-cutoff score of LightGBM with the spec's parameters over SEEDS."""
    params = dict(spec.model.params)
    stop = int(params.pop("early_stopping_rounds", 100))
    scores = []
    for seed in SEEDS:
        p = {"objective": "binary", "num_threads": 1, "verbose": -1, "seed": seed, **params}
        booster = lgb.train(
            p,
            lgb.Dataset(X[tr], y[tr]),
            5000,
            valid_sets=[lgb.Dataset(X[ev], y[ev])],
            callbacks=[lgb.early_stopping(stop, verbose=False)],
        )
        scores.append(booster.predict(X[ev], num_iteration=booster.best_iteration))
    return np.mean(scores, axis=0)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    ok = np.isfinite(s)
    return round(float(roc_auc_score(y[ok], s[ok])), 4)


def _one_cutoff(spec, data, X, fams, truth, tr, ev) -> dict:
    y = data.y.astype(int).to_numpy()
    s = _fit(spec, X, y, tr, ev)
    ye, te = y[ev], truth[ev]
    dis = te.disengaging.fillna(False).to_numpy(bool)
    h = te.hazard.to_numpy(dtype=float)
    oracle = oracle_risk(data.truth_path, data.frame.loc[ev], spec.horizon_days, spec.lead_days)
    out = {
        "cutoff": str(pd.Timestamp(data.frame.cutoff[ev].iloc[0]).date()),
        "train_cutoffs": sorted({str(pd.Timestamp(c).date()) for c in data.frame.cutoff[tr]}),
        "rows": int(ev.sum()),
        "positive_rate": round(float(ye.mean()), 4),
        "disengaging_share": round(float(dis.mean()), 4),
        "model": _auc(ye, s),
        "model_phase_known": _auc(ye, np.where(dis, 1.0, s)),
        "oracle_at_cutoff": _auc(ye, 1 - (1 - h) ** WEEKS),
        "oracle": _auc(ye, oracle),
        "healthy_model": _auc(ye[~dis], s[~dis]),
        "healthy_hazard": _auc(ye[~dis], h[~dis]),
        "families": {},
    }
    out["bar"] = round(out["oracle"] - 0.03, 4)
    for name, extra in fams.items():
        auc = _auc(ye, _fit(spec, pd.concat([X, extra], axis=1), y, tr, ev))
        out["families"][name] = {"columns": extra.shape[1], "roc_auc": auc,
                                 "gain": round(auc - out["model"], 4)}  # fmt: skip
        print(f"  {out['cutoff']} +{name}: {auc} ({auc - out['model']:+.4f})", file=sys.stderr)
    return out


def run(profile: str, all_accounts: bool) -> dict:
    spec, data, path = _data(profile, all_accounts)
    split = make_splits(spec, data)[0]
    f = data.frame
    keys = f[["account_id", "cutoff"]].assign(cutoff=pd.to_datetime(f.cutoff))
    con = duckdb.connect()
    con.register("keys", keys)
    con.register("truth", con.read_parquet(str(data.truth_path)))
    truth = keys.merge(con.execute(TRUTH_AT_CUTOFF).df(), on=["account_id", "cutoff"], how="left")
    truth.index = f.index
    wide, types = _per_type(path, keys)
    wide.index = f.index
    pairs = json.loads((path / "dataset.json").read_text()).get("events", {}).get("ratios", [])
    fams = _families(wide, types, pairs, f.tenure_days)
    X = f[data.features].copy()
    for c in data.categorical:
        X[c] = X[c].astype("category")
    cut = pd.to_datetime(f.cutoff)
    last_train = max(pd.to_datetime(split.cutoffs["train"]))
    window = pd.Timedelta(days=spec.horizon_days + spec.lead_days)
    earlier = ((cut + window <= last_train) & f.label_complete.astype(bool)).to_numpy()
    evaluations = [
        (split.masks["train"], split.masks["validation"]),
        (earlier, (cut == last_train).to_numpy()),
    ]
    return {
        "population": "all accounts" if all_accounts else "as in experiments/lightgbm.yaml",
        "features": len(data.features),
        "event_types": types,
        "evaluated": [_one_cutoff(spec, data, X, fams, truth, tr, ev) for tr, ev in evaluations],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile")
    ap.add_argument("--all-accounts", action="store_true", help="no population filter")
    args = ap.parse_args()
    result = run(args.profile, args.all_accounts)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    for e in result["evaluated"]:
        print({k: v for k, v in e.items() if k not in ("families", "train_cutoffs")})
    report = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    key = args.profile + ("/all_accounts" if args.all_accounts else "")
    report.setdefault("profile_gap", {})[key] = result
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
