"""Ibis connections: embedded DuckDB (default, bounded memory, spilling) or Spark."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import ibis

ENGINES = ("duckdb", "spark")


def spark_session() -> Any:
    """The active SparkSession (a cluster's, in production), else a local one for this machine."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ValueError("engine 'spark' needs pyspark: pip install 'churnlab[spark]'") from exc
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


def connect(engine: str = "duckdb", path: str | Path | None = None) -> Any:
    """An Ibis connection: embedded DuckDB by default, or Spark (the ``spark`` extra)."""
    if engine == "duckdb":
        con = ibis.duckdb.connect(str(path) if path else ":memory:", read_only=bool(path))
        # bounded memory with spilling to disk; row order comes from explicit ORDER BYs
        limit = os.environ.get("CHURNLAB_DUCKDB_MEMORY", "6GB")
        con.raw_sql(f"SET memory_limit = '{limit}'")
        con.raw_sql("SET preserve_insertion_order = false")
        spill = Path(tempfile.gettempdir()) / f"churnlab-duckdb-{os.getpid()}"  # one per process
        con.raw_sql(f"SET temp_directory = '{spill}'")
        return con
    if engine == "spark":
        if path:
            raise ValueError(
                "engine 'spark' reads folders of Parquet/CSV files, not a .duckdb file"
            )
        return ibis.pyspark.connect(spark_session())
    raise ValueError(f"unknown engine {engine!r}: expected one of {ENGINES}")
