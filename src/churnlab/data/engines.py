"""Ibis connections: embedded DuckDB (default, bounded memory, spilling) or Spark."""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from itertools import count
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import sqlglot as sg
import sqlglot.expressions as sge

from churnlab.config import threads

log = logging.getLogger(__name__)
ENGINES = ("duckdb", "spark")
WORK = "churnlab_work"  # the in-memory database a build's tables go to (compressed)
_FRESH = count()  # fresh names for tables being replaced
_MEMORY = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B|bytes|%)?", re.IGNORECASE)


def spark_session() -> Any:
    """The active SparkSession (a cluster's, in production), else a local one for this machine."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ValueError(
            "engine 'spark' needs pyspark: make setup-spark (or pip install 'churnlab[spark]')"
        ) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Python UDFs (model scoring) must run in this interpreter's environment, not the system's
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(f"local[{os.cpu_count() or 2}]")
        .appName("churnlab")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        # a feature plan has dozens of joins and sorts in one task, each holding a memory page
        .config("spark.buffer.pageSize", "2m")
        .config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 2)))
        .config("spark.driver.memory", os.environ.get("CHURNLAB_SPARK_DRIVER_MEMORY", "4g"))
        .getOrCreate()
    )


def materialize(con: Any, expr: ibis.Table, name: str, compress: bool = False) -> ibis.Table:
    """``expr`` computed once, as the table ``name`` that later expressions read.

    On DuckDB a table of the connection's in-memory work database (:data:`WORK`, gone with
    the connection like a temporary table; a temporary table where the connection is
    read-only). ``compress``: compressed once written if it holds at least
    :data:`COMPRESS_MIN_VALUES` values (a checkpoint of the work database: dictionary,
    run-length and bit-packed columns), for the large roll-ups a build holds to its end (at
    100,000 accounts they took 4.8 GiB uncompressed; DuckDB can then spill less). On Spark a
    locally checkpointed temporary view, its lineage cut so that every later plan starts from
    it (Catalyst's planning time grows with the plan: a feature table read as one plan
    re-planned the roll-ups under every builder). Other engines get the expression back."""
    if con.name == "duckdb":
        attach_work(con)
        con._run_pre_execute_hooks(expr)  # registers the in-memory tables ``expr`` reads
        sql, table = _duckdb_table(con, expr, name, compress)
        _run_duckdb(con, sql)
        return table
    if con.name == "pyspark":
        # the query as a view of its own first (Ibis registers the in-memory tables it reads),
        # its rows then checkpointed under ``name``
        fresh = f"{name}__{next(_FRESH)}"
        con.create_view(fresh, expr)
        spark_session().table(fresh).localCheckpoint(eager=True).createOrReplaceTempView(name)
        con.drop_view(fresh)
        return con.table(name)
    return expr


# a table of at least this many values (rows x columns, ~256 MB uncompressed) is compressed
# when its maker asks: below it memory is not what limits a build, and compressing costs
# about a second per GB written (compressing the demo's roll-ups took 0.4 s of a 4 s build
# and saved 0.15 GB)
COMPRESS_MIN_VALUES = 32_000_000


def _run_duckdb(con: Any, sql: tuple[str, str, str | None]) -> None:
    """Run a table's statements; where they fail, drop the half-made table and re-raise. Then
    compress the work database where the table is to be compressed and is large enough."""
    make, drop, compress = sql
    try:
        con.raw_sql(make)
    except BaseException:
        with suppress(Exception):
            con.raw_sql(drop)
        raise
    if compress is not None:
        size = con.con.execute(
            "SELECT estimated_size * column_count FROM duckdb_tables() "
            "WHERE database_name = ? AND schema_name = 'main' AND table_name = ?",
            [WORK, compress],
        ).fetchone()
        if size and size[0] >= COMPRESS_MIN_VALUES:
            con.raw_sql(f"CHECKPOINT {WORK}")  # a fixed identifier, never user text


def _duckdb_table(
    con: Any, expr: ibis.Table, name: str, compress: bool = False
) -> tuple[tuple[str, str, str | None], ibis.Table]:
    """The SQL that computes ``expr`` into the table ``name`` of the work database (a
    temporary table where :func:`attach_work` found none), and that table.

    One round trip: the table created with the expression's own schema, filled, and renamed
    over ``name`` (the replaced table is dropped only once the new one exists, so ``expr`` may
    read it). Ibis's create_table asks for the catalog, the schema and the new table's columns
    in three more queries, and copies a replaced temporary table once more: a tenth of a
    feature build."""
    schema = expr.schema()
    if schema.null_fields:
        raise ValueError(f"{name}: columns without a type (all null): {schema.null_fields}")
    # the work database, or (a read-only connection cannot attach one) a temporary table
    where = {"db": "main", "catalog": WORK} if con.__dict__.get(_HAS_WORK) else {}
    fresh = sg.table(f"{name}__{next(_FRESH)}", quoted=True, **where)
    create = sge.Create(
        kind="TABLE",
        this=sge.Schema(this=fresh, expressions=schema.to_sqlglot_column_defs(con.dialect)),
        properties=None if where else sge.Properties(expressions=[sge.TemporaryProperty()]),
    )
    columns = [sg.to_identifier(c, quoted=True) for c in schema.names]
    insert = sge.insert(con.compiler.to_sqlglot(expr), into=fresh, columns=columns)
    target = sg.table(name, quoted=True, **where)
    statements = [
        create,
        insert,
        sge.Drop(kind="TABLE", this=target, exists=True),
        sge.Alter(
            kind="TABLE",
            this=fresh.copy(),
            actions=[sge.AlterRename(this=sg.table(name, quoted=True))],
        ),
    ]
    # what drops a half-made table (written before the statements: they are generated in place)
    drop = sge.Drop(kind="TABLE", this=fresh.copy(), exists=True).sql(dialect=con.dialect)
    sql = ";\n".join(s.sql(dialect=con.dialect, copy=False) for s in statements)
    # the schema as DuckDB's catalogue will hold it (a timestamp comes back with its scale)
    mapper = con.compiler.type_mapper
    stored = {
        c: mapper.from_string(mapper.to_string(t), nullable=t.nullable) for c, t in schema.items()
    }
    table = ops.DatabaseTable(
        name,
        schema=ibis.schema(stored),
        source=con,
        namespace=ops.Namespace(catalog=WORK, database="main") if where else ops.Namespace(),
    )
    return (sql, drop, name if compress and where else None), table.to_expr()


_HAS_WORK = "_churnlab_has_work"  # set on a DuckDB connection once its work database exists


def attach_work(con: Any) -> bool:
    """Attach the connection's in-memory work database (:data:`WORK`, compressed at explicit
    checkpoints only) unless it has one; whether it has one (a read-only connection, a
    ``.duckdb`` dataset file, cannot: its tables are temporary tables, uncompressed). Call
    where no query runs on ``con`` (the caller owns it)."""
    if _HAS_WORK not in con.__dict__:
        try:
            # fixed identifiers and values, never user text; no automatic checkpoints: a small
            # table is not worth compressing (_run_duckdb compresses the large ones)
            con.raw_sql(f"ATTACH IF NOT EXISTS ':memory:' AS {WORK} (COMPRESS)")
            con.raw_sql("SET checkpoint_threshold = '1TB'")
            con.__dict__[_HAS_WORK] = True
        except Exception as exc:  # duckdb.CatalogException: read-only
            log.debug("no work database (%s): temporary tables", exc)
            con.__dict__[_HAS_WORK] = False
    return con.__dict__[_HAS_WORK]


class Materializer:
    """:func:`materialize` for many tables, pipelined on DuckDB: each table's query runs on one
    background thread, in order, while the caller builds and compiles the next expression (on
    a 2-core machine a feature build's Python work, about a fifth of it, otherwise leaves a
    core idle). The tables it returns may be read by later expressions at once; :meth:`wait`
    (and leaving the ``with`` block) waits for every query and raises the first failure.
    Other engines materialize at once, on the caller's thread."""

    def __init__(self, con: Any):
        self.con = con
        self._pool = ThreadPoolExecutor(1, "churnlab-duckdb") if con.name == "duckdb" else None
        if self._pool is not None:
            attach_work(con)
        self._lock = threading.Lock()  # the DuckDB connection: one user at a time
        self._pending: list[Future] = []
        self._failed = False

    def __call__(self, expr: ibis.Table, name: str, compress: bool = False) -> ibis.Table:
        if self._pool is None:
            return materialize(self.con, expr, name, compress)
        if _needs_registration(self.con, expr):
            with self._lock:
                self.con._run_pre_execute_hooks(expr)
        sql, table = _duckdb_table(self.con, expr, name, compress)
        self._pending.append(self._pool.submit(self._run, sql))
        return table

    def _run(self, sql: tuple[str, str, str | None]) -> None:
        if self._failed:  # the queries after a failure are not run (they may read its table)
            return
        with self._lock:
            try:
                _run_duckdb(self.con, sql)
            except BaseException:
                self._failed = True
                raise

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def __enter__(self) -> Materializer:
        return self

    def __exit__(self, kind, *_: Any) -> None:
        if self._pool is None:
            return
        if kind is not None:  # interrupted or failed: drop the queue, stop the running query
            for future in self._pending:
                future.cancel()
            self.con.con.interrupt()
            self._pool.shutdown(wait=True, cancel_futures=True)
            return
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _needs_registration(con: Any, expr: ibis.Table) -> bool:
    """Whether ``expr`` reads an in-memory table not yet registered with ``con``, or a UDF."""
    nodes = expr.op().find((ops.InMemoryTable, ops.ScalarUDF))
    return any(isinstance(n, ops.ScalarUDF) or n not in con._memtables for n in nodes)


