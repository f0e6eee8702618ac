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
import unicodedata
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
    # (spelling, type) of the names read as one type for differing only in case, spaces or
    # punctuation (:func:`spelling_key`), each as the most frequent spelling: applied after
    # ``groups`` (:func:`with_names`)
    spellings: tuple[tuple[str, str], ...] = ()
    # whether a new spelling of a type it names is read as that type at scoring: not for a
    # vocabulary stored before spellings were merged (its training counted them apart)
    merges_spellings: bool = True

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
            **({"spellings": dict(self.spellings)} if self.merges_spellings else {}),
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
            spellings=tuple((k, v) for k, v in (raw.get("spellings") or {}).items()),
            merges_spellings="spellings" in raw or not raw,
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


def fold_name(text: str) -> str:
    """Case-folded, compatibility forms unified (full-width letters are ASCII ones), and the
    accents of Latin letters dropped (``é`` is ``e``); the marks of other scripts are part of
    their letters (``ビ`` stays ``ビ``, ``й`` stays ``й``) and are kept."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text.casefold()):
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def spelling_key(name: str) -> str:
    """What spellings of one event type share: the name folded (:func:`fold_name`), every run
    of characters but letters and digits one ``_``, none at either end (``Task Created``,
    ``task_created`` and ``TASK CREATED `` all give ``task_created``). The feature-name stem
    is this key, cut to its length."""
    return re.sub(r"[\W_]+", "_", fold_name(str(name))).strip("_")


def spelling_merges(
    events: dict[str, tuple[int, int]], apart: Iterable[str] = ()
) -> dict[str, str]:
    """Spelling -> the type it is read as, for names of one :func:`spelling_key`: the
    spelling with the most events (``events``: name -> (events before the fitting time, all
    events)) names the type. Names in ``apart`` (the ``group`` names) are left alone."""
    apart = set(apart)
    by_key: dict[str, list[str]] = {}
    for name in events:
        if name not in apart and spelling_key(name):
            by_key.setdefault(spelling_key(name), []).append(name)
    out: dict[str, str] = {}
    for names in by_key.values():
        if len(names) < 2:
            continue
        first = min(names, key=lambda n: (-events[n][0], -events[n][1], n))
        out.update({n: first for n in names if n != first})
    return out


def with_names(dataset, vocabulary: Vocabulary):
    """``dataset`` with its events' types read as ``vocabulary`` reads them: grouped
    (:func:`with_groups`), then each stored spelling as its type; a spelling the fitted log
    did not have (a new client's ``TASK_CREATED``) whose :func:`spelling_key` is that of one
    type the vocabulary names (kept, in a role, or merged) is read as that type too (one
    query for the log's distinct types; not for a vocabulary stored before spellings were
    merged)."""
    dataset = with_groups(dataset, vocabulary.groups)
    if not dataset.has("events"):
        return dataset
    mapping = dict(vocabulary.spellings)
    apart = {name for name, _ in vocabulary.groups}
    named = {*vocabulary.types, *mapping.values()}
    named |= {n for names in vocabulary.roles.values() for n in names}
    targets: dict[str, set[str]] = {}
    for name in named - apart:
        targets.setdefault(spelling_key(name), set()).add(name)
    if targets and vocabulary.merges_spellings:
        ev = dataset["events"]
        present = dataset.con.execute(ev.select("event_type").distinct())["event_type"]
        for name in present.dropna().astype(str):
            if name in mapping or name in named or name in apart:
                continue
            one = targets.get(spelling_key(name), set())
            if len(one) == 1:  # two types of one key (kept apart by a group): neither
                mapping[name] = next(iter(one))
    if not mapping:
        return dataset
    ev = dataset["events"]
    events = ev.mutate(event_type=ev.event_type.substitute(mapping))
    return replace(dataset, tables={**dataset.tables, "events": events})


def event_type_stats(
    dataset, before: pd.Timestamp | None = None, apart: Iterable[str] = ()
) -> pd.DataFrame:
    """Per event type: events and distinct accounts (dated before ``before`` if given), most
    used first, the spellings of one type merged (but names in ``apart``);
    ``attrs["accounts"]`` holds the accounts with any event."""
    return _stats_pair(dataset, before, apart)[1]


def _stats_pair(
    dataset, before: pd.Timestamp | None, apart: Iterable[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`event_type_stats` of all events and of those dated before ``before``, from one
    pass over the events (per event type and account, then summed here), the spellings of a
    type merged (:func:`spelling_merges`; ``attrs["spellings"]`` maps each to its type,
    ``attrs["spelled"]`` holds each merged type's spellings and their events)."""
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
    totals = per.groupby("event_type")[["events_before", "events"]].sum()
    merges = spelling_merges(
        {str(t): (int(r.events_before), int(r.events)) for t, r in totals.iterrows()}, apart
    )
    spelled: dict[str, dict[str, int]] = {}
    if merges:
        for t, r in totals.iterrows():
            if (to := merges.get(t)) is not None:
                spelled.setdefault(to, {to: int(totals.events.get(to, 0))})[t] = int(r.events)
        per = per.assign(event_type=per.event_type.replace(merges))
        per = per.groupby(["event_type", "account_id"], as_index=False)[
            ["events", "events_before"]
        ].sum()
    out = _stats(per, "events"), _stats(per, "events_before")
    for stats in out:
        stats.attrs["spellings"] = merges
        stats.attrs["spelled"] = spelled  # type -> {spelling: events in the whole log}
    return out


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
    grouped = with_groups(dataset, _groups(section))
    every, stats = _stats_pair(grouped, before, section.group)
    merges = every.attrs["spellings"]
    check_names(
        section, set(every.event_type) | set(merges), dataset.source, dataset.anonymous_types
    )
    section = _merged_section(section, merges)
    notice = spellings_notice(every.attrs["spelled"])
    if notice and notice not in dataset.notices:  # once, however often it is fitted
        dataset.notices.append(notice)
    return Vocabulary(
        types=tuple(kept_types(stats, section, _merged(churn_types(dataset), merges))),
        roles={r: tuple(getattr(section.roles, r)) for r in ROLES if getattr(section.roles, r)},
        session_gap_minutes=float(section.session_gap_minutes),
        ratios=tuple(tuple(p) for p in section.ratios),
        fitted_before=None if before is None else pd.Timestamp(before).isoformat(),
        attributes=account_attributes(dataset),
        groups=_groups(section),
        counted="count" in dataset["events"].columns,
        spellings=tuple(sorted(merges.items())),
    )


def _merged(names: Iterable[str], merges: dict[str, str]) -> list[str]:
    """``names`` each as the type its spelling is read as, once each, in order."""
    return list(dict.fromkeys(merges.get(n, n) for n in names))


def _merged_section(section: EventsSpec, merges: dict[str, str]) -> EventsSpec:
    """``section`` whose roles and ratios name each spelling's type (a role naming any one
    spelling applies to the merged type)."""
    if not merges:
        return section
    roles = section.roles.model_copy(
        update={r: _merged(getattr(section.roles, r), merges) for r in ROLES}
    )
    ratios = [(merges.get(a, a), merges.get(b, b)) for a, b in section.ratios]
    return section.model_copy(update={"roles": roles, "ratios": ratios})


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
    stats = event_type_stats(with_groups(dataset, _groups(section)), apart=section.group)
    merges, spelled = stats.attrs["spellings"], stats.attrs["spelled"]
    # as fitting will
    check_names(
        section, set(stats.event_type) | set(merges), dataset.source, dataset.anonymous_types
    )
    section = _merged_section(section, merges)
    churn = set(_merged(churn_types(dataset), merges))
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
            **({"spellings": spelled[row.event_type]} if row.event_type in spelled else {}),
        }
        for row in stats.itertuples()
    ]


