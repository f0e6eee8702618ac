"""Uplift benchmark: does targeting by expected incremental profit beat targeting by churn
risk? Results: bench/results/uplift.json.

For each of 3 simulator seeds (the default demo size: 5,000 accounts x 24 months, with the
simulator's monthly randomized retention campaigns):

* the LightGBM churn spec (``experiments/lightgbm.yaml``) and the three uplift families
  (``experiments/uplift.yaml`` with ``uplift_t``, ``uplift_x``, ``uplift_dr``) are trained as
  ``churnlab train`` trains them (no MLflow): the same cutoffs, horizon and population, out of
  time. The *best uplift model* is the family with the highest Qini on the **validation**
  cutoff; the test cutoff chooses nothing.
* Every account active (and in the population) at the test cutoff is ranked by each policy:
  ``risk`` (the churn model's p), ``expected_loss`` (p x MRR), ``profit`` (the best uplift
  model's uplift x MRR x value_months - contact and offer cost), ``random`` and ``oracle``
  (the profit ranking with the simulator's true uplift). The value of contacting the top k is
  counted with the true uplift (``churnlab.evaluation.policy.policy_curves``), and each
  policy's *best budget* is the k where its net profit peaks
  (``best_k_under_budget``; the oracle's best k is what a perfect model would choose).
* Targets: profit ranking's best net profit >= 1.3 x risk ranking's, and >= 70% of the
  oracle's. The Qini of the best model on the randomized test rows is reported beside the
  oracle's Qini on the same rows.

Usage: python bench/uplift.py [--seeds 1 2 3] [--accounts 5000] [--months 24] [--out FILE]
Timings are wall-clock on whatever machine runs it (2 shared cores here).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from churnlab.config import load_spec
from churnlab.data.simulate import SimulationParams, oracle_uplift, simulate
from churnlab.evaluation import CampaignParams, compare_policies
from churnlab.modeling import UPLIFT_FAMILIES
from churnlab.training import train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "uplift.json"


def _spec(name: str, path: Path, **update):
    spec = load_spec(ROOT / "experiments" / name, experiment="bench-uplift")
    return spec.model_copy(update={"data": spec.data.model_copy(update={"path": path}), **update})


def one_seed(seed: int, accounts: int, months: int, workdir: Path) -> dict:
    t0 = time.perf_counter()
    path = workdir / f"sim-{seed}"
    simulate(path, SimulationParams(accounts=accounts, months=months, seed=seed), reuse=True)
    churn = train(_spec("lightgbm.yaml", path))
    uplift_spec = _spec("uplift.yaml", path)
    fits, validation_qini, test_metrics = {}, {}, {}
    for family in UPLIFT_FAMILIES:
        # the spec's params, less those the family does not take (T has no effect stage)
        own = UPLIFT_FAMILIES[family].model_defaults()
        params = {k: v for k, v in uplift_spec.model.params.items() if k in own}
        model = uplift_spec.model.model_copy(update={"family": family, "params": params})
        spec = uplift_spec.model_copy(update={"model": model})
        fits[family] = train(spec)
        validation_qini[family] = fits[family].folds[0].metrics["validation"]["qini"]
        test_metrics[family] = fits[family].folds[0].metrics["test"]
    best = max(UPLIFT_FAMILIES, key=lambda f: validation_qini[f])
    result = fits[best]
    churn_test_cutoff = churn.split.cutoffs["test"]
    uplift_test_cutoff = result.split.cutoffs["test"]

    # every account the churn model scores at the test cutoff
    test = churn.predictions["test"]
    X = churn.data.frame.loc[test.index, result.data.features]
    estimated = result.estimator.predict_uplift(X)
    truth = oracle_uplift(path, test[["account_id", "cutoff"]], uplift_spec.horizon_days)
    true_uplift = truth["uplift"].to_numpy(dtype=float)
    u = uplift_spec.uplift
    params = CampaignParams(
        value_months=u.value_months, contact_cost=u.contact_cost, offer_cost=u.offer_cost
    )
    mrr = test.mrr.fillna(0.0).to_numpy(dtype=float)
    _, best_k = compare_policies(
        mrr, p=test.p.to_numpy(), uplift=estimated, params=params, true_uplift=true_uplift,
        seed=seed,
    )  # fmt: skip
    best_k = best_k.set_index("policy")
    net = best_k.net_profit.to_dict()
    randomized = _randomized_rows(result.predictions["test"], test, params, seed)
    out = {
        "seed": seed,
        "accounts_scored": len(test),
        "test_cutoff": churn_test_cutoff,
        "uplift_test_cutoff": uplift_test_cutoff,
        "randomized_rows": {p: int(m.sum()) for p, m in result.split.masks.items()},
        "best_family_by_validation_qini": best,
        "validation_qini": validation_qini,
        "test_uplift_metrics": test_metrics,
        "best_budget": {
            p: {
                "k": float(r.k),
                "contacts": int(r.contacts),
                "net_profit": float(r.net_profit),
                "retained_mrr": float(r.retained_mrr),
            }
            for p, r in best_k.iterrows()
        },
        # None where the denominator's best is to contact nobody (net profit 0)
        "profit_vs_risk": _ratio(net["profit"], net["risk"]),
        "profit_vs_oracle": _ratio(net["profit"], net["oracle"]),
        "qini_best_model": test_metrics[best]["qini"],
        "qini_oracle": test_metrics[best].get("oracle_qini"),
        "true_uplift_corr_all_accounts": float(np.corrcoef(estimated, true_uplift)[0, 1]),
        "randomized_test_rows": randomized,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    shown = {p: round(v) for p, v in net.items()}
    print(
        f"seed {seed}: best {best}; best net profit {shown}; profit/risk "
        f"{out['profit_vs_risk']}, profit/oracle {out['profit_vs_oracle']}; Qini "
        f"{out['qini_best_model']:.4f} (oracle {out['qini_oracle']}); {out['seconds']}s",
        flush=True,
    )
    return out


def _randomized_rows(uplift_test, churn_test, params, seed: int) -> dict:
    """The same comparison on the campaign's randomized test rows only (the population the
    uplift model was trained on), valued with their true uplift."""
    rows = uplift_test.merge(churn_test[["account_id", "cutoff", "p"]], on=["account_id", "cutoff"])
    mrr = rows.mrr.fillna(0.0).to_numpy(dtype=float)
    truth = rows.oracle_uplift.to_numpy(dtype=float)
    _, best = compare_policies(
        mrr, p=rows.p.to_numpy(), uplift=rows.uplift.to_numpy(), params=params,
        true_uplift=truth, seed=seed,
    )  # fmt: skip
    net = best.set_index("policy").net_profit.to_dict()
    return {
        "rows": len(rows),
        "best_net_profit": {k: float(v) for k, v in net.items()},
        "profit_vs_risk": _ratio(net["profit"], net["risk"]),
        "profit_vs_oracle": _ratio(net["profit"], net["oracle"]),
    }


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--workdir", type=Path, help="keep the simulations here (reused)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (JSON)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="churnlab-bench-uplift-") as tmp:
        work = args.workdir or Path(tmp)
        runs = [one_seed(s, args.accounts, args.months, work) for s in args.seeds]
    net = {p: [r["best_budget"][p]["net_profit"] for r in runs] for p in runs[0]["best_budget"]}
    shares = [r["profit_vs_oracle"] for r in runs]
    summary = {
        "best_net_profit_mean": {p: float(np.mean(v)) for p, v in net.items()},
        # profit ranking >= 1.3 x risk ranking (a risk ranking whose best is to contact nobody
        # earns 0: then any positive profit meets it)
        "meets_profit_vs_risk": all(
            p > 0 and p >= 1.3 * max(r, 0.0)
            for p, r in zip(net["profit"], net["risk"], strict=True)
        ),
        "profit_vs_oracle_min": min((s for s in shares if s is not None), default=None),
        "meets_profit_vs_oracle": all(s is not None and s >= 0.7 for s in shares),
        "target_profit_vs_risk": 1.3,
        "target_profit_vs_oracle": 0.7,
        "qini_best_model_mean": float(np.mean([r["qini_best_model"] for r in runs])),
        "qini_oracle_mean": float(np.mean([r["qini_oracle"] for r in runs])),
    }
    results = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "simulation": {"accounts": args.accounts, "months": args.months, "seeds": args.seeds},
        "summary": summary,
        "runs": runs,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return results


if __name__ == "__main__":
    main()
