"""Scoring inputs: point-in-time features of every account active at an as-of date, built by
replaying the model's feature spec, or a prepared feature table read from a file."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from churnlab.data import load_dataset, read_customer_rows
from churnlab.data.dataset import UnreadableTableError
from churnlab.features import active_accounts, default_as_of, default_refs, feature_frame
from churnlab.features.population import describe_population, extra_builders, population_mask
from churnlab.features.spec import BuilderRef
from churnlab.model import ChurnModel
from churnlab.scoring.check import ScoringError

log = logging.getLogger(__name__)


def build_scoring_features(
    model: ChurnModel,
    data: str | Path,
    as_of: str | pd.Timestamp | list | None = None,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """Point-in-time features at ``as_of`` (default: the data's last day,
    :func:`~churnlab.features.default_as_of`) for every account active then, with the builders
    and parameters recorded in the model's feature spec (the training code path). A list of
    dates builds every date's accounts in one pass (one row per account and date, ``cutoff``
    the date)."""
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
    if spec.vocabulary.counted and not (ds.has("events") and "count" in ds["events"].columns):
        raise ScoringError(
            f"{data}: the model was trained on a rolled-up event log (events with a count "
            "column, one row per account, day and type) but these events have no count "
            "column: each row would count as one event and every count feature would be off; "
            'map the count column (dataset.json: {"columns": {"events": {"count": "..."}}}) '
            "or score a log like the one the model was trained on"
        )
    dates = as_of if isinstance(as_of, list | tuple) else [as_of]
    dates = [default_as_of(ds) if d is None else d for d in dates]
    try:
        parts = [active_accounts(ds, d) for d in dates]
    except ValueError as exc:
        raise ScoringError(f"{data}: {exc}") from exc
    for notice in vocabulary_drift(ds, spec.vocabulary, max(pd.Timestamp(d) for d in dates)):
        log.warning(notice)
    obs = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    if int(ds.con.execute(obs.count())) == 0:
        shown = ", ".join(str(pd.Timestamp(d).date()) for d in dates)
        raise ScoringError(f"{data}: no accounts active on {shown}; {ds.covers()}")
    frame, _ = feature_frame(ds, obs, model_builders(model), spec.vocabulary)
    frame = in_population(model, frame, f"accounts of {data} active at the as-of date")
    missing = [c for c in model.input_columns() if c not in frame.columns]
    if missing:
        raise ScoringError(
            f"{data}: the data cannot produce feature column(s) {missing} the model needs "
            f"(notices: {'; '.join(ds.notices) or 'none'})"
        )
    return frame[model.input_columns()]


def model_builders(model: ChurnModel) -> list[BuilderRef]:
    """The builders (with their parameters) that make a model's columns: its own, plus those
    of the columns its population reads (plan, tenure), as in training."""
    spec = model.feature_spec
    extra = extra_builders(spec.population, {b.name for b in spec.builders})
    return [*spec.builders, *default_refs(extra)]


RECENT_DAYS = 90  # the longest window the per-type features read


def vocabulary_drift(ds, vocabulary, as_of: pd.Timestamp) -> list[str]:
    """Notices on a batch whose event types differ from the model's vocabulary over the
    ``RECENT_DAYS`` before ``as_of``: types the model reads that have no event there (their
    features read 0, and reasons say nobody used them: a renamed event reads like a lost
    habit), and types it does not know that carry a large share of the events (ignored)."""
    if not vocabulary.types or not ds.has("events"):
        return []
    from churnlab.data.vocabulary import with_names
    from churnlab.features.cube import count_events

    ev = with_names(ds, vocabulary)["events"]
    start = (as_of - pd.Timedelta(days=RECENT_DAYS)).to_pydatetime()
    ev = ev.filter((ev.ts < as_of.to_pydatetime()) & (ev.ts >= start))
    recent = ds.con.execute(ev.group_by("event_type").agg(n=count_events(ev)))
    counts = dict(zip(recent.event_type.astype(str), recent.n.astype(int), strict=True))
    total = sum(counts.values())
    if not total:
        return []
    window = f"the {RECENT_DAYS} days before {as_of.date()}"
    out = []
    gone = [t for t in vocabulary.types if not counts.get(t)]
    if gone:
        out.append(
            f"event type(s) {gone} the model reads have no event in {window}: their features "
            "are 0 and reasons may say nobody used them; if the log renamed them, map the new "
            "names (dataset.json events.group) or retrain"
        )
    ignored = set(vocabulary.role("ignore")) | set(vocabulary.types)
    new = sorted(
        ((n, t) for t, n in counts.items() if t not in ignored and n >= 0.05 * total),
        reverse=True,
    )
    if new:
        shown = ", ".join(f"{t!r} ({n / total:.0%})" for n, t in new[:5])
        out.append(
            f"event type(s) the model does not know carry a large share of the events in "
            f"{window}: {shown}; this model ignores them (retrain to use them)"
        )
    return out


def in_population(model: ChurnModel, frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """The rows of ``frame`` inside the model's population; a ScoringError when none is. A
    prepared table without the columns the population reads is scored whole, with a warning."""
    population = model.feature_spec.population
    try:
        keep = population_mask(frame, population)
    except KeyError as exc:
        log.warning("cannot apply the model's population: %s; scoring every row", exc.args[0])
        return frame
    if keep.all():
        return frame
    if not keep.any():
        raise ScoringError(
            f"none of the {len(frame):,} {what} is inside the model's population "
            f"({describe_population(population)})"
        )
    log.info(
        "population %s: scoring %d of %d rows",
        describe_population(population),
        int(keep.sum()),
        len(frame),
    )
    return frame.loc[keep].reset_index(drop=True)


def read_scoring_table(
    model: ChurnModel, path: str | Path, encoding: str | None = None
) -> pd.DataFrame:
    """The rows ``score --features FILE`` scores. For a model trained on a single customer
    table, the table as the user keeps it (its own id and MRR columns, numbers written as
    training read them: the file trained on scores unchanged); else a prepared feature table.

    ``encoding`` is the text encoding of a CSV batch (``score --encoding``). Without it a
    customer table is read as UTF-8 and, where it is not UTF-8, in the encoding the model was
    trained from (``train --encoding cp1252``): text that decodes as UTF-8 almost never is
    another encoding, while reading every batch in the training encoding would garble the
    accents of a batch saved as UTF-8."""
    spec = model.feature_spec
    if spec.kind != "customers" or not spec.roles.get("id"):
        return read_feature_table(path, encoding or "utf-8")
    if not Path(path).exists():
        raise ScoringError(f"customer table {path} not found")
    columns = [c for c in model.input_columns() if c not in ("account_id", "mrr")]

    def read(text_encoding: str) -> pd.DataFrame:
        return read_customer_rows(
            path,
            spec.roles,
            columns,
            encoding=text_encoding,
            date_orders=dict(spec.date_orders),
            dates=tuple(spec.dates),
            na_values=tuple(getattr(spec, "na_values", ())),  # specs pickled before it
        )

    trained = getattr(spec, "encoding", "utf-8")  # specs pickled before it was recorded
    if encoding is not None or trained.lower().replace("_", "-") in ("utf-8", "utf8"):
        return read(encoding or "utf-8")
    try:
        return read("utf-8")
    except UnreadableTableError as not_utf8:
        try:
            rows = read(trained)
        except UnreadableTableError:
            raise not_utf8 from None
    log.info("%s is not UTF-8: read as %s, the encoding the model was trained from", path, trained)
    return rows


def read_feature_table(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """A prepared feature table (Parquet or CSV in ``encoding``)."""
    path = Path(path)
    if not path.exists():
        raise ScoringError(f"feature table {path} not found")
    if path.suffix == ".parquet" or path.is_dir():
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        try:
            frame = pd.read_csv(path, encoding=encoding)
        except pd.errors.EmptyDataError:
            raise ScoringError(f"feature table {path} is an empty file: nothing to score") from None
    else:
        raise ScoringError(f"feature table {path}: expected a .parquet or .csv file")
    if frame.empty:
        raise ScoringError(f"feature table {path} has no rows: nothing to score")
    return frame
