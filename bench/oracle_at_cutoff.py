"""How much of the gap to the simulator's oracle can a model close from data up to the cutoff?

``test_oracle_roc_auc`` (evaluation.oracle_risk) scores each row with the *future* weekly hazards
of its label window: it knows the state changes that happen after the cutoff (a user who starts
to disengage in week 5 of the window). No model fed data dated before the cutoff can know them.
This script puts beside it an oracle that knows the simulator's latent state *at the cutoff*
(the true weekly hazard of the first week of the label window) but not what happens after:
``1 - (1 - h_first) ** weeks``. It is still clairvoyant about latent state (satisfaction, a
decision to leave already taken) but, frozen over the window, it misses hazards that change on
a schedule (b2b_saas renewals), so it is an upper bound only where the weekly hazard is roughly
constant over the window (consumer_social, streaming); read it beside the future-hazard oracle.

Usage: python bench/oracle_at_cutoff.py [PROFILE ...]   (demos made by bench/train.py --profile)
Prints one line per profile and merges ``oracle_at_cutoff`` into bench/results/train.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from churnlab.config import load_spec
from churnlab.training.train import train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "train.json"


def state_at_cutoff_risk(truth: Path, keys, horizon_days: int, lead_days: int) -> np.ndarray:
    con = duckdb.connect()
    con.register("keys", keys[["account_id", "cutoff"]].reset_index(drop=True))
    con.register("truth", con.read_parquet(str(truth)))
    q = """
        SELECT k.account_id, k.cutoff,
               arg_min(t.hazard, t.week_start) AS h, count(*) AS weeks
        FROM keys k JOIN truth t
          ON t.account_id = k.account_id
         AND t.week_start >= k.cutoff + to_days(CAST($lead AS INTEGER))
         AND t.week_start <  k.cutoff + to_days(CAST($until AS INTEGER))
        GROUP BY 1, 2
    """
    found = con.execute(q, {"lead": lead_days, "until": lead_days + horizon_days}).df()
    # frozen over every week of the window, not only the weeks the account was still active
    found["p"] = 1 - (1 - found.h) ** np.ceil(horizon_days / 7)
    merged = keys[["account_id", "cutoff"]].merge(found, on=["account_id", "cutoff"], how="left")
    return merged.p.to_numpy(dtype=float)


def one(profile: str) -> dict:
    name = "demo-5000x24" + ("" if profile == "b2b_saas" else f"-{profile}")
    path = ROOT / "data" / "bench" / name
    spec = load_spec(ROOT / "experiments" / "lightgbm.yaml", experiment="bench-oracle")
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"path": path})})
    result = train(spec)
    test = result.predictions["test"]
    lead = spec.lead_days
    at_cutoff = state_at_cutoff_risk(path / "truth.parquet", test, spec.horizon_days, lead)
    ok = ~np.isnan(at_cutoff) & ~np.isnan(test.oracle.to_numpy(dtype=float))
    y = test.y.to_numpy()[ok]
    out = {
        "rows": int(ok.sum()),
        "model_roc_auc": roc_auc_score(y, test.p.to_numpy()[ok]),
        "oracle_future_roc_auc": roc_auc_score(y, test.oracle.to_numpy()[ok]),
        "oracle_at_cutoff_roc_auc": roc_auc_score(y, at_cutoff[ok]),
        "model_pr_auc": average_precision_score(y, test.p.to_numpy()[ok]),
        "oracle_future_pr_auc": average_precision_score(y, test.oracle.to_numpy()[ok]),
        "oracle_at_cutoff_pr_auc": average_precision_score(y, at_cutoff[ok]),
    }
    out = {k: round(float(v), 4) for k, v in out.items()}
    out["gap_to_oracle_at_cutoff_roc_auc"] = round(
        out["oracle_at_cutoff_roc_auc"] - out["model_roc_auc"], 4
    )
    return out


def main() -> None:
    profiles = sys.argv[1:] or ["b2b_saas", "consumer_social", "streaming"]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    section = results.setdefault("oracle_at_cutoff", {})
    for profile in profiles:
        section[profile] = one(profile)
        print(profile, json.dumps(section[profile]))
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
