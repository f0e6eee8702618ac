"""Check that two feature tables are the same: columns (names, order, Arrow types), rows per
(account_id, cutoff), null patterns, and values within 1e-12 (parallel float sums may differ
in the last bits from run to run).

Usage: python bench/compare_features.py A.parquet B.parquet  (exit 1 when they differ)
"""

from __future__ import annotations

import sys

import numpy as np
import pyarrow.parquet as pq

KEYS = ["account_id", "cutoff"]
TOLERANCE = 1e-12


def compare(path_a: str, path_b: str) -> tuple[float, list]:
    """The largest absolute difference and the differences found (empty when the same)."""
    ta, tb = pq.read_table(path_a), pq.read_table(path_b)
    if ta.schema.names != tb.schema.names:
        return float("nan"), [("columns", sorted(set(ta.schema.names) ^ set(tb.schema.names)))]
    bad: list = [
        (n, f"{x} vs {y}")
        for n, x, y in zip(ta.schema.names, ta.schema.types, tb.schema.types, strict=True)
        if x != y
    ]
    a = ta.to_pandas().sort_values(KEYS).reset_index(drop=True)
    b = tb.to_pandas().sort_values(KEYS).reset_index(drop=True)
    if len(a) != len(b):
        return float("nan"), [*bad, ("rows", f"{len(a)} vs {len(b)}")]
    worst = 0.0
    for c in a.columns:
        x, y = a[c], b[c]
        nulls = x.isna().to_numpy()
        if (nulls != y.isna().to_numpy()).any():
            bad.append((c, "nulls differ"))
        elif x.dtype.kind in "fiub" and y.dtype.kind in "fiub":
            d = np.abs(x[~nulls].astype(float).to_numpy() - y[~nulls].astype(float).to_numpy())
            diff = float(d.max()) if len(d) else 0.0
            worst = max(worst, diff)
            if diff > TOLERANCE:
                bad.append((c, diff))
        elif not (x[~nulls].to_numpy() == y[~nulls].to_numpy()).all():
            bad.append((c, "values differ"))
    return worst, bad


if __name__ == "__main__":
    worst, bad = compare(sys.argv[1], sys.argv[2])
    print(f"max |diff| {worst:.3g}; differences: {bad or 'none'}")
    sys.exit(1 if bad else 0)
