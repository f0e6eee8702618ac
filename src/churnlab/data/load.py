"""Reading a dataset: a folder of Parquet or CSV files (``accounts.parquet``, ``events/`` of
Parquet parts, ``tickets.csv``, ...) or a DuckDB file holding tables of those names, validated
once on the engine (nothing is copied into pandas to be checked)."""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from churnlab.data.dataset import (
    MANIFEST,
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
from churnlab.data.engines import connect, materialize, spark_session
from churnlab.data.schema import TABLES
from churnlab.data.validate import MISSING_MARKERS, Validator, number_from_text

FOLDER_HINT = encoding_hint(
    '"encoding": "latin-1" in the folder\'s dataset.json (validate --encoding latin-1 to try it)'
)


# the text forms a folder's table may take, in the order they are looked for (zstd: DuckDB only)
TEXT_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".csv.zst", ".tsv.zst")
# JSON, one object per line (an app's or a tracking tool's export: Sparkify's log), or an array
JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")
FOLDER_FORMATS = "NAME.parquet, a folder NAME/ of Parquet or text parts, or " + ", ".join(
    f"NAME{s}" for s in (*TEXT_SUFFIXES, ".jsonl", ".json")
)


def _read_folder_table(
    con: Any, folder: Path, name: str, encoding: str
) -> tuple[ir.Table, str | None] | None:
    """A folder's table ``name`` (None if it has none) and, read from text, its field
    separator (``;``, a tab or ``,``; the validator reads decimal commas after the first two)."""
    parquet_file = folder / f"{name}.parquet"
    if parquet_file.exists():
        return _read_parquet(con, TableParts(folder, name, [parquet_file], ".parquet", [])), None
    parts = table_parts(folder / name, name)
    if parts is not None and parts.form == ".parquet":
        return _read_parquet(con, parts), None
    if (json_file := _json_source(folder, name)) is not None:
        return _read_json(con, json_file, name), ","
    text_file = next((f for s in TEXT_SUFFIXES if (f := folder / f"{name}{s}").exists()), None)
    if text_file is not None:
        parts = TableParts(folder, name, [text_file], _form(text_file) or "", [], single=True)
    return None if parts is None else _read_text(con, parts, encoding)


def _read_parquet(con: Any, parts: TableParts) -> ir.Table:
    """A table's Parquet file or parts, checked: a column named twice, parts that disagree."""
    for file in parts.files:
        if repeated := repeated_parquet_names(file):
            raise UnreadableTableError(
                str(file), f"names the column(s) {repeated} more than once: rename one", parts.name
            )
    parts.check_parquet_schemas()
    return parts.with_keys(_read_files(con, "parquet", parts.files, parts.name, {}, parts.keys))


def _read_text(con: Any, parts: TableParts, encoding: str) -> tuple[ir.Table, str]:
    """A table's text file or parts, as text, and its field separator."""
    name, files = parts.name, parts.files
    sample = next((f for f in files if f.stat().st_size > 0), files[0])
    # one file of 0 bytes is a failed export: say so, not "required column missing" (a folder
    # of parts may hold empty ones: Spark writes a file per partition)
    if parts.single and sample.stat().st_size == 0:
        raise UnreadableTableError(
            str(sample), "is an empty file (not even a header line): export the table again", name
        )
    sep = "\t" if ".tsv" in sample.name.lower() else header_separator(sample, encoding)
    if repeated := repeated_header_names(sample, sep, encoding):
        raise UnreadableTableError(
            str(sample), f"the header line names {repeated} more than once: rename one", name
        )
    parts.check_text_headers(sep, encoding)
    source = str(sample) if parts.single else str(parts.folder)
    # raw text, so bad values are reported instead of silently re-typed
    if con.name == "duckdb":  # its reader finds the separator and the compression itself
        options = {"all_varchar": True, "encoding": duckdb_encoding(encoding, source)}
        table = parts.with_keys(_read_files(con, "csv", files, f"{name}_text", options, parts.keys))
        # parsed once into the work database: validation and a build read a table a few
        # dozen times, and a CSV view is parsed again by each (800k rows: 56 s against 9 s)
        return materialize(con, table, name, compress=True), sep
    if sample.name.endswith(".zst"):
        raise UnreadableTableError(
            source,
            "zstd-compressed text is read by the DuckDB engine only: use --engine duckdb, or "
            "write the table as Parquet or gzip",
            name,
        )
    # Spark is told the separator (the one DuckDB finds); it decompresses gzip itself
    options = {"header": True, "inferSchema": False, "encoding": encoding, "sep": sep}
    return parts.with_keys(_read_files(con, "csv", files, name, options, parts.keys)), sep


