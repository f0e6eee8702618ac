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
    notices: list[str] | None = None,
) -> pd.DataFrame:
    """Point-in-time features at ``as_of`` (default: the data's last day,
    :func:`~churnlab.features.default_as_of`) for every account active then, with the builders
    and parameters recorded in the model's feature spec (the training code path). A list of
    dates builds every date's accounts in one pass (one row per account and date, ``cutoff``
    the date).

    The batch's own ``dataset.json`` ``events.group`` (patterns the model's stored vocabulary
    does not already hold) is applied to the raw names first, so a renamed event can be mapped
    onto the name the model reads without retraining (:func:`batch_groups`). Notices on the
    batch's event types (:func:`vocabulary_drift`) are appended to ``notices`` when given,
    else logged as warnings."""
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
    said: list[str] = []
    ds = batch_groups(ds, spec.vocabulary, said)
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
    said += vocabulary_drift(ds, spec.vocabulary, max(pd.Timestamp(d) for d in dates))
    if notices is not None:
        notices.extend(said)
    else:
        for notice in said:
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
LATEST_DAYS = (7, 30)  # the recent windows a type's share is compared on
EARLIER_DAYS = 30  # the window's earlier part (days 30-90 before): a type's usual share
COLLAPSED = 0.25  # a type the model reads whose recent share is below this part of its usual
ROSE_SHARE = 0.02  # an unknown type's recent share from which its rise is named
MIN_USUAL_EVENTS = 20  # a type with fewer events in the earlier days is not judged


def batch_groups(ds, vocabulary, notices: list[str]):
    """``ds`` with the batch's own ``dataset.json`` ``events.group`` applied to the raw event
    names, before the model's vocabulary (its stored groups and spellings) reads them: a
    group the model does not already hold as it stands (a name the product team renamed,
    mapped onto the name the model was trained on). A notice in ``notices`` says so."""
    from churnlab.data.vocabulary import events_section, with_groups

    if not ds.has("events"):
        return ds
    stored = {name: tuple(patterns) for name, patterns in vocabulary.groups}
    groups = tuple(
        (name, tuple(patterns))
        for name, patterns in events_section(ds).group.items()
        if stored.get(name) != tuple(patterns)
    )
    if not groups:
        return ds
    shown = "; ".join(f"{name!r} <- {list(patterns)}" for name, patterns in groups)
    notices.append(
        f"the batch's dataset.json events.group is applied to its raw event names before the "
        f"model's vocabulary reads them: {shown}"
    )
    return with_groups(ds, groups)


