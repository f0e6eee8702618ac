"""Text encodings of CSV files: names checked before reading, translated for DuckDB, and the
hint a file in another encoding gets (Excel often saves CSV as Windows-1252); and the field
separator a CSV's header line shows."""

from __future__ import annotations

import codecs
import csv
import gzip
from pathlib import Path

from churnlab.errors import ChurnlabError

# what DuckDB's CSV reader decodes without an extension download, by Python's codec name
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}


def check_encoding(encoding: str) -> str:
    """``encoding`` as Python names it (``latin-1`` -> ``iso8859-1``), or an error naming it."""
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ChurnlabError(
            f"unknown text encoding {encoding!r}: use a name such as utf-8, latin-1 or cp1252"
        ) from None


def duckdb_encoding(encoding: str, where: str) -> str:
    """The name DuckDB's CSV reader knows for ``encoding`` (checked), or an error: DuckDB reads
    UTF-8, UTF-16 and Latin-1 (``where`` names the file in the message)."""
    name = check_encoding(encoding)
    try:
        return DUCKDB_ENCODINGS[name]
    except KeyError:
        raise ChurnlabError(
            f"{where}: encoding {encoding!r} cannot be read here (compressed or dataset-folder "
            "CSV files are read as utf-8, utf-16 or latin-1); convert the file to UTF-8"
        ) from None


def encoding_hint(option: str) -> str:
    """What to do about a file that is not in the encoding it was read with."""
    return (
        "if it was saved as Latin-1 or Windows-1252 (as Excel often saves CSV), give its "
        f"encoding: {option}"
    )


def repeated_header_names(path: Path, sep: str, encoding: str = "utf-8") -> list[str]:
    """Column names a CSV/TSV header line (plain or gzipped) holds more than once, in any case
    (the readers would rename or drop one silently); [] for other files."""
    name = path.name.lower()
    if name.endswith(".zst"):
        return []
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
        header = next(csv.reader(fh, delimiter=sep), [])
    return repeated_names(header)


def repeated_parquet_names(path: Path) -> list[str]:
    """Column names a Parquet file holds more than once, in any case (DuckDB would rename one,
    ``count_1``, and the column churnlab reads might be the other)."""
    import pyarrow.parquet as pq

    return repeated_names(pq.read_schema(path).names)


def repeated_names(header: list[str]) -> list[str]:
    """The names of ``header`` that occur more than once, in any case and spacing."""
    seen: dict[str, int] = {}
    for column in header:
        key = column.strip().casefold()
        seen[key] = seen.get(key, 0) + 1
    return [c for c in dict.fromkeys(h.strip() for h in header) if seen[c.casefold()] > 1]


def header_separator(path: Path, encoding: str = "utf-8") -> str:
    """``;`` for a CSV (plain or gzipped) whose header line has more semicolons than commas (Excel
    writes CSV so where the decimal separator is a comma: most of Europe), else ``,``."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding=encoding, errors="replace") as fh:
        header = fh.readline()
    return ";" if header.count(";") > header.count(",") else ","
