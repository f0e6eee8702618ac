"""The input check batch, REST and Spark scoring share: the signature's columns with their
declared types, no duplicate keys, and errors that name the columns and example values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnlab.errors import ChurnlabError
from churnlab.vocab import KEYS


class ScoringError(ChurnlabError):
    """Bad model reference or input: the message names the model, table or columns."""


def check_feature_table(frame: pd.DataFrame, schema: Any, source: str = "features") -> pd.DataFrame:
    """The columns the model's signature asks for, with their declared types.

    ``schema``: the model's MLflow input schema. Raises :class:`ScoringError` naming missing columns, duplicate keys (up to 5 examples) and
    columns whose values cannot take the declared type (with example values). Categories unseen
    in training are allowed: the estimator treats them as missing."""
    names = schema.input_names()
    if frame.empty:
        raise ScoringError(f"{source}: no rows, nothing to score")
    if "mrr" in names and "mrr" not in frame.columns:
        # revenue is optional: without it no revenue at risk, tiers by probability alone
        frame = frame.assign(mrr=np.nan)
    _check_present(frame, names, source)
    keys = [k for k in KEYS if k in names]
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        examples = frame.loc[dup, keys].drop_duplicates().head(5)
        shown = examples.to_dict("records") if len(keys) > 1 else examples[keys[0]].tolist()
        raise ScoringError(
            f"{source}: {int(dup.sum())} rows share duplicate key(s) {keys}, e.g. {shown}"
        )
    changed, bad = {}, []
    for spec in schema.inputs:
        col = frame[spec.name]
        kind = str(getattr(spec.type, "name", spec.type))
        converted, offending = _convert(col, kind)
        if offending is not None:
            bad.append(f"{spec.name!r} ({kind}): {offending}")
        elif converted is not col:
            changed[spec.name] = converted
    if bad:
        raise ScoringError(f"{source}: column(s) with the wrong type: " + "; ".join(bad))
    # only the converted columns are replaced: rebuilding a wide frame column by column is slow
    out = frame[names].reset_index(drop=True)
    for name, col in changed.items():
        out[name] = col.to_numpy() if isinstance(col, pd.Series) else col
    problems = _bad_values(out, keys)
    if problems:
        raise ScoringError(f"{source}: " + "; ".join(problems))
    return out


def _check_present(frame: pd.DataFrame, names: list[str], source: str) -> None:
    """A ScoringError naming how many of ``names`` the frame lacks, and the first ten."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise ScoringError(
            f"{source}: missing {len(missing)} of the {len(names)} column(s) the model reads: "
            f"{shown}{more}"
        )


def _bad_values(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """Values of the right type that still cannot be scored: a missing key, an infinite
    number (missing is null, not infinity), a negative ``mrr``."""
    out = []
    for key in keys:
        missing = frame[key].isna()
        if missing.any():
            out.append(f"key {key!r} missing in {int(missing.sum())} row(s): {_rows(missing)}")
    for name in frame.columns:
        col = frame[name]
        if col.dtype.kind == "f":
            infinite = np.isinf(col.to_numpy())
            if infinite.any():
                out.append(
                    f"{name!r} infinite in {int(infinite.sum())} row(s): {_rows(infinite)} "
                    "(send null for a missing value)"
                )
    if "mrr" in frame.columns and pd.api.types.is_numeric_dtype(frame["mrr"]):
        negative = (frame["mrr"] < 0).to_numpy()
        if negative.any():
            out.append(f"'mrr' negative in {int(negative.sum())} row(s): {_rows(negative)}")
    return out


def _rows(mask) -> str:
    """Up to 5 row positions (0-based, in input order) where ``mask`` holds."""
    rows = np.flatnonzero(np.asarray(mask))
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"rows {rows[:5].tolist()}{more}"


_NUMERIC_TARGETS = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def _convert(col: pd.Series, kind: str) -> tuple[pd.Series | None, list | None]:
    """``col`` as the signature type ``kind``; or (None, example offending values)."""
    if kind in _NUMERIC_TARGETS:
        return _to_number(col, kind)
    if kind == "datetime":
        return _to_datetime(col)
    if kind == "boolean":
        return _to_boolean(col)
    if kind == "string":
        return _to_string(col)
    return col, None


def _to_number(col: pd.Series, kind: str) -> tuple[pd.Series | None, list | None]:
    """Floats or integers; ids (long/integer) must be whole and present."""
    if col.dtype == _NUMERIC_TARGETS[kind]:
        return col, None
    if kind == "double" and col.dtype.kind in "iu":  # counts: no pass over the values
        return col.astype("float64"), None
    if pd.api.types.is_bool_dtype(col):
        col = col.astype("float64")
    elif col.dtype == object or pd.api.types.is_string_dtype(col):
        col = col.mask(_missing_text(col))
    num = pd.to_numeric(col, errors="coerce")
    wrong = num.isna() & col.notna()
    if wrong.any():
        return None, col[wrong].astype(str).unique()[:3].tolist()
    if kind in ("long", "integer"):
        wrong = num.isna() | (num != np.floor(num))
        if wrong.any():
            shown = col[wrong].astype(object).where(col[wrong].notna(), None).unique()[:3]
            return None, [f"missing or fractional ids, e.g. {shown.tolist()}"]
        return num.astype("int64" if kind == "long" else "int32"), None
    return num.astype("float64" if kind == "double" else "float32"), None


def _missing_text(col: pd.Series) -> pd.Series:
    """Where a number column holds text that means missing: a blank of spaces (the Telco
    export's ``' '`` TotalCharges of new customers) or a marker such as ``NA`` or ``-``, as a
    customer table's numbers are read in training. A batch whose every value is one (a day's
    new sign-ups, one customer over REST) has no number for the reader to type the column by,
    so it reaches this check as text."""
    from churnlab.data.single_table import MISSING_MARKERS  # the data package is heavy

    text = col.astype("string").str.strip().str.casefold()
    return ((text == "") | text.isin(MISSING_MARKERS)).fillna(False).astype(bool)


def _to_datetime(col: pd.Series) -> tuple[pd.Series | None, list | None]:
    """Nanosecond timestamps, parsing text if needed; a time zone (``2025-06-30T00:00:00Z``,
    as JavaScript's ``toISOString`` writes, or ``+05:30``) is read in UTC, as data is."""
    if col.dtype == "datetime64[ns]":
        return col, None
    try:
        parsed = pd.to_datetime(col, utc=True)
        return parsed.dt.tz_convert(None).astype("datetime64[ns]"), None
    except (ValueError, TypeError):
        return None, col.astype(str).head(3).tolist()


def _to_boolean(col: pd.Series) -> tuple[pd.Series | None, list | None]:
    """Plain bools, or objects holding True/False/None when values are missing."""
    if pd.api.types.is_bool_dtype(col) and not col.isna().any():
        return col.astype(bool), None
    values = col.astype(object).where(col.notna(), None)
    wrong = ~values.map(lambda v: v is None or v in (True, False)).astype(bool)
    if wrong.any():
        return None, values[wrong].astype(str).unique()[:3].tolist()
    return values.map(lambda v: v if v is None else bool(v)), None


def _to_string(col: pd.Series) -> tuple[pd.Series | None, list | None]:
    """Strings kept as they are; anything else as ``str`` objects with None for missing."""
    if pd.api.types.is_string_dtype(col.dtype) and (
        col.dtype != object or pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty")
    ):
        return col, None
    return col.astype(object).where(col.notna(), None).map(
        lambda v: v if v is None else str(v)
    ), None
