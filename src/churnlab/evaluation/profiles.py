"""Distribution profiles for monitoring: what a model saw at training, what a batch looks like.

A *reference profile* is made once, at training, from the validation rows: per feature the
inner edges of its quantile bins (numeric) or its categories, with the share of rows in each
bin and a bin for missing values; the same for the predicted probability; the tier shares
and the validation metrics. A *batch profile* counts a scored batch's rows in the reference's
own bins, so every batch is comparable with the reference and with every other batch, and
nothing but these counts (and the predictions) has to be kept.

The drift statistic is the population stability index over those bins,
PSI = sum((current - reference) * ln(current / reference)), with shares floored at
``SHARE_FLOOR`` so an empty bin does not make it infinite. Conventional reading: below 0.1
stable, 0.1 to 0.2 a moderate shift, above 0.2 a significant one.

Example::

    ref = reference_profile(X_valid, drivers, p_valid, tier_valid)
    batch = batch_profile(ref, X_batch, p_batch, tier_batch)
    drift = feature_drift(ref, batch)   # feature, driver, psi
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PROFILE_VERSION = 1
BINS = 10
MAX_CATEGORIES = 20
SHARE_FLOOR = 1e-4
OTHER = "(other)"


def _numeric_edges(values: np.ndarray, bins: int) -> list[float]:
    """Inner bin edges: the distinct reference quantiles at 1/bins, ..., (bins-1)/bins."""
    values = values[np.isfinite(values)]
    if not len(values):
        return []
    qs = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(e) for e in np.unique(qs)]


def _numeric_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Rows per bin: len(edges) + 1 value bins (right-open: a value equal to an edge goes
    above it), then missing."""
    values = np.asarray(values, float)
    missing = ~np.isfinite(values)
    which = np.searchsorted(np.asarray(edges, float), values[~missing], side="right")
    counts = np.bincount(which, minlength=len(edges) + 1).astype(float)
    return np.append(counts, float(missing.sum()))


