"""Reasons a customer-success team can act on: per account, the features that raise its risk
the most, in plain words, each with its driver and a "what to do" hint.

Each feature reads through its reason template (:mod:`churnlab.features.reasons`; "no login for
23 days", "2 open bug tickets"), never through its catalogue description. A feature is a reason
only when its contribution reaches ``min_contribution`` and only for accounts in the tiers the
settings name (``ReasonsSpec``: by default high and medium, contribution >= 0.1 on the
log-odds scale). Context features (country, plan, tenure, days to renewal) are not reasons to
act on: those that raise the risk are listed apart, in ``context``.

Only risk-raising contributions become reasons, so where a feature's low values can be what
raises the risk, its ``if_low`` templates read a value below the model's ``typical`` one (a
recent "Cancel Flow Started" reads "'Cancel Flow Started' 5 days ago", while a long absence of
a good habit still reads "no 'like' for 23 days").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from churnlab.config import ReasonsSpec
from churnlab.features.reasons import ReasonTemplate, column_template

CONTEXT_ITEMS = 2  # context features shown per account


class _Row(Mapping):
    """One row of a frame's columns, read lazily by the templates."""

    def __init__(self, columns: dict[str, np.ndarray], row: int):
        self._columns, self._row = columns, row

    def __getitem__(self, name: str) -> Any:
        return self._columns[name][self._row]

    def __iter__(self):
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def _template(feature: str, templates: Mapping[str, ReasonTemplate], value: Any) -> ReasonTemplate:
    known = templates.get(feature)
    if known is not None:
        return known
    numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    return column_template(feature, categorical=not numeric)


def reason_text(
    feature: str,
    value: Any,
    templates: Mapping[str, ReasonTemplate] | None = None,
    row: Mapping[str, Any] | None = None,
) -> str | None:
    """``feature`` at ``value`` in words (None when its template gives no reason for it)."""
    return _template(feature, templates or {}, value).render(value, row or {})


def _pick(
    row: _Row,
    names: list[str],
    order: np.ndarray,
    strong: np.ndarray,
    context: np.ndarray,
    templates: Mapping[str, ReasonTemplate],
    k: int,
    typical: Mapping[str, float],
) -> tuple[list[tuple[int, str]], list[str]]:
    """One row's reasons (column index, text) and context texts, strongest first; a feature
    whose template gives no reason for its value (a missing value, a false flag) is passed."""
    picked: list[tuple[int, str]] = []
    said: list[str] = []
    for j in order:
        if not np.isfinite(strong[j]) or (len(picked) >= k and len(said) >= CONTEXT_ITEMS):
            break
        full = len(said) >= CONTEXT_ITEMS if context[j] else len(picked) >= k
        if full:
            continue
        value = row.get(names[j])
        text = _template(names[j], templates, value).render(
            value, row, low=_below(value, typical.get(names[j]))
        )
        if text is None:
            continue
        if context[j]:
            said.append(text)
        else:
            picked.append((j, text))
    return picked, said


def _below(value: Any, typical: float | None) -> bool:
    """Whether ``value`` is a number below ``typical`` (False when either is unknown)."""
    if typical is None or isinstance(value, bool | str):
        return False
    try:
        return bool(float(value) < float(typical))
    except (TypeError, ValueError):
        return False


def top_reasons(
    values: pd.DataFrame,
    data: pd.DataFrame,
    templates: Mapping[str, ReasonTemplate],
    drivers: Mapping[str, str],
    k: int = 3,
    *,
    settings: ReasonsSpec | None = None,
    tiers: np.ndarray | None = None,
    typical: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Per row of ``values`` (contributions) and ``data`` (feature values): ``reason_i``,
    ``feature_i``, ``driver_i``, ``contribution_i`` and ``hint_i`` for the ``k`` largest
    contributions at or above ``settings.min_contribution`` among features that are not
    context, and ``context``: up to two risk-raising context features in words. Rows whose
    ``tiers`` are not in ``settings.tiers`` (and rows where nothing qualifies) get none.
    ``typical``: feature -> the value below which it reads through its ``if_low`` templates
    (:func:`churnlab.evaluation.profiles.typical_values` of the model's reference)."""
    settings = settings or ReasonsSpec()
    hints = settings.hint_map()
    names = list(values.columns)
    v = values.to_numpy(dtype=float)
    n = len(v)
    context = np.array([_template(f, templates, None).context for f in names], dtype=bool)
    strong = np.where(np.isfinite(v) & (v >= settings.min_contribution) & (v > 0), v, -np.inf)
    if tiers is not None:
        strong[~np.isin(np.asarray(tiers), settings.tiers)] = -np.inf
    order = np.argsort(-strong, axis=1, kind="stable")
    columns = {c: data[c].to_numpy(dtype=object) for c in data.columns}
    out: dict[str, list] = {
        f"{key}_{i + 1}": [None] * n
        for i in range(k)
        for key in ("reason", "feature", "driver", "contribution", "hint")
    }
    out["context"] = [None] * n
    for r in np.flatnonzero(np.isfinite(strong).any(axis=1)):
        picked, said = _pick(
            _Row(columns, r), names, order[r], strong[r], context, templates, k, typical or {}
        )
        for i, (j, text) in enumerate(picked, start=1):
            driver = drivers.get(names[j], "other")
            out[f"reason_{i}"][r] = text
            out[f"feature_{i}"][r] = names[j]
            out[f"driver_{i}"][r] = driver
            out[f"contribution_{i}"][r] = float(v[r, j])
            out[f"hint_{i}"][r] = hints.get(driver) or None
        out["context"][r] = "; ".join(said) or None
    frame = pd.DataFrame(out, index=values.index)
    for i in range(k):
        frame[f"contribution_{i + 1}"] = frame[f"contribution_{i + 1}"].astype(float)
    return frame