def spellings_notice(spelled: dict[str, dict[str, int]]) -> str | None:
    """The notice naming the event types read as one for differing only in case, spaces or
    punctuation (``spelled``: type -> {spelling: events}, as :func:`describe_vocabulary`'s
    rows and :func:`event_type_stats` give them), every spelling with its events, and how to
    keep a spelling apart. None when there are none."""
    if not spelled:
        return None
    shown = "; ".join(
        f"{t!r} ({sum(counts.values()):,} events) = "
        + " + ".join(f"{n!r} {c:,}" for n, c in sorted(counts.items(), key=lambda x: -x[1]))
        for t, counts in spelled.items()
    )
    t, counts = next(iter(spelled.items()))
    other = max((n for n in counts if n != t), key=lambda n: (counts[n], n))
    example = json.dumps({"group": {f"{spelling_key(other)}_apart": [other]}}, ensure_ascii=False)
    return (
        "event types whose names differ only in case, spaces or punctuation are read as one "
        f"type, named by the most frequent spelling: {shown}. If a spelling is a different "
        "event, give it a name of its own under group in the events section of dataset.json "
        f"(or the spec), e.g. {example[1:-1]} (a group's type is never merged)"
    )


def near_duplicate_types(rows: list[dict[str, Any]]) -> str | None:
    """:func:`spellings_notice` of :func:`describe_vocabulary`'s rows."""
    return spellings_notice({r["event_type"]: r["spellings"] for r in rows if r.get("spellings")})


# ids inside an event name: UUIDs, long hex strings, then any run of digits
_ID_IN_NAME = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{16,}\b|\d+",
    re.IGNORECASE,
)
MIN_NUMBERED = 10  # this many names of one shape: an id in the name, not distinct events


def numbered_types(types: list[str], groups: dict[str, list[str]] | None = None) -> str | None:
    """A notice naming event types that differ only in the numbers or ids they carry
    (``page_view /products/17``, ``page_view /products/18``, ...: at least
    :data:`MIN_NUMBERED` of one shape): each is counted apart, so most are too rare to become
    features and the family as a whole is lost. It ends with one ``group`` mapping for every
    family, ready to paste: each named by the fixed parts of its shape (``/projects/#/edit``
    gives ``projects_edit``), no name twice nor one of ``groups`` (the section's own, whose
    families are not suggested again). None when there are none."""
    groups = groups or {}
    patterns = {p for ps in groups.values() for p in ps}
    by_shape: dict[str, list[str]] = {}
    for t in types:
        by_shape.setdefault(_ID_IN_NAME.sub("#", str(t)), []).append(str(t))
    families = sorted(
        (
            (shape, names)
            for shape, names in by_shape.items()
            if len(names) >= MIN_NUMBERED and shape.replace("#", "*") not in patterns
        ),
        key=lambda g: (-len(g[1]), g[0]),
    )
    if not families:
        return None
    shown = "; ".join(
        f"{len(names):,} like {names[0]!r}, {names[1]!r} ({shape!r})"
        for shape, names in families[:3]
    )
    more = f" and {len(families) - 3} more shape(s)" if len(families) > 3 else ""
    taken = set(groups)
    mapping: dict[str, list[str]] = {}
    for shape, _ in families:
        base = spelling_key(shape.replace("#", " ")) or "grouped"
        name, i = base, 2
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        mapping[name] = [shape.replace("#", "*")]
    group = json.dumps({"group": {**groups, **mapping}}, ensure_ascii=False)
    return (
        f"event types that differ only in a number or id they carry are counted apart, most "
        f"too rare to become features: {shown}{more}; group them under one name each in the "
        f"events section of dataset.json (or the spec), replacing its group: {group}"
    )
