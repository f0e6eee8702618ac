"""Numbers at scoring far outside what the model was trained on: a notice, not a refusal.

A change of unit upstream (MRR exported in cents from one day on, durations in seconds instead
of minutes) passes every type check: the batch scores, but every account lands in the highest
tier and ``revenue_at_risk`` is off by the same factor, or the model extrapolates on a feature
it never saw that large. Monitoring finds it a batch later; this says so on the scores
themselves. Two checks, both from what the model already carries:

* ``mrr``: the median of the batch's paying rows against the median of the training rows
  (``ChurnModel.mrr_stats``), flagged at a factor of :data:`MRR_FACTOR` or more either way;
* each numeric feature: the share of the batch in the outermost bin of the model's reference
  profile (validation deciles), flagged when at least :data:`PILED_SHARE` of the batch sits
  there while the reference had at most :data:`REFERENCE_SHARE` (so a feature that was already
  piled at its edge, such as a mostly-zero count, is not flagged).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnlab.evaluation.profiles import bin_counts

MRR_FACTOR = 10.0
PILED_SHARE = 0.8
REFERENCE_SHARE = 0.2
MAX_NAMED = 5


def _fmt(x: float) -> str:
    return f"{x:,.2f}" if abs(x) < 1000 else f"{x:,.0f}"


def mrr_notice(mrr: pd.Series | None, mrr_stats: dict[str, float] | None) -> str | None:
    """The notice when the batch's MRR is a factor :data:`MRR_FACTOR` off the training MRR."""
    if mrr is None or not mrr_stats:
        return None
    trained = float(mrr_stats.get("median", np.nan))
    values = pd.to_numeric(mrr, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    paying = values[np.isfinite(values) & (values > 0)]
    if not (np.isfinite(trained) and trained > 0 and len(paying)):
        return None
    now = float(np.median(paying))
    factor = now / trained
    if 1 / MRR_FACTOR < factor < MRR_FACTOR:
        return None
    return (
        f"mrr: this batch's median is {_fmt(now)}, {factor:,.3g}x the {_fmt(trained)} of the "
        "model's training rows: mrr is monthly revenue in currency units, so a switch to cents "
        "or to annual amounts upstream puts accounts in the wrong risk tier and makes "
        "revenue_at_risk off by that factor; check the export's mrr before acting on the tiers"
    )


def piled_features(reference: dict[str, Any] | None, frame: pd.DataFrame) -> list[str]:
    """Numeric features with most of the batch beyond the reference's outermost decile edge."""
    found: list[tuple[float, str]] = []
    for f, entry in ((reference or {}).get("features") or {}).items():
        if entry.get("kind") != "numeric" or not entry.get("edges") or f not in frame:
            continue
        counts = bin_counts(entry, frame[f])[:-1]  # the last bin: missing values
        if counts.sum() <= 0:
            continue
        now = counts / counts.sum()
        ref = np.asarray(entry["shares"][:-1], float)
        ref = ref / ref.sum() if ref.sum() > 0 else ref
        for side, (n, r) in (("below", (now[0], ref[0])), ("above", (now[-1], ref[-1]))):
            if n >= PILED_SHARE and r <= REFERENCE_SHARE:
                edge = entry["edges"][0 if side == "below" else -1]
                values = pd.to_numeric(frame[f], errors="coerce")
                found.append(
                    (
                        float(n),
                        f"{f!r} ({n:.0%} {side} {_fmt(edge)}, where the model's validation rows "
                        f"had {r:.0%}; batch median {_fmt(float(values.median()))})",
                    )
                )
    return [text for _, text in sorted(found, key=lambda t: -t[0])]


def range_notices(model: Any, frame: pd.DataFrame | None) -> list[str]:
    """The notices for a scored frame (empty when nothing is off, or without a frame)."""
    if frame is None or not len(frame):
        return []
    notices = []
    mrr = mrr_notice(frame.get("mrr"), getattr(model, "mrr_stats", None))
    if mrr:
        notices.append(mrr)
    piled = piled_features(getattr(model, "reference", None), frame)
    if piled:
        more = f" and {len(piled) - MAX_NAMED} more" if len(piled) > MAX_NAMED else ""
        notices.append(
            f"{len(piled)} feature(s) have most of this batch at the edge of what the model was "
            "validated on: " + "; ".join(piled[:MAX_NAMED]) + more + ": a change of unit or of "
            "meaning upstream? the scores extrapolate there"
        )
    return notices
