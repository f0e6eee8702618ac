"""Scoring inputs: point-in-time features of every account active at an as-of date, built by
replaying the model's feature spec, or a prepared feature table read from a file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churnlab.data import load_dataset
from churnlab.features import active_accounts, feature_frame
from churnlab.model import ChurnModel
from churnlab.scoring.check import ScoringError


def build_scoring_features(
    model: ChurnModel,
    data: str | Path,
    as_of: str | pd.Timestamp | list | None = None,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """Point-in-time features at ``as_of`` (default: the data's end of observation) for every
    account active then, with the builders and parameters recorded in the model's feature spec
    (the training code path). A list of dates builds every date's accounts in one pass (one
    row per account and date, ``cutoff`` the date)."""
    spec = model.feature_spec
    if spec.kind != "events":
        raise ScoringError(
            "this model was trained on a single customer table: score a prepared table with "
            "--features FILE (one row per customer with the training columns)"
        )
    unknown = spec.missing_builders()
    if unknown:
        raise ScoringError(
            f"the model needs feature builder(s) {unknown} that are not registered here; "
            "import the module that defines them"
        )
    ds = load_dataset(data, engine=engine)
    dates = as_of if isinstance(as_of, list | tuple) else [as_of]
    try:
        parts = [active_accounts(ds, ds.observed_until if d is None else d) for d in dates]
    except ValueError as exc:
        raise ScoringError(f"{data}: {exc}") from exc
    obs = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    frame, _ = feature_frame(ds, obs, spec.builders, spec.vocabulary)
    missing = [c for c in model.input_columns() if c not in frame.columns]
    if missing:
        raise ScoringError(
            f"{data}: the data cannot produce feature column(s) {missing} the model needs "
            f"(notices: {'; '.join(ds.notices) or 'none'})"
        )
    return frame[model.input_columns()]


def read_feature_table(path: str | Path) -> pd.DataFrame:
    """A prepared feature table (Parquet or CSV)."""
    path = Path(path)
    if not path.exists():
        raise ScoringError(f"feature table {path} not found")
    if path.suffix == ".parquet" or path.is_dir():
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise ScoringError(f"feature table {path}: expected a .parquet or .csv file")
