"""The feature-builder registry and the catalogue it makes.

A builder is a function ``(dataset, keys, **params) -> ibis.Table`` keyed by
``(account_id, cutoff)``; ``keys`` holds the observations' keys. It declares the churn
``driver`` it measures, the features it returns and what data it needs. Users add builders in
their own code with one decorator::

    from churnlab.features import Feature, feature_builder

    @feature_builder(
        "exports_per_seat", driver="engagement", requires=("events", "accounts.seats"),
        features=[Feature("exports_per_seat_30d", "exports per seat, last 30 days", "float")],
    )
    def exports_per_seat(ds, keys):
        ...

A builder function with a ``vocabulary`` parameter receives the fitted
:class:`~churnlab.data.Vocabulary` (kept event types and roles). One whose outputs depend on it
passes ``expand``: a function of
the fitted :class:`~churnlab.data.Vocabulary` returning its features (``features`` are then the
templates the catalogue lists). A builder that reads event names from roles (``roles=("core_action",)``) is skipped with a notice
when the dataset's mapping does not set them.

Every builder must read only rows dated strictly before each cutoff.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis.expr.types as ir

from churnlab.data.vocabulary import Vocabulary
from churnlab.features.reasons import ReasonTemplate, TemplateError, column_template
from churnlab.vocab import DRIVERS

DType = Literal["int", "float", "bool", "category"]

# a builder's requirement that each events row is one event (sessions and time on task read
# events' own times and durations, which a log rolled up with a count does not have)
EACH_EVENT = "events:each"


@dataclass(frozen=True)
class Feature:
    """One output column: ``fill`` replaces nulls for accounts with no rows (counts: 0).

    ``reason`` is how a value reads as a reason (one template or several tried in order, see
    :mod:`churnlab.features.reasons`), ``if_missing`` the reason for a missing value, and
    ``context`` marks an account attribute (country, plan, tenure) shown as context, never as
    a reason to act on. Without ``reason`` the column's name and value are shown.

    ``window`` says what stretch of the event log the value sums up: the last ``window`` days
    before the cutoff, or ``"signup"`` for the days after sign-up. Where the log begins after an
    account's sign-up (:meth:`~churnlab.data.Dataset.log_start`) and the stretch reaches before
    that, the value is unknown (null) for the account instead of counting the days the log does
    not hold as no activity. Leave it None for a value the log's start does not bias: a ratio
    or share within one window, or the time since the latest event seen.

    ``if_low`` is how the value reads when it is below the model's typical value and still
    raises the risk (a recent warning event: "'Cancel Flow Started' 5 days ago"). ``driver``,
    where set, replaces the builder's for this column (the per-type features of a failed-payment
    event type count toward billing): reasons, hints, SHAP roll-ups and ``features.drivers``
    read it."""

    name: str
    description: str
    dtype: DType = "float"
    fill: float | bool | None = None
    reason: str | tuple[str, ...] = ()
    if_missing: str = ""
    context: bool = False
    window: int | Literal["signup"] | None = None
    if_low: str | tuple[str, ...] = ()
    driver: str | None = None

    def __post_init__(self) -> None:
        if self.driver is not None and self.driver not in DRIVERS:
            raise ValueError(
                f"feature {self.name!r}: unknown driver {self.driver!r}; expected one of {DRIVERS}"
            )

    def reason_template(self) -> ReasonTemplate:
        """The feature's :class:`~churnlab.features.reasons.ReasonTemplate`."""
        texts = (self.reason,) if isinstance(self.reason, str) else tuple(self.reason)
        if not texts:
            return column_template(self.name, self.dtype == "category", self.context)
        low = (self.if_low,) if isinstance(self.if_low, str) else tuple(self.if_low)
        return ReasonTemplate(texts, self.if_missing, self.context, low)