def _window_counts(ds, ev, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per event type over the ``RECENT_DAYS`` before ``as_of``: events in all, in each of
    ``LATEST_DAYS`` and in the earlier days (before the last ``EARLIER_DAYS``), last event."""
    import ibis

    start = (as_of - pd.Timedelta(days=RECENT_DAYS)).to_pydatetime()
    ev = ev.filter((ev.ts < as_of.to_pydatetime()) & (ev.ts >= start))
    ev = ev.mutate(_w=ev["count"].cast("int64") if "count" in ev.columns else ibis.literal(1))
    w = ev._w

    def since(days: int):
        return ev.ts >= (as_of - pd.Timedelta(days=days)).to_pydatetime()

    aggs = {
        "n": w.sum(),
        "earlier": ibis.ifelse(since(EARLIER_DAYS), 0, w).sum(),
        **{f"n{d}": ibis.ifelse(since(d), w, 0).sum() for d in LATEST_DAYS},
        "last": ev.ts.max(),
    }
    out = ds.con.execute(ev.group_by("event_type").agg(**aggs))
    out["event_type"] = out.event_type.astype(str)
    return out.set_index("event_type")


def vocabulary_drift(ds, vocabulary, as_of: pd.Timestamp) -> list[str]:
    """Notices on a batch whose event types differ from the model's vocabulary: types the
    model reads that have no event in the ``RECENT_DAYS`` before ``as_of`` (their features
    read 0, and reasons say nobody used them: a renamed event reads like a lost habit); types
    it reads whose share of the events collapsed in the last 7 or 30 days against their share
    in the window's earlier days while types it does not know rose (a rename shortly before
    the batch); and types it does not know that carry a large share of the events (ignored).
    Each names the types with their counts and the mapping that fixes a rename."""
    if not vocabulary.types or not ds.has("events"):
        return []
    from churnlab.data.vocabulary import with_names

    ev = with_names(ds, vocabulary)["events"]
    per = _window_counts(ds, ev, as_of)
    total = int(per.n.sum()) if len(per) else 0
    if not total:
        return []
    counts = per.n.astype(int).to_dict()
    window = f"the {RECENT_DAYS} days before {as_of.date()}"
    ignored = set(vocabulary.role("ignore")) | set(vocabulary.types)
    out = []
    collapsed, rose = _recent_changes(per, vocabulary.types, ignored)
    new = sorted(
        ((n, t) for t, n in counts.items() if t not in ignored and n >= 0.05 * total),
        reverse=True,
    )
    gone = [t for t in vocabulary.types if not counts.get(t)]
    if gone:
        candidates = [t for t, _ in rose] or [t for _, t in new]
        unknown = (
            "; type(s) it does not know there: "
            + ", ".join(f"{t!r} ({counts[t]:,} events)" for t in candidates[:5])
            if candidates
            else ""
        )
        out.append(
            f"event type(s) {gone} the model reads have no event in {window}{unknown}: their "
            "features are 0 and reasons may say nobody used them; if the log renamed them, "
            + _mapping_advice(gone, candidates)
        )
    collapsed = [c for c in collapsed if c[0] not in gone]
    if collapsed:
        said = "; ".join(collapsed_text for _, collapsed_text in collapsed)
        risen = (
            "; type(s) the model does not know rose meanwhile: "
            + "; ".join(text for _, text in rose)
            if rose
            else ""
        )
        out.append(
            f"event type(s) the model reads collapsed in the last days before {as_of.date()} "
            f"(against their share 30-90 days before): {said}{risen}. Their features read a lost "
            "habit for every account (scores and reasons shift); if the log renamed them, "
            + _mapping_advice([t for t, _ in collapsed], [t for t, _ in rose])
        )
    if new:
        shown = ", ".join(f"{t!r} ({n / total:.0%}, {n:,} events)" for n, t in new[:5])
        out.append(
            f"event type(s) the model does not know carry a large share of the events in "
            f"{window}: {shown}; this model ignores them (retrain to use them, or, if one is a "
            "new name of a type the model reads, map it onto that type in the batch's "
            "dataset.json events.group)"
        )
    return out


def _recent_changes(
    per: pd.DataFrame, types: tuple[str, ...], ignored: set[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(type, text) of the model's types whose share of the events in the last 7 (else 30)
    days fell below ``COLLAPSED`` of their share in the earlier days, and of unknown types
    whose recent share rose to at least ``ROSE_SHARE`` from under a ``COLLAPSED`` part of it."""
    earlier_total = float(per.earlier.sum())
    if earlier_total <= 0:
        return [], []
    totals = {d: float(per[f"n{d}"].sum()) for d in LATEST_DAYS}
    days = next((d for d in LATEST_DAYS if totals[d] >= 50), LATEST_DAYS[-1])
    if totals[days] <= 0:
        return [], []
    share = per[f"n{days}"] / totals[days]
    usual = per.earlier / earlier_total
    collapsed, rose = [], []
    for t in types:
        if t not in per.index or per.earlier[t] < MIN_USUAL_EVENTS:
            continue
        if share[t] < COLLAPSED * usual[t]:
            recent = ", ".join(
                f"{per[f'n{d}'][t] / totals[d]:.0%} in the last {d} days "
                f"({int(per[f'n{d}'][t]):,} of {int(totals[d]):,} events)"
                for d in LATEST_DAYS
                if totals[d] > 0
            )
            collapsed.append(
                (
                    t,
                    f"{t!r} {usual[t]:.0%} of the events before, {recent}, last event "
                    f"{pd.Timestamp(per['last'][t]).date()}",
                )
            )
    for t in per.index:
        if t in ignored or share[t] < ROSE_SHARE or share[t] * COLLAPSED < usual[t]:
            continue
        rose.append(
            (
                t,
                f"{t!r} {usual[t]:.0%} before, {share[t]:.0%} in the last {days} days "
                f"({int(per[f'n{days}'][t]):,} events)",
            )
        )
    rose.sort(key=lambda r: -share[r[0]])
    return collapsed, rose


def _mapping_advice(old: list[str], new: list[str]) -> str:
    """How to map a renamed event onto the name the model reads, without retraining."""
    import json

    example = {old[0]: [old[0], new[0] if new else "NEW NAME"]}
    return (
        "map the new name onto the model's in the batch's dataset.json (applied at scoring "
        "before the model's vocabulary; no retraining), e.g. "
        + json.dumps({"events": {"group": example}})
        + "; a retrain cannot learn a new name until its labels mature"
    )


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
