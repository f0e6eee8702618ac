"""The single-table format: a CRM export with one row per customer.

An id column, a churn label column (Yes/No, 1/0, true/false, churned/active, ...), an optional
duration column (e.g. tenure in months) and any other columns as attributes. Numbers stored as
text with blanks (``" "``) become numbers with missing values. CRM exports are small (one row per
customer), so parsing happens in pandas and the result is registered on the Ibis connection.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab.data.dataset import (
    MAX_EXAMPLES,
    Dataset,
    DataValidationError,
    Problem,
    UnreadableTableError,
)
from churnlab.data.encoding import (
    check_encoding,
    duckdb_encoding,
    encoding_hint,
    header_separator,
    repeated_header_names,
    repeated_parquet_names,
)
from churnlab.data.engines import connect
from churnlab.data.schema import COMMA_LOCALE_GROUPS, CURRENCY_SYMBOLS
from churnlab.data.validate import MISSING_MARKERS as VALIDATE_MARKERS
from churnlab.vocab import OBSERVATION_COLUMNS, na_value_list

log = logging.getLogger(__name__)

TABLE = "customers"
LABEL_VALUES = {
    "1": 1, "0": 0, "1.0": 1, "0.0": 0,
    "yes": 1, "no": 0, "y": 1, "n": 0,
    "true": 1, "false": 0, "t": 1, "f": 0,
    "churned": 1, "churn": 1, "active": 0, "retained": 0, "stayed": 0,
    "cancelled": 1, "canceled": 1,
    # yes and no (true and false) as exports in other languages write them
    "oui": 1, "non": 0, "vrai": 1, "faux": 0,  # fr
    "ja": 1, "nein": 0, "wahr": 1, "falsch": 0,  # de (ja: also nl, sv, da, no)
    "sí": 1, "si": 1, "verdadero": 1, "falso": 0,  # es, it ("no" above)
    "sim": 1, "não": 0, "nao": 0,  # pt
    "nee": 0, "nej": 0, "nei": 0,  # nl, sv and da, no
    "tak": 1, "nie": 0,  # pl
}  # fmt: skip


def map_label(values: pd.Series, positive: str | None = None) -> pd.Series:
    """0/1 (nullable Int8) from the usual spellings of a churn flag (in any case, a trailing
    full stop ignored: ``True.``), unknown spellings NA. With ``positive`` (the value that
    means churned, compared in any case, spaces around ignored) that value is 1 and every
    other value 0 (``Attrited Customer`` against ``Existing Customer``); blanks stay NA."""
    text = values.astype("string").str.strip().str.casefold()
    if positive is not None:
        number, wanted = (
            pd.to_numeric(text, errors="coerce"),
            pd.to_numeric(positive, errors="coerce"),
        )
        if pd.notna(wanted) and number.notna().any():  # 1 matches 1.0 (a Parquet float label)
            return (number == wanted).astype("Int8").where(text.notna())
        return (text == positive.strip().casefold()).astype("Int8")
    return text.str.removesuffix(".").map(LABEL_VALUES).astype("Int8")


TEXT_FORMATS = {  # name ending -> field separator
    ".csv": ",", ".txt": ",", ".csv.gz": ",", ".txt.gz": ",", ".csv.zst": ",",
    ".tsv": "\t", ".tsv.gz": "\t", ".tsv.zst": "\t",
}  # fmt: skip
FORMATS = (".csv", ".csv.gz", ".csv.zst", ".tsv", ".tsv.gz", ".tsv.zst", ".parquet")


def table_format(path: Path) -> str | None:
    """The ending that says how ``path`` is read (``.csv.gz``, ``.parquet``, ...), or None."""
    name = path.name.lower()
    return next((f for f in (*TEXT_FORMATS, ".parquet") if name.endswith(f)), None)


# missing values as text files write them: blank, or a database dump's NULL / \N
MISSING_VALUES = ["", "NULL", "null", "Null", "\\N"]
# what else exports write for a missing value (R: NA; Excel: #N/A; pandas: nan; people: -, ?):
# missing in a column whose other values are numbers, and in the label; text elsewhere (a
# category may be called "none")
MISSING_MARKERS = frozenset({*VALIDATE_MARKERS, "null", "\\n"})


def _is_marker(col: pd.Series) -> pd.Series:
    """Where a value is one of :data:`MISSING_MARKERS` (any case, spaces around ignored)."""
    return col.astype("string").str.strip().str.casefold().isin(MISSING_MARKERS).fillna(False)


def _declared(values: pd.Series, codes: tuple[str, ...]) -> pd.Series:
    """Where a value is one of the declared missing-value ``codes``: as written (spaces around
    ignored), or as a number equal to a numeric code (``-1.0`` for ``-1``; a Parquet column
    of numbers)."""
    numbers = [float(n) for c in codes if not np.isnan(n := pd.to_numeric(c, errors="coerce"))]
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(False, index=values.index)
    if pd.api.types.is_numeric_dtype(values):
        return values.isin(numbers).fillna(False).astype(bool) if numbers else values.isna() & False
    text = values.astype("string").str.strip()
    hit = text.isin(codes).fillna(False).astype(bool)
    if numbers:
        hit |= pd.to_numeric(text, errors="coerce").isin(numbers).fillna(False).astype(bool)
    return hit


def declared_missing(
    df: pd.DataFrame, codes: tuple[str, ...], skip: tuple[str | None, ...]
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """``df`` with the values that are declared missing-value codes (``--na-values``) made
    missing in every column but ``skip`` (the id and the label, read as written), and per
    column changed the count of each code as written."""
    if not codes:
        return df, {}
    out, found = df.copy(), {}
    for col in df.columns:
        if col in skip or pd.api.types.is_datetime64_any_dtype(df[col]):
            continue
        hit = _per_distinct(df[col], lambda v: _declared(v, codes))
        if hit is not None and hit.any():
            written = df[col][hit]
            if pd.api.types.is_numeric_dtype(written):
                written = written.map(lambda v: f"{v:g}")
            found[col] = written.astype("string").str.strip().value_counts()
            out[col] = df[col].mask(hit)
    out.attrs = dict(df.attrs)
    return out, found


def _declared_notice(codes: tuple[str, ...], found: dict[str, pd.Series]) -> str | None:
    """The notice naming, per column, the declared missing-value codes read as missing and how
    often, and the codes no value matched."""
    if not codes:
        return None
    said = [
        f"{col!r} (" + ", ".join(f"{n:,} x {word!r}" for word, n in counts.items()) + ")"
        for col, counts in found.items()
    ]
    seen = {w for counts in found.values() for w in counts.index}
    matched = {c for c in codes if c in seen or any(_declared(pd.Series(list(seen)), (c,)))}
    unmatched = [c for c in codes if c not in matched]
    parts = []
    if said:
        parts.append(f"column(s) {', '.join(said)}: read as missing values (--na-values)")
    if unmatched:
        parts.append(f"--na-values {', '.join(map(repr, unmatched))}: no value of the table is one")
    return "; ".join(parts)


def _per_distinct(col: pd.Series, values_of) -> pd.Series | None:
    """``values_of(col)`` for a ``values_of`` that reads each value alone (a text value's
    number, whether it is a marker), computed once per distinct value (missing values
    included) and spread back over the rows: a 200,000-row column of 26 categories is read
    26 times, not 200,000 (the text passes were most of a large table's load time). None
    where ``values_of`` gives None."""
    codes, distinct = pd.factorize(col, use_na_sentinel=False)
    if len(distinct) == len(col):
        return values_of(col)
    out = values_of(pd.Series(distinct, name=col.name))
    if out is None:
        return None
    return pd.Series(np.asarray(out)[codes], index=col.index, name=out.name)


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet table as its types say; a column named twice (in any case) is refused."""
    if repeated := repeated_parquet_names(path):
        raise UnreadableTableError(
            str(path), f"names the column(s) {repeated} more than once: rename one"
        )
    return pd.read_parquet(path)


def _read(path: Path, encoding: str = "utf-8", keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every value as text (blanks missing), so bad values are reported and not re-typed;
    Parquet keeps its types. zstd-compressed text is read by DuckDB (pandas would need the
    zstandard package) with the path as a bound parameter: no SQL text is built from it.
    Numbers written with a decimal comma are rewritten with points
    (:func:`_with_decimal_commas`), except in the columns ``keep`` (the id, kept as written)."""
    fmt = table_format(path)
    if fmt is None:
        raise UnreadableTableError(
            str(path), f"unsupported file type; expected one of {', '.join(FORMATS)}"
        )
    import duckdb

    encoding = check_encoding(encoding)
    duck_encoding = duckdb_encoding(encoding, str(path)) if fmt.endswith(".zst") else None
    try:
        if fmt == ".parquet":
            return _read_parquet(path)
        if path.stat().st_size == 0:
            raise pd.errors.EmptyDataError
        if fmt.endswith(".zst"):
            with duckdb.connect() as con:
                # the path and options are bound parameters, never pasted into the SQL text
                # (the relational read_csv refuses encodings other than UTF-8 in DuckDB 1.5)
                rel = con.execute(
                    "SELECT * FROM read_csv(?, sep = ?, header = true, all_varchar = true, "
                    "encoding = ?, nullstr = ?)",
                    [str(path), TEXT_FORMATS[fmt], duck_encoding, MISSING_VALUES],
                )
                df = rel.df().astype("str")  # as pandas reads text: str dtype, NaN missing
            return _with_decimal_commas(df, TEXT_FORMATS[fmt], keep)
        return _read_text(path, fmt, encoding, keep)
    except pd.errors.EmptyDataError:
        raise UnreadableTableError(
            str(path),
            "the file is empty: expected a header line of column names, then one row per customer",
        ) from None
    except UnicodeDecodeError as exc:
        raise UnreadableTableError(str(path), _decode_problem(path, encoding, exc)) from None
    except duckdb.InvalidInputException as exc:
        if "unicode" not in str(exc).lower():
            raise UnreadableTableError(str(path), f"cannot be read as {fmt}: {exc}") from None
        raise UnreadableTableError(str(path), f"is not {encoding} text; {ENCODING_HINT}") from None
    except (OSError, ValueError, duckdb.Error) as exc:
        raise UnreadableTableError(str(path), f"cannot be read as {fmt}: {exc}") from None


def _read_text(path: Path, fmt: str, encoding: str, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV or TSV table read by pandas, every value as text, its decimal-comma numbers
    rewritten with points (:func:`_with_decimal_commas`)."""
    sep = _separator(path, fmt, encoding)
    if repeated := repeated_header_names(path, sep, encoding):
        raise UnreadableTableError(
            str(path), f"the header line names {repeated} more than once: rename one"
        )
    df = pd.read_csv(
        path,
        sep=sep,
        dtype=str,
        keep_default_na=False,
        na_values=MISSING_VALUES,
        encoding=encoding,
    )
    return _with_decimal_commas(df, sep, keep)


def _separator(path: Path, fmt: str, encoding: str) -> str:
    """The field separator of a text table: its ending's, or for a comma format what the
    header line shows (:func:`churnlab.data.encoding.header_separator`)."""
    sep = TEXT_FORMATS[fmt]
    return header_separator(path, encoding) if sep == "," else sep


# a number written with a decimal comma: thousands grouped by dots or spaces (1.234,50,
# 1 234,50; a first group of 0 is no grouping: 0.125 is not 125), a sign, a currency symbol
# before or after, a percent sign
_DECIMAL_COMMA = re.compile(
    rf"^[-+]?\s*[{CURRENCY_SYMBOLS}]?\s*[-+]?\s*"
    rf"([1-9]\d{{0,2}}(?:[{COMMA_LOCALE_GROUPS}]\d{{3}})+|\d+)(?:,(\d+))?"
    rf"\s*[{CURRENCY_SYMBOLS}]?\s*%?$"
)


def written_with_decimal_comma(values: pd.Series) -> pd.Series:
    """Where a text value is a number written with a decimal comma (``43,22``, ``1.234,5``),
    for messages about a column that was not read as numbers (a comma-separated file, or such
    numbers beside ones with a decimal point)."""
    text = values.astype("string").str.strip()
    return (
        text.map(lambda v: bool((m := _DECIMAL_COMMA.fullmatch(v)) and m[2]), na_action="ignore")
        .fillna(False)
        .astype(bool)
    )


def _with_decimal_commas(df: pd.DataFrame, sep: str, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """``df`` with the columns :func:`_decimal_commas` reads rewritten with decimal points, for
    a table separated by semicolons (a spreadsheet's export where the decimal separator is a
    comma) or tabs; ``attrs`` say what was done: ``separator``, ``decimal_comma`` (the columns
    rewritten) and ``thousands_dots`` (per column, a value whose dots were read as thousands
    separators though it has no comma, such as ``42.692``). Other tables as they are."""
    if sep not in (";", "\t"):
        return df
    rewritten, dots = {}, {}
    for col in df.columns:
        if col in keep:
            continue
        found = _decimal_commas(df[col], sep)
        if found is not None:
            rewritten[col], dotted = found
            if dotted is not None:
                dots[col] = dotted
    out = df.assign(**rewritten) if rewritten else df.copy()
    out.attrs.update(separator=sep, decimal_comma=list(rewritten), thousands_dots=dots)
    return out


def _decimal_commas(col: pd.Series, sep: str) -> tuple[pd.Series, str | None] | None:
    """A column whose every value is a number written with a decimal comma (``55,09``,
    ``2.644,32``, ``12,00 €``, ``42.692``) rewritten with a decimal point and no thousands
    separators, for the number readers, and its first value whose dots were read as thousands
    separators without a comma beside them (None if none); None for any other column.

    The values decide, per column. With semicolons between fields (the file writes decimal
    commas) a comma is the decimal separator, and so are dots thousands separators when every
    dotted value has groups of three digits (``42.692`` beside ``836`` is 42692; one ``1.5``
    or ``0.125`` keeps the column as written: decimal points). Between tabs either convention
    may be meant, so a column is read this way only when some value can only be a decimal
    comma (``43,22``, ``1.234,5``; ``1,234`` alone could be a thousands comma) and no value
    has a decimal point. Missing values and markers (``NA``, ``-``) are left as they are."""
    text = col.dropna().astype(str).str.strip()
    text = text[(text != "") & ~_is_marker(text)]
    if text.empty:
        return None
    found = [_DECIMAL_COMMA.fullmatch(v) for v in text]
    if not all(found):
        return None
    groups = set(COMMA_LOCALE_GROUPS)
    if sep == ";":
        decided = any(m[2] is not None or groups & set(m[1]) for m in found)
    else:
        decided = any(m[2] is not None and (len(m[2]) != 3 or groups & set(m[1])) for m in found)
    if not decided:
        return None
    dotted = next((m.string for m in found if m[2] is None and "." in m[1]), None)

    def point(value: str) -> str:
        value = value.strip()
        m = _DECIMAL_COMMA.fullmatch(value)
        if m is None:  # a missing-value marker
            return value
        whole = re.sub(f"[{COMMA_LOCALE_GROUPS}]", "", m[1])
        number = whole if m[2] is None else f"{whole}.{m[2]}"
        return value[: m.start(1)] + number + value[m.end(2 if m[2] is not None else 1) :]

    return col.map(lambda v: point(v) if isinstance(v, str) and v.strip() else v), dotted


ENCODING_HINT = encoding_hint("--encoding latin-1 (or cp1252; data.encoding in a spec)")


def _decode_problem(path: Path, encoding: str, exc: UnicodeDecodeError) -> str:
    """Where the first byte that is not ``encoding`` text sits (line and byte), and the hint."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as found:
        exc = found
        line = raw.count(b"\n", 0, found.start) + 1
        where = f" on line {line}"
    else:  # pandas decoded in chunks; the bytes in its error are the best we have
        where = ""
    byte = exc.object[exc.start : exc.start + 1].hex()
    return f"is not {encoding} text (byte 0x{byte}{where}); {ENCODING_HINT}"


# a duration column outside these bounds probably counts another unit: a largest value under
# the low one (in days, nobody followed 100 days), or a high quantile (HIGH_QUANTILE) above
# the high one (in months, a tenth of the customers over ~20 years): a real long tail, a few
# 28-year policies among tenures of 40 months, is no sign of another unit
LIKELY_RANGE = {
    "days": (100, None),
    "weeks": (None, 1_100),
    "months": (None, 250),
    "years": (None, 60),
}
HIGH_QUANTILE = 0.9


def duration_unit_notice(durations: pd.Series, unit: str, column: str) -> str | None:
    """A notice when the durations look like another unit than ``unit``: in days, a largest
    value under 100 (e.g. a tenure of at most 72 is months); in weeks or months, a 90th
    percentile above ~20 years; in years, one above 60 (a few long tenures do not count).
    None when they look plausible (or there are none)."""
    values = pd.to_numeric(durations, errors="coerce").astype("float64").dropna()
    if values.empty:
        return None
    low, high = LIKELY_RANGE[unit]
    top, quantile = float(values.max()), float(values.quantile(HIGH_QUANTILE))
    if low is not None and top < low:
        hint, said = "months or weeks", f"its largest value is {top:g}"
    elif high is not None and quantile > high:
        hint = {"weeks": "days", "months": "days or weeks"}.get(unit, "months")
        said = (
            f"a tenth of its values are above {quantile:g} (median {values.median():g}, "
            f"largest {top:g})"
        )
    else:
        return None
    return (
        f"duration column {column!r} is read in {unit} (durations are converted to days) but "
        f"{said}, which looks like {hint}; set the unit with "
        "--duration-unit days|weeks|months|years (data.duration_unit in a spec)"
    )


def _clean_numbers(col: pd.Series) -> pd.Series | None:
    """A column of clean numbers (missing values aside) as floats, cast by pyarrow in one C++
    pass (about 15x ``pd.to_numeric`` on text); None when any value does not cast as it stands
    (padding, text) or casts to NaN (``"nan"``, which ``pd.to_numeric`` refuses): those columns
    take the careful way."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pc.cast(pa.array(col.array), pa.float64())
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if pc.any(pc.is_nan(values)).as_py():
        return None
    return pd.Series(values.to_numpy(zero_copy_only=False), index=col.index, name=col.name)


def _parse_numeric_text(col: pd.Series) -> pd.Series | None:
    """Numbers stored as text (blanks as missing) as floats, or None if the column is not numeric.
    Numbers written for people (``$1,234.50``, ``93%``) are read by :func:`formatted_numbers`."""
    if col.isna().all():
        return None
    clean = _clean_numbers(col)
    if clean is not None:
        return clean
    return _per_distinct(col, _parse_text_numbers)


def _parse_text_numbers(col: pd.Series) -> pd.Series | None:
    """:func:`_parse_numeric_text` of a column pyarrow did not cast (per value: the column is
    numeric only if every value is)."""
    try:  # clean numbers pyarrow did not take
        return pd.to_numeric(col, errors="raise").astype("float64")
    except (TypeError, ValueError):  # blanks like " ", padding, or text: the careful way
        pass
    text = col.astype("string").str.strip().replace("", pd.NA).mask(_is_marker(col))
    if text.notna().sum() == 0:
        return None
    parsed = pd.to_numeric(text, errors="coerce")
    if parsed[text.notna()].isna().any():
        return formatted_numbers(text)
    return parsed.astype("float64")


# a number as a spreadsheet or CRM export writes it: a sign, a currency symbol before or after,
# digits with or without thousands separators (groups of three), decimals
_WRITTEN = (
    rf"^(?P<sign>[-+])?\s*[{CURRENCY_SYMBOLS}]?\s*(?P<inner>[-+])?\s*"
    r"(?P<number>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    rf"\s*[{CURRENCY_SYMBOLS}]?$"
)


def formatted_numbers(text: pd.Series) -> pd.Series | None:
    """A text column whose every value is a number written for people, as floats; else None.

    Read: a currency symbol before or after the number (``$1,234.50``, ``12.00 €``, ``-$5``),
    thousands separators in groups of three (``2,644.32``), percent signs (``93%`` is 0.93;
    then every value must carry one), accounting negatives (``(12.00)`` is -12). Commas are
    thousands separators: a column with decimal commas (``12,5``) stays text. Missing values
    (NA) stay missing."""
    present = text.dropna().astype("string").str.strip()
    if present.empty:
        return None
    percent = present.str.endswith("%")
    if percent.any() and not percent.all():
        return None  # "93%" beside "0.5": which scale is meant is a guess
    body = present.str.removesuffix("%").str.strip() if percent.all() else present
    accounting = body.str.startswith("(") & body.str.endswith(")")
    body = body.where(~accounting, body.str.slice(1, -1))
    parts = body.str.extract(_WRITTEN)
    if parts.number.isna().any() or (parts.sign.notna() & parts.inner.notna()).any():
        return None
    values = pd.to_numeric(parts.number.str.replace(",", "", regex=False)).astype("float64")
    minus = (parts.sign.fillna("") + parts.inner.fillna("")).to_numpy(dtype=object) == "-"
    negative = accounting.to_numpy(dtype=bool) | minus
    values = values.where(~negative, -values)
    if percent.all():
        values = values / 100.0
    return values.reindex(text.index).astype("float64")


def _row_examples(df: pd.DataFrame, mask: pd.Series, id_col: str, col: str) -> tuple[str, ...]:
    rows = df.loc[mask].head(MAX_EXAMPLES)
    # row numbers as a spreadsheet shows them: header is line 1; the id once, where it is the
    # column at fault
    shown = [id_col] if col == id_col else [id_col, col]
    return tuple(
        f"row {int(i) + 2} " + " ".join(f"{c}={r[c]!r}" for c in shown) for i, r in rows.iterrows()
    )


def _without_empty_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """``df`` without rows whose every field is blank (a spreadsheet export's trailing
    ``,,,,`` lines), renumbered, and the notice saying how many were left out (None if none)."""
    empty = df.isna().all(axis=1)
    if not empty.any():
        return df.reset_index(drop=True), None
    kept = df.loc[~empty].reset_index(drop=True)
    kept.attrs = dict(df.attrs)
    return kept, f"{int(empty.sum())} empty row(s) (every field blank) left out"


# the id cell of a spreadsheet's summary row, in the languages exports come in (spaces and
# case aside): a totals row sums the columns, an average row holds their means
TOTAL_WORDS = frozenset([
    "total", "totals", "sum", "sums", "grand total", "grandtotal", "subtotal", "sub total",
    "sub-total", "summe", "gesamt", "gesamtsumme", "insgesamt", "totaal", "totale", "totali",
    "totaux", "somme", "suma", "summa", "yhteensä", "razem", "итого", "total general",
    "total général",
])  # fmt: skip
MEAN_WORDS = frozenset(["average", "mean", "avg", "durchschnitt", "moyenne", "gemiddelde", "media"])
SUMMARY_EDGE = 3  # rows checked at each end: exports put a totals row last (sometimes first)


def _summary_word(value: object) -> str | None:
    """``"sum"`` or ``"mean"`` where an id cell reads as a summary row's label (``TOTAL``,
    ``Grand Total:``, ``Summe``, ``Average``), else None."""
    if not isinstance(value, str):
        return None
    key = " ".join(value.casefold().replace(":", " ").split())
    if key in TOTAL_WORDS:
        return "sum"
    return "mean" if key in MEAN_WORDS else None


def _written_tolerance(values: np.ndarray) -> np.ndarray:
    """Half a unit of each value's last written decimal (0.005 for 12.35, 0.5 for 4502), so a
    summary cell the spreadsheet rounded for display still agrees; at least 1e-6 relative."""
    decimals = np.full(values.shape, 6)
    for d in range(5, -1, -1):
        decimals = np.where(np.isclose(np.round(values, d), values, rtol=0, atol=1e-9), d, decimals)
    return np.maximum(0.5 * 10.0 ** (-decimals), 1e-6 * np.abs(values))


def _summary_numbers(df: pd.DataFrame, id_col: str, edge: pd.Index) -> pd.DataFrame:
    """The numeric columns of ``df`` as floats, parsed as training parses them; a text column
    is parsed only where the ``edge`` rows hold a number in it (a 1M-row table of categories
    is not read twice)."""
    columns = {}
    for col in df.columns:
        if col == id_col:
            continue
        if pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
            columns[col] = df[col].astype("float64")
            continue
        cells = df.loc[edge, col].dropna()
        if cells.empty or _parse_numeric_text(cells) is None:
            continue
        parsed = _parse_numeric_text(df[col])
        if parsed is not None:
            columns[col] = parsed
    return pd.DataFrame(columns, index=df.index)


def _summary_kind(
    own: np.ndarray,
    other_sum: np.ndarray,
    other_n: np.ndarray,
    word: str | None,
    by_numbers: bool,
    other_max: np.ndarray,
) -> tuple[str | None, np.ndarray]:
    """Whether a row with the numbers ``own`` sums (``"sum"``) or averages (``"mean"``) the
    other rows, and in which columns; ``(None, ...)`` for a customer. On its numbers alone
    (no totals word) a column counts only where the sum exceeds every other row's value
    (``other_max``, in magnitude): in a flag column with two customers flagged, each one's 1
    is the other's sum."""
    present = ~np.isnan(own)
    tolerance = _written_tolerance(np.where(present, own, 0.0))
    as_sum = present & (other_sum != 0) & (np.abs(own - other_sum) <= tolerance)
    if word == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = other_sum / other_n
        as_mean = present & (other_n > 0) & (np.abs(own - mean) <= tolerance)
        return ("mean" if as_mean.any() else None), as_mean
    if word == "sum" and as_sum.any():
        return "sum", as_sum
    aggregate = as_sum & (np.abs(other_sum) > other_max)
    matched = aggregate.sum() >= 2 or (len(own) == 1 and aggregate.all())
    return ("sum" if by_numbers and matched else None), as_sum


def _summary_rows(df: pd.DataFrame, id_col: str) -> tuple[pd.DataFrame, str | None]:
    """``df`` without a spreadsheet's totals (or average) rows, and the notice naming them.

    An export of a sheet with a totals row carries it as a customer: scored, it lands in the
    high tier with most of the revenue at risk. Only the first and last few rows are
    candidates. One is a summary row when at least two of its numbers are the non-zero sums
    of the other rows' values in their columns (the one number, in a table with one numeric
    column; tables of 5 rows or more), or when its id reads as a totals word (``TOTAL``,
    ``Summe``; ``Average`` for means) and at least one of its numbers is the column's sum
    (mean) of the other rows. Numbers agree within their written rounding. An ordinary
    customer with a large value, or whose one number happens to equal a column sum, is kept."""
    if len(df) < 3 or id_col not in df.columns:
        return df, None
    edge = df.index[:SUMMARY_EDGE].union(df.index[-SUMMARY_EDGE:])
    values = _summary_numbers(df, id_col, edge)
    if values.empty or not len(values.columns):
        return df, None
    cells = values.loc[edge].to_numpy()
    words = [_summary_word(v) for v in df.loc[edge, id_col]]
    worded = np.array([w is not None for w in words])
    # on its numbers alone only where 4 or more rows are summed: in a tiny table of round
    # numbers (1, 2, 3) a customer would be lost to coincidence
    by_numbers = len(df) >= 5
    flagged = np.zeros(len(edge), dtype=bool)
    found: dict[int, tuple[str, list[str]]] = {}
    new = True
    while new:
        new = False
        # the other rows: all but the candidate and those found; then also without the rows
        # whose id is a summary word (a totals row beside an average row)
        for drop in (flagged.copy(), flagged | worded):
            rest = values.drop(index=edge[drop])
            sums, counts = rest.sum().to_numpy(), rest.count().to_numpy()
            top = _two_largest(rest.abs())
            for k in np.flatnonzero(~flagged):
                mine = ~np.isnan(cells[k]) & ~drop[k]
                # the largest magnitude among the other rows: the second where it is k's own
                other_max = np.where(mine & (np.abs(cells[k]) >= top[0]), top[1], top[0])
                kind, agree = _summary_kind(
                    cells[k], sums - np.where(mine, cells[k], 0.0), counts - mine, words[k],
                    by_numbers, other_max,
                )  # fmt: skip
                if kind:
                    flagged[k] = new = True
                    found[k] = (kind, [c for c, a in zip(values.columns, agree, strict=True) if a])
    if not found:
        return df, None
    kept = df.drop(index=edge[flagged])
    kept.attrs = dict(df.attrs)
    return kept, _summary_notice(df, id_col, {edge[k]: v for k, v in sorted(found.items())})


def _two_largest(values: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the largest and second-largest values (missing values aside; 0 where a
    column has fewer)."""
    filled = np.nan_to_num(values.to_numpy(dtype="float64"), nan=-np.inf)
    if len(filled) < 2:
        first = filled.max(axis=0) if len(filled) else np.zeros(values.shape[1])
        return np.maximum(first, 0.0), np.zeros(values.shape[1])
    part = np.partition(filled, -2, axis=0)
    return np.maximum(part[-1], 0.0), np.maximum(part[-2], 0.0)


def _summary_notice(df: pd.DataFrame, id_col: str, found: dict) -> str:
    """The notice naming the summary rows left out, with the columns that gave them away."""
    rows = []
    for i, (kind, cols) in found.items():
        what = "a totals" if kind == "sum" else "an average"
        named = " and ".join(cols) if len(cols) < 3 else ", ".join(cols[:-1]) + f" and {cols[-1]}"
        verb = f"is the {kind}" if len(cols) == 1 else f"are the {kind}s"
        rows.append(
            f"row {int(i) + 2} {id_col}={df.at[i, id_col]!r}: {what} row (its {named} "
            f"{verb} of the other rows) is left out"
        )
    return f"{TABLE}: " + "; ".join(rows)


def _clashing_columns(
    df: pd.DataFrame, id_col: str, label_col: str, duration_col: str | None, mrr_col: str | None
) -> list[Problem]:
    """Columns named like churnlab's own observation columns (``cutoff``, ``event``, ``mrr``
    ...), which training adds beside the features; one named as a role is fine, and so is
    ``mrr`` given as ``--mrr``."""
    roles = {id_col, label_col, duration_col}
    clash = [c for c in df.columns if c not in roles and c in OBSERVATION_COLUMNS and c != mrr_col]
    if not clash:
        return []
    hint = "; a revenue column named mrr is given as --mrr mrr" if "mrr" in clash else ""
    return [
        Problem(
            TABLE,
            c,
            f"named like one of churnlab's own observation columns {list(OBSERVATION_COLUMNS)}: "
            f"rename it{hint}",
        )
        for c in clash
    ]


def load_customer_table(
    path: str | Path,
    *,
    id_col: str,
    label_col: str,
    duration_col: str | None = None,
    engine: str = "duckdb",
    encoding: str = "utf-8",
    duration_unit: str = "days",
    positive: str | None = None,
    mrr_col: str | None = None,
    na_values: tuple[str, ...] | str | None = None,
) -> Dataset:
    """Read and validate a single customer table. Raises DataValidationError with every problem.
    ``mrr_col``: the monthly revenue column (``--mrr``), which must then be a number >= 0
    wherever given (blanks are unknown revenue).

    ``encoding`` is the text encoding of a CSV/TSV file (``utf-8``; ``latin-1`` or ``cp1252``
    for many spreadsheet exports); a file that is not in it is refused with a hint.
    ``duration_unit`` (days, weeks, months or years) is what the duration column counts; a notice
    (``Dataset.notices``) says when its values look like another unit. ``positive`` is the
    label value that means churned, for labels in other words (:func:`map_label`).
    ``na_values`` are missing-value codes (``-1``, ``?``, ``999``; :func:`na_value_list`): read
    as missing in every column but the id and the label, with a notice counting them."""
    if duration_unit not in LIKELY_RANGE:
        raise ValueError(
            f"duration unit must be days, weeks, months or years, not {duration_unit!r}"
        )
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"table not found: {path}")
    codes = na_value_list(na_values)
    df, declared = declared_missing(
        _read(path, encoding, keep=(id_col,)), codes, skip=(id_col, label_col)
    )
    df, empty_rows = _without_empty_rows(df)
    src = str(path)

    problems = _missing_role_columns(df, id_col, label_col, duration_col)
    if problems:
        raise DataValidationError(src, problems)
    if df.empty:
        raise UnreadableTableError(
            src, "has a header line but no rows: expected one row per customer"
        )

    df, summary_rows = _summary_rows(df, id_col)
    problems += _id_problems(df, id_col) + _clashing_columns(
        df, id_col, label_col, duration_col, mrr_col
    )
    df, unlabelled = _without_blank_labels(df, id_col, label_col)
    out = df.copy()
    out[label_col], label_problems, label_notice = _checked_label(df, id_col, label_col, positive)
    problems += label_problems
    if duration_col is not None:
        out[duration_col], duration_problems = _checked_duration(df, id_col, duration_col)
        problems += duration_problems
    if problems:
        raise DataValidationError(src, problems)

    formatted, dates, marked, blanks = _parse_attributes(
        out, skip=(id_col, label_col, duration_col)
    )
    other_order = other_order_dates(out, skip=(id_col, label_col, duration_col))
    folded = fold_spellings(out, skip=(id_col, label_col, duration_col, mrr_col))
    problems = _infinite_attributes(df, out, id_col, skip=(id_col, label_col, duration_col))
    if mrr_col is not None:
        problems += _mrr_problems(df, out, id_col, mrr_col)
    if problems:
        raise DataValidationError(src, problems)
    con = connect(engine)
    table = con.create_table(TABLE, out.reset_index(drop=True), overwrite=True)
    notice = (
        duration_unit_notice(out[duration_col], duration_unit, duration_col)
        if duration_col is not None
        else None
    )
    return Dataset(
        con=con,
        tables={TABLE: table},
        observed_until=None,
        source=src,
        kind="customers",
        roles={"id": id_col, "label": label_col, "duration": duration_col},
        notices=[
            n
            for n in (
                _declared_notice(codes, declared),
                empty_rows,
                summary_rows,
                decimal_comma_notice(df.attrs),
                unlabelled,
                label_notice,
                notice,
                formatted_notice(formatted),
                _markers_notice(marked),
                _blanks_notice(blanks),
                dates_notice(dates, other_order),
                _spellings_notice(folded),
                words_among_numbers_notice(out, skip=(id_col, label_col, duration_col)),
            )
            if n
        ],
        manifest={
            **({"duration_unit": duration_unit} if duration_col is not None else {}),
            "date_columns": list(dates),
            "date_orders": {c: o for c, o in dates.items() if o},
            **({"na_values": list(codes)} if codes else {}),
        },
    )


def read_customer_rows(
    path: str | Path,
    roles: dict[str, str | None],
    columns: list[str],
    encoding: str = "utf-8",
    date_orders: dict[str, str] | None = None,
    dates: tuple[str, ...] | None = None,
    na_values: tuple[str, ...] = (),
) -> pd.DataFrame:
    """The rows of a customer table to score with a model trained on such a table, read and
    parsed as training read its own (numbers written for people included): the id column as
    ``account_id``, the MRR column (where the model has one) as ``mrr``, then ``columns``. The
    label column may be absent; the table the model was trained on scores as it stands. The
    columns training read as dates (``dates``; where given, no other) are read as dates, those
    written 03/04/2024 in ``date_orders`` (the order training read them in); the missing-value
    codes training was given (``na_values``) are missing here too."""
    path = Path(path)
    # the id as written (account_id too, where it stands in for the id and is no feature)
    keep = (roles["id"], *(() if "account_id" in columns else ("account_id",)))
    id_col, mrr_col = roles["id"], roles.get("mrr")
    df, found = declared_missing(_read(path, encoding, keep), tuple(na_values), skip=keep)
    if found:
        log.info(_declared_notice(tuple(na_values), found))
    df, _ = _without_empty_rows(df)
    df = _with_model_names(df, [c for c in (id_col, mrr_col, *columns) if c])
    # a table already in churnlab's shape (the id as account_id, MRR as mrr) scores too
    if id_col not in df.columns and "account_id" in df.columns:
        id_col = "account_id"
    if mrr_col and mrr_col not in df.columns and "mrr" in df.columns:
        mrr_col = "mrr"
    wanted = [id_col, *([mrr_col] if mrr_col else []), *columns]
    missing = [c for c in dict.fromkeys(wanted) if c not in df.columns]
    if missing:
        raise DataValidationError(
            str(path),
            [
                Problem(
                    TABLE,
                    None,
                    f"missing column(s) {missing} that the model reads"
                    + _near_headers(df.columns, missing),
                )
            ],
        )
    if df.empty:
        raise UnreadableTableError(str(path), "has a header line but no rows: nothing to score")
    df, summary_rows = _summary_rows(df, id_col)
    if summary_rows:  # scored, it would top the high tier with the revenue of everyone
        log.warning(summary_rows)
    problems = _id_problems(df, id_col)
    if problems:
        raise DataValidationError(str(path), problems)
    out = df[list(dict.fromkeys(wanted))].copy()
    _parse_attributes(out, skip=(id_col,), orders=date_orders, read_as_dates=dates)
    problems = _mrr_problems(df, out, id_col, mrr_col) if mrr_col else []
    if problems:
        raise DataValidationError(str(path), problems)
    rows = pd.DataFrame(
        {
            "account_id": out[id_col],
            "mrr": out[mrr_col].astype("float64") if mrr_col else np.nan,
        }
    )
    return pd.concat([rows, out[columns]], axis=1)


def _header_key(name: object) -> str:
    """A header name as it reads on screen: Unicode NFC (macOS writes accents decomposed,
    NFD), without spaces around."""
    return unicodedata.normalize("NFC", str(name)).strip()


def _with_model_names(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``df`` with the headers that are the model's column ``names`` in another Unicode
    normal form or with stray spaces (``'Région'`` decomposed, ``'Montant € '``) renamed to
    them: the header shows the same text, so refusing it as missing would be a puzzle. Only
    where one header alone reads as the name and it is no name of its own."""
    by_key: dict[str, list] = {}
    for col in df.columns:
        by_key.setdefault(_header_key(col), []).append(col)
    renames = {}
    for name in names:
        if name in df.columns:
            continue
        found = by_key.get(_header_key(name), [])
        if len(found) == 1 and found[0] not in names and found[0] not in renames:
            renames[found[0]] = name
    return df.rename(columns=renames) if renames else df


def _near_headers(headers: pd.Index, missing: list[str]) -> str:
    """``; did you mean ...`` naming, for each missing column, the header closest to it
    (:mod:`difflib`, after :func:`_header_key`), or "" where none is close."""
    keys = {_header_key(c): c for c in headers}
    near = []
    for name in missing:
        match = difflib.get_close_matches(_header_key(name), list(keys), n=1, cutoff=0.75)
        if match:
            near.append(f"{keys[match[0]]!r} for {name!r}")
    return f"; did you mean {', '.join(near)}?" if near else ""


def decimal_comma_notice(attrs: dict) -> str | None:
    """What :func:`_with_decimal_commas` did to a table (its ``attrs``): the semicolons and
    decimal commas, the columns whose dots were read as thousands separators, and in a
    tab-separated table the columns read with decimal commas."""
    sep, columns = attrs.get("separator"), attrs.get("decimal_comma", [])
    dots = attrs.get("thousands_dots", {})
    if sep == ";":
        said = "fields separated by semicolons; numbers with a decimal comma (55,09) read as 55.09"
    elif sep == "\t" and columns:
        said = (
            f"column(s) {columns} of this tab-separated table: numbers written with a decimal "
            "comma (43,22) read as 43.22 (some value there can only be a decimal comma, and "
            "none has a decimal point)"
        )
    else:
        return None
    if dots:
        shown = ", ".join(f"{c!r} ({v!r} as {v.replace('.', '')})" for c, v in dots.items())
        said += (
            f"; dots read as thousands separators in column(s) {shown}: every dotted value "
            "of those columns has groups of three digits (a column with one value such as "
            "1.5 keeps its dots as decimal points)"
        )
    return said


def _missing_role_columns(
    df: pd.DataFrame, id_col: str, label_col: str, duration_col: str | None
) -> list[Problem]:
    """One problem per id/label/duration column named but absent from the table, naming the
    column it may mean where one differs only in case or spaces (``'Churn '``)."""
    columns = ", ".join(map(str, df.columns))
    folded = {str(c).strip().casefold(): c for c in df.columns}
    out = []
    for role, col in (("id", id_col), ("label", label_col), ("duration", duration_col)):
        if col is None or col in df.columns:
            continue
        near = folded.get(col.strip().casefold())
        hint = f"; did you mean {near!r}?" if near is not None else ""
        out.append(Problem(TABLE, col, f"{role} column is missing (columns: {columns}){hint}"))
    return out


def _id_problems(df: pd.DataFrame, id_col: str) -> list[Problem]:
    """Missing and duplicate customer ids."""
    problems = []
    ids = df[id_col]
    if ids.isna().any():
        problems.append(
            Problem(
                TABLE,
                id_col,
                f"{int(ids.isna().sum())} missing id(s)",
                _row_examples(df, ids.isna(), id_col, id_col),
            )
        )
    dup = ids.duplicated(keep=False) & ids.notna()
    if dup.any():
        keys = ids[dup].astype(str).unique()
        problems.append(
            Problem(
                TABLE,
                id_col,
                f"{len(keys)} duplicate id(s)",
                tuple(
                    f"{id_col}={k!r} ({int((ids.astype(str) == k).sum())} rows)"
                    for k in keys[:MAX_EXAMPLES]
                ),
            )
        )
    return problems


def _without_blank_labels(
    df: pd.DataFrame, id_col: str, label_col: str
) -> tuple[pd.DataFrame, str | None]:
    """The rows with a label, and a notice naming the rows without one (blank: customers whose
    outcome is not known yet, which a CRM export often carries) when some have none. Every row
    blank is left to the label check (nothing to learn from)."""
    blank = df[label_col].astype("string").str.strip().replace("", pd.NA).isna()
    blank |= _is_marker(df[label_col])  # N/A: an outcome not known yet
    if not blank.any() or blank.all():
        return df, None
    # row numbers as a spreadsheet shows them (header is line 1); the rows kept keep theirs
    examples = "; ".join(
        f"row {int(i) + 2} {id_col}={df.at[i, id_col]!r}" for i in df.index[blank][:2]
    )
    notice = (
        f"{TABLE}.{label_col}: {int(blank.sum())} of {len(df)} row(s) have no label and are "
        f"left out of training (e.g. {examples}); churnlab score --features scores them"
    )
    return df.loc[~blank], notice


def _checked_label(
    df: pd.DataFrame, id_col: str, label_col: str, positive: str | None = None
) -> tuple[pd.Series, list[Problem], str | None]:
    """The label as 0/1 (int64 when every value maps), unmapped values or a single class, and
    with ``positive`` the notice saying which values were read as not churned."""
    label = map_label(df[label_col], positive)
    if positive is not None:
        return _label_by_positive(df, label, label_col, positive)
    unmapped = label.isna()
    if unmapped.any():
        values = sorted(df.loc[unmapped, label_col].astype(str).unique())[:MAX_EXAMPLES]
        hint = _label_hint(df, label, label_col)
        return (
            label,
            [
                Problem(
                    TABLE,
                    label_col,
                    f"{int(unmapped.sum())} label value(s) cannot be mapped to churned/not churned "
                    f"(values {values}; expected one of Yes/No, 1/0, true/false, churned/active, "
                    "cancelled, or yes and no in French, German, Spanish, Italian, Portuguese, "
                    f"Dutch, Scandinavian languages or Polish{hint})",
                    _row_examples(df, unmapped, id_col, label_col),
                )
            ],
            None,
        )
    return label.astype("int64"), _one_class(label, label_col), None


# values that a label coding reads as not churned though no spelling above is: -1 in a 1/-1 label
NOT_CHURNED_CODES = frozenset({"-1", "-1.0"})


def _reads_as(value: str) -> int | None:
    """1 or 0 where a known label coding reads ``value`` as churned or not (``-1`` too), else
    None."""
    key = value.strip().casefold().removesuffix(".")
    return 0 if key in NOT_CHURNED_CODES else LABEL_VALUES.get(key)


def _label_hint(df: pd.DataFrame, label: pd.Series, label_col: str) -> str:
    """What to do about label values that do not map. When the other rows read as both
    churned and not churned by a known coding and the unmapped ones are few (at most
    ``MAX_EXAMPLES`` rows or 1%), those are stray rows (a spreadsheet's totals row, a typo) to
    correct: naming a churned value would train on them as not churned. Otherwise the value
    to name with ``--positive``: one a known coding reads as churned (``1`` of a 1/-1 label,
    ``Churned`` beside ``Stayed`` and ``Joined``), else the first other value, never one read
    as not churned (``0``, ``-1``, ``No``), which would invert the labels."""
    text = df[label_col].astype("string").str.strip()
    unmapped = label.isna()
    shown = sorted(text.unique())
    churned = [v for v in shown if _reads_as(v) == 1] or [v for v in shown if _reads_as(v) is None]
    positive = (
        f"--positive {churned[0]!r} (data.positive in a spec): every other value is then not "
        "churned"
    )
    few = unmapped.sum() <= max(MAX_EXAMPLES, 0.01 * len(text))
    if label.dropna().nunique() == 2 and few:
        spellings = text[~unmapped].unique()[: 2 * MAX_EXAMPLES]
        coding = "/".join(sorted(spellings, key=lambda v: -label[text == v].iloc[0]))
        return (
            f"; the other {int((~unmapped).sum()):,} rows are {coding}, so these look like "
            "stray rows (a totals row, a typo): correct or remove them; if they are a status "
            f"of their own, name the churned value, {positive}"
        )
    if len(shown) > MAX_EXAMPLES:
        return ""
    return f"; or name the value that means churned, e.g. {positive}"


def _label_by_positive(
    df: pd.DataFrame, label: pd.Series, label_col: str, positive: str
) -> tuple[pd.Series, list[Problem], str | None]:
    """``_checked_label`` with the churned value named: a value no row has is a problem (a typo
    would otherwise read every customer as staying); the values read as not churned are said."""
    text = df[label_col].astype("string").str.strip()
    if not label.any():
        shown = list(text.value_counts().index[:MAX_EXAMPLES])
        return (
            label,
            [
                Problem(
                    TABLE, label_col, f"no row has the churned value {positive!r} (values {shown})"
                )
            ],
            None,
        )
    others = text[label == 0].value_counts()
    listed = ", ".join(f"{v!r} ({n:,} rows)" for v, n in others.iloc[:MAX_EXAMPLES].items())
    notice = (
        f"{TABLE}.{label_col}: {positive!r} read as churned, "
        + (f"every other value as not churned: {listed}" if listed else "and no other value")
        + (f" and {len(others) - MAX_EXAMPLES} more" if len(others) > MAX_EXAMPLES else "")
    )
    if _reads_as(positive) == 0:
        notice += f" ({positive!r} usually means not churned: is it the churned value?)"
    return label.astype("int64"), _one_class(label, label_col), notice


def _one_class(label: pd.Series, label_col: str) -> list[Problem]:
    """A problem when every row has the same label (nothing to learn from)."""
    if label.nunique() < 2:
        return [
            Problem(
                TABLE, label_col, f"label has one class only ({int(label.iloc[0])} for every row)"
            )
        ]
    return []


def _checked_duration(
    df: pd.DataFrame, id_col: str, duration_col: str
) -> tuple[pd.Series, list[Problem]]:
    """The duration as floats (blanks missing), and unparseable, non-finite or negative
    values."""
    text = df[duration_col].astype("string").str.strip().replace("", pd.NA)
    duration = pd.to_numeric(text, errors="coerce").astype("float64")
    problems = []
    bad = text.notna() & ~np.isfinite(duration.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        problems.append(
            Problem(
                TABLE,
                duration_col,
                f"{int(bad.sum())} unparseable number(s)",
                _row_examples(df, bad, id_col, duration_col),
            )
        )
    neg = duration < 0
    if neg.any():
        problems.append(
            Problem(
                TABLE,
                duration_col,
                f"{int(neg.sum())} negative duration(s)",
                _row_examples(df, neg, id_col, duration_col),
            )
        )
    return duration.astype("float64"), problems


def _mrr_problems(df: pd.DataFrame, out: pd.DataFrame, id_col: str, mrr_col: str) -> list[Problem]:
    """The MRR column (``--mrr``; read as the other attributes, ``$1,234.50`` included) must
    be a number >= 0 where given: it is summed into revenue at risk and captured."""
    if mrr_col not in out.columns:
        return [Problem(TABLE, mrr_col, "MRR column is missing (--mrr)")]
    if pd.api.types.is_bool_dtype(out[mrr_col]) or not pd.api.types.is_numeric_dtype(out[mrr_col]):
        given = df[mrr_col].astype("string").str.strip().replace("", pd.NA)
        given = given.mask(_is_marker(df[mrr_col]))
        body = given.str.removesuffix("%").str.strip().str.removeprefix("(").str.removesuffix(")")
        bad = given.notna() & ~body.str.match(_WRITTEN).fillna(False).astype(bool)
        if not bad.any():  # each a number, but not all alike (a percent beside plain numbers)
            bad = given.notna()
        return [
            Problem(
                TABLE,
                mrr_col,
                f"MRR (--mrr) must be a number; {int(bad.sum())} value(s) are not",
                _row_examples(df, bad, id_col, mrr_col),
            )
        ]
    negative = out[mrr_col] < 0
    if negative.any():
        return [
            Problem(
                TABLE,
                mrr_col,
                f"{int(negative.sum())} negative MRR value(s) (--mrr)",
                _row_examples(df, negative, id_col, mrr_col),
            )
        ]
    return []


def _infinite_attributes(
    df: pd.DataFrame, out: pd.DataFrame, id_col: str, skip: tuple[str | None, ...]
) -> list[Problem]:
    """Numeric attributes holding an infinity (``inf`` in text, or in a Parquet float column):
    an MRR of infinity would make every revenue figure infinite."""
    problems = []
    for col in out.columns:
        if col in skip or not pd.api.types.is_float_dtype(out[col]):
            continue
        bad = pd.Series(np.isinf(out[col].to_numpy(dtype=float, na_value=np.nan)), index=out.index)
        if bad.any():
            problems.append(
                Problem(
                    TABLE,
                    col,
                    f"{int(bad.sum())} infinite value(s)",
                    _row_examples(df, bad, id_col, col),
                )
            )
    return problems


# a date (or date and time) written the ISO way: 2024-03-15, 2024-03-15 09:30, ...T09:30:00Z
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?"
)
EPOCH = pd.Timestamp("1970-01-01")
# 03/04/2024, 3/4/24 or 03.04.2024 (a dotted year has four digits: 2.13.20 is a version)
_OTHER_DATE = re.compile(
    r"\d{1,2}(/\d{1,2}/(\d{4}|\d{2})|\.\d{1,2}\.\d{4})( \d{1,2}:\d{2}(:\d{2})?( ?[AP]M)?)?"
)


def date_order(col: pd.Series) -> str | None:
    """``"day_first"`` or ``"month_first"`` when every value of a text column is a date written
    03/04/2024 (or 3/4/24, 03.04.2024, with a time or not) and the values decide the order (a first field
    above 12 and no second field above 12 is day first, and the other way round); else None
    (ambiguous, or not such dates)."""
    if not (col.dtype == object or pd.api.types.is_string_dtype(col)):
        return None
    first = col.first_valid_index()  # the first value decides for most columns
    if first is None or not _OTHER_DATE.fullmatch(str(col[first]).strip().upper()):
        return None
    present = col.dropna().astype("string").str.strip().str.upper()
    present = present[present != ""]
    if present.empty or not present.str.fullmatch(_OTHER_DATE).all():
        return None
    fields = present.str.extract(r"^(\d{1,2})[/.](\d{1,2})").astype("int64")
    first, second = bool((fields[0] > 12).any()), bool((fields[1] > 12).any())
    if first == second:
        return None
    return "day_first" if first else "month_first"


def date_days(col: pd.Series, order: str | None = None) -> pd.Series | None:
    """A column of dates as days since 1970-01-01 (floats; UTC where an offset is given), or
    None where it is not one: a datetime column, text whose every value is an ISO date, or
    dates written 03/04/2024 in the ``order`` given (``"day_first"`` or ``"month_first"``:
    :func:`date_order` of the training table's values). Without an order they stay text."""
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        stamps = col.dt.tz_convert("UTC").dt.tz_localize(None) if col.dt.tz else col
    elif col.dtype == object or pd.api.types.is_string_dtype(col):
        first = col.first_valid_index()  # the first value decides for most columns
        iso = first is not None and _ISO_DATE.fullmatch(str(col[first]).strip())
        if first is None or not (iso or order):
            return None
        present = col.dropna().astype("string").str.strip()
        present = present[present != ""]
        if present.empty:
            return None
        if present.str.fullmatch(_ISO_DATE).all():
            try:
                parsed = pd.to_datetime(present, format="ISO8601", utc=True)
            except (ValueError, OverflowError):
                return None
            parsed = parsed.dt.tz_localize(None)
        else:
            if order is None or not present.str.upper().str.fullmatch(_OTHER_DATE).all():
                return None
            try:
                parsed = pd.to_datetime(present, dayfirst=order == "day_first", format="mixed")
            except (ValueError, OverflowError):
                return None
        stamps = pd.Series(pd.NaT, index=col.index, dtype="datetime64[ns]")
        stamps[present.index] = parsed.astype("datetime64[ns]")
    else:
        return None
    return ((stamps - EPOCH) / pd.Timedelta(days=1)).astype("float64")


def _parse_attributes(
    out: pd.DataFrame,
    skip: tuple[str | None, ...],
    orders: dict[str, str] | None = None,
    read_as_dates: tuple[str, ...] | None = None,
) -> tuple[list[str], dict[str, str | None], dict[str, pd.Series], dict[str, int]]:
    """In place: text attribute columns become floats when numeric, dates (text in ISO form,
    in a decided day/month order, or datetime columns) days since 1970-01-01
    (:func:`date_days`; ``orders``: the day/month order a column's dates were read in before;
    ``read_as_dates``: where given, the only columns read as dates, as training read them),
    strings otherwise. Returns the columns read from numbers written for people
    (:func:`formatted_numbers`), the date columns with their day/month order (None for ISO
    dates and datetimes), the number columns with missing-value markers (NA, N/A, -,
    unknown) with the count of each marker, and the text columns whose blank values (empty or
    spaces only) were read as missing, with their count."""
    formatted, dates, marked, blanks = [], {}, {}, {}
    orders = orders or {}
    for col in out.columns:
        if col in skip:
            continue
        if read_as_dates is not None and col not in read_as_dates:
            days, order = None, None
        else:
            order = orders.get(col) or date_order(out[col])
            days = date_days(out[col], order)
        if days is not None:
            out[col] = days
            dates[col] = order
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            parsed = _parse_numeric_text(out[col])
            if parsed is not None and _written_for_people(pd.Series(out[col].unique())):
                formatted.append(col)
            markers = _per_distinct(out[col], _is_marker)
            if parsed is not None and markers.any():
                marked[col] = out[col][markers].astype("string").str.strip().value_counts()
            if parsed is not None:
                out[col] = parsed
                continue
            text = out[col].astype("string")
            blank = _per_distinct(text, _is_blank)
            if blank.any():  # " " is missing here as in a number column, not a category
                blanks[col] = int(blank.sum())
                text = text.mask(blank)
            out[col] = text
    return formatted, dates, marked, blanks


def _is_blank(values: pd.Series) -> pd.Series:
    """Where a text value is empty or spaces only (a CRM export's blank, ``" "``)."""
    return values.astype("string").str.strip().eq("").fillna(False).astype(bool)


def other_order_dates(out: pd.DataFrame, skip: tuple[str | None, ...]) -> list[str]:
    """Text columns whose every value is a date written day or month first (03/04/2024)."""
    found = []
    for col in out.columns:
        if col in skip or not pd.api.types.is_string_dtype(out[col]):
            continue
        present = out[col].dropna().str.strip().str.upper()
        if len(present) and present.str.fullmatch(_OTHER_DATE).all():
            found.append(col)
    return found


def dates_notice(columns: dict[str, str | None], other_order: list[str] = ()) -> str | None:
    """The notice naming the columns read as dates (and the order of those written 03/04/2024),
    and those left as text."""
    said = []
    if columns:
        named = [
            f"{c!r} ({order.replace('_', ' ')})" if order else repr(c)
            for c, order in columns.items()
        ]
        said.append(
            f"column(s) {', '.join(named)}: dates, read as days since 1970-01-01 (an order the "
            "models can use; reasons show the date)"
        )
    if other_order:
        said.append(
            f"column(s) {list(other_order)}: dates written day or month first (03/04/2024 is "
            "March 4 or April 3) with no day above 12 to tell which are read as text; write "
            "them as 2024-03-04 to use them as dates"
        )
    return "; ".join(said) or None


def _written_for_people(col: pd.Series) -> bool:
    """Whether a text column parsed as numbers carried currency, separators or percent signs."""
    present = col.dropna().astype("string")
    return bool(present.str.contains(f"[,%()\\{''.join(CURRENCY_SYMBOLS)}]", regex=True).any())


def words_among_numbers_notice(out: pd.DataFrame, skip: tuple[str | None, ...]) -> str | None:
    """The notice naming text columns that are numbers but for a few words (``unknown``,
    ``refused``: at most 5 distinct, in at most 10% of the rows), read as categories of every
    number: a user meaning them as missing values learns how to say so."""
    said = []
    for col in out.columns:
        if col in skip or not pd.api.types.is_string_dtype(out[col]):
            continue
        present = out[col].dropna().str.strip()
        present = present[present != ""]
        words = present[_per_distinct(present, _not_a_number)]
        if len(present) and 0 < len(words) <= 0.1 * len(present) and words.nunique() <= 5:
            shown = ", ".join(repr(w) for w in words.value_counts().index[:3])
            said.append(f"{col!r} ({len(words):,} of {len(present):,} values: {shown})")
    if not said:
        return None
    return (
        f"column(s) {', '.join(said)}: numbers but for those words, so read as categories (one "
        "per number); write them blank or NA to read the column as numbers"
    )


def _not_a_number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").isna()


def fold_spellings(out: pd.DataFrame, skip: tuple[str | None, ...]) -> dict[str, dict[str, str]]:
    """In place: in each text column, values that differ only in case or surrounding spaces
    (``North``, ``north``, ``NORTH ``) are read as one category, spelled as most rows spell it
    (ties: the first in sorted order). Returns, per column changed, each other spelling and
    the one it was read as. Scoring reads any spelling of a training category as it
    (:func:`churnlab.modeling.base.unseen_categories`)."""
    folded = {}
    for col in out.columns:
        if col in skip or not pd.api.types.is_string_dtype(out[col]):
            continue
        counts = out[col].value_counts()
        key = pd.Series(counts.index, index=counts.index).str.strip().str.casefold()
        if key.nunique() == len(counts):
            continue
        order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        chosen = {}
        for value, _ in order:
            chosen.setdefault(key[value], value)
        spelled = {v: chosen[key[v]] for v, _ in order if chosen[key[v]] != v}
        out[col] = out[col].replace(spelled)
        folded[col] = spelled
    return folded


def _spellings_notice(folded: dict[str, dict[str, str]]) -> str | None:
    """The notice naming the categories read as one despite their case or spaces."""
    if not folded:
        return None
    said = []
    for col, spelled in folded.items():
        shown = ", ".join(f"{v!r} as {c!r}" for v, c in list(spelled.items())[:3])
        more = f" and {len(spelled) - 3} more" if len(spelled) > 3 else ""
        said.append(f"{col!r} ({shown}{more})")
    return (
        f"column(s) {', '.join(said)}: values that differ only in case or surrounding spaces "
        "are read as one category, spelled as most rows spell it"
    )


def _markers_notice(columns: dict[str, pd.Series]) -> str | None:
    """The notice naming the number columns whose NA, N/A, -, ?, unknown ... were read as
    missing, with the markers each had and how often."""
    if not columns:
        return None
    said = [
        f"{col!r} ("
        + ", ".join(f"{n:,} x {word!r}" for word, n in counts.head(3).items())
        + (", ..." if len(counts) > 3 else "")
        + ")"
        for col, counts in columns.items()
    ]
    return (
        f"column(s) {', '.join(said)}: numbers with missing-value markers among them; "
        "those are read as missing values"
    )


def _blanks_notice(columns: dict[str, int]) -> str | None:
    """The notice naming the text columns whose blank values (empty, or spaces only such as
    ``" "``) were read as missing, with how many each had."""
    if not columns:
        return None
    said = ", ".join(f"{col!r} ({n:,} x blank)" for col, n in columns.items())
    return (
        f"column(s) {said}: values that are empty or only spaces are read as missing values, "
        "not as a category"
    )


def formatted_notice(columns: list[str]) -> str | None:
    """The notice naming the columns read from numbers written for people."""
    if not columns:
        return None
    return (
        f"column(s) {columns}: numbers written with currency symbols, thousands separators or "
        "percent signs are read as numbers (93% as 0.93, (12.00) as -12)"
    )
