"""One definition, two engines: the same data through DuckDB and a local Spark session gives
equal observation + feature tables (floats within 1e-9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.data import (
    DataValidationError,
    SimulationParams,
    Vocabulary,
    fit_vocabulary,
    load_dataset,
    simulate,
)
from churnlab.features import build_features, build_observations
from tests.conftest import requires_java, tiny_frames, write_frames

KEYS = ["cutoff", "account_id"]

# Spark needs Java 17: skipped with the reason where it is missing (CI sets
# CHURNLAB_REQUIRE_SPARK, so there a missing Java fails the run); the session-wide ``spark``
# fixture (tests/conftest.py) is shared by every Spark test of a worker
pytestmark = requires_java()


def _table(path, engine, cutoffs, horizon, vocabulary, observed_until=None) -> pd.DataFrame:
    ds = load_dataset(path, engine=engine, observed_until=observed_until)
    table, _ = build_features(ds, build_observations(ds, cutoffs, horizon), vocabulary=vocabulary)
    return ds.con.execute(table).sort_values(KEYS).reset_index(drop=True)


def _assert_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) and (a[KEYS].values == b[KEYS].values).all()
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            np.testing.assert_allclose(
                x.astype(float), y.astype(float), rtol=0, atol=1e-9, err_msg=col
            )
        else:
            assert x.astype(object).where(x.notna()).equals(y.astype(object).where(y.notna())), col


def test_duckdb_and_spark_give_equal_features_on_simulated_data(spark, tmp_path):
    path = tmp_path / "sim"
    simulate(path, SimulationParams(accounts=150, months=6, seed=3))
    # every kept type, the role-based builders, and sessions from inactivity gaps
    fitted = fit_vocabulary(load_dataset(path))
    vocab = Vocabulary(
        types=fitted.types,
        roles={
            "core_action": ("create_report",),
            "contact": ("csm_call",),
            "payment_failure": ("payment_failed",),
        },
        ratios=(("share_report", "create_report"),),
    )
    duck = _table(path, "duckdb", "2024-03-01:2024-05-01:1M", 30, vocab)
    spk = _table(path, "spark", "2024-03-01:2024-05-01:1M", 30, vocab)
    assert duck.n_create_report_30d.sum() > 0 and duck.sessions_30d.sum() > 0
    assert len(duck) > 100 and duck.events_30d.sum() > 0
    _assert_equal(duck, spk)


def test_duckdb_and_spark_agree_on_hand_made_data(spark, tmp_path):
    frames = tiny_frames()
    # a type named in another script and with punctuation: its columns are quoted alike
    export = "Экспорт «PDF»"
    frames["events"]["event_type"] = frames["events"].event_type.replace("export", export)
    # an add-on held beside account 3's plan: MRR summed, the plan that of the larger
    addon = (
        frames["subscriptions"]
        .iloc[[3]]
        .assign(
            plan="addon", mrr=300.0, billing_period="monthly", started_at=pd.Timestamp("2024-04-01")
        )
    )
    # account 2's plan renewed the day before the cutoff, while it is in force: read as
    # ending there (null-safe join and window on both engines), MRR not summed
    subs = frames["subscriptions"]
    renewal = subs[subs.account_id == 2].assign(
        started_at=pd.Timestamp("2024-04-14"), ended_at=pd.Timestamp("2024-06-20")
    )
    frames["subscriptions"] = pd.concat([subs, addon, renewal], ignore_index=True)
    # account 3 asked to cancel its annual before the cutoff (canceled_at), effective later
    canceled = [pd.NaT] * len(frames["subscriptions"])
    canceled[3] = pd.Timestamp("2024-04-01 06:00")
    frames["subscriptions"]["canceled_at"] = pd.Series(canceled, dtype="datetime64[us]")
    # the accounts' own attributes: numbers and dates written as text (as a CSV holds them)
    frames["accounts"] = frames["accounts"].assign(
        region=["north", None, "south"],
        employees=["12", " 250 ", ""],
        onboarded_at=["2024-01-20", "2024-05-01", "2024-03-24 10:30:00"],
    )
    # the log begins after accounts 1 and 2 signed up (2024-02-02, account 2's first event):
    # their 90-day windows and onboarding are unknown (tests/features/test_log_start.py)
    frames["accounts"].loc[0, "signup_at"] = pd.Timestamp("2023-11-01")
    frames["events"] = frames["events"].iloc[1:]
    path = write_frames(frames, tmp_path / "tiny")
    # session-start events, per-session ratios, a kept type the data lacks
    vocab = Vocabulary(
        types=("login", "report", export, "absent"),
        roles={"session_start": ("login",)},
        groups=(("report", ("create_rep*", "edit.(report)?")),),  # grouped alike
        attributes=(("region", "category"), ("employees", "number"), ("onboarded_at", "date")),
    )
    duck = _table(path, "duckdb", ["2024-04-15"], 30, vocab, "2024-07-01")
    spk = _table(path, "spark", ["2024-04-15"], 30, vocab, "2024-07-01")
    assert {"n_экспорт_pdf_30d", "days_since_экспорт_pdf", "n_report_30d"} <= set(duck.columns)
    assert duck.n_report_30d.sum() == 1  # create_report, read as the group's name
    assert duck.events_90d.isna().tolist() == [True, True, False]
    assert duck.logins_first_10d.isna().tolist() == [True, True, False]
    assert duck.events_30d.notna().all()
    a3 = duck.set_index("account_id").loc[3]
    assert (a3.current_mrr, a3.plan, a3.billing_period) == (2700.0, "enterprise", "annual")
    assert duck.set_index("account_id").current_mrr.loc[2] == 15.0
    assert duck.cancellation_scheduled.tolist() == [0, 0, 1]
    assert a3.days_since_cancellation_request == 13.75
    assert duck.set_index("account_id").employees.loc[[1, 2]].tolist() == [12.0, 250.0]
    assert duck.onboarded_at.notna().tolist() == [True, False, True]  # 05-01: after the cutoff
    _assert_equal(duck, spk)


def test_duckdb_and_spark_agree_on_calendar_renewals(spark, tmp_path):
    """days_to_renewal on both engines: month ends (31 January renews on February's last day),
    a start on 29 February, a year holding 29 February, times of day, a renewal at the
    cutoff's instant; and cancellations asked before and at the cutoff."""
    frames = tiny_frames()
    starts = [
        ("monthly", "2024-01-31"),
        ("annual", "2024-02-29"),
        ("annual", "2024-02-01 12:00"),
        ("monthly", "2024-12-01 18:00"),
        ("quarterly", "2024-11-30 06:00"),
        ("monthly", "2024-12-01"),
        ("weekly", "2024-01-15"),
    ]
    ids = list(range(1, len(starts) + 1))
    frames["accounts"] = pd.DataFrame({"account_id": ids, "signup_at": pd.Timestamp("2023-06-01")})
    canceled = [pd.NaT] * len(ids)
    canceled[1], canceled[4] = pd.Timestamp("2025-01-31 23:00"), pd.Timestamp("2025-02-01")
    frames["subscriptions"] = pd.DataFrame(
        {
            "account_id": ids,
            "mrr": 50.0,
            "billing_period": [p for p, _ in starts],
            "started_at": [pd.Timestamp(t) for _, t in starts],
            "ended_at": pd.NaT,
            "canceled_at": canceled,
        }
    )
    frames["events"] = pd.DataFrame(
        {"account_id": ids, "ts": pd.Timestamp("2023-06-02"), "event_type": "login"}
    )
    for name in ("tickets", "surveys"):
        del frames[name]
    for df in frames.values():  # Spark reads no nanosecond Parquet timestamps
        for col in df.select_dtypes("datetime").columns:
            df[col] = df[col].astype("datetime64[us]")
    path = write_frames(frames, tmp_path / "renewals")
    vocab = Vocabulary(types=("login",))
    cutoffs = ["2024-02-15", "2024-03-31", "2025-01-01", "2025-02-01", "2025-02-28", "2028-02-29"]
    duck = _table(path, "duckdb", cutoffs, 10, vocab, "2028-06-01")
    spk = _table(path, "spark", cutoffs, 10, vocab, "2028-06-01")
    days = duck.set_index(["account_id", duck.cutoff.dt.strftime("%Y-%m-%d")]).days_to_renewal
    assert days[1, "2025-02-28"] == 31.0  # 2025-02-28 is its renewal's instant: next 03-31
    assert days[1, "2024-02-15"] == 14.0 and days[2, "2028-02-29"] == 365.0  # 2029-02-28
    assert days[3, "2025-02-01"] == 0.5 and days[4, "2025-02-01"] == 0.75
    assert days[6, "2025-02-01"] == 28.0 and days[7].isna().all()
    scheduled = duck.set_index(["account_id", "cutoff"]).cancellation_scheduled
    assert scheduled.sum() == 3 + 2  # account 2 from 2025-02-01 on, account 5 from 02-28 on
    _assert_equal(duck, spk)


def test_duckdb_and_spark_agree_on_campaigns_and_treatment_status(spark, tmp_path):
    """Text booleans parse alike (both arms of each campaign pass the check) and the
    point-in-time treatment status is the same table on both engines."""
    from churnlab.features import treatment_status

    ts = pd.Timestamp
    frames = tiny_frames()
    frames["campaigns"] = pd.DataFrame(
        {
            "account_id": [1, 2, 3, 2],
            "ts": [ts("2024-04-14 12:00")] * 3 + [ts("2024-04-10")],
            "campaign": ["c1", "c1", "c1", "c2"],
            "treated": ["true", "0", "YES", "1"],
            "cost": [5.0, 0.0, 5.0, 7.5],
        }
    )
    frames["campaigns"] = pd.concat(
        [frames["campaigns"], frames["campaigns"].iloc[[3]].assign(account_id=3, treated="no")]
    )
    path = write_frames(frames, tmp_path / "tiny", "csv")
    tables = []
    for engine in ("duckdb", "spark"):
        ds = load_dataset(path, engine=engine, observed_until="2024-07-01")
        obs = treatment_status(ds, build_observations(ds, ["2024-04-15"], 30))
        tables.append(ds.con.execute(obs).sort_values(KEYS).reset_index(drop=True))
    duck, spk = tables
    assert duck.treated.tolist() == [1, 0, 1]  # account 2: c1 on the 14th is the latest
    _assert_equal(duck, spk)


def _read_on_both(folder):
    """Subscriptions and events of ``folder`` as each engine reads them, and its notices."""
    tables, notices = {}, {}
    for engine in ("duckdb", "spark"):
        ds = load_dataset(folder, engine=engine, observed_until="2024-07-01")
        subs = ds.con.execute(ds["subscriptions"]).sort_values(["account_id", "started_at"])
        events = ds.con.execute(ds["events"]).sort_values(["account_id", "ts"])
        tables[engine] = (subs.reset_index(drop=True), events.reset_index(drop=True))
        notices[engine] = ds.notices
    return tables, notices


def test_duckdb_and_spark_read_semicolon_csv_and_written_amounts_alike(spark, tmp_path):
    """A dataset folder of CSVs saved with semicolons between fields (Excel where the decimal
    separator is a comma), its MRR written for people ($1,500.00): both engines read the same
    typed tables (Spark was told commas and found one column per table)."""
    folder = tmp_path / "semi"
    folder.mkdir()
    frames = tiny_frames()
    frames["subscriptions"]["mrr"] = ["$1,500.00", "12.00 \u20ac", "99", "1,200"]
    for name, df in frames.items():
        df.to_csv(folder / f"{name}.csv", sep=";", index=False)
    tables, _ = _read_on_both(folder)
    assert sorted(tables["duckdb"][0].mrr) == [12.0, 99.0, 1200.0, 1500.0]
    for duck, spk in zip(tables["duckdb"], tables["spark"], strict=True):
        assert list(duck.columns) == list(spk.columns)
        for col in duck.columns:
            assert duck[col].astype(str).tolist() == spk[col].astype(str).tolist(), col


def test_duckdb_and_spark_read_decimal_commas_in_semicolon_and_tab_tables_alike(spark, tmp_path):
    """A dataset folder exported where the decimal separator is a comma: MRR in a semicolon
    CSV (238,00, 1.500,00, and 42.692 with a dot between thousands), durations in a TSV
    (12,50). Both engines read the same numbers (they were refused as "unparseable or
    non-finite"); a column that mixes 45,00 with 12.5 is a problem naming both."""
    folder = tmp_path / "euro"
    folder.mkdir()
    frames = tiny_frames()
    frames["subscriptions"]["mrr"] = ["238,00", "1.500,00", "42.692", "15 \u20ac"]
    frames["events"]["duration_s"] = ["300,00", "12,50", "20", "1.234,5", "0,5"]
    for name, df in frames.items():
        if name == "events":
            df.to_csv(folder / "events.tsv", sep="\t", index=False)
        else:
            df.to_csv(folder / f"{name}.csv", sep=";", index=False)
    tables, notices = _read_on_both(folder)
    for engine in ("duckdb", "spark"):
        said = [n.split(":")[0] for n in notices[engine] if "decimal comma" in n]
        assert said == ["subscriptions.mrr", "events.duration_s"], engine
    assert tables["duckdb"][0].mrr.tolist() == [238.0, 1500.0, 42692.0, 15.0]
    assert tables["duckdb"][1].duration_s.tolist() == [300.0, 12.5, 20.0, 1234.5, 0.5]
    for duck, spk in zip(tables["duckdb"], tables["spark"], strict=True):
        assert list(duck.columns) == list(spk.columns)
        for col in duck.columns:
            assert duck[col].astype(str).tolist() == spk[col].astype(str).tolist(), col
    frames["subscriptions"]["mrr"] = ["45,00", "12.5", "99", "15"]
    frames["subscriptions"].to_csv(folder / "subscriptions.csv", sep=";", index=False)
    for engine in ("duckdb", "spark"):
        with pytest.raises(DataValidationError) as info:
            load_dataset(folder, engine=engine, observed_until="2024-07-01")
        (problem,) = info.value.problems
        assert (problem.table, problem.column) == ("subscriptions", "mrr")
        assert "decimal comma ('45,00') and with a decimal point ('12.5')" in problem.message
        assert "mrr='45,00'" in problem.examples[0]


def test_duckdb_and_spark_read_gzip_and_tsv_tables_alike(spark, tmp_path):
    """A folder of .csv.gz / .tsv / .tsv.gz tables: the same typed tables on both engines;
    zstd text, which Spark cannot read here, is one clear line on Spark."""
    from churnlab.data.dataset import UnreadableTableError
    from tests.data.test_validate import _compressed_folder

    folder = _compressed_folder(tmp_path / "text", zstd=False)
    tables = []
    for engine in ("duckdb", "spark"):
        ds = load_dataset(folder, engine=engine, observed_until="2024-07-01")
        tables.append({n: ds.con.execute(ds[n]) for n in ("subscriptions", "events", "tickets")})
    for name, duck in tables[0].items():
        spk = tables[1][name]
        assert list(duck.columns) == list(spk.columns), name
        order = list(duck.columns)[:3]
        duck, spk = (t.sort_values(order).reset_index(drop=True) for t in (duck, spk))
        assert len(duck) == len(tiny_frames()[name]), name
        for col in duck.columns:
            assert duck[col].astype(str).tolist() == spk[col].astype(str).tolist(), (name, col)
    zst = _compressed_folder(tmp_path / "zst")
    with pytest.raises(UnreadableTableError, match=r"surveys\.csv\.zst: zstd-compressed text"):
        load_dataset(zst, engine="spark", observed_until="2024-07-01")


def test_duckdb_and_spark_read_epoch_numbers_alike(spark, tmp_path):
    """Timestamps written as epoch milliseconds (dataset.json ``"epoch_unit"``), as Parquet
    integers (accounts, subscriptions) and as CSV text (events): the same UTC times on both
    engines, to the millisecond."""
    import json

    from tests.reliability.test_numbers_and_timestamps import _epoch

    frames = tiny_frames()
    frames["events"].loc[0, "ts"] += pd.Timedelta(microseconds=250_000)
    folder = write_frames(_epoch(frames, "ms", text=False), tmp_path / "ms")
    (folder / "events.parquet").unlink()
    _epoch(frames, "ms", text=True)["events"].to_csv(folder / "events.csv", index=False)
    (folder / "dataset.json").write_text(json.dumps({"epoch_unit": "ms"}))
    for engine in ("duckdb", "spark"):
        ds = load_dataset(folder, engine=engine, observed_until="2024-07-01")
        assert sorted(ds.con.execute(ds["events"].ts)) == sorted(frames["events"].ts), engine
        signup = ds.con.execute(ds["accounts"].order_by("account_id").signup_at)
        assert signup.tolist() == frames["accounts"].signup_at.tolist(), engine


def test_duckdb_and_spark_read_churn_from_activity_alike(spark, tmp_path):
    """Churn read from activity (dataset.json ``churn.inactive_days``, no subscriptions or
    accounts tables; 30 days without an event or a ``cancel`` event): the same spells, accounts
    and labels on both engines, win-backs included."""
    import json

    from tests.data.test_inactivity import _events

    events = _events(
        {"a": [0, (5, "cancel"), 10], "b": [0, 50, 51], "c": [0, 30, 31], "d": [20, 80]}
    )
    folder = write_frames({"events": events}, tmp_path / "log")
    rule = {"inactive_days": 30, "events": ["cancel"]}
    (folder / "dataset.json").write_text(json.dumps({"churn": rule}))
    got = []
    for engine in ("duckdb", "spark"):
        ds = load_dataset(folder, engine=engine, observed_until="2024-04-10")
        subs = ds.con.execute(ds["subscriptions"]).sort_values(["account_id", "started_at"])
        obs = ds.con.execute(build_observations(ds, "2024-01-15:2024-03-01:2W", 30))
        obs = obs.sort_values(KEYS).reset_index(drop=True)
        got.append((subs.reset_index(drop=True).astype(str), obs.astype(str)))
    assert len(got[0][0]) == 8 and got[0][1].churned_within_h.eq("True").any()
    assert "cancel" in set(got[0][0].end_reason)
    for duck, spk in zip(got[0], got[1], strict=True):
        pd.testing.assert_frame_equal(duck, spk)


def test_duckdb_and_spark_read_yyyymmdd_dates_alike(spark, tmp_path):
    """Dates written 20240105, as Parquet integers (sign-ups) and CSV text (subscriptions):
    the same midnights on both engines."""
    from tests.reliability.test_numbers_and_timestamps import _basic_dates

    frames = _basic_dates(tiny_frames())
    folder = write_frames(frames, tmp_path / "ds")
    (folder / "subscriptions.parquet").unlink()
    frames["subscriptions"].to_csv(folder / "subscriptions.csv", index=False)
    got = []
    for engine in ("duckdb", "spark"):
        ds = load_dataset(folder, engine=engine, observed_until="2024-07-01")
        subs = ds.con.execute(ds["subscriptions"].order_by(["account_id", "started_at"]))
        signup = ds.con.execute(ds["accounts"].order_by("account_id").signup_at)
        got.append((subs[["account_id", "started_at", "ended_at"]], signup))
    pd.testing.assert_frame_equal(got[0][0], got[1][0], check_dtype=False)
    pd.testing.assert_series_equal(got[0][1], got[1][1], check_dtype=False)
    assert got[0][1].iloc[0] == pd.Timestamp("2024-01-05")


def test_duckdb_and_spark_agree_on_sessions_from_the_apps_own_ids(spark, tmp_path):
    """tests/features/test_app_sessions.py's logs: the same sessions on both engines (the
    events DuckDB loaded, handed to Spark as they are: the session expression alone), an
    Amplitude log's -1 ids included (a day without a session id gets the gap sessions, an
    event without one beside real sessions is in none)."""
    import dataclasses

    from churnlab.data.engines import connect
    from churnlab.features.cube import sessions_expr
    from tests.features.test_app_sessions import amplitude_log, app_log

    con = connect("spark")
    cases = [
        (app_log(tmp_path / "ids"), Vocabulary(types=("play",), session_gap_minutes=15), 4),
        (amplitude_log(tmp_path / "amp"), Vocabulary(types=("view",), session_gap_minutes=30), 42),
    ]
    for i, (folder, vocab, n) in enumerate(cases):
        duck = load_dataset(folder, observed_until="2024-04-01")
        events = duck.con.execute(duck["events"])
        spark.createDataFrame(events).createOrReplaceTempView(f"churnlab_test_app_sessions_{i}")
        spk = dataclasses.replace(
            duck, con=con, tables={"events": con.table(f"churnlab_test_app_sessions_{i}")}
        )
        out = []
        for ds in (duck, spk):
            s = ds.con.execute(sessions_expr(ds, vocab))
            s = s.sort_values(["account_id", "start"]).reset_index(drop=True)
            out.append(s.assign(start=s.start.astype("datetime64[us]")))
        assert len(out[0]) == n
        pd.testing.assert_frame_equal(out[0], out[1], check_dtype=False)


def test_duckdb_and_spark_read_a_field_inside_a_json_object_alike(spark, tmp_path):
    """Amplitude's gzipped JSON lines, the account mapped as ``groups.company`` (a list of one
    value inside an object): both engines read the same events (Spark reads JSON itself, its
    own nested types), and both refuse a list of several values."""
    import json

    from churnlab.data import DataValidationError
    from tests.data.test_validate import amplitude_json_events

    _, folder = amplitude_json_events(tmp_path / "amp")
    mapping = {"events": {"account_id": "groups.company", "ts": "event_time"}}
    (folder / "dataset.json").write_text(json.dumps({"columns": mapping}))
    tables, _ = _read_on_both(folder)
    cols = ["account_id", "user_id", "ts", "event_type"]
    duck, spk = (tables[e][1][cols] for e in ("duckdb", "spark"))
    assert len(duck) == 5  # the anonymous event ({} groups) left out
    assert duck.account_id.tolist() == [1, 1, 2, 3, 3]
    for col in cols:
        assert duck[col].astype(str).tolist() == spk[col].astype(str).tolist(), col
    _, folder = amplitude_json_events(tmp_path / "several", several=True)
    (folder / "dataset.json").write_text(json.dumps({"columns": mapping}))
    for engine in ("duckdb", "spark"):
        with pytest.raises(DataValidationError, match="is a list of several values in 1 row"):
            load_dataset(folder, engine=engine, observed_until="2024-07-01")


def test_duckdb_and_spark_read_a_partitioned_table_folder_alike(spark, tmp_path):
    """Events in ``dt=/hour=`` directories of Parquet parts, subscriptions in ``plan=``
    directories of CSV parts, Hadoop's ``_SUCCESS``, ``.crc`` and ``_temporary/`` beside them:
    the same rows and partition columns on both engines (Spark discovers no partitions of its
    own from the files churnlab gives it); the subscriptions' dates written day first
    (15.03.2024 09:30, as a European Excel writes them) read alike."""
    from tests.data.test_dataset_dates import _decided_frames
    from tests.data.test_partitioned_folders import partitioned_folder

    folder = partitioned_folder(tmp_path / "hive", _decided_frames(), "%d.%m.%Y %H:%M")
    for crc in folder.rglob(".*.crc"):  # Hadoop checks a part against its .crc: no fake ones
        crc.unlink()
    got = []
    for engine in ("duckdb", "spark"):
        ds = load_dataset(folder, engine=engine, observed_until="2024-07-01")
        events = ds.con.execute(ds["events"].order_by(["account_id", "ts"]))
        subs = ds.con.execute(ds["subscriptions"].order_by(["account_id", "started_at"]))
        got.append((events, subs))
    for duck, spk in zip(got[0], got[1], strict=True):
        assert list(duck.columns) == list(spk.columns)
        pd.testing.assert_frame_equal(duck, spk, check_dtype=False)
    assert got[1][0].dt.tolist()[0] == "2024-01-05" and len(got[1][0]) == 5
    assert sorted(got[1][1].plan) == ["basic", "basic", "enterprise", "pro"]
    assert got[1][1].started_at.max() == pd.Timestamp("2024-03-15 09:30")


def test_duckdb_and_spark_keep_the_same_copy_of_a_resent_event_id(spark, tmp_path):
    """The events of one (account, event_id) are one, the same copy kept on both engines (the
    earliest; of copies at one time, missing values last), and rows without an id count once
    per exact copy: the events DuckDB loaded, handed to Spark, through distinct_events alone."""
    import dataclasses

    from churnlab.data import distinct_events
    from churnlab.data.engines import connect

    frames = tiny_frames()
    ev = frames["events"].assign(event_id=["e0", "e1", "e2", "e3", "e4"])
    t = ev.ts.iloc[1]
    copies = ev.iloc[[1, 1, 1, 2, 2]].assign(
        ts=[t + pd.Timedelta(hours=1), t, t, ev.ts.iloc[2], ev.ts.iloc[2]],
        user_id=[1002.0, np.nan, 1002.0, 2001.0, 2001.0],
        duration_s=[1.0, 2.0, 3.0, 20.0, 20.0],
        event_id=["e1", "e1", "e1", None, None],
    )
    frames["events"] = pd.concat([copies, ev], ignore_index=True)
    duck = load_dataset(write_frames(frames, tmp_path / "ids"), observed_until="2024-07-01")
    con = connect("spark")
    spark.createDataFrame(duck.con.execute(duck["events"])).createOrReplaceTempView(
        "churnlab_test_event_ids"
    )
    spk = dataclasses.replace(
        duck, con=con, tables={"events": con.table("churnlab_test_event_ids")}
    )
    out = []
    for ds in (duck, spk):
        e = ds.con.execute(distinct_events(ds)).sort_values(["account_id", "ts", "event_id"])
        out.append(e.reset_index(drop=True).assign(ts=lambda d: d.ts.astype("datetime64[us]")))
    assert len(out[0]) == 6
    kept = out[0][out[0].event_id == "e1"]
    # e1 at its earliest time: user_id 1002 before the missing one, then the lower duration
    assert kept.duration_s.tolist() == [3.0]
    pd.testing.assert_frame_equal(out[0], out[1], check_dtype=False)