def duckdb_memory() -> str:
    """DuckDB's memory limit: ``CHURNLAB_DUCKDB_MEMORY`` (like ``6GB``, ``512MiB`` or ``50%``),
    default 6GB."""
    limit = os.environ.get("CHURNLAB_DUCKDB_MEMORY", "6GB").strip()
    if not _MEMORY.fullmatch(limit):
        raise ValueError(
            f"CHURNLAB_DUCKDB_MEMORY={limit!r}: expected an amount like 6GB, 512MiB or 50%"
        )
    return limit


def connect(engine: str = "duckdb", path: str | Path | None = None) -> Any:
    """An Ibis connection: embedded DuckDB by default, or Spark (the ``spark`` extra)."""
    if engine == "duckdb":
        # bounded memory with spilling to disk (one folder per process); row order comes from
        # explicit ORDER BYs. Settings go in as DuckDB's config, never pasted into SQL.
        spill = Path(tempfile.gettempdir()) / f"churnlab-duckdb-{os.getpid()}"
        return ibis.duckdb.connect(
            str(path) if path else ":memory:",
            read_only=bool(path),
            memory_limit=duckdb_memory(),
            threads=threads(),
            preserve_insertion_order=False,
            temp_directory=str(spill),
        )
    if engine == "spark":
        if path:
            raise ValueError(
                "engine 'spark' reads folders of Parquet/CSV files, not a .duckdb file"
            )
        session = spark_session()  # first: says how to install pyspark where it is missing
        return ibis.pyspark.connect(session)
    raise ValueError(f"unknown engine {engine!r}: expected one of {ENGINES}")