# a directory ``key=value`` of a partitioned table (Spark's partitionBy, Hive, warehouses)
PARTITION_DIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")
# the column a partitioned table's file path is read into, dropped once its keys are read
FILE_COLUMN = "__churnlab_file"
# how Hive and Spark write a missing partition value
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def _hidden(name: str) -> bool:
    """A file or directory Spark, Hadoop and the OS leave beside the data (``_SUCCESS``,
    ``.part-0.crc``, ``_temporary/``, ``.DS_Store``), never read, as Spark reads none: a
    name starting with ``.``, or with ``_`` unless it is a partition ``_key=value``."""
    return name.startswith(".") or (name.startswith("_") and "=" not in name)


def _form(path: Path) -> str | None:
    """A part's format by its name (``.parquet`` or a text suffix), None for anything else."""
    lower = path.name.lower()
    forms = (".parquet", *sorted(TEXT_SUFFIXES, key=len, reverse=True))
    return next((s for s in forms if lower.endswith(s)), None)


class TableParts:
    """A table given as a folder ``NAME/``: its Parquet or text parts at any depth (as Spark
    and warehouses export them, partitioned in ``key=value`` directories or not), hidden
    files left out; the partition keys, which become text columns where the files have no
    column of that name (a key the files also hold is theirs: the files' column is read)."""

    def __init__(
        self,
        folder: Path,
        name: str,
        files: list[Path],
        form: str,
        keys: list[str],
        single: bool = False,
    ):
        self.folder, self.name, self.files, self.form, self.keys = folder, name, files, form, keys
        self.single = single  # one file NAME.csv (or NAME.parquet), not a folder of parts

    def _problem(self, message: str) -> UnreadableTableError:
        return UnreadableTableError(str(self.folder), message, self.name)

    def _rel(self, file: Path) -> str:
        return file.relative_to(self.folder).as_posix()

    def _check_columns(self, found: dict[Path, tuple]) -> None:
        """An error naming two files whose columns (names, or names and types) differ."""
        first = next(iter(found))
        for file, columns in found.items():
            if columns != found[first]:
                a, b = found[first], columns
                raise self._problem(
                    f"its files disagree on their columns: {self._rel(first)} has "
                    f"{_said(a)}, {self._rel(file)} has {_said(b)}; every part of a table "
                    "must have the same columns (export it again in one go)"
                )

    def check_parquet_schemas(self) -> None:
        if len(self.files) < 2:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        def column(field: Any) -> tuple[str, str]:
            kind = field.type
            if pa.types.is_integer(kind):
                return field.name, "integer"
            if pa.types.is_floating(kind):
                return field.name, "float"
            if pa.types.is_timestamp(kind):
                return field.name, f"timestamp{'' if kind.tz is None else ' ' + kind.tz}"
            if pa.types.is_string(kind) or pa.types.is_large_string(kind):
                return field.name, "string"
            return field.name, str(kind)

        found = {}
        for file in self.files:
            schema = pq.read_schema(file)
            # a column all missing in one part (pandas writes it typed null) agrees with any
            found[file] = tuple(sorted(column(f) for f in schema if not pa.types.is_null(f.type)))
        names = {f: sorted(pq.read_schema(f).names) for f in self.files}
        self._check_columns({f: tuple(n) for f, n in names.items()})
        self._check_columns(found)

    def check_text_headers(self, sep: str, encoding: str) -> None:
        if len(self.files) < 2:
            return
        import csv
        import gzip

        found = {}
        for file in self.files:
            lower = file.name.lower()
            if lower.endswith(".zst") or file.stat().st_size == 0:
                continue  # DuckDB reads zstd itself; an empty part is a partition with no rows
            opener = gzip.open if lower.endswith(".gz") else open
            with opener(file, "rt", encoding=encoding, errors="replace", newline="") as fh:
                header = next(csv.reader(fh, delimiter=sep), [])
            found[file] = tuple(sorted(h.strip().lstrip("\ufeff") for h in header))
        if found:
            self._check_columns(found)

    def with_keys(self, table: ir.Table) -> ir.Table:
        """``table`` (read with its files' paths) with each partition key the files lack as a
        text column (Hive's missing value, or none, missing), the paths dropped."""
        if FILE_COLUMN not in table.columns:
            return table
        path = table[FILE_COLUMN]
        added = {}
        for key in self.keys:
            if key in table.columns:
                continue  # the files' own column of that name is read
            # the last directory of that key (one above the dataset may share its name)
            value = path.re_extract(f"^.*/{re.escape(key)}=([^/]*)/", 1)
            added[key] = ibis.ifelse(
                (value == "") | (value == HIVE_NULL), ibis.null("string"), value
            )
        return table.mutate(**added).drop(FILE_COLUMN)