def _category_counts(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Rows per known category, then every other category, then missing."""
    missing = values.isna().to_numpy()
    text = values[~missing].astype(str)
    known = text.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    other = float((~text.isin(categories)).sum())
    return np.concatenate([known, [other, float(missing.sum())]])


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def feature_bins(values: pd.Series, bins: int = BINS) -> dict[str, Any]:
    """The reference bins of one feature and the shares of its rows in them."""
    if _is_numeric(values):
        edges = _numeric_edges(values.to_numpy(dtype=float, na_value=np.nan), bins)
        counts = _numeric_counts(values.to_numpy(dtype=float, na_value=np.nan), edges)
        return {"kind": "numeric", "edges": edges, "shares": _shares(counts)}
    top = values.dropna().astype(str).value_counts().head(MAX_CATEGORIES)
    categories = [str(c) for c in top.index]
    counts = _category_counts(values, categories)
    return {"kind": "category", "categories": categories, "shares": _shares(counts)}


def bin_counts(entry: dict[str, Any], values: pd.Series | np.ndarray) -> np.ndarray:
    """Rows of ``values`` in a reference entry's bins (the last bin: missing)."""
    if entry["kind"] == "numeric":
        return _numeric_counts(
            pd.Series(values).to_numpy(dtype=float, na_value=np.nan), entry["edges"]
        )
    return _category_counts(pd.Series(values), entry["categories"])


def typical_values(reference: dict[str, Any] | None) -> dict[str, float]:
    """Per numeric feature of a reference profile, the lower edge of the bin that holds its
    median: a value below it is below the median of the reference rows (more than half of them
    lie in higher bins). Reasons read such a value as low ("'Cancel Flow Started' 5 days ago"
    where most accounts never started one). Empty without a reference."""
    out: dict[str, float] = {}
    for f, entry in ((reference or {}).get("features") or {}).items():
        if entry.get("kind") != "numeric" or not entry.get("edges"):
            continue
        shares = np.asarray(entry["shares"][:-1], float)  # the last bin: missing
        if shares.sum() <= 0:
            continue
        middle = int(np.searchsorted(np.cumsum(shares) / shares.sum(), 0.5, side="left"))
        if middle > 0:
            out[f] = float(entry["edges"][middle - 1])
    return out


def tier_shares(tiers: pd.Series | np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    tiers = pd.Series(np.asarray(tiers))
    return {t: float((tiers == t).mean()) if len(tiers) else 0.0 for t in names}


def reference_profile(
    X: pd.DataFrame,
    drivers: dict[str, str],
    p: np.ndarray,
    tiers: np.ndarray,
    tier_names: tuple[str, ...],
    metrics: dict[str, float] | None = None,
    bins: int = BINS,
    **extra: Any,
) -> dict[str, Any]:
    """The reference profile of a model's validation rows ``X`` with predictions ``p`` and
    risk tiers ``tiers``; ``extra`` (horizon, lead, cutoffs) is stored as given."""
    p = np.asarray(p, float)
    pred = feature_bins(pd.Series(p), bins)
    pred.update(mean_p=float(p.mean()), tier_shares=tier_shares(tiers, tier_names))
    return {
        "version": PROFILE_VERSION,
        "rows": len(X),
        "bins": bins,
        "features": {
            f: {"driver": drivers.get(f, "account"), **feature_bins(X[f], bins)} for f in X.columns
        },
        "prediction": pred,
        "metrics": {k: float(v) for k, v in (metrics or {}).items() if np.isfinite(v)},
        **extra,
    }


def batch_profile(
    reference: dict[str, Any],
    X: pd.DataFrame,
    p: np.ndarray,
    tiers: np.ndarray,
    tier_names: tuple[str, ...],
) -> dict[str, Any]:
    """A scored batch counted in the reference's bins: per feature and for the prediction."""
    p = np.asarray(p, float)
    counts = {
        f: bin_counts(entry, X[f]).tolist()
        for f, entry in reference["features"].items()
        if f in X.columns
    }
    return {
        "version": PROFILE_VERSION,
        "rows": len(X),
        "features": counts,
        "prediction": {
            "counts": bin_counts(reference["prediction"], p).tolist(),
            "mean_p": float(p.mean()) if len(p) else float("nan"),
            "tier_shares": tier_shares(tiers, tier_names),
        },
    }


def psi(reference_shares: np.ndarray | list, current: np.ndarray | list) -> float:
    """Population stability index between reference shares and current counts (or shares)
    over the same bins; both floored at ``SHARE_FLOOR``."""
    ref = np.asarray(reference_shares, float)
    cur = np.asarray(current, float)
    if cur.sum() <= 0:
        return float("nan")
    ref = np.maximum(ref / ref.sum(), SHARE_FLOOR)
    cur = np.maximum(cur / cur.sum(), SHARE_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def feature_drift(reference: dict[str, Any], batch: dict[str, Any]) -> pd.DataFrame:
    """PSI per feature of ``batch`` against ``reference``: feature, driver, psi (features the
    batch lacks are left out)."""
    rows = [
        {"feature": f, "driver": entry["driver"], "psi": psi(entry["shares"], batch["features"][f])}
        for f, entry in reference["features"].items()
        if f in batch["features"]
    ]
    return pd.DataFrame(rows, columns=["feature", "driver", "psi"])


def prediction_drift(reference: dict[str, Any], batch: dict[str, Any]) -> dict[str, float]:
    """The score distribution's PSI, mean p and tier shares of the batch beside the
    reference's."""
    ref, cur = reference["prediction"], batch["prediction"]
    out = {
        "prediction_psi": psi(ref["shares"], cur["counts"]),
        "mean_p": cur["mean_p"],
        "reference_mean_p": ref["mean_p"],
    }
    for tier, share in cur["tier_shares"].items():
        out[f"tier_share_{tier}"] = share
        out[f"reference_tier_share_{tier}"] = ref["tier_shares"].get(tier, float("nan"))
    return out


def fitted_until(reference: dict[str, Any] | None) -> pd.Timestamp | None:
    """The latest cutoff a model was fitted or validated on: its reference's validation cutoff
    (training and calibration cutoffs come before it). A batch dated on or before it scores
    rows the model learnt from or was calibrated on: in-sample, not production. None for a
    model without dated validation rows (a single customer table) or without a reference."""
    cutoffs = (reference or {}).get("cutoffs") or []
    return max(pd.Timestamp(c) for c in cutoffs) if cutoffs else None
