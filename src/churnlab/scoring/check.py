"""The input check batch, REST and Spark scoring share: the signature's columns with their
declared types, no duplicate keys, and errors that name the columns and example values."""

from __future__ import annotations

import re
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
    if len(frame) == 0:
        raise ScoringError(f"{source}: no rows, nothing to score")
    if "mrr" in names and "mrr" not in frame.columns:
        # revenue is optional: without it no revenue at risk, tiers by probability alone
        frame = frame.assign(mrr=np.nan)
    _check_present(frame, names, source)
    _check_scalars(frame, names, source)
    keys = [k for k in KEYS if k in names]
    changed = _convert_columns(frame, schema, source)
    # only the converted columns are replaced: rebuilding a wide frame column by column is slow
    out = frame[names].reset_index(drop=True)
    for name, col in changed.items():
        out[name] = col.to_numpy() if isinstance(col, pd.Series) else col
    # on the converted keys: 7 and "7", or one time with and without a "Z", are one key
    dup = out.duplicated(keys, keep=False)
    if dup.any():
        examples = out.loc[dup, keys].drop_duplicates().head(5)
        shown = examples.to_dict("records") if len(keys) > 1 else examples[keys[0]].tolist()
        raise ScoringError(
            f"{source}: {int(dup.sum())} rows share duplicate key(s) {keys}, e.g. {shown}"
        )
    problems = _bad_values(out, keys)
    if problems:
        raise ScoringError(f"{source}: " + "; ".join(problems))
    return out


def _convert_columns(frame: pd.DataFrame, schema: Any, source: str) -> dict[str, Any]:
    """The signature's columns that needed converting, converted; or a ScoringError naming
    every column whose values cannot take their declared type."""
    changed, bad, other = {}, [], []
    for spec in schema.inputs:
        col = frame[spec.name]
        kind = str(getattr(spec.type, "name", spec.type))
        converted, offending = _convert(col, kind)
        if isinstance(offending, str):  # a right-typed value that is still wrong, said in full
            other.append(f"{spec.name!r} ({kind}): {offending}")
        elif offending is not None:
            bad.append(f"{spec.name!r} ({kind}): {offending}")
        elif converted is not col:
            changed[spec.name] = converted
    if bad or other:
        said = ["column(s) with the wrong type: " + "; ".join(bad)] if bad else []
        raise ScoringError(f"{source}: " + "; ".join(said + other))
    return changed


def _check_scalars(frame: pd.DataFrame, names: list[str], source: str) -> None:
    """A ScoringError naming the columns where a row holds a list or an object (a nested
    JSON value) rather than one value, with the rows: such a value is no id, date or number."""
    bad = []
    for name in names:
        col = frame[name]
        if col.dtype != object:
            continue
        nested = col.map(lambda v: isinstance(v, (list, dict, tuple, set))).to_numpy(dtype=bool)
        if nested.any():
            example = col[nested].iloc[0]
            bad.append(f"{name!r} in {int(nested.sum())} row(s): {_rows(nested)}, e.g. {example!r}")
    if bad:
        raise ScoringError(f"{source}: a list or object where one value belongs: " + "; ".join(bad))


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
    if kind in ("long", "integer") and (refused_or_text := _ids_beyond_integers(col, kind)):
        return refused_or_text
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


_INT_BOUNDS = {"long": np.iinfo(np.int64), "integer": np.iinfo(np.int32)}
_PLAIN_WHOLE = re.compile(r"-?(0|[1-9][0-9]*)")


def _is_bool(col: pd.Series) -> np.ndarray:
    """Where ``col`` holds true or false (JSON ``true`` is not account 1)."""
    if pd.api.types.is_bool_dtype(col):
        return col.notna().to_numpy(dtype=bool)
    if col.dtype != object:
        return np.zeros(len(col), dtype=bool)
    return col.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)


def _ids_beyond_integers(col: pd.Series, kind: str) -> tuple[pd.Series | None, Any] | None:
    """For an integer (id) column: true/false refused (JSON ``true`` is not account 1), or
    the ids as text when some are too wide for ``kind``; None when neither applies."""
    flags = _is_bool(col)
    if flags.any():
        return None, f"true/false is not a whole number: {_rows(flags)}"
    return _wide_whole_numbers(col, kind)