def _said(columns: tuple) -> str:
    shown = [f"{c[0]} ({c[1]})" if isinstance(c, tuple) else c for c in columns[:8]]
    return "[" + ", ".join(shown) + (", ..." if len(columns) > 8 else "") + "]"


def table_parts(folder: Path, name: str) -> TableParts | None:
    """The parts of the table folder ``folder`` (None if it is no folder or holds none); a
    folder mixing formats, or whose parts are partitioned by different keys, is an error
    naming the table and example files."""
    if not folder.is_dir():
        return None
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        files += [Path(root) / f for f in sorted(names) if not _hidden(f)]
    files = [f for f in files if _form(f) is not None]
    if not files:
        return None
    by_form: dict[str, Path] = {}
    for file in files:
        by_form.setdefault(_form(file), file)
    if len(by_form) > 1:
        said = ", ".join(f.relative_to(folder).as_posix() for f in by_form.values())
        raise UnreadableTableError(
            str(folder),
            f"mixes file formats ({said}): a table's parts must all be Parquet, or all one "
            "kind of text",
            name,
        )
    keys_of = {}
    for file in files:
        dirs = file.relative_to(folder).parts[:-1]
        keys_of[file] = [m.group(1) for d in dirs if (m := PARTITION_DIR.fullmatch(d))]
    first = files[0]
    for file in files:
        if keys_of[file] != keys_of[first]:
            raise UnreadableTableError(
                str(folder),
                f"its files are partitioned differently: {first.relative_to(folder).as_posix()} "
                f"by {keys_of[first] or 'nothing'}, {file.relative_to(folder).as_posix()} by "
                f"{keys_of[file] or 'nothing'}",
                name,
            )
    return TableParts(folder, name, files, _form(first), keys_of[first])


def _read_files(
    con: Any, kind: str, files: list[Path], name: str, options: dict, keys: list[str]
) -> ir.Table:
    """``files`` (Parquet or CSV) read as one table ``name``, each path given to the engine as
    a value (never pasted into SQL), partition directories not read into columns by the
    engine (:meth:`TableParts.with_keys` does that); a partitioned table's rows carry their
    file's path in :data:`FILE_COLUMN`."""
    paths, keyed = [f.resolve().as_posix() for f in files], bool(keys)
    if con.name == "duckdb":
        extra = {"hive_partitioning": False, **({"filename": FILE_COLUMN} if keyed else {})}
        read = con.read_parquet if kind == "parquet" else con.read_csv
        return read(paths, table_name=name, **options, **extra)
    # Spark: files given one by one discover no partitions; their paths from input_file_name
    session = spark_session()
    frame = (
        session.read.parquet(*paths) if kind == "parquet" else session.read.csv(paths, **options)
    )
    if keyed:
        from pyspark.sql import functions as F

        frame = frame.withColumn(FILE_COLUMN, F.input_file_name())
    frame.createOrReplaceTempView(name)
    return con.table(name)


def _json_source(folder: Path, name: str) -> Path | None:
    """A table's JSON file (``events.jsonl``, ``events.json``, ... gzipped too), or None."""
    return next((f for suffix in JSON_SUFFIXES if (f := folder / f"{name}{suffix}").exists()), None)


def _read_json(con: Any, path: Path, name: str) -> ir.Table:
    """A JSON table read as text, as a CSV is (every value is then parsed and checked by the
    same rules, epoch numbers by ``epoch_unit``), an empty string missing as an empty CSV
    field is. Nested objects and lists stay nested here, so that dataset.json may name a
    field inside one (``groups.company``, :func:`nested_field`); whatever is left nested
    after the mapping reads as its text (:func:`_nested_as_text`)."""
    if path.stat().st_size == 0:
        raise UnreadableTableError(str(path), "is an empty file: export the table again", name)
    try:
        raw = con.read_json(str(path), table_name=f"{name}_json")
    except Exception as exc:  # the engine's parser: say which file, keep its reason
        reason = str(exc).strip().splitlines()[0][:300]
        raise UnreadableTableError(
            str(path), f"is not JSON lines or a JSON array of objects ({reason})", name
        ) from None
    table = raw.select(
        **{c: raw[c] if _is_nested(raw[c].type()) else _json_text(raw[c]) for c in raw.columns}
    )
    if con.name == "duckdb":  # typed once, as a CSV is
        return materialize(con, table, name, compress=True)
    return table


