"""The training frame of an experiment: observations + features as one pandas frame.

Event data go through the point-in-time builders on the dataset's engine; a single customer
table's columns are its features (id, label and duration removed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.config import EventData, ExperimentSpec, SpecError
from churnlab.modeling.base import is_categorical

# observation columns: keys, targets and MRR; never model inputs
OBSERVATION_COLUMNS = [
    "account_id",
    "cutoff",
    "churned_within_h",
    "duration_days",
    "event",
    "label_complete",
    "mrr",
]


@dataclass
class TrainingData:
    frame: pd.DataFrame
    features: list[str]
    kind: str  # "events" or "customers"
    source: str
    data_digest: str
    feature_spec: dict[str, Any]
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


def file_digest(path: str | Path) -> str:
    """SHA-256 over a file, or over a folder's files (names and bytes, in name order)."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


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
    root = root or Path.cwd()
    if isinstance(spec.data, EventData):
        return _events(spec, _resolve(root, spec.data.path))
    return _customers(spec, _resolve(root, spec.data.table))


def _resolve(root: Path, path: Path) -> Path:
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise SpecError(f"data: {path} not found")
    return path


def _events(spec: ExperimentSpec, path: Path) -> TrainingData:
    from churnlab.data import load_dataset
    from churnlab.features import build_observations, builders
    from churnlab.features.engine import select_builders

    ds = load_dataset(path, engine=spec.data.engine)
    h, lead = spec.horizon_days, spec.lead_days
    try:
        obs = build_observations(ds, spec.cutoffs, h, lead)
    except ValueError as exc:
        raise SpecError(f"cutoffs: {exc}") from exc
    runnable, notices = select_builders(ds)
    available = {f.name: b.driver for b in runnable for f in b.features}
    chosen = select_features(spec, available)
    wanted = [b.name for b in runnable if any(f.name in chosen for f in b.features)]
    all_builders = {b.name: b for b in builders()}
    builder_specs = [{"name": name, "params": dict(all_builders[name].params)} for name in wanted]
    frame, used = feature_frame(ds, obs, builder_specs)
    feats = {f.name: f for b in used for f in b.features}
    truth = path / "truth.parquet"
    return TrainingData(
        frame=frame[OBSERVATION_COLUMNS + chosen],
        features=chosen,
        kind="events",
        source=str(path),
        data_digest=file_digest(path),
        feature_spec={
            "kind": "events",
            "cutoffs": spec.cutoffs,
            "horizon_days": h,
            "lead_days": lead,
            "engine": spec.data.engine,
            "builders": builder_specs,
            "features": chosen,
        },
        observed_until=ds.observed_until,
        truth_path=truth if truth.exists() else None,
        descriptions={n: feats[n].description for n in chosen},
        drivers={n: available[n] for n in chosen},
        notices=notices + ds.notices,
    )


def feature_table(ds, observations, builder_specs: list[dict[str, Any]]) -> tuple[Any, list]:
    """The Ibis expression of observations + the named builders' features, each builder run
    with its recorded parameters (``feature_spec["builders"]``), on the dataset's engine."""
    from churnlab.features import build_features

    params = {b["name"]: dict(b.get("params") or {}) for b in builder_specs}
    return build_features(ds, observations, names=list(params), params=params)


def feature_frame(
    ds, observations, builder_specs: list[dict[str, Any]]
) -> tuple[pd.DataFrame, list]:
    """Run the named builders with their parameters on ``observations`` and collect a pandas
    frame: the one code path for training and scoring (``feature_spec["builders"]``).

    Returns the frame (observation columns + features; category features as strings, as the
    estimators expect them) and the builders that ran."""
    table, used = feature_table(ds, observations, builder_specs)
    frame = ds.con.to_pyarrow(table).to_pandas()
    frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    for b in used:
        for f in b.features:
            if f.dtype == "category" and f.name in frame:
                frame[f.name] = frame[f.name].astype("string")
    return frame, used


def _customers(spec: ExperimentSpec, path: Path) -> TrainingData:
    from churnlab.data import load_customer_table

    d = spec.data
    ds = load_customer_table(path, id_col=d.id, label_col=d.label, duration_col=d.duration)
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
        feature_spec={
            "kind": "customers",
            "id": d.id,
            "label": d.label,
            "duration": d.duration,
            "mrr": d.mrr,
            "features": chosen,
        },
        descriptions={c: f"{c} (customer table column)" for c in chosen},
        drivers=dict.fromkeys(chosen, "account"),
    )
