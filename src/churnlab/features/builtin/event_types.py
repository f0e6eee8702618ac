"""Engagement per event type: one set of features for every type of the fitted vocabulary.

The types are the dataset's own (``churnlab validate`` lists them), fitted on the training rows
(:mod:`churnlab.data.vocabulary`). Column names come from the type (:func:`slug`): case-folded,
accents dropped from Latin letters, letters and digits of every script kept, every other run
of characters turned into ``_``, at most 32 characters, made unique with a numeric suffix. All
of them read the activity cube (:mod:`churnlab.features.cube`).

Formulas (``n_t(w)``: events of type ``t`` in the last ``w`` days):

* trend: ``(n_t(30) + 1) / (n_t(31..90) / 2 + 1)``, the rate of the last 30 days against the
  rate of the 60 before, each smoothed by one event so that zero activity gives 1 (no change)
  rather than 0/0; null before 90 days of tenure;
* share: ``n_t(30) / events(30)``, null without any event in the window;
* per active day / per active user: ``n_t(30)`` over the days with any event / the distinct
  users active in the window, 0 when there are none;
* ratios: ``n_a(30) / (n_b(30) + 1)`` for each ``ratios`` pair of the mapping, for every
  kept type per core action (the ``core_action`` role, where named) and for every kept type
  per session (but the ``session_start`` types); the +1 keeps the ratio finite and 0 when
  neither happened.
"""

from __future__ import annotations

from dataclasses import replace

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary
from churnlab.data.vocabulary import spelling_key
from churnlab.features.builtin.common import KEYS, WINDOWS, type_windows, with_tenure
from churnlab.features.cube import (
    RECENCY_DAYS,
    account_windows,
    only,
    session_windows,
    user_windows,
)
from churnlab.features.observations import days_between
from churnlab.features.reasons import literal
from churnlab.features.registry import Feature, feature_builder, static_names

MAX_NAME = 32
TEMPLATE = "<type>"  # the catalogue's stand-in for each kept event type
RECENCY_CAP = float(RECENCY_DAYS)


def slug(name: str) -> str:
    """A column-name stem for an event type: ``"Ad View (video)"`` -> ``"ad_view_video"``,
    ``"Vidéo vue"`` -> ``"video_vue"``, ``"Straße"`` -> ``"strasse"``, ``"Просмотр"`` ->
    ``"просмотр"``, ``"再生"`` -> ``"再生"`` (an event log in any language keeps readable
    names, never a row of underscores)."""
    s = spelling_key(name)[:MAX_NAME].strip("_")
    if not s:
        return "type"
    return f"t_{s}"[:MAX_NAME] if s[0].isdigit() else s


def type_slugs(types: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Event type -> a unique stem, in vocabulary order (a later clash gets ``_2``, ``_3``...)."""
    out: dict[str, str] = {}
    for t in types:
        base = t if t == TEMPLATE else slug(t)
        s, i = base, 2
        while s in out.values():
            s = f"{base[: MAX_NAME - len(str(i)) - 1]}_{i}"
            i += 1
        out[t] = s
    return out


def _unclash(features: list[Feature]) -> list[Feature]:
    """A generated name equal to a built-in feature's gets ``_by_type`` (e.g. a type named
    ``last_activity`` would otherwise make ``days_since_last_activity``)."""
    taken = static_names()
    return [replace(f, name=f"{f.name}_by_type") if f.name in taken else f for f in features]


# the driver a role's per-type features count toward (other types: the builder's); a recent
# failed payment is a billing matter, whichever builder counted it
ROLE_DRIVERS = {"payment_failure": "billing", "contact": "support"}


def role_driver(vocabulary: Vocabulary, event_type: str) -> str | None:
    """The driver of ``event_type``'s per-type features where its role has one, else None."""
    for role, driver in ROLE_DRIVERS.items():
        if event_type in vocabulary.role(role):
            return driver
    return None


REASON_NAME = 40  # characters of an event type a reason quotes (a longer one is cut with "…")


def quoted(event_type: str) -> str:
    """An event type as reasons name it: in quotes, at most :data:`REASON_NAME` characters,
    braces escaped for the template."""
    text = str(event_type)
    if len(text) > REASON_NAME:
        text = text[: REASON_NAME - 1].rstrip() + "…"
    return f"'{literal(text)}'"


