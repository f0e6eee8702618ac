"""The event vocabulary: which event types a dataset's log has, which of them become features,
and which play a role the built-in builders know (session start, core action, contact, failed
payment).

The roles and fitting settings come from the optional ``events`` section of ``dataset.json``
(an experiment spec's ``events`` key overrides it; see :class:`churnlab.config.EventsSpec`).
The kept types are *fitted*: counted on events dated before a given time only (training uses
its earliest validation cutoff), ordered by the number of accounts using them, at most
``max_event_types``, each used by at least ``min_account_share`` of the accounts that had any
event, the ``ignore`` role left out. The fitted :class:`Vocabulary` travels in the model's
feature spec, so scoring builds exactly the training columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import pandas as pd

from churnlab.config import ROLES, EventsSpec, parse_events
from churnlab.data.schema import ACCOUNTS
from churnlab.data.validate import is_number_text
from churnlab.errors import ChurnlabError


class VocabularyError(ChurnlabError):
    """An ``events`` section that names event types the data never has."""


@dataclass(frozen=True)
class Vocabulary:
    """Fitted event vocabulary: ``types`` kept (in order), ``roles`` (role -> event types, only
    roles that are set), the session gap and the ratio pairs."""

    types: tuple[str, ...] = ()
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    session_gap_minutes: float = 30.0
    ratios: tuple[tuple[str, str], ...] = ()
    fitted_before: str | None = None
    # (column, kind) of the accounts table's own attributes that dataset.json names (kind:
    # "number", "category" or "date"), read by the account_attributes builder
    attributes: tuple[tuple[str, str], ...] = ()
    # (name, patterns) of the events section's ``group``: applied before anything is counted
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # whether the events had a ``count`` column (a rolled-up log): scoring refuses a batch
    # without one, whose rows would each count as one event
    counted: bool = False

    def role(self, name: str) -> tuple[str, ...]:
        return tuple(self.roles.get(name, ()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "types": list(self.types),
            "roles": {r: list(v) for r, v in sorted(self.roles.items())},
            "session_gap_minutes": self.session_gap_minutes,
            "ratios": [list(p) for p in self.ratios],
            "fitted_before": self.fitted_before,
            "attributes": [list(a) for a in self.attributes],
            "groups": {name: list(patterns) for name, patterns in self.groups},
            **({"counted": True} if self.counted else {}),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Vocabulary:
        raw = raw or {}
        return cls(
            types=tuple(raw.get("types", ())),
            roles={r: tuple(v) for r, v in (raw.get("roles") or {}).items()},
            session_gap_minutes=float(raw.get("session_gap_minutes", 30.0)),
            ratios=tuple(tuple(p) for p in raw.get("ratios", ())),
            fitted_before=raw.get("fitted_before"),
            attributes=tuple(tuple(a) for a in raw.get("attributes", ())),
            groups=tuple((n, tuple(p)) for n, p in (raw.get("groups") or {}).items()),
            counted=bool(raw.get("counted", False)),
        )


def events_section(dataset, override: EventsSpec | None = None) -> EventsSpec:
    """The spec's ``events`` override, else the dataset's ``dataset.json`` section, else the
    defaults (no roles, everything discovered)."""
    if override is not None:
        return override
    return parse_events(dataset.manifest.get("events"), source=dataset.source)


def _pattern_regex(pattern: str) -> str:
    """A ``group`` pattern as an anchored regular expression that DuckDB (RE2) and Spark (Java)
    read alike: ``*`` any characters, ``?`` one, every other character itself."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "^" + "".join(out) + "$"


_REGEX_SPECIAL = set("\\.^$|+()[]{}")


def with_groups(dataset, groups: tuple[tuple[str, tuple[str, ...]], ...]):
    """``dataset`` with its events' types grouped (see :class:`churnlab.config.EventsSpec`
    ``group``): each type matching one of a name's patterns is read as that name, the first
    match winning; the others stay as they are. Nothing is copied (an expression)."""
    if not groups or not dataset.has("events"):
        return dataset
    ev = dataset["events"]
    cases = [
        (ev.event_type.re_search(_pattern_regex(p)), name)
        for name, patterns in groups
        for p in patterns
    ]
    events = ev.mutate(event_type=ibis.cases(*cases, else_=ev.event_type))
    return replace(dataset, tables={**dataset.tables, "events": events})


