"""The training frame of an experiment: observations + features as one pandas frame.

Event data go through the point-in-time builders on the dataset's engine; a single customer
table's columns are its features (id, label and duration removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from churnlab.config import EventData, ExperimentSpec, SpecError
from churnlab.data import Dataset, load_source
from churnlab.features import (
    BuilderRef,
    FeatureSpec,
    build_observations,
    feature_frame,
    select_builders,
)
from churnlab.files import file_digest
from churnlab.modeling import is_categorical
from churnlab.vocab import OBSERVATION_COLUMNS as _OBSERVATION_COLUMNS

OBSERVATION_COLUMNS = list(_OBSERVATION_COLUMNS)


@dataclass
class TrainingData:
    frame: pd.DataFrame
    features: list[str]
    kind: str  # "events" or "customers"
    source: str
    data_digest: str
    feature_spec: FeatureSpec
    observed_until: pd.Timestamp | None = None
    truth_path: Path | None = None
    descriptions: dict[str, str] = field(default_factory=dict)
    drivers: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    @property
    def categorical(self) -> list[str]:
        return [c for c in self.features if is_categorical(self.frame[c])]

    @property
    def y(self) -> pd.Series:
        return self.frame.churned_within_h


def select_features(spec: ExperimentSpec, available: dict[str, str]) -> list[str]:
    """Feature names the spec asks for, from ``available`` (name -> driver), in order."""
    sel = spec.features
    unknown = sorted(set(sel.include + sel.exclude) - set(available))
    if unknown:
        raise SpecError(f"features.include/exclude: unknown feature(s) {unknown}")
    if sel.drivers is None and not sel.include:
        chosen = list(available)
    else:
        drivers = set(sel.drivers or ())
        chosen = [f for f, d in available.items() if d in drivers or f in sel.include]
    chosen = [f for f in chosen if f not in set(sel.exclude)]
    if not chosen:
        raise SpecError("features: the selection leaves no features")
    return chosen


def load_training_data(spec: ExperimentSpec, root: Path | None = None) -> TrainingData:
    """Build the experiment's frame. Relative data paths resolve against ``root``."""
    try:
        ds = load_source(spec.data, root)
    except FileNotFoundError as exc:
        raise SpecError(str(exc)) from None
    if isinstance(spec.data, EventData):
        return _events(spec, ds)
    return _customers(spec, ds)


def _events(spec: ExperimentSpec, ds: Dataset) -> TrainingData:
    path = Path(ds.source)
    h, lead = spec.horizon_days, spec.lead_days
    try:
        obs = build_observations(ds, spec.cutoffs, h, lead)
    except ValueError as exc:
        raise SpecError(f"cutoffs: {exc}") from exc
    runnable, notices = select_builders(ds)
    available = {f.name: b.driver for b in runnable for f in b.features}
    chosen = select_features(spec, available)
    refs = [
        BuilderRef(b.name, dict(b.params))
        for b in runnable
        if any(f.name in chosen for f in b.features)
    ]
    frame, used = feature_frame(ds, obs, refs)
    feats = {f.name: f for b in used for f in b.features}
    truth = path / "truth.parquet"
    return TrainingData(
        frame=frame[OBSERVATION_COLUMNS + chosen],
        features=chosen,
        kind="events",
        source=str(path),
        data_digest=file_digest(path),
        feature_spec=FeatureSpec(
            kind="events",
            features=tuple(chosen),
            builders=tuple(refs),
            cutoffs=tuple(spec.cutoffs) if isinstance(spec.cutoffs, list) else spec.cutoffs,
            horizon_days=h,
            lead_days=lead,
            engine=spec.data.engine,
        ),
        observed_until=ds.observed_until,
        truth_path=truth if truth.exists() else None,
        descriptions={n: feats[n].description for n in chosen},
        drivers={n: available[n] for n in chosen},
        notices=notices + ds.notices,
    )


def _customers(spec: ExperimentSpec, ds: Dataset) -> TrainingData:
    d, path = spec.data, Path(ds.source)
    df = ds.con.to_pyarrow(ds["customers"]).to_pandas()
    if d.mrr and d.mrr not in df.columns:
        raise SpecError(f"data.mrr: column {d.mrr!r} not in {path}")
    roles = {d.id, d.label, d.duration}
    clash = sorted((set(df.columns) - roles) & (set(OBSERVATION_COLUMNS) - {d.mrr}))
    if clash:
        raise SpecError(
            f"data.table: column(s) {clash} in {path} clash with churnlab's observation columns "
            f"{OBSERVATION_COLUMNS}; rename them"
        )
    available = {c: "account" for c in df.columns if c not in roles and c != "mrr"}
    chosen = select_features(spec, available)
    frame = pd.DataFrame(
        {
            "account_id": df[d.id],
            "cutoff": pd.NaT,
            "churned_within_h": df[d.label].astype(bool),
            "duration_days": df[d.duration] if d.duration else float("nan"),
            "event": df[d.label].astype("int8"),
            "label_complete": True,
            "mrr": df[d.mrr].astype("float64") if d.mrr else float("nan"),
        }
    )
    frame = pd.concat([frame, df[chosen]], axis=1)
    return TrainingData(
        frame=frame,
        features=chosen,
        kind="customers",
        source=str(path),
        data_digest=file_digest(path),
        feature_spec=FeatureSpec(
            kind="customers",
            features=tuple(chosen),
            roles={"id": d.id, "label": d.label, "duration": d.duration, "mrr": d.mrr},
        ),
        descriptions={c: f"{c} (customer table column)" for c in chosen},
        drivers=dict.fromkeys(chosen, "account"),
    )
