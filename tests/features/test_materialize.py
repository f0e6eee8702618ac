"""Temporary tables of a DuckDB feature build: written once, replaced in place."""

from __future__ import annotations

import ibis
import pandas as pd

from churnlab.data import materialize


def _temp_tables(con) -> list[str]:
    """The tables of the connection's work database (gone with it, like temporary tables)."""
    rows = con.raw_sql(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'churnlab_work'"
    ).fetchall()
    return sorted(r[0] for r in rows)


def test_materialize_replaces_a_table_with_an_expression_that_reads_it():
    con = ibis.duckdb.connect()
    first = materialize(con, ibis.memtable({"a": [1, 2, 3]}), "_churnlab_t")
    second = materialize(con, first.mutate(b=first.a * 10), "_churnlab_t")
    assert second.op().name == "_churnlab_t"
    assert con.execute(second.order_by("a")).to_dict("list") == {"a": [1, 2, 3], "b": [10, 20, 30]}
    # the first table is gone and no table is left under a fresh name
    assert [t for t in _temp_tables(con) if t.startswith("_churnlab")] == ["_churnlab_t"]


def test_materialize_keeps_the_expression_types():
    con = ibis.duckdb.connect()
    t = ibis.memtable({"k": [1, 1, 2], "n": [5, 6, 7]})
    # DuckDB sums BIGINT into HUGEINT; the table keeps Ibis's int64
    summed = materialize(con, t.group_by("k").agg(s=t.n.sum()), "_churnlab_sum")
    assert summed.schema() == ibis.schema({"k": "int64", "s": "int64"})
    # the schema handed back without asking DuckDB again is the one its catalogue holds
    assert (
        summed.schema() == con.table("_churnlab_sum", database=("churnlab_work", "main")).schema()
    )
    assert con.execute(summed.order_by("k")).to_dict("list") == {"k": [1, 2], "s": [11, 7]}
    # timestamps (DuckDB stores them with a scale) and non-null counts alike
    ts = ibis.memtable({"k": [1, 2], "ts": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    latest = materialize(con, ts.group_by("k").agg(last=ts.ts.max(), n=ts.count()), "_churnlab_ts")
    assert latest.schema() == con.table("_churnlab_ts", database=("churnlab_work", "main")).schema()


def test_large_tables_asked_to_be_compressed_are(monkeypatch):
    from churnlab.data import engines

    con = ibis.duckdb.connect()
    t = ibis.memtable({"a": list(range(1000))}).cross_join(ibis.memtable({"b": ["x", "y"] * 50}))

    def storage(name):
        sql = f"SELECT DISTINCT compression FROM pragma_storage_info('churnlab_work.main.{name}')"
        return {r[0] for r in con.raw_sql(sql).fetchall()}

    plain = materialize(con, t, "_churnlab_plain")
    small = materialize(con, t, "_churnlab_small", compress=True)  # 200,000 values: not worth it
    assert storage("_churnlab_plain") == storage("_churnlab_small") == {"Uncompressed"}
    expected = con.execute(plain.order_by(["a", "b"]))
    monkeypatch.setattr(engines, "COMPRESS_MIN_VALUES", 100_000)
    packed = materialize(con, t, "_churnlab_packed", compress=True)
    # compressing checkpoints the work database: the tables written before it too
    assert "Uncompressed" not in storage("_churnlab_packed") | storage("_churnlab_plain")
    for table in (packed, plain, small):
        pd.testing.assert_frame_equal(con.execute(table.order_by(["a", "b"])), expected)


def test_a_read_only_dataset_file_keeps_its_tables_in_temporary_tables(tmp_path):
    # a .duckdb dataset is opened read-only, which cannot attach an in-memory database
    import duckdb

    from churnlab.data.engines import Materializer, connect

    with duckdb.connect(str(tmp_path / "data.duckdb")) as db:
        db.sql("CREATE TABLE t AS SELECT range AS a FROM range(10)")
    con = connect("duckdb", tmp_path / "data.duckdb")
    t = con.table("t")
    first = materialize(con, t.mutate(b=t.a * 2), "_churnlab_first", compress=True)
    with Materializer(con) as keep:
        second = keep(first.mutate(c=first.b + 1), "_churnlab_second", compress=True)
    assert con.execute(second.c.sum()) == 100
    temporary = con.raw_sql("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    assert sorted(r[0] for r in temporary) == ["_churnlab_first", "_churnlab_second"]


def test_parts_joined_in_sql_equal_the_ibis_join(tmp_path):
    """The feature parts of a build joined by one sqlglot query (names quoted, fills as
    literals) give the table Ibis's join chain gives: same columns, types and values."""
    import pandas as pd

    from churnlab.data import Vocabulary, load_dataset
    from churnlab.features import build_observations, engine
    from tests.conftest import tiny_frames, write_frames

    frames = tiny_frames()  # accounts 1 and 2 older than the log: windows made unknown alike
    frames["accounts"].loc[0, "signup_at"] = pd.Timestamp("2023-11-01")
    frames["events"] = frames["events"].iloc[1:]
    ds = load_dataset(write_frames(frames, tmp_path / "tiny"), observed_until="2024-07-01")
    parts = []
    assemble = engine._assemble

    def keep(con, base, chunk, columns=None, coverage=None):
        parts.append((base, chunk, columns, coverage))
        return assemble(con, base, chunk, columns, coverage)

    vocab = Vocabulary(types=("login", "create_report", "export"), ratios=(("export", "login"),))
    engine._assemble = keep
    try:
        engine.build_features(ds, build_observations(ds, ["2024-04-15"], 30), vocabulary=vocab)
    finally:
        engine._assemble = assemble
    assert len(parts) > 1 and any(
        f.fill is not None for _, chunk, _, _ in parts for _, o in chunk for f in o
    )
    assert parts[-1][3] is not None
    for base, chunk, columns, coverage in parts:
        cols = list(base.columns) if columns is None else columns
        by_sql = assemble(ds.con, base, chunk, columns, coverage)
        by_ibis = engine._joined(base, chunk, cols, coverage)
        assert by_sql.op().__class__.__name__ == "SQLQueryResult"
        assert by_sql.schema() == by_ibis.schema()
        a = ds.con.execute(by_sql.order_by(["account_id", "cutoff"]))
        b = ds.con.execute(by_ibis.order_by(["account_id", "cutoff"]))
        pd.testing.assert_frame_equal(a, b)


def test_materializer_queues_tables_in_order_and_raises_the_first_failure():
    """A build's tables are computed on a background thread in the order asked for: a table may
    be read by the next expression before it exists, and a query that fails in DuckDB raises
    its own error when the block ends (the queries after it are not run)."""
    import duckdb
    import pytest

    from churnlab.data import Materializer

    con = ibis.duckdb.connect()
    t = ibis.memtable({"k": [1, 2, 3], "s": ["1", "x", "3"]})
    with Materializer(con) as keep:
        doubled = keep(t.mutate(v=t.k * 2), "_churnlab_doubled")
        big = keep(doubled.filter(doubled.v > 2).select("k"), "_churnlab_big")
    assert con.execute(big.order_by("k")).k.tolist() == [2, 3]
    with pytest.raises(duckdb.ConversionException, match="'x'"), Materializer(con) as keep:
        keep(t.select(n=t.s.cast("int64")), "_churnlab_bad")
        keep(t.select("k"), "_churnlab_after")  # would succeed: not run after the failure
    assert not [n for n in _temp_tables(con) if n.startswith(("_churnlab_bad", "_churnlab_after"))]