def _groups(section: EventsSpec) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, tuple(patterns)) for name, patterns in section.group.items())


def event_type_stats(dataset, before: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per event type: events and distinct accounts (dated before ``before`` if given), most
    used first; ``attrs["accounts"]`` holds the accounts with any event."""
    return _stats_pair(dataset, before)[1]


def _stats_pair(dataset, before: pd.Timestamp | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`event_type_stats` of all events and of those dated before ``before``, from one
    pass over the events (per event type and account, then summed here)."""
    ev = dataset["events"]
    early = None if before is None else ev.ts < pd.Timestamp(before).to_pydatetime()
    if "count" in ev.columns:  # a rolled-up log: the events its rows stand for
        aggs = {"events": ev["count"].sum()}
        if early is not None:
            aggs["events_before"] = ev["count"].sum(where=early).fill_null(0)
    else:
        aggs = {"events": ev.count()}
        if early is not None:
            aggs["events_before"] = ev.count(where=early)
    per = dataset.con.to_pyarrow(ev.group_by(["event_type", "account_id"]).agg(**aggs))
    per = per.to_pandas()
    if before is None:
        per["events_before"] = per["events"]
    return _stats(per, "events"), _stats(per, "events_before")


def _stats(per: pd.DataFrame, column: str) -> pd.DataFrame:
    used = per[per[column] > 0]
    stats = (
        used.groupby("event_type", sort=False)
        .agg(events=(column, "sum"), accounts=("account_id", "size"))
        .reset_index()
    )
    stats = stats.sort_values(["accounts", "events", "event_type"], ascending=[False, False, True])
    stats = stats.reset_index(drop=True)
    stats.attrs["accounts"] = int(used["account_id"].nunique())
    return stats


def check_names(
    section: EventsSpec, present: set[str], source: str = "", anonymous: Iterable[str] = ()
) -> None:
    """Raise naming every event type the section mentions that the data never has (and those
    of them found only on ``anonymous`` events, left out for having no account)."""
    unknown = {where: sorted(set(names) - present) for where, names in section.names().items()}
    unknown = {w: n for w, n in unknown.items() if n}
    if unknown:
        listed = "; ".join(f"events.{w}: {n}" for w, n in unknown.items())
        hint = " (a group name: none of its patterns matches an event type)" * ("group" in unknown)
        if only := sorted({n for names in unknown.values() for n in names} & set(anonymous)):
            hint += (
                f"; {', '.join(map(repr, only))} {'occurs' if len(only) == 1 else 'occur'} "
                "only on events without an account_id "
                "(logged before sign-in?), which are left out: no account has them"
            )
        folded = {
            name: group
            for names in unknown.values()
            for name in names
            for group, patterns in section.group.items()
            if any(re.fullmatch(_pattern_regex(p), name) for p in patterns)
        }
        if folded:
            hint += "; " + ", ".join(
                f"{n!r} is read as its group {g!r} (events.group): name the group"
                for n, g in folded.items()
            )
        raise VocabularyError(
            f"{source}: event type(s) that never occur in the events table: {listed}{hint}"
        )


def fit_vocabulary(
    dataset, section: EventsSpec | None = None, before: pd.Timestamp | None = None
) -> Vocabulary:
    """The vocabulary of ``dataset`` fitted on events dated before ``before`` (all if None)."""
    section = events_section(dataset, section)
    every, stats = _stats_pair(with_groups(dataset, _groups(section)), before)
    check_names(section, set(every.event_type), dataset.source, dataset.anonymous_types)
    return Vocabulary(
        types=tuple(kept_types(stats, section, churn_types(dataset))),
        roles={r: tuple(getattr(section.roles, r)) for r in ROLES if getattr(section.roles, r)},
        session_gap_minutes=float(section.session_gap_minutes),
        ratios=tuple(tuple(p) for p in section.ratios),
        fitted_before=None if before is None else pd.Timestamp(before).isoformat(),
        attributes=account_attributes(dataset),
        groups=_groups(section),
        counted="count" in dataset["events"].columns,
    )


ATTRIBUTES_KEY = "account_attributes"  # the dataset.json key naming them
# the accounts columns of the data model (each read by a builder of its own)
_NAMED_ACCOUNT_COLUMNS = tuple(c.name for c in ACCOUNTS.columns)


def account_attributes(dataset) -> tuple[tuple[str, str], ...]:
    """The accounts table's own columns that ``dataset.json`` names as attributes fixed at
    sign-up (``"account_attributes": ["region", "employees", "trial_ended_at"]``), each with
    its kind: ``number`` (numbers and booleans), ``date`` (timestamps: a feature sees only
    dates before its cutoff) or ``category``; a text column (every column of a CSV) whose
    present values all read as numbers (``1,234``, ``$15``, true/false; NA, N/A and - as
    missing: :func:`~churnlab.data.validate.number_from_text`) is a number, as ISO dates a
    date. An undated column
    may hold what became known later (a status, a cancellation reason), so none is used
    unless named; :func:`unused_account_columns` says which were left out."""
    names = dataset.manifest.get(ATTRIBUTES_KEY) or []
    where = f"{dataset.source}: dataset.json {ATTRIBUTES_KEY}"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise VocabularyError(f"{where} must be a list of column names, got {names!r}")
    if "accounts" not in dataset.tables:
        return ()
    acc = dataset["accounts"]
    unknown = [n for n in names if n not in acc.columns]
    if unknown:
        raise VocabularyError(
            f"{where} names column(s) the accounts table does not have: {unknown} "
            f"(its columns: {list(acc.columns)})"
        )
    named = [n for n in names if n in _NAMED_ACCOUNT_COLUMNS]
    if named:
        raise VocabularyError(
            f"{where}: {named} are read by churnlab already (builders of their own); "
            "name only the table's other columns"
        )
    return tuple(_attribute_kinds(dataset, list(dict.fromkeys(names))).items())


def _attribute_kinds(dataset, names: list[str]) -> dict[str, str]:
    acc = dataset["accounts"]
    kinds: dict[str, str] = {}
    for n in names:
        dtype = acc[n].type()
        if dtype.is_numeric() or dtype.is_boolean():
            kinds[n] = "number"
        elif dtype.is_timestamp() or dtype.is_date():
            kinds[n] = "date"
        else:
            kinds[n] = "category"
    texts = [n for n in names if acc[n].type().is_string()]
    if not texts:
        return kinds
    # text whose every present value is a number or a date (CSV columns are text): one query
    aggs = {}
    for i, n in enumerate(texts):
        c = acc[n].strip().nullif("")
        # numbers as a customer table reads them: 1,234, $15, true/false, NA as missing
        aggs[f"n{i}"] = (~is_number_text(acc[n])).cast("int64").sum()
        aggs[f"d{i}"] = (c.notnull() & c.try_cast("timestamp").isnull()).cast("int64").sum()
    row = dataset.con.execute(acc.aggregate(**aggs)).iloc[0]
    for i, n in enumerate(texts):
        if int(row[f"n{i}"] or 0) == 0:
            kinds[n] = "number"
        elif int(row[f"d{i}"] or 0) == 0:
            kinds[n] = "date"
    return kinds


def unused_account_columns(dataset) -> list[str]:
    """The accounts table's columns churnlab reads nothing from: neither a built-in attribute
    nor named in ``dataset.json``'s ``account_attributes``."""
    if "accounts" not in dataset.tables:
        return []
    named = set(dataset.manifest.get(ATTRIBUTES_KEY) or []) | set(_NAMED_ACCOUNT_COLUMNS)
    return [c for c in dataset["accounts"].columns if c not in named]


def churn_types(dataset) -> set[str]:
    """The event types ``dataset.json``'s churn rule ends an account with (``"churn":
    {"events": [...]}``): an account has one only as it leaves, so before a cutoff it is
    observed never to have had it, and a feature of it would be constant."""
    rule = dataset.manifest.get("churn")
    events = rule.get("events") or [] if isinstance(rule, dict) else []
    return {events} if isinstance(events, str) else set(events)


def kept_types(
    stats: pd.DataFrame, section: EventsSpec, churn: set[str] = frozenset()
) -> list[str]:
    """The types that become features: used by at least ``min_account_share`` of the accounts,
    neither ignored nor a ``churn`` type, the ``max_event_types`` most used."""
    total = max(stats.attrs.get("accounts", 0), 1)
    ignore = set(section.roles.ignore) | set(churn)
    ok = stats[(stats.accounts / total >= section.min_account_share)]
    return [t for t in ok.event_type if t not in ignore][: section.max_event_types]


def describe_vocabulary(dataset, section: EventsSpec | None = None) -> list[dict[str, Any]]:
    """Per event type in the whole log: events, accounts using it, its role(s) and whether the
    vocabulary (fitted on all of it) keeps it: what ``churnlab validate`` prints."""
    section = events_section(dataset, section)
    stats = event_type_stats(with_groups(dataset, _groups(section)))
    # as fitting will
    check_names(section, set(stats.event_type), dataset.source, dataset.anonymous_types)
    churn = churn_types(dataset)
    kept = set(kept_types(stats, section, churn))
    roles: dict[str, list[str]] = {name: ["churn"] for name in churn}
    for r in ROLES:
        for name in getattr(section.roles, r):
            roles.setdefault(name, []).append(r)
    return [
        {
            "event_type": str(row.event_type),
            "events": int(row.events),
            "accounts": int(row.accounts),
            "role": ",".join(roles.get(row.event_type, [])) or None,
            "kept": row.event_type in kept,
        }
        for row in stats.itertuples()
    ]


def near_duplicate_types(types: list[str]) -> str | None:
    """A notice naming event types that differ only in case or spaces (``Play Song``,
    ``play song``, ``  Play Song``): they are counted apart, each its own features, which is
    rarely what was meant (two clients logging one event). None when there are none."""
    groups: dict[str, list[str]] = {}
    for t in types:
        groups.setdefault(" ".join(str(t).split()).casefold(), []).append(str(t))
    twins = [names for names in groups.values() if len(names) > 1]
    if not twins:
        return None
    shown = "; ".join(" / ".join(repr(n) for n in names) for names in twins[:5])
    more = f" and {len(twins) - 5} more group(s)" if len(twins) > 5 else ""
    return (
        f"event types that differ only in case or spaces are counted apart: {shown}{more} "
        "(write them as one name in the data, or list the extra ones under roles.ignore)"
    )


# ids inside an event name: UUIDs, long hex strings, then any run of digits
_ID_IN_NAME = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{16,}\b|\d+",
    re.IGNORECASE,
)
MIN_NUMBERED = 10  # this many names of one shape: an id in the name, not distinct events