def _whole(value: Any) -> int | None:
    """``value`` as an int when it is one or is text writing one plainly (no leading zeros or
    plus sign, as the dataset reader reads integer ids), else None."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, str) and _PLAIN_WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _wide_whole_numbers(col: pd.Series, kind: str) -> tuple[pd.Series | None, Any] | None:
    """Whole numbers too wide for the declared integer type (22-digit account numbers, JSON's
    ``2**70``) would wrap around on the cast, so two accounts could share one key: the column
    is kept as text then, each id exactly as written, as the dataset reader keeps ids that are
    not all 64-bit integers. None when every whole number fits."""
    if col.dtype.kind != "u" and col.dtype != object and not pd.api.types.is_string_dtype(col):
        return None
    bounds = _INT_BOUNDS[kind]
    values = col.astype(object)
    whole = values.map(_whole)
    wide = whole.map(lambda v: v is not None and not bounds.min <= v <= bounds.max)
    if not wide.to_numpy(dtype=bool).any():
        return None
    missing = values.isna().to_numpy(dtype=bool)
    other = whole.isna().to_numpy(dtype=bool) & ~missing
    if other.any():
        shown = values[other].astype(str).unique()[:3].tolist()
        return None, (
            "ids too wide for a 64-bit integer (kept as text) beside values that are not "
            f"whole numbers: {_rows(other)}, e.g. {shown}"
        )
    text = [
        None if gone else (v.strip() if isinstance(v, str) else str(int(v)))
        for v, gone in zip(values, missing, strict=True)
    ]
    return pd.Series(text, index=col.index, dtype=object), None


def _missing_text(col: pd.Series) -> pd.Series:
    """Where a number column holds text that means missing: a blank of spaces (the Telco
    export's ``' '`` TotalCharges of new customers) or a marker such as ``NA`` or ``-``, as a
    customer table's numbers are read in training. A batch whose every value is one (a day's
    new sign-ups, one customer over REST) has no number for the reader to type the column by,
    so it reaches this check as text."""
    from churnlab.data.single_table import MISSING_MARKERS  # the data package is heavy

    text = col.astype("string").str.strip().str.casefold()
    return ((text == "") | text.isin(MISSING_MARKERS)).fillna(False).astype(bool)


def _to_datetime(col: pd.Series) -> tuple[pd.Series | None, Any]:
    """Nanosecond timestamps, parsing text if needed; a time zone (``2025-06-30T00:00:00Z``,
    as JavaScript's ``toISOString`` writes, or ``+05:30``) is read in UTC, as data is. An
    integer is a date in ISO 8601's basic format, ``20250301``, as the dataset reader reads
    one (never nanoseconds since 1970); other numbers and true/false are refused."""
    if col.dtype == "datetime64[ns]":
        return col, None
    values = col.astype(object)
    numbers = values.map(
        lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
    ).to_numpy(dtype=bool) & values.notna().to_numpy(dtype=bool)
    flags = _is_bool(col)
    if flags.any():
        return None, f"true/false is not a date: {_rows(flags)}"
    if numbers.any():
        basic = values[numbers].map(lambda v: f"{int(v)}" if float(v).is_integer() else "")
        plain = basic.str.fullmatch(r"[12][0-9]{7}").to_numpy(dtype=bool)
        if not plain.all():
            shown = values[numbers][~plain].astype(str).unique()[:3].tolist()
            where = _rows(_positions(numbers, plain))
            return None, (
                f"a number is not a date unless it is one written yyyymmdd (20250301): "
                f"{where}, e.g. {shown}; write ISO 8601 such as 2025-03-01"
            )
        values = values.copy()
        values[numbers] = basic.map(lambda t: f"{t[:4]}-{t[4:6]}-{t[6:]}")
    try:
        parsed = pd.to_datetime(values, utc=True)
        return parsed.dt.tz_convert(None).astype("datetime64[ns]"), None
    except (ValueError, TypeError, OverflowError):
        return None, _why_not_dates(values)


def _positions(numbers: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """A mask over all rows of the numbers that are not yyyymmdd dates."""
    mask = np.zeros(len(numbers), dtype=bool)
    mask[np.flatnonzero(numbers)[~plain]] = True
    return mask


def _why_not_dates(values: pd.Series) -> Any:
    """Why a column of date text does not parse as a whole: dates pandas cannot hold (before
    1677 or after 2262), text that is no date, or times with a ``Z`` or an offset beside times
    without one (the naive ones would be a guess, as in data); else example values."""
    unreadable, out_of_range, zoned = (np.zeros(len(values), dtype=bool) for _ in range(3))
    for i, value in enumerate(values):
        if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
            continue
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            unreadable[i] = True
            continue
        zoned[i] = stamp.tz is not None
        if stamp.tz is not None:
            stamp = stamp.tz_convert(None)
        out_of_range[i] = not pd.Timestamp.min <= stamp <= pd.Timestamp.max
    said = []
    if unreadable.any():
        shown = values[unreadable].astype(str).unique()[:3].tolist()
        if not out_of_range.any():
            return shown  # the wrong type, as for any other column
        said.append(f"not a date in {_rows(unreadable)}, e.g. {shown}")
    if out_of_range.any():
        shown = values[out_of_range].astype(str).unique()[:3].tolist()
        said.append(
            f"out of range (dates from {pd.Timestamp.min:%Y-%m-%d} to "
            f"{pd.Timestamp.max:%Y-%m-%d} can be scored) in {_rows(out_of_range)}, e.g. {shown}"
        )
    present = values.notna().to_numpy(dtype=bool) & ~unreadable
    if not said and zoned.any() and (present & ~zoned).any():
        said.append(
            f"times with a 'Z' or an offset in {_rows(zoned)} beside times without one in "
            f"{_rows(present & ~zoned)}: write them all one way"
        )
    if said:
        return "; ".join(said)
    return values.astype(str).head(3).tolist()


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
