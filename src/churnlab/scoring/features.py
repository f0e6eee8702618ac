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
    as_of: str | pd.Timestamp | None = None,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """Point-in-time features at ``as_of`` (default: the data's end of observation) for every
    account active then, with the builders and parameters recorded in the model's feature spec
    (the training code path)."""
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
    as_of = ds.observed_until if as_of is None else as_of
    try:
        obs = active_accounts(ds, as_of)
    except ValueError as exc:
        raise ScoringError(f"{data}: {exc}") from exc
    if int(ds.con.execute(obs.count())) == 0:
        raise ScoringError(
            f"{data}: no accounts active on {pd.Timestamp(as_of).date()}; {ds.covers()}"
        )
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
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise ScoringError(f"feature table {path} is an empty file: nothing to score") from None
    else:
        raise ScoringError(f"feature table {path}: expected a .parquet or .csv file")
    if frame.empty:
        raise ScoringError(f"feature table {path} has no rows: nothing to score")
    return frame