def _is_nested(dtype: Any) -> bool:
    return dtype.is_struct() or dtype.is_array() or dtype.is_map()


def _json_text(value: ir.Value) -> ir.StringValue:
    """A JSON value as text, blank missing: a field of mixed kinds is typed JSON (its strings
    unquoted, anything else as its JSON text)."""
    if value.type().is_json():
        text = ibis.ifelse(value.str.notnull(), value.str, value.cast("string"))
    else:
        text = value.cast("string")
    return ibis.ifelse(text.strip() == "", ibis.null("string"), text)


def _nested_as_text(table: ir.Table) -> ir.Table:
    """A JSON table's objects and lists that dataset.json did not reach into, as their text."""
    nested = [c for c in table.columns if _is_nested(table[c].type())]
    return table.mutate(**{c: _json_text(table[c]) for c in nested}) if nested else table


def nested_field(table: ir.Table, name: str) -> tuple[ir.Value | None, list[ir.Value], str]:
    """The field a dotted name reaches in a table's nested objects (``groups.company``: the
    ``company`` field of the ``groups`` object), each list on the way read as its element (an
    empty one as missing); the lists on the way, whose rows of several elements are a
    problem; and, where the name reaches no single value, why (empty when it does)."""
    if not isinstance(name, str):
        return None, [], f"no column {name!r} (it has {list(table.columns)})"
    parts = name.split(".")
    heads = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
    head = next((h for h in heads if h in table.columns), None)
    if head is None:
        return None, [], f"no column {name!r} (it has {list(table.columns)})"
    value, lists, path = table[head], [], head
    for key in [*parts[len(head.split(".")) :], None]:
        while value.type().is_array():
            lists.append(value)
            value = ibis.ifelse(value.length() > 0, value[0], ibis.null(value.type().value_type))
        if key is None:
            break
        if not value.type().is_struct():
            return None, [], f"{path!r} has no field {key!r} (it is not an object)"
        if key not in value.type().names:
            return None, [], f"{path!r} has no field {key!r} (it has {list(value.type().names)})"
        value, path = value[key], f"{path}.{key}"
    if _is_nested(value.type()):
        fields = list(value.type().names) if value.type().is_struct() else []
        example = f", such as {name}.{fields[0]}" if fields else ""
        return (
            None,
            [],
            f"{name!r} is a nested object{f' (fields {fields[:8]})' if fields else ''}, not one "
            f"value: name the field inside it with a dot{example}, or flatten the table "
            "before (one column per field)",
        )
    return _json_text(value) if value.type().is_json() else value, lists, ""


def missing_table_hint(folder: Path, name: str) -> str:
    """What a folder holds under a table's name that churnlab does not read (``Events.CSV``,
    ``events.json``, ``event.csv``), for the missing-table problem; empty if nothing."""
    if not folder.is_dir():
        return ""
    if (folder / name).is_dir():  # a table folder with no part churnlab reads
        return (
            f" ({name}/ holds no Parquet or text part at any depth: its parts are read from "
            f"*.parquet or *{', *'.join(TEXT_SUFFIXES)} files, names starting with . or _ "
            "left out)"
        )
    stems = {name, name.rstrip("s"), f"{name}s"}
    near = sorted(
        f.name
        for f in folder.iterdir()
        if f.name.lower().split(".", 1)[0] in stems and f.name.lower() != name
    )
    if near:
        return (
            f" (found {', '.join(near[:5])}; a table is read from "
            f"{FOLDER_FORMATS.replace('NAME', name)})"
        )
    files = sorted(f.name for f in folder.iterdir() if not f.name.startswith("."))
    return f" (the folder holds {', '.join(files[:8])}{', ...' if len(files) > 8 else ''})"


def log_alone_hint(problems: list[Problem], tables: set[str]) -> list[Problem]:
    """A folder with events but neither accounts nor subscriptions (a product's log alone):
    the problems of the two missing tables say how such a log is read."""
    missing = {p.table for p in problems if p.message.startswith("required table is missing")}
    if not ({"accounts", "subscriptions"} <= missing and "events" in tables):
        return problems
    hint = (
        '; a log alone reads churn from activity: {"churn": {"inactive_days": 30}} in '
        "dataset.json (see Churn from activity in the data docs)"
    )
    return [
        replace(p, message=p.message + hint)
        if p.table == "subscriptions" and p.message.startswith("required table is missing")
        else p
        for p in problems
    ]


