"""Univariate lift: how well each feature alone separates churners, rolled up by driver.

Per numeric feature: ROC-AUC of the raw value against ``churned_within_h`` (scikit-learn),
the direction in which it raises risk, and the churn rate lift in the riskiest 10% of
observations by that feature alone. A driver's row is its best feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnlab.evaluation.metrics import top_fraction


def univariate_lift(
    frame: pd.DataFrame, features: list[str], drivers: dict[str, str], top: float = 0.1
) -> pd.DataFrame:
    """One row per numeric feature: driver, AUC (>= 0.5, in its risky direction), direction,
    lift of the churn rate in the top ``top`` share; strongest first."""
    y = frame.churned_within_h.astype(int).to_numpy()
    base = y.mean()
    rows = []
    for f in features:
        col = frame[f]
        if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            continue
        x = col.astype(float).to_numpy()
        ok = ~np.isnan(x)
        if ok.sum() < 10 or len(np.unique(y[ok])) < 2 or len(np.unique(x[ok])) < 2:
            continue
        auc = roc_auc_score(y[ok], x[ok])
        sign = 1.0 if auc >= 0.5 else -1.0
        risky = top_fraction(sign * x[ok], top)
        rows.append(
            {
                "feature": f,
                "driver": drivers.get(f, "other"),
                "auc": max(auc, 1 - auc),
                "risk_rises_when": "higher" if sign > 0 else "lower",
                f"lift_top{round(top * 100)}": y[ok][risky].mean() / base if base else np.nan,
                "coverage": float(ok.mean()),
            }
        )
    return pd.DataFrame(rows).sort_values("auc", ascending=False, ignore_index=True)


def driver_lift(lift: pd.DataFrame) -> pd.DataFrame:
    """The strongest single feature of each driver."""
    best = lift.sort_values("auc", ascending=False).groupby("driver", as_index=False).first()
    return best.sort_values("auc", ascending=False, ignore_index=True)
