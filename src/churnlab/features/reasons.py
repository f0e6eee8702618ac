"""Reason templates: how a feature's value reads as a reason a person can act on.

A template is a sentence with placeholders, kept apart from the catalogue description (which
says how a feature is computed)::

    "no activity for {value:days}"                          -> "no activity for 23 days"
    "{value:int} open bug ticket{value:s}"                   -> "2 open bug tickets"
    "active seats fell from {active_seat_share_2w_8w_ago*seats:int} to "
    "{active_seat_share_2w*seats:int} in 8 weeks"            -> "active seats fell from 8 to 3 in 8 weeks"

A placeholder names ``value`` (the feature's own value), another feature of the same row, or the
product of two (``a*b``), and a format: ``int``, ``num`` (whole numbers from 10 up, else two
significant digits), ``days`` (whole days), ``hours`` (hours up to 2 days, then days),
``minutes``, ``age`` (days, months or years), ``pct`` (a share as %), ``points`` (a change of a
share: "fell 20 percentage points"), ``change`` ("fell by 40" / "rose by 40"), ``ratio`` (a rate
ratio: "fell 60%" / "rose 40%"), ``trend`` (a relative weekly slope: "falling 5% a week"), ``x``
("1.8x"), ``ordinal`` (a percentile rank: "12th"), ``money``, ``text`` and ``s`` (a plural
"s" unless the value is 1). A template may start with a guard, ``[value>=365 & tenure_days<365]`` (every condition must
hold; any other leading ``[`` is text), and a feature
may have several: the first whose guard holds and whose fields are all known is used. A
missing value uses ``if_missing`` (e.g. "no NPS answer yet"), or gives no reason at all.
``if_low`` templates are tried first when the value is below what is typical for the model (the
median of its reference rows) and still raises the risk: a recent warning event reads
"'Cancel Flow Started' 5 days ago", not "no 'Cancel Flow Started' for 5 days".
Literal braces are doubled (``{{``), as in :meth:`str.format`; :func:`literal` escapes a name.

``context`` features (country, plan, tenure, days to renewal, ...) describe an account rather
than something a team can change: they are shown as context, never as reasons to act on.
"""

from __future__ import annotations

import datetime
import math
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DAYS_PER_MONTH = 365.25 / 12
_CONDITION = re.compile(r"^\s*(\w+)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
_GUARD = re.compile(r"^\[([^\[\]]+)\]\s*")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_FIELD = re.compile(r"^\w+(\*\w+)?$")


class TemplateError(ValueError):
    """A reason template that cannot be rendered (unknown format, bad field or guard)."""


def literal(text: str) -> str:
    """``text`` safe to paste into a template (braces doubled): event or column names."""
    return str(text).replace("{", "{{").replace("}", "}}")


def _plural(n: float, unit: str) -> str:
    return unit if n == 1 else f"{unit}s"


def fmt_num(v: float) -> str:
    """Whole numbers from 10 up (thousands separated), two significant digits below."""
    if abs(v) >= 10 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.2g}"


def fmt_days(v: float) -> str:
    n = round(v)
    return "less than a day" if n == 0 and v >= 0 else f"{n:,} {_plural(n, 'day')}"


def _hours(v: float) -> str:
    if v >= 48:
        return fmt_days(v / 24)
    n = round(v) if v >= 10 else round(v, 1)
    return f"{fmt_num(n)} {_plural(n, 'hour')}"


def _minutes(v: float) -> str:
    if v >= 120:
        return _hours(v / 60)
    n = round(v) if v >= 10 else round(v, 1)
    return f"{fmt_num(n)} {_plural(n, 'minute')}"


def _age(v: float) -> str:
    if v < 60:
        return fmt_days(v)
    if v < 730:
        n = round(v / DAYS_PER_MONTH)
        return f"{n} {_plural(n, 'month')}"
    n = round(v / 365.25, 1)
    return f"{fmt_num(n)} {_plural(n, 'year')}"


def _pct(v: float) -> str:
    n = round(v * 100)
    return "under 1%" if n == 0 and v > 0 else f"{n}%"


def _points(v: float) -> str:
    n = round(abs(v) * 100)
    if n == 0:
        return "held steady"
    return f"{'fell' if v < 0 else 'rose'} {n} percentage {_plural(n, 'point')}"


def _change(v: float) -> str:
    if round(v, 2) == 0:
        return "did not change"
    return f"{'fell' if v < 0 else 'rose'} by {fmt_num(abs(v))}"


def _ratio(v: float) -> str:
    if v >= 2:
        return f"rose {v:.1f}x"
    n = round((v - 1) * 100)
    if n == 0:
        return "held steady"
    return f"{'fell' if n < 0 else 'rose'} {abs(n)}%"


def _trend(v: float) -> str:
    n = round(v * 100)
    if n == 0:
        return "flat"
    return f"{'falling' if n < 0 else 'rising'} {abs(n)}% a week"


def _ordinal(v: float) -> str:
    n = round(v * 100) if v <= 1 else round(v)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _date(v: float) -> str:
    """Days since 1970-01-01 as the date (a customer table's date column)."""
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=math.floor(v))).isoformat()