def _activity_features(vocabulary: Vocabulary) -> list[Feature]:
    out = []
    for t, s in type_slugs(vocabulary.types).items():
        q = quoted(t)
        driver = role_driver(vocabulary, t)
        out += [
            *(
                Feature(
                    f"n_{s}_{w}d",
                    f"{t} events in the last {w} days",
                    "int",
                    0,
                    reason=f"{{value:int}} {q} event{{value:s}} in the last {w} days",
                    window=w,
                    driver=driver,
                )
                for w in WINDOWS
            ),
            Feature(
                f"{s}_per_active_day_30d",
                f"{t} events per active day in the last 30 days",
                "float",
                0.0,
                reason=f"{{value:num}} {q} per active day in the last 30 days",
                driver=driver,
            ),
            Feature(
                f"{s}_trend_30_60",
                f"{t} events in the last 30 days against the prior 60 (smoothed rate ratio)",
                "float",
                reason=f"{q} {{value:ratio}} in the last 30 days vs the 60 before",
                window=90,
                driver=driver,
            ),
            Feature(
                f"{s}_share_30d",
                f"share of the last 30 days' events that are {t}",
                "float",
                reason=f"{q} is {{value:pct}} of the last 30 days' events",
                if_missing="no events in the last 30 days",
                driver=driver,
            ),
            Feature(
                f"days_since_{s}",
                f"days since the last {t} event, {RECENCY_CAP:.0f} if none in a year",
                "float",
                RECENCY_CAP,
                reason=(
                    f"[value>={RECENCY_CAP:.0f} & tenure_days<{RECENCY_CAP:.0f}] no {q} since "
                    "sign-up",
                    f"[value>={RECENCY_CAP:.0f}] no {q} in the last year",
                    f"[value>=2] no {q} for {{value:days}}",
                    f"last {q} {{value:days}} ago",
                ),
                # a recent event that raises the risk (a cancel flow, a failed payment) is news,
                # not an absence
                if_low=f"[value<{RECENCY_CAP:.0f}] {q} {{value:days}} ago",
                driver=driver,
            ),
        ]
    return _unclash(out)


SESSION = "<session>"  # the denominator of per-session ratios (no event type has this name)


