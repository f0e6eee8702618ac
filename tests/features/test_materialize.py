"""Temporary tables of a DuckDB feature build: written once, replaced in place."""

from __future__ import annotations

import ibis

from churnlab.data import materialize


def _temp_tables(con) -> list[str]:
    rows = con.raw_sql("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return sorted(r[0] for r in rows)


def test_materialize_replaces_a_table_with_an_expression_that_reads_it():
    con = ibis.duckdb.connect()
    first = materialize(con, ibis.memtable({"a": [1, 2, 3]}), "_churnlab_t")
    second = materialize(con, first.mutate(b=first.a * 10), "_churnlab_t")
    assert second.get_name() == "_churnlab_t"
    assert con.execute(second.order_by("a")).to_dict("list") == {"a": [1, 2, 3], "b": [10, 20, 30]}
    # the first table is gone and no table is left under a fresh name
    assert [t for t in _temp_tables(con) if t.startswith("_churnlab")] == ["_churnlab_t"]


def test_materialize_keeps_the_expression_types():
    con = ibis.duckdb.connect()
    t = ibis.memtable({"k": [1, 1, 2], "n": [5, 6, 7]})
    # DuckDB sums BIGINT into HUGEINT; the table keeps Ibis's int64
    summed = materialize(con, t.group_by("k").agg(s=t.n.sum()), "_churnlab_sum")
    assert summed.schema() == ibis.schema({"k": "int64", "s": "int64"})
