"""Point-in-time observation frames for analytics: observations plus a few named features."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churnlab.data.io import Dataset
from churnlab.features import build_features, build_observations, builders


def observation_frame(
    dataset: Dataset,
    cutoffs: str | Sequence[str | pd.Timestamp],
    horizon_days: int,
    features: Sequence[str],
) -> pd.DataFrame:
    """Observations at ``cutoffs`` (labels over ``horizon_days``) with the named features, built
    by the same point-in-time builders as training; only rows whose label window is complete."""
    owners = {f.name: b.name for b in builders() for f in b.features}
    unknown = sorted(set(features) - set(owners))
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; see `churnlab catalogue`")
    names = sorted({owners[f] for f in features})
    obs = build_observations(dataset, cutoffs, horizon_days)
    table, used = build_features(dataset, obs, names=names)
    built = {f.name for b in used for f in b.features}
    missing = sorted(set(features) - built)
    if missing:
        raise ValueError(
            f"{dataset.source}: cannot build {missing}: the data lacks what they need "
            f"({'; '.join(dataset.notices[-len(missing) :])})"
        )
    cols = ["account_id", "cutoff", "churned_within_h", "label_complete", "mrr", *features]
    frame = dataset.con.to_pyarrow(table.select(*cols)).to_pandas()
    frame = frame[frame.label_complete.astype(bool)].drop(columns="label_complete")
    frame["churned_within_h"] = frame.churned_within_h.astype(bool)
    frame["cutoff"] = pd.to_datetime(frame.cutoff)
    return frame.reset_index(drop=True)