def numbered_types(types: list[str]) -> str | None:
    """A notice naming event types that differ only in the numbers or ids they carry
    (``page_view /products/17``, ``page_view /products/18``, ...: at least
    :data:`MIN_NUMBERED` of one shape): each is counted apart, so most are too rare to become
    features and the family as a whole is lost. None when there are none."""
    groups: dict[str, list[str]] = {}
    for t in types:
        groups.setdefault(_ID_IN_NAME.sub("#", str(t)), []).append(str(t))
    families = sorted(
        ((shape, names) for shape, names in groups.items() if len(names) >= MIN_NUMBERED),
        key=lambda g: -len(g[1]),
    )
    if not families:
        return None
    shown = "; ".join(
        f"{len(names):,} like {names[0]!r}, {names[1]!r} ({shape!r})"
        for shape, names in families[:3]
    )
    more = f" and {len(families) - 3} more shape(s)" if len(families) > 3 else ""
    shape = families[0][0]
    name = shape.split("#", 1)[0].rstrip(" _-/:.#") or shape.replace("#", "").strip() or "grouped"
    group = json.dumps({"group": {name: [shape.replace("#", "*")]}}, ensure_ascii=False)
    return (
        f"event types that differ only in a number or id they carry are counted apart, most "
        f"too rare to become features: {shown}{more}; group them under one name in the "
        f"events section of dataset.json (or the spec), e.g. {group[1:-1]}"
    )