FORMATS: dict[str, Callable[[Any], str]] = {
    "": lambda v: fmt_num(v) if isinstance(v, float) else str(v),
    "text": str,
    "int": lambda v: f"{round(v):,}",
    "num": fmt_num,
    "money": lambda v: f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}".rstrip("0").rstrip("."),
    "days": fmt_days,
    "hours": _hours,
    "minutes": _minutes,
    "age": _age,
    "pct": _pct,
    "points": _points,
    "change": _change,
    "ratio": _ratio,
    "trend": _trend,
    "x": lambda v: f"{v:.1f}x",
    "ordinal": _ordinal,
    "date": _date,
    "s": lambda v: "" if v == 1 else "s",
}
NUMERIC_FORMATS = set(FORMATS) - {"", "text"}


@dataclass(frozen=True)
class ReasonTemplate:
    """How one feature reads as a reason: ``templates`` tried in order, ``if_missing`` for a
    missing value ("" = no reason), ``context`` for account attributes shown as context,
    ``if_low`` tried first for a value below the typical one (a low value that raises risk)."""

    templates: tuple[str, ...] = ()
    if_missing: str = ""
    context: bool = False
    # a plain default: templates pickled before it existed read it from the class
    if_low: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        texts = (*self.templates, *self.if_low, *([self.if_missing] if self.if_missing else []))
        for text in texts:
            check_template(text)

    def fields(self) -> set[str]:
        """Every feature the templates read besides ``value``."""
        out: set[str] = set()
        for text in (*self.templates, *self.if_low, self.if_missing):
            guard, body = _split_guard(text)
            names = [c[0] for c in guard]
            for _, name, _, _ in string.Formatter().parse(body):
                names += (name or "").split("*")
            out |= {n for n in names if n and n != "value"}
        return out

    def render(self, value: Any, row: Mapping[str, Any], low: bool = False) -> str | None:
        """The first template that reads well for ``value`` and the row's other features
        (``low``: the value is below the typical one, ``if_low`` first); None when none does
        (the feature then gives no reason)."""
        if _missing(value):
            return _render(self.if_missing, value, row) if self.if_missing else None
        for text in (*(self.if_low if low else ()), *self.templates):
            out = _render(text, value, row)
            if out is not None:
                return out
        return None


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(v != v)  # NaN, pd.NA (raises), NaT
    except TypeError:
        return True


def _split_guard(text: str) -> tuple[list[tuple[str, str, float]], str]:
    """``[a>=1 & b<365] body`` -> the conditions (all must hold) and the body; a leading
    ``[...]`` that is not a list of conditions is text."""
    m = _GUARD.match(text)
    if not m:
        return [], text
    conditions = [_CONDITION.match(part) for part in m[1].split("&")]
    if not all(conditions):
        return [], text
    return [(c[1], c[2], float(c[3])) for c in conditions], text[m.end() :]


def check_template(text: str) -> None:
    """Raise :class:`TemplateError` naming what is wrong with ``text``."""
    _, body = _split_guard(text)
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise TemplateError(f"reason template {text!r}: {exc} (double literal braces)") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _FIELD.match(name) or conversion:
            raise TemplateError(
                f"reason template {text!r}: field {{{name}}} must be value, a feature name or "
                "a product of two (a*b)"
            )
        if spec not in FORMATS:
            raise TemplateError(
                f"reason template {text!r}: unknown format {spec!r}; expected one of "
                f"{sorted(f for f in FORMATS if f)}"
            )


def _lookup(name: str, value: Any, row: Mapping[str, Any]) -> Any:
    out = 1.0
    for part in name.split("*"):
        v = value if part == "value" else row.get(part)
        if _missing(v):
            return None
        if "*" not in name:
            return v
        out *= float(v)
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _render(text: str, value: Any, row: Mapping[str, Any]) -> str | None:
    guard, body = _split_guard(text)
    for name, op, bound in guard:
        v = _number(_lookup(name, value, row))
        if v is None or not _OPS[op](v, bound):
            return None
    out = []
    for lit, name, spec, _ in string.Formatter().parse(body):
        out.append(lit)
        if name is None:
            continue
        v = _lookup(name, value, row)
        if v is None:
            return None
        if spec in NUMERIC_FORMATS or (spec == "" and not isinstance(v, str)):
            v = _number(v)
            if v is None:
                return None
        out.append(FORMATS[spec](v))
    return "".join(out)


def column_template(
    name: str, categorical: bool, context: bool = False, date: bool = False
) -> ReasonTemplate:
    """A column known only by its name (a customer-table column, a feature without a
    template): "TotalCharges 494", "Contract: Month-to-month", "Last Login 2024-03-15" (a
    ``date`` column, held as days since 1970-01-01)."""
    fmt = "{value:text}" if categorical else "{value:date}" if date else "{value:num}"
    sep = ": " if categorical else " "
    return ReasonTemplate((f"{literal(name)}{sep}{fmt}",), context=context)