@dataclass(frozen=True)
class FeatureBuilder:
    name: str
    driver: str
    description: str
    fn: Callable[..., ir.Table]
    features: tuple[Feature, ...]
    requires: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    expand: Callable[[Vocabulary], Iterable[Feature]] | None = None

    def driver_of(self, feature: Feature) -> str:
        """The driver ``feature`` counts toward: its own where set, else the builder's."""
        return feature.driver or self.driver

    @property
    def uses_vocabulary(self) -> bool:
        """Whether ``fn`` takes the fitted vocabulary (its ``vocabulary`` keyword)."""
        return "vocabulary" in inspect.signature(self.fn).parameters

    def outputs(self, vocabulary: Vocabulary | None = None) -> tuple[Feature, ...]:
        """The columns this builder makes for ``vocabulary`` (static builders: ``features``)."""
        if self.expand is None:
            return self.features
        return tuple(self.expand(vocabulary or Vocabulary()))

    def missing(self, dataset, vocabulary: Vocabulary | None = None) -> list[str]:
        """The required tables, ``table.column``s and event roles the dataset lacks."""
        out = []
        for req in self.requires:
            if req == EACH_EVENT:
                if dataset.has("events", "count"):
                    out.append("one row per event (events has a count: its rows are roll-ups)")
                continue
            table, _, column = req.partition(".")
            if not dataset.has(table, column or None):
                out.append(req)
        vocabulary = vocabulary or Vocabulary()
        out += [f"the {r} event role" for r in self.roles if not vocabulary.role(r)]
        return out

    def build(
        self, dataset, keys: ir.Table, vocabulary: Vocabulary | None = None, **overrides: Any
    ) -> ir.Table:
        params = {**self.params, **overrides}
        if self.uses_vocabulary:
            params["vocabulary"] = vocabulary or Vocabulary()
        return self.fn(dataset, keys, **params)


_REGISTRY: dict[str, FeatureBuilder] = {}


def feature_builder(
    name: str,
    *,
    driver: str,
    features: Iterable[Feature],
    description: str = "",
    requires: Iterable[str] = (),
    roles: Iterable[str] = (),
    expand: Callable[[Vocabulary], Iterable[Feature]] | None = None,
    **params: Any,
) -> Callable[[Callable[..., ir.Table]], Callable[..., ir.Table]]:
    """Register a builder. ``params`` are its defaults (windows, ...); ``roles`` the event roles
    it reads; ``expand`` makes a vocabulary-driven builder (``features`` are then templates)."""
    if driver not in DRIVERS:
        raise ValueError(f"builder {name!r}: unknown driver {driver!r}; expected one of {DRIVERS}")

    def register(fn: Callable[..., ir.Table]) -> Callable[..., ir.Table]:
        feats = tuple(features)
        taken = {
            f.name: b.name
            for b in _REGISTRY.values()
            if b.name != name and b.expand is None
            for f in b.features
        }
        clash = [f.name for f in feats if f.name in taken] if expand is None else []
        if clash:
            raise ValueError(
                f"builder {name!r}: feature name(s) {clash} already defined by {[taken[c] for c in clash]}"
            )
        for f in feats:
            try:
                f.reason_template()
            except TemplateError as exc:
                raise ValueError(f"builder {name!r}, feature {f.name!r}: {exc}") from None
        _REGISTRY[name] = FeatureBuilder(
            name=name,
            driver=driver,
            description=description or next(iter((fn.__doc__ or name).strip().splitlines()), name),
            fn=fn,
            features=feats,
            requires=tuple(requires),
            params=dict(params),
            roles=tuple(roles),
            expand=expand,
        )
        return fn

    return register


def builders(
    drivers: Iterable[str] | None = None, names: Iterable[str] | None = None
) -> list[FeatureBuilder]:
    """Registered builders, optionally only those of some drivers or names, in registry order."""
    drivers = set(drivers) if drivers else None
    if drivers:
        unknown = drivers - set(DRIVERS)
        if unknown:
            raise ValueError(f"unknown driver(s) {sorted(unknown)}; expected some of {DRIVERS}")
    names = set(names) if names else None
    if names:
        unknown = names - set(_REGISTRY)
        if unknown:
            raise ValueError(
                f"unknown builder(s) {sorted(unknown)}; registered: {sorted(_REGISTRY)}"
            )
    return [
        b
        for b in _REGISTRY.values()
        if (drivers is None or b.driver in drivers) and (names is None or b.name in names)
    ]


def remove_builder(name: str) -> None:
    """Unregister a builder (e.g. one defined in a notebook cell that is being rewritten)."""
    _REGISTRY.pop(name, None)


def get_builder(name: str) -> FeatureBuilder:
    return _REGISTRY[name]


def static_names() -> set[str]:
    """Feature names of the builders whose outputs do not depend on the vocabulary."""
    return {f.name for b in _REGISTRY.values() if b.expand is None for f in b.features}


def _reads_as(template: ReasonTemplate) -> str:
    """The templates, ``|`` between alternatives, those for a low value first marked ``[low]``."""
    return " | ".join([*(f"[low] {t}" for t in template.if_low), *template.templates])