# dataset.json's keys: what churnlab reads, what the simulator records, and free text
MANIFEST_KEYS = (
    "observed_until", "encoding", "events", "account_attributes", "epoch_unit", "churn",
    "columns", "generator", "profile", "scenario", "change_at", "start", "params", "rows",
    "code", "files", "events_unique", "description", "notes",
)  # fmt: skip


def read_manifest(folder: Path) -> dict[str, Any]:
    """A dataset folder's ``dataset.json`` ({} without one), checked: invalid JSON, anything
    but an object, and keys churnlab does not know (a misspelled ``observed_until`` would
    silently move the data's end) are problems naming the file."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return {}
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        problem = Problem(
            MANIFEST, None, f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        )
        raise DataValidationError(str(manifest_path), [problem]) from None
    if not isinstance(manifest, dict):
        problem = Problem(
            MANIFEST, None, f"must be a JSON object ({{...}}), not {type(manifest).__name__}"
        )
        raise DataValidationError(str(manifest_path), [problem])
    unknown = [k for k in manifest if k not in MANIFEST_KEYS]
    if unknown:
        near = {k: difflib.get_close_matches(k, MANIFEST_KEYS, n=1) for k in unknown}
        said = ", ".join(
            f"{k!r}" + (f" (did you mean {m[0]!r}?)" if m else "") for k, m in near.items()
        )
        problem = Problem(
            MANIFEST,
            None,
            f"unknown key(s) {said}; known: {list(MANIFEST_KEYS)} (text of your own goes under 'notes')",
        )
        raise DataValidationError(str(manifest_path), [problem])
    return manifest


def read_raw(
    path: str | Path, engine: str = "duckdb", encoding: str | None = None
) -> tuple[Any, dict[str, ir.Table], dict]:
    """The raw tables found at ``path`` (no validation), the connection and the manifest.

    CSV files in a folder are read in ``encoding``, else the manifest's ``encoding``, else
    UTF-8."""
    con, tables, manifest, _ = _read_raw(path, engine, encoding)
    return con, tables, manifest


def _read_raw(
    path: str | Path, engine: str = "duckdb", encoding: str | None = None
) -> tuple[Any, dict[str, ir.Table], dict, dict[str, str]]:
    """:func:`read_raw`, and the field separator of each table read from text."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    names = [*TABLES, "truth"]
    if path.is_file():
        if path.suffix not in {".duckdb", ".db"}:
            raise ValueError(f"{path}: expected a folder of Parquet/CSV files or a .duckdb file")
        con = connect(engine, path)
        present = set(con.list_tables())
        return con, {n: con.table(n) for n in names if n in present}, {}, {}
    manifest = read_manifest(path)
    encoding = check_encoding(encoding or manifest.get("encoding") or "utf-8")
    con = connect(engine)
    tables, separators, from_json = {}, {}, set()
    for name in names:
        try:
            found = _read_folder_table(con, path, name, encoding)
        except Exception as exc:  # DuckDB sniffs a CSV's first rows when it is opened
            if "unicode" not in str(exc).lower():
                raise
            raise UnreadableTableError(
                str(path / f"{name}.csv"), f"is not {encoding} text; {FOLDER_HINT}", name
            ) from None
        if found is not None:
            tables[name], sep = found
            if sep is not None and _json_source(path, name) is not None:
                from_json.add(name)  # JSON is read before text (parquet gives no separator)
            if sep is not None:
                separators[name] = sep
    tables = _own_column_names(tables, manifest, path)
    tables = {  # a JSON table's objects nobody reached into: their text, as before
        n: _nested_as_text(t) if n in from_json else t for n, t in tables.items()
    }
    return con, tables, manifest, separators


