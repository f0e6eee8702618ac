"""The typed contract between training and scoring: which features a model was trained on and
how to build them again.

Training writes a :class:`FeatureSpec` into the model; batch, REST and Spark scoring replay it
(:meth:`FeatureSpec.build`) with the same builders and parameters, so a scoring job can never
build a feature differently from training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from churnlab.config import PopulationSpec
from churnlab.data.vocabulary import Vocabulary
from churnlab.vocab import KEYS

EVERYONE = PopulationSpec()  # the population of a spec without a population section


@dataclass(frozen=True)
class BuilderRef:
    """A registered builder by name and the parameters it ran with."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureSpec:
    """``kind="events"``: built at cutoffs by ``builders`` from the five-table model;
    ``kind="customers"``: the columns of a single customer table (``roles``: id, label,
    duration and mrr column names). ``features`` are the model's input columns, in order.
    ``vocabulary`` is the event vocabulary fitted on the training rows: scoring builds the
    same per-type columns from it (a type it lacks is ignored, a kept type absent gives 0).
    ``population`` is the spec's population: scoring scores only the accounts inside it."""

    kind: Literal["events", "customers"]
    features: tuple[str, ...]
    builders: tuple[BuilderRef, ...] = ()
    cutoffs: str | tuple[str, ...] | None = None
    horizon_days: int | None = None
    lead_days: int = 0
    engine: str = "duckdb"
    roles: dict[str, str | None] = field(default_factory=dict)
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    # a plain default (not a factory): specs pickled before it existed read it from the class
    population: PopulationSpec = EVERYONE
    # a customer table's date columns (features held as days since 1970-01-01): scoring reads
    # them from ISO text too, and those written 03/04/2024 in the order training read them
    # ((column, "day_first" | "month_first") pairs)
    dates: tuple[str, ...] = ()
    date_orders: tuple[tuple[str, str], ...] = ()
    # the text encoding a customer table was trained from (``data.encoding``): scoring falls
    # back to it for a batch that is not UTF-8, so the file trained on scores unchanged
    encoding: str = "utf-8"
    # the missing-value codes a customer table was trained with (``data.na_values``): scoring
    # reads them as missing too
    na_values: tuple[str, ...] = ()

    @property
    def keys(self) -> list[str]:
        """The key columns of a feature table for this spec."""
        return list(KEYS) if self.kind == "events" else ["account_id"]

    def input_columns(self) -> list[str]:
        """Keys, ``mrr`` and the features: the columns a scoring input must have."""
        return [*self.keys, "mrr", *self.features]

    def builder_params(self) -> dict[str, dict[str, Any]]:
        """Builder name -> the parameters it ran with."""
        return {b.name: dict(b.params) for b in self.builders}

    def missing_builders(self) -> list[str]:
        """Builders this spec needs that are not registered in this process."""
        from churnlab.features.registry import builders

        known = {b.name for b in builders()}
        return [b.name for b in self.builders if b.name not in known]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (logged with each run)."""
        out = asdict(self)
        out["features"] = list(self.features)
        out["builders"] = [{"name": b.name, "params": dict(b.params)} for b in self.builders]
        out["vocabulary"] = self.vocabulary.to_dict()
        out["population"] = self.population.model_dump(mode="json")
        if self.kind == "customers":
            return {
                "kind": self.kind,
                **self.roles,
                "features": out["features"],
                "population": out["population"],
                "dates": list(self.dates),
                "date_orders": dict(self.date_orders),
                "encoding": self.encoding,
                "na_values": list(self.na_values),
            }
        out.pop("roles")
        out.pop("dates")
        out.pop("date_orders")
        out.pop("encoding")
        out.pop("na_values")
        out["cutoffs"] = list(self.cutoffs) if isinstance(self.cutoffs, tuple) else self.cutoffs
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FeatureSpec:
        """The inverse of :meth:`to_dict` (and the untyped dict of models logged before)."""
        raw = dict(raw)
        kind = raw.pop("kind")
        features = tuple(raw.pop("features"))
        population = PopulationSpec.model_validate(raw.get("population") or {})
        if kind == "customers":
            roles = {k: raw.get(k) for k in ("id", "label", "duration", "mrr")}
            return cls(
                kind=kind,
                features=features,
                roles=roles,
                population=population,
                dates=tuple(raw.get("dates") or ()),
                date_orders=tuple((raw.get("date_orders") or {}).items()),
                encoding=raw.get("encoding") or "utf-8",
                na_values=tuple(raw.get("na_values") or ()),
            )
        cutoffs = raw.get("cutoffs")
        return cls(
            kind=kind,
            features=features,
            builders=tuple(
                BuilderRef(b["name"], dict(b.get("params") or {})) for b in raw.get("builders", ())
            ),
            cutoffs=tuple(cutoffs) if isinstance(cutoffs, list) else cutoffs,
            horizon_days=raw.get("horizon_days"),
            lead_days=raw.get("lead_days", 0),
            engine=raw.get("engine", "duckdb"),
            vocabulary=Vocabulary.from_dict(raw.get("vocabulary")),
            population=population,
        )
