"""The LightGBM spec on a simulator profile's bench demo through the training API: test
ROC-AUC beside the oracle, and the 15 features with the largest mean |SHAP| on the test rows.
Prints; writes nothing (no MLflow run).

Usage: python bench/shap_top.py PROFILE   (b2b_saas, consumer_social or streaming; the demos
are made by bench/train.py --profile PROFILE)
"""

from __future__ import annotations

import sys
from pathlib import Path

from churnlab.config import load_spec
from churnlab.training.train import train

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    profile = sys.argv[1] if len(sys.argv) > 1 else "consumer_social"
    name = "demo-5000x24" + ("" if profile == "b2b_saas" else f"-{profile}")
    spec = load_spec(ROOT / "experiments" / "lightgbm.yaml", experiment="bench-shap")
    spec = spec.model_copy(
        update={"data": spec.data.model_copy(update={"path": ROOT / "data" / "bench" / name})}
    )
    result = train(spec)
    m = result.metrics
    print(
        f"{profile}: test ROC-AUC {m['test_roc_auc']:.4f}, oracle {m['test_oracle_roc_auc']:.4f}, "
        f"{len(result.data.features)} features"
    )
    print(result.explanation.values.abs().mean().sort_values(ascending=False).head(15).round(4))


if __name__ == "__main__":
    main()