def _own_column_names(tables: dict[str, ir.Table], manifest: dict, path: Path) -> dict:
    """The tables with their columns named as churnlab names them, where dataset.json maps
    the file's own names (``"columns": {"events": {"account_id": "userId"}}``: churnlab's name
    to the file's); every mistake in the mapping is a problem naming it."""
    mapping = manifest.get("columns")
    if mapping is None:
        return tables
    if not isinstance(mapping, dict) or not all(isinstance(m, dict) for m in mapping.values()):
        message = (
            'must map tables to {churnlab_name: your_column}, e.g. {"events": '
            '{"account_id": "userId", "event_type": "page"}}'
        )
        raise DataValidationError(str(path), [Problem("dataset.json", "columns", message)])
    problems, out = [], dict(tables)
    for name, renames in mapping.items():
        wide = renames.get("count") if name == "events" else None
        if isinstance(wide, list):  # a wide roll-up: one count column per event type
            found = _wide_problems(tables.get(name), wide, renames)
            renames = {k: v for k, v in renames.items() if k != "count"}
        else:
            wide, found = None, []
        found += _rename_problems(name, tables.get(name), renames)
        problems += [Problem("dataset.json", "columns", message) for message in found]
        if name in tables and not found:
            out[name] = _renamed(tables[name], renames)
            if wide is not None:
                out[name] = melted(out[name], wide)
    if problems:
        raise DataValidationError(str(path), problems)
    return out


def _wide_problems(table: ir.Table | None, wide: list, renames: dict) -> list[str]:
    """What is wrong with a wide roll-up's list of count columns
    (``"count": ["num_25", "num_100"]``)."""
    where = "events.count"
    if not wide or not all(isinstance(c, str) for c in wide) or len(set(wide)) < len(wide):
        return [f"{where}: a list of distinct column names, one per event type"]
    if table is None:
        return []
    found = []
    if absent := [c for c in wide if c not in table.columns]:
        found.append(f"{where}: no column(s) {absent} (it has {list(table.columns)})")
    if "event_type" in renames or "event_type" in table.columns:
        found.append(
            f"{where}: with a list of count columns, each column's name is the event type: "
            "the table may not have or map an event_type column too"
        )
    others = {v for k, v in renames.items() if k != "count" and isinstance(v, str)}
    if mapped := sorted(set(wide) & others):
        found.append(f"{where}: {mapped} both listed as counts and mapped as another column")
    return found


def melted(table: ir.Table, columns: list[str]) -> ir.Table:
    """A wide roll-up (one row per account and day, a count per measure: ``num_25``,
    ``num_100``, ``total_secs``) as the long one churnlab reads: a row per listed column with
    ``event_type`` its name and ``count`` its value, rounded to a whole number (a column of
    seconds counts seconds); empty values are no row. Text that is no number stays text, so
    validation names it. A ``duration_s`` (the day's total time) stays on the first listed
    column's rows only, so no total is counted once per column."""
    keep = [c for c in table.columns if c not in columns and c != "duration_s"]
    text = not all(table[c].type().is_numeric() for c in columns)
    parts = []
    for col in columns:
        value = table[col]
        if text:
            raw = value.cast("string")
            number = number_from_text(raw)
            word = raw.strip().lower()
            empty = raw.isnull() | (word == "") | word.isin(MISSING_MARKERS)
            count = ibis.ifelse(number.isnull() & ~empty, raw, number.round().cast("string"))
        else:
            count = value.cast("float64").round().cast("float64")
        extra = {}
        if "duration_s" in table.columns:
            first = col == columns[0]
            extra["duration_s"] = table.duration_s if first else ibis.null(table.duration_s.type())
        parts.append(table.select(*keep, event_type=ibis.literal(col), count=count, **extra))
    out = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return out.filter(out["count"].notnull())


def in_file_names(problem: Problem, mapping: dict[str, dict[str, str]]) -> Problem:
    """``problem`` told in the file's own column names where dataset.json maps them: the
    column as ``started_at (your transaction_date)``, the example rows as the file has them
    (``msno=1 transaction_date='20240102'``), so a user finds the values in their file."""
    renames = mapping.get(problem.table)
    if not isinstance(renames, dict) or not renames:
        return problem
    renames = {k: v for k, v in renames.items() if isinstance(v, str)}  # not a wide roll-up's
    examples = tuple(
        re.sub(
            r"(?<![\w.])(" + "|".join(map(re.escape, renames)) + r")=",
            lambda m: f"{renames[m.group(1)]}=",
            example,
        )
        for example in problem.examples
    )
    return replace(problem, examples=examples, file_column=renames.get(problem.column or ""))