@feature_builder(
    "event_type_activity",
    driver="engagement",
    description="per kept event type: counts, rate per active day, trend, share and recency",
    requires=("events",),
    expand=_activity_features,
    features=_activity_features(Vocabulary(types=(TEMPLATE,))),
)
def event_type_activity(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    slugs = type_slugs(vocabulary.types)
    tw = type_windows(ds, keys)
    aggs = {"_events_30d": tw.n_30d.sum()}
    for t, s in slugs.items():  # one row per key and type -> one column per type
        is_t = tw.event_type == t
        aggs.update({f"n_{s}_{w}d": only(is_t, tw[f"n_{w}d"]).max() for w in WINDOWS})
        aggs[f"_last_{s}"] = only(is_t, tw.last_ts).max()
    g = tw.group_by(KEYS).agg(**aggs)
    aw = account_windows(ds, keys)
    active = aw.select(*KEYS, _active_days_30d="active_days_30d")
    t = with_tenure(ds, keys).left_join(g, KEYS).select(*keys.columns, "tenure_days", *aggs)
    t = t.left_join(active, KEYS).select(*t.columns, "_active_days_30d")
    total = t._events_30d.fill_null(0).cast("float64")
    days = t._active_days_30d.fill_null(0).cast("float64")
    cols = {}
    for s in slugs.values():
        n30 = t[f"n_{s}_30d"].fill_null(0).cast("float64")
        prior = t[f"n_{s}_90d"].fill_null(0).cast("float64") - n30
        cols.update({f"n_{s}_{w}d": t[f"n_{s}_{w}d"].fill_null(0) for w in WINDOWS})
        cols[f"{s}_per_active_day_30d"] = ibis.ifelse(days > 0, n30 / days, 0.0)
        cols[f"{s}_trend_30_60"] = ibis.ifelse(
            t.tenure_days >= 90, (n30 + 1) / (prior / 2 + 1), ibis.null("float64")
        )
        cols[f"{s}_share_30d"] = ibis.ifelse(total > 0, n30 / total, ibis.null("float64"))
        cols[f"days_since_{s}"] = days_between(t.cutoff, t[f"_last_{s}"]).fill_null(RECENCY_CAP)
    final = [f.name for f in _activity_features(vocabulary)]
    names = dict(zip(_raw_names(vocabulary), final, strict=True))
    return t.select(*KEYS, **{names[k]: v for k, v in cols.items()})


def _per_type_30d(ds: Dataset, keys: ir.Table, types: list[str]) -> ir.Table:
    """Keys with any event of ``types`` in the last 30 days: ``_n{i}``, the events of
    ``types[i]`` (null when none)."""
    tw = type_windows(ds, keys)
    tw = tw.filter(tw.event_type.isin(types) & (tw.n_30d > 0))
    return tw.group_by(KEYS).agg(
        **{f"_n{i}": only(tw.event_type == t, tw.n_30d).max() for i, t in enumerate(types)}
    )


def _raw_names(vocabulary: Vocabulary) -> list[str]:
    """The names before :func:`_unclash`, in the same order as :func:`_activity_features`."""
    out = []
    for s in type_slugs(vocabulary.types).values():
        out += [f"n_{s}_{w}d" for w in WINDOWS]
        out += [f"{s}_per_active_day_30d", f"{s}_trend_30_60", f"{s}_share_30d"]
        out.append(f"days_since_{s}")
    return out


def _per_user_features(vocabulary: Vocabulary) -> list[Feature]:
    return _unclash(
        [
            Feature(
                f"{s}_per_active_user_30d",
                f"{t} events per active user in the last 30 days",
                "float",
                0.0,
                reason=f"{{value:num}} {quoted(t)} per active user in the last 30 days",
                driver=role_driver(vocabulary, t),
            )
            for t, s in type_slugs(vocabulary.types).items()
        ]
    )


@feature_builder(
    "event_type_per_user",
    driver="team",
    description="per kept event type: events per active user in the last 30 days",
    requires=("events.user_id",),
    expand=_per_user_features,
    features=_per_user_features(Vocabulary(types=(TEMPLATE,))),
)
def event_type_per_user(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    slugs = type_slugs(vocabulary.types)
    counts = _per_type_30d(ds, keys, list(slugs))
    users = user_windows(ds, keys).select(*KEYS, _users="users_30d")
    j = counts.join(users, KEYS)
    n_users = j._users.cast("float64")
    out = [f.name for f in _per_user_features(vocabulary)]
    return j.select(
        *KEYS,
        **{
            name: ibis.ifelse(n_users > 0, j[f"_n{i}"].fill_null(0) / n_users, 0.0)
            for i, name in enumerate(out)
        },
    )


def _ratio_pairs(vocabulary: Vocabulary) -> list[tuple[tuple[str, ...], tuple[str, ...], str]]:
    """(numerator types, denominator types, column name): the mapping's pairs, every kept type
    that is not a core action per core action, and every kept type that does not start
    sessions per session."""
    slugs = type_slugs(vocabulary.types)
    out = [((a,), (b,), f"{slug(a)}_per_{slug(b)}_30d") for a, b in vocabulary.ratios]
    core = vocabulary.role("core_action")
    if core:
        out += [((t,), core, f"{s}_per_core_action_30d") for t, s in slugs.items() if t not in core]
    starts = vocabulary.role("session_start")
    out += [((t,), (SESSION,), f"{s}_per_session_30d") for t, s in slugs.items() if t not in starts]
    seen: set[str] = set()
    unique = []
    for num, den, name in out:
        if name not in seen:
            seen.add(name)
            unique.append((num, den, name))
    return unique


def _ratio_features(vocabulary: Vocabulary) -> list[Feature]:
    core = vocabulary.role("core_action")
    return _unclash(
        [
            Feature(
                name,
                f"{' or '.join(num)} events per "
                + ("session" if den == (SESSION,) else f"{' or '.join(den)} event")
                + " in the last 30 days (denominator + 1)",
                "float",
                0.0,
                reason=f"{{value:num}} {' or '.join(quoted(t) for t in num)} per "
                + _per(den, core)
                + " in the last 30 days",
                driver=role_driver(vocabulary, num[0]) if len(num) == 1 else None,
            )
            for num, den, name in _ratio_pairs(vocabulary)
        ]
    )


def _per(den: tuple[str, ...], core: tuple[str, ...]) -> str:
    if den == (SESSION,):
        return "session"
    if len(den) > 1 and tuple(den) == tuple(core):
        return "core action"
    return " or ".join(quoted(t) for t in den)


@feature_builder(
    "event_type_ratios",
    driver="engagement",
    description="ratios of event types over the last 30 days: the mapping's pairs, and every kept "
    "type per core action and per session",
    requires=("events",),
    expand=_ratio_features,
    features=[
        Feature(
            "<a>_per_<b>_30d",
            "a events per b event in the last 30 days (denominator + 1), for each ratios pair",
            "float",
            0.0,
            reason="{value:num} '<a>' per '<b>' in the last 30 days",
        ),
        Feature(
            "<type>_per_core_action_30d",
            "<type> events per core action in the last 30 days (denominator + 1)",
            "float",
            0.0,
            reason="{value:num} '<type>' per core action in the last 30 days",
        ),
        Feature(
            "<type>_per_session_30d",
            "<type> events per session in the last 30 days (denominator + 1)",
            "float",
            0.0,
            reason="{value:num} '<type>' per session in the last 30 days",
        ),
    ],
)
def event_type_ratios(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    pairs = _ratio_pairs(vocabulary)
    wanted = sorted({t for num, den, _ in pairs for t in (*num, *den)} - {SESSION})
    g = _per_type_30d(ds, keys, wanted)
    if any(den == (SESSION,) for _, den, _ in pairs):
        n_sessions = session_windows(ds, keys, vocabulary).select(*KEYS, _sessions="sessions_30d")
        g = g.left_join(n_sessions, KEYS).select(*g.columns, "_sessions")
    col = {t: g[f"_n{i}"].fill_null(0).cast("float64") for i, t in enumerate(wanted)}
    if "_sessions" in g.columns:
        col[SESSION] = g._sessions.fill_null(0).cast("float64")
    names = [f.name for f in _ratio_features(vocabulary)]
    return g.select(
        *KEYS,
        **{
            name: sum(col[t] for t in num) / (sum(col[t] for t in den) + 1)
            for name, (num, den, _) in zip(names, pairs, strict=True)
        },
    )
