"""Observations and features collected as pandas frames: the one assembler for training,
scoring and the analytics (each runs the builders through :func:`feature_table`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from churnlab.data import Dataset, Vocabulary, fit_vocabulary
from churnlab.features.engine import build_features
from churnlab.features.observations import build_observations, parse_cutoffs
from churnlab.features.registry import FeatureBuilder, builders
from churnlab.features.spec import BuilderRef


def feature_table(
    ds: Dataset,
    observations: ir.Table,
    refs: Sequence[BuilderRef],
    vocabulary: Vocabulary | None = None,
) -> tuple[ir.Table, list[FeatureBuilder]]:
    """The Ibis expression of observations + the named builders' features, each builder run
    with its recorded parameters (and the fitted vocabulary), on the dataset's engine."""
    params = {b.name: dict(b.params) for b in refs}
    return build_features(
        ds, observations, names=list(params), params=params, vocabulary=vocabulary
    )


def feature_frame(
    ds: Dataset,
    observations: ir.Table,
    refs: Sequence[BuilderRef],
    vocabulary: Vocabulary | None = None,
) -> tuple[pd.DataFrame, list[FeatureBuilder]]:
    """Run the named builders with their parameters on ``observations`` and collect a pandas
    frame: the one code path for training and scoring.

    Returns the frame (observation columns + features; category features as strings, as the
    estimators expect them) and the builders that ran."""
    table, used = feature_table(ds, observations, refs, vocabulary)
    frame = ds.con.to_pyarrow(table).to_pandas()
    frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    for b in used:
        for f in b.outputs(vocabulary):
            if f.dtype == "category" and f.name in frame:
                frame[f.name] = frame[f.name].astype("string")
    return frame, used


def default_refs(names: Sequence[str]) -> list[BuilderRef]:
    """The named builders with their registered default parameters."""
    registered = {b.name: b for b in builders()}
    return [BuilderRef(name, dict(registered[name].params)) for name in names]


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
    cols = ["account_id", "cutoff", "churned_within_h", "label_complete", "mrr", *features]
    frame = _from_cache(dataset, cutoffs, horizon_days, cols)
    if frame is None:
        names = sorted({owners[f] for f in features})
        obs = build_observations(dataset, cutoffs, horizon_days)
        # the dataset's roles (session starts, core action, ...); these features are fixed ones
        vocab = fit_vocabulary(dataset, before=min(parse_cutoffs(cutoffs)))
        table, used = build_features(dataset, obs, names=names, vocabulary=vocab)
        built = {f.name for b in used for f in b.features}
        missing = sorted(set(features) - built)
        if missing:
            raise ValueError(
                f"{dataset.source}: cannot build {missing}: the data lacks what they need "
                f"({'; '.join(dataset.notices[-len(missing) :])})"
            )
        frame = dataset.con.to_pyarrow(table.select(*cols)).to_pandas()
    frame = frame[frame.label_complete.astype(bool)].drop(columns="label_complete")
    frame["churned_within_h"] = frame.churned_within_h.astype(bool)
    frame["cutoff"] = pd.to_datetime(frame.cutoff)
    return frame.reset_index(drop=True)


def _from_cache(
    dataset: Dataset, cutoffs: Any, horizon_days: int, cols: list[str]
) -> pd.DataFrame | None:
    """``cols`` of the training features kept for this data, cutoffs and horizon, if any."""
    from pathlib import Path

    from churnlab.features import cache
    from churnlab.features.observations import parse_cutoffs
    from churnlab.files import file_digest

    source = Path(dataset.source)
    if not (cache.enabled() and source.exists()):
        return None
    engine = "duckdb" if dataset.con.name == "duckdb" else "spark"
    # the key of a default spec's training features (no events override, one fold, purged)
    default = {"events": None, "backtest_folds": 1, "purge": True}
    key = cache.frame_key(
        file_digest(source), parse_cutoffs(cutoffs), horizon_days, 0, engine, builders(), default
    )
    hit = cache.load(key)
    if hit is None or not set(cols) <= set(hit[0].columns):
        return None
    return hit[0][cols]