def notice_in_file_names(notice: str, mapping: dict[str, dict[str, str]]) -> str:
    """A notice about one table (``events: ...``, ``events.duration_s: ...``) with its example
    values named as the file names their columns (``customer_ref='CUS-00088'``, not
    ``account_id=...``), as problems are (:func:`in_file_names`)."""
    table = re.match(r"(\w+)[.:]", notice)
    renames = mapping.get(table.group(1)) if table else None
    if not isinstance(renames, dict):
        return notice
    renames = {k: v for k, v in renames.items() if isinstance(v, str)}  # not a wide roll-up's
    if not renames:
        return notice
    return re.sub(
        r"(?<![\w.])(" + "|".join(map(re.escape, renames)) + r")=",
        lambda m: f"{renames[m.group(1)]}=",
        notice,
    )


def _renamed(table: ir.Table, renames: dict[str, str]) -> ir.Table:
    """``table`` with churnlab's names for the columns mapped (one file column may serve two:
    a log whose userId is both the account and the user); the file's names are gone."""
    mapped = {
        ours: table[theirs] if theirs in table.columns else nested_field(table, theirs)[0]
        for ours, theirs in renames.items()
    }
    rest = [c for c in table.columns if c not in set(renames.values()) | set(mapped)]
    return table.select(*rest, **mapped)


def _rename_problems(name: str, table: ir.Table | None, renames: dict[str, str]) -> list[str]:
    """What is wrong with dataset.json's column names for table ``name`` (absent: None, which
    validation reports itself)."""
    if name not in TABLES:
        return [f"unknown table {name!r}; known: {list(TABLES)}"]
    if table is None:
        return []
    known, problems = [c.name for c in TABLES[name].columns], []
    for ours, theirs in renames.items():
        where = f"{name}.{ours}"
        if ours not in known:
            problems.append(f"{where}: {ours!r} is not a column churnlab reads (it reads {known})")
        elif (theirs not in table.columns or _is_nested(table[theirs].type())) and (
            found := _nested_problems(name, table, theirs)
        ):
            problems += [f"{where}: {p}" for p in found]
        elif ours in table.columns and ours != theirs and ours not in renames.values():
            # a column of that name that is itself mapped away (Segment: user_id is the
            # account, anonymous_id the user) leaves the name free
            problems.append(
                f"{where}: {name} has a column {ours!r} already; rename or drop one of "
                f"{ours!r} and {theirs!r}"
            )
    return problems


def _nested_problems(name: str, table: ir.Table, theirs: str) -> list[str]:
    """What keeps a column of dataset.json's mapping from being read where it is not a plain
    column: absent, a nested object, or a list holding several values in some rows."""
    value, lists, why = nested_field(table, theirs)
    if value is None:
        return [why]
    found = []
    for lst in lists:
        several = table.filter(lst.length() > 1)
        n = int(several.count().execute())
        if n:
            shown = several.select(v=lst.cast("string")).limit(3).execute().v.tolist()
            found.append(
                f"{theirs!r} is a list of several values in {n:,} row(s) of {name} (e.g. "
                f"{', '.join(shown)}): a list of one value is read as that value; flatten the "
                "table before, one row per value, or map another field"
            )
    return found


def load_dataset(
    path: str | Path,
    *,
    engine: str = "duckdb",
    observed_until: str | pd.Timestamp | None = None,
    encoding: str | None = None,
) -> Dataset:
    """Read and validate a dataset. Raises :class:`DataValidationError` listing every problem.

    ``observed_until`` (end of observation) comes from the argument, else from the folder's
    ``dataset.json`` manifest, else it is the latest event timestamp.
    """
    con, raw, manifest, separators = _read_raw(path, engine, encoding)
    if observed_until is None and manifest.get("observed_until"):
        observed_until = manifest["observed_until"]
    validator = Validator(
        con,
        raw,
        str(path),
        observed_until,
        _epoch_unit(manifest, path),
        _churn_rule(manifest, path),
        separators,
    )
    try:
        tables = validator.run()
    except DataValidationError as exc:  # a missing table: name what the folder has instead
        problems = [
            replace(p, message=p.message + missing_table_hint(Path(path), p.table))
            if p.message == "required table is missing"
            else p
            for p in exc.problems
        ]
        problems = [in_file_names(p, manifest.get("columns") or {}) for p in problems]
        problems = log_alone_hint(problems, set(raw))
        if problems == exc.problems:
            raise
        raise DataValidationError(exc.source, problems) from None
    dataset = Dataset(
        con=con,
        tables=tables,
        observed_until=validator.observed_until,
        source=str(path),
        notices=[notice_in_file_names(n, manifest.get("columns") or {}) for n in validator.notices],
        manifest=manifest,
        anonymous_types=validator.anonymous_types,
    )
    _check_account_attributes(dataset)
    dataset.notices.extend(unread_columns_notices(dataset))
    dataset.notices.extend(log_start_notice(dataset))
    return dataset


