"""The leakage check: features at a cutoff must not change when everything from the cutoff on
is removed from the data.

The dataset is cut back to what was known at the cutoff (rows dated on or after it dropped,
subscriptions and tickets still open at the cutoff re-opened) on the same engine; the features
of the accounts active at the cutoff are built on both and compared column by column. A builder
that reads the future shows up as mismatching rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import ibis
import numpy as np
import pandas as pd

from churnlab.data import Dataset, fit_vocabulary
from churnlab.features.engine import KEYS, build_features
from churnlab.features.observations import build_observations

# table -> (timestamp that must be before the cutoff, {column: set to null if on/after it})
_CUT = {
    "accounts": ("signup_at", {}),
    "subscriptions": ("started_at", {"ended_at": ("ended_at", "end_reason")}),
    "events": ("ts", {}),
    "tickets": ("created_at", {"resolved_at": ("resolved_at",)}),
    "surveys": ("ts", {}),
    "campaigns": ("ts", {}),
}


def as_known_at(dataset: Dataset, cutoff: pd.Timestamp) -> Dataset:
    """The dataset as it was known just before ``cutoff`` (same engine, no copies)."""
    cut = ibis.literal(pd.Timestamp(cutoff).to_pydatetime())
    tables = {}
    for name, t in dataset.tables.items():
        if name not in _CUT:
            continue
        ts, reopen = _CUT[name]
        t = t.filter(t[ts] < cut)
        for col, cleared in reopen.items():
            if col in t.columns:
                future = t[col] >= cut
                t = t.mutate(
                    **{
                        c: ibis.ifelse(future, ibis.null(t[c].type()), t[c])
                        for c in cleared
                        if c in t.columns
                    }
                )
        tables[name] = t
    return dataclasses.replace(
        dataset, tables=tables, observed_until=pd.Timestamp(cutoff), notices=[]
    )


def leakage_check(
    dataset: Dataset,
    cutoff: str | pd.Timestamp,
    horizon_days: int = 90,
    builder_names: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Per feature: rows compared and rows that differ between the full data and the data known
    at ``cutoff`` (0 everywhere means no leakage). Sorted with the worst features first."""
    cutoff = pd.Timestamp(cutoff)
    obs = build_observations(dataset, [cutoff], horizon_days)
    keys = dataset.con.to_pyarrow(obs.select(*KEYS)).to_pandas()
    names = list(builder_names) if builder_names else None
    vocabulary = fit_vocabulary(dataset, before=cutoff)  # the same columns on both

    def features(ds: Dataset) -> pd.DataFrame:
        table, _ = build_features(ds, ibis.memtable(keys), names=names, vocabulary=vocabulary)
        frame = ds.con.to_pyarrow(table).to_pandas()
        return frame.set_index(KEYS).sort_index()

    full = features(dataset)
    known = features(as_known_at(dataset, cutoff))
    rows = []
    for col in full.columns:
        a, b = full[col], known[col].reindex(full.index)
        if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            x, y = a.astype(float).to_numpy(), b.astype(float).to_numpy()
            same = np.isclose(x, y, rtol=0, atol=1e-9) | (np.isnan(x) & np.isnan(y))
        else:
            same = (a.astype(object) == b.astype(object)) | (a.isna() & b.isna())
            same = np.asarray(same, dtype=bool)
        rows.append({"feature": col, "rows": len(a), "mismatches": int((~same).sum())})
    return (
        pd.DataFrame(rows)
        .sort_values(["mismatches", "feature"], ascending=[False, True])
        .reset_index(drop=True)
    )