def catalogue(
    drivers: Iterable[str] | None = None, vocabulary: Vocabulary | None = None
) -> list[dict[str, str]]:
    """One row per feature: name, driver, description, dtype, the builder that makes it, how
    it reads as a reason (its templates, ``|`` between alternatives) and whether it is context.

    Without a vocabulary, a vocabulary-driven builder lists its templates (``<type>`` stands for
    each kept event type); with one, the features it generates for it."""
    return [
        {
            "name": f.name,
            "driver": b.driver_of(f),
            "description": f.description,
            "dtype": f.dtype,
            "builder": b.name,
            "reason": _reads_as(f.reason_template()),
            "context": f.context,
        }
        for b in builders(drivers)
        for f in (b.outputs(vocabulary) if vocabulary is not None else b.features)
    ]


def driver_map(vocabulary: Vocabulary | None = None) -> dict[str, str]:
    """Feature name -> driver, for reasons and roll-ups."""
    return {row["name"]: row["driver"] for row in catalogue(vocabulary=vocabulary)}


def reason_templates(vocabulary: Vocabulary | None = None) -> dict[str, ReasonTemplate]:
    """Feature name -> its reason template, for every registered builder's outputs (with a
    vocabulary: the features generated for it)."""
    return {
        f.name: f.reason_template()
        for b in builders()
        for f in (b.outputs(vocabulary) if vocabulary is not None else b.features)
    }


def catalogue_json(drivers: Iterable[str] | None = None) -> str:
    return json.dumps(catalogue(drivers), indent=2) + "\n"


# the example of the Markdown catalogue's preamble: a consumer app's log, nothing like the demo
EXAMPLE_EVENTS = {
    "roles": {"session_start": ["app_open"], "core_action": ["post"], "ignore": ["heartbeat"]},
    "ratios": [["reply", "post"]],
}
EXAMPLE_TYPES = ("app_open", "post", "like", "reply", "ad_view", "Friend Removed")


def _preamble() -> list[str]:
    """How the ``<type>`` templates become columns on a log that is not the demo's."""
    vocabulary = Vocabulary(
        types=EXAMPLE_TYPES,
        roles={k: tuple(v) for k, v in EXAMPLE_EVENTS["roles"].items()},
        ratios=tuple(tuple(p) for p in EXAMPLE_EVENTS["ratios"]),
    )
    made = [f.name for b in builders() if b.expand is not None for f in b.outputs(vocabulary)]
    shown = [n for n in made if "friend_removed" in n or n.startswith("reply_per_post")]
    return [
        "Features come from your event log's own vocabulary. `<type>` stands for each event "
        "type kept when the vocabulary is fitted on the training rows (the most used ones, up "
        "to `max_event_types`); a role (`session_start`, `core_action`, `contact`, "
        "`payment_failure`, `ignore`) tells the builders which types play it, and a builder "
        "whose role is not mapped is skipped with a notice. With no mapping at all, sessions "
        "come from inactivity gaps and every per-type feature is still made. The per-type "
        "features of a type mapped to `payment_failure` count toward the billing driver, those "
        "of a `contact` type toward support (their reasons get that driver's hint).",
        "",
        "For example, a consumer social app whose `events` section in `dataset.json` (or the "
        "experiment spec) reads",
        "",
        "```json",
        json.dumps({"events": EXAMPLE_EVENTS}),
        "```",
        "",
        f"and whose kept types are {', '.join(f'`{t}`' for t in EXAMPLE_TYPES)} gets, among "
        f"others: {', '.join(f'`{n}`' for n in shown)}.",
        "",
    ]


def _md_cell(text: str) -> str:
    """The templates as code spans, alternatives separated by "or"."""
    return " or ".join(f"`{t}`" for t in text.split(" | ")).replace("|", "\\|")


def catalogue_markdown(drivers: Iterable[str] | None = None) -> str:
    rows = catalogue(drivers)
    lines = [
        *_preamble(),
        "Reasons read as the last column's template (`{value:days}` is the value in whole days, "
        "alternatives are separated by `|`; a `[low]` one is tried first when the value is "
        "below the median of the model's reference rows and still raises the risk, e.g. a "
        "recent warning event); *context* features describe the account and are "
        "shown as context, never as a reason to act on.",
        "",
        "| feature | driver | dtype | description | reads as |",
        "|---|---|---|---|---|",
        *(
            f"| `{r['name']}` | {r['driver']} | {r['dtype']} | {r['description']} | "
            f"{'*context:* ' if r['context'] else ''}{_md_cell(r['reason'])} |"
            for r in rows
        ),
    ]
    return "\n".join(lines) + "\n"