def log_start_notice(dataset: Dataset) -> list[str]:
    """A notice where accounts signed up before the event log begins (a log kept from a
    retention date, an export "since October"): what their features cannot know."""
    start = dataset.log_start()
    if start is None:
        return []
    day, older = start
    total = int(dataset.con.execute(dataset["accounts"].count()))
    return [
        f"events: the log begins on {day.date()}, after {older:,} of {total:,} accounts signed up: "
        "for them, features over days before it are unknown (null), not zero: counts and "
        f"trends at cutoffs before {(day + pd.Timedelta(days=90)).date()} (yearly counts before "
        f"{(day + pd.Timedelta(days=365)).date()}), and the onboarding features at every cutoff"
    ]


def unread_columns_notices(dataset: Dataset) -> list[str]:
    """A notice per table (other than ``accounts``, which has its own) naming the columns no
    part of churnlab reads, with those it does: a ``count`` of a roll-up under another name, a
    coupon or an amount someone expects in the features would otherwise pass unnoticed."""
    out = []
    for name, table in dataset.tables.items():
        schema = TABLES.get(name)
        if schema is None or name == "accounts":
            continue
        known = [c.name for c in schema.columns]
        unread = [c for c in table.columns if c not in known]
        if unread:
            out.append(
                f"{name}: column(s) {', '.join(unread)} are not read (churnlab reads "
                f"{', '.join(known)}; a column of yours under another name is mapped in "
                'dataset.json: {"columns": {"' + name + '": {"<name>": "<yours>"}}})'
            )
    return out


def _epoch_unit(manifest: dict, path: str | Path) -> str | None:
    """dataset.json's ``epoch_unit`` (what numbers in timestamp columns count), checked."""
    from churnlab.data.validate import EPOCH_UNITS

    unit = manifest.get("epoch_unit")
    if unit is not None and unit not in EPOCH_UNITS:
        raise DataValidationError(
            str(path),
            [Problem("dataset.json", "epoch_unit", f"must be s, ms or us, not {unit!r}")],
        )
    return unit


def _churn_rule(manifest: dict, path: str | Path) -> Any:
    """dataset.json's churn rule (:mod:`churnlab.data.inactivity`), checked."""
    from churnlab.data.inactivity import churn_rule

    rule, problems = churn_rule(manifest)
    if problems:
        raise DataValidationError(
            str(path), [Problem("dataset.json", "churn", message) for message in problems]
        )
    return rule


def _check_account_attributes(dataset: Dataset) -> None:
    """``account_attributes`` in dataset.json checked now (a bad name fails the load, not a
    later feature build), and a notice naming the accounts columns no feature reads."""
    from churnlab.data.vocabulary import account_attributes, unused_account_columns

    attributes = account_attributes(dataset)
    if attributes:
        dataset.notices.append(
            "accounts: attributes named in dataset.json read as features: "
            + ", ".join(f"{c} ({kind})" for c, kind in attributes)
        )
    unused = unused_account_columns(dataset)
    if unused:
        dataset.notices.append(
            f"accounts: column(s) {', '.join(unused)} are not read: churnlab cannot tell "
            "whether a column without a date was known before each cutoff (a status or a "
            "cancellation reason is written later, and would leak the outcome); name those "
            'fixed at sign-up in dataset.json ("account_attributes": [...]) to use them as '
            "features"
        )


def load_source(source: Any, root: str | Path | None = None) -> Dataset:
    """The dataset an experiment spec names (``EventData``: a folder or .duckdb file in the
    five-table model; ``TableData``: one customer table), validated; relative paths resolve
    against ``root`` (default: the working directory). The one loading function training,
    the report and the CLI use."""
    from churnlab.data.single_table import load_customer_table

    root = Path(root) if root is not None else Path.cwd()
    table = getattr(source, "table", None)
    path = Path(table if table is not None else source.path)
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise FileNotFoundError(f"data: {path} not found")
    if table is not None:
        return load_customer_table(
            path,
            id_col=source.id,
            label_col=source.label,
            positive=source.positive,
            duration_col=source.duration,
            encoding=source.encoding,
            duration_unit=source.duration_unit,
            mrr_col=source.mrr,
            na_values=source.na_values,
        )
    return load_dataset(path, engine=source.engine)
