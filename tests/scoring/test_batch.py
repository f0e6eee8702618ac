"""Batch scoring against a real registered model: parity with training-time predictions, the
output contract, bad input, atomic writes and the optional scoring run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlab.cli import app
from churnlab.scoring import (
    ScoringError,
    load_model,
    score_job,
    write_scores,
)
from churnlab.vocab import DAYS_PER_MONTH

runner = CliRunner()


@pytest.fixture(scope="module")
def at_test_cutoff(trained):
    """Scores of every account active at the training run's test cutoff, from raw data."""
    return score_job(trained.uri, data=trained.data, as_of=trained.test_cutoff)


def _training_predictions(run_id: str) -> pd.DataFrame:
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="predictions/test.json")
    table = json.loads(Path(path).read_text())
    frame = pd.DataFrame(table["data"], columns=table["columns"])
    frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    return frame


def test_batch_scores_equal_training_time_predictions(trained, at_test_cutoff):
    scores = at_test_cutoff.scores
    train_pred = _training_predictions(trained.run_id)
    assert len(train_pred) > 50
    merged = train_pred.merge(scores, on=["account_id", "cutoff"], how="left")
    # every labelled test row is an account active at the cutoff, so it is scored
    assert merged.p_churn.notna().all()
    np.testing.assert_allclose(merged.p_churn, merged.p, rtol=0, atol=1e-9)
    # and the active accounts whose label window is not complete are scored too
    assert len(scores) >= len(train_pred)


def test_output_contract(trained, at_test_cutoff, features):
    s = at_test_cutoff.scores
    for col in [
        "account_id", "cutoff", "p_churn", "risk_tier", "health_score", "revenue_at_risk",
        "reason_1", "driver_1", "contribution_1", "reason_3", "driver_3", "contribution_3",
        "model_name", "model_version",
    ]:  # fmt: skip
        assert col in s, col
    assert not s.account_id.duplicated().any()
    assert (s.model_version == trained.version).all() and (s.model_name == "churn-scoring").all()
    assert set(s.risk_tier) == {"high", "medium", "low"}
    # with MRR, tiers order the expected loss (p x MRR): every high-tier account outranks
    # every low-tier one
    mrr = features.set_index("account_id").mrr.reindex(s.account_id).to_numpy()
    loss = pd.Series(s.p_churn.to_numpy() * mrr, index=s.index)
    assert loss[s.risk_tier == "high"].min() > loss[s.risk_tier == "low"].max()
    order = s.sort_values("p_churn")
    assert order.health_score.is_monotonic_decreasing
    assert s.health_score.between(0, 100).all()
    np.testing.assert_allclose(s.revenue_at_risk, s.p_churn * mrr * 60 / DAYS_PER_MONTH)
    high = s[s.risk_tier == "high"]
    # reasons where they matter: the high-tier accounts whose risk is well above the batch's
    # mean (tiers rank p x MRR, so a large account near the base rate is high tier too, and
    # nothing raises its risk enough to be a reason), each with a hint; none for the low tier
    risky = high[high.p_churn >= 2 * s.p_churn.mean()]
    assert len(risky) > 0 and risky.reason_1.notna().mean() > 0.5
    assert (high.contribution_1.dropna() >= 0.1).all() and high.hint_1.notna().sum() > 0
    given = high[high.reason_1.notna()]
    assert (given.contribution_1 >= given.contribution_2.fillna(-np.inf)).all()
    assert s.loc[s.risk_tier == "low", ["reason_1", "context"]].isna().all().all()
    summary = at_test_cutoff.summary
    assert summary["accounts"] == len(s)
    assert sum(t["accounts"] for t in summary["tiers"].values()) == len(s)
    assert summary["tiers"]["high"]["revenue_at_risk"] == pytest.approx(high.revenue_at_risk.sum())
    assert summary["high_tier_drivers"] and summary["high_tier_drivers"][0]["accounts"] > 0


def test_risk_only_scoring_keeps_the_risk_and_the_schema(trained, at_test_cutoff, features):
    fast = load_model(trained.uri).predict(features, reasons=False)
    assert list(fast.columns) == list(at_test_cutoff.scores.columns)
    np.testing.assert_allclose(fast.p_churn, at_test_cutoff.scores.p_churn, rtol=0, atol=1e-12)
    assert fast.reason_1.isna().all()


def test_exported_folder_and_version_uri_score_the_same(trained, at_test_cutoff, tmp_path):
    from churnlab.tracking import export_model

    folder = export_model(trained.uri, tmp_path / "models" / "churn-scoring")
    for uri in (str(folder), f"models:/churn-scoring/{trained.version}"):
        job = score_job(uri, data=trained.data, as_of=trained.test_cutoff)
        pd.testing.assert_frame_equal(job.scores, at_test_cutoff.scores)


def test_latest_and_the_logged_model_id_score_like_the_alias(trained, features):
    """``models:/NAME/latest`` and the logged model's ``models:/m-ID`` (what MLflow's
    log_model returns) load as MLflow reads them; a stage URI is refused with the reason."""
    client = mlflow.MlflowClient()
    (output,) = client.get_run(trained.run_id).outputs.model_outputs
    model_id = output.model_id
    expected = load_model(trained.uri).predict(features, reasons=False)
    for uri in ("models:/churn-scoring/latest", f"models:/{model_id}"):
        loaded = load_model(uri)
        pd.testing.assert_frame_equal(loaded.predict(features, reasons=False), expected)
    assert load_model("models:/churn-scoring/Latest").ref.pinned == (
        f"models:/churn-scoring/{trained.version}"
    )
    with pytest.raises(ScoringError, match="stages such as 'Production' are deprecated"):
        load_model("models:/churn-scoring/Production")
    with pytest.raises(ScoringError, match="not found"):
        load_model("models:/m-" + "0" * 32)


def test_a_model_in_a_store_that_does_not_exist_names_the_store(trained, tmp_path, monkeypatch):
    """A mistyped MLFLOW_TRACKING_URI made an empty store there (MLflow creates one on open)
    and said only 'Registered Model ... not found'; the store is named, and none is made."""
    with pytest.raises(ScoringError, match="name=churn-absent not found") as exc:
        load_model("models:/churn-absent@champion")
    assert "(in the MLflow store sqlite:///" in str(exc.value)
    typo = tmp_path / "mlfow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{typo}")
    with pytest.raises(ScoringError) as exc:
        load_model(trained.uri)
    assert f"the MLflow store sqlite:///{typo} (MLFLOW_TRACKING_URI) does not exist" in str(
        exc.value
    )
    assert not typo.exists()


def test_prepared_feature_table_scores_like_raw_data(trained, at_test_cutoff, features, tmp_path):
    path = tmp_path / "features.parquet"
    features.sample(frac=1, random_state=0).to_parquet(path)  # row order does not matter
    job = score_job(trained.uri, features=path)
    got = job.scores.sort_values("account_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, at_test_cutoff.scores)


def test_features_built_for_the_model_score_like_raw_data(trained, at_test_cutoff, tmp_path):
    """`churnlab features --model` builds the model's columns (its builders and event
    vocabulary) with labels; `score --features` scores that table as it scores raw data. A
    table without some of the model's columns says how many, and how to build one."""
    path = tmp_path / "for_model.parquet"
    cutoff = str(pd.Timestamp(trained.test_cutoff).date())
    args = ["features", "--data", str(trained.data), "--cutoffs", cutoff, "--out", str(path)]
    res = runner.invoke(app, [*args, "--model", trained.uri])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(path)
    assert {"churned_within_h", "label_complete"} <= set(table.columns)
    got = score_job(trained.uri, features=path).scores.sort_values("account_id")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), at_test_cutoff.scores)

    res = runner.invoke(app, [*args, "--model", trained.uri, "--drivers", "engagement"])
    assert res.exit_code == 2 and "--drivers and --model" in res.output
    per_type = [c for c in table.columns if c.endswith("_share_30d")]
    assert per_type, "the model reads per-event-type columns"
    table.drop(columns=per_type).to_parquet(path)
    with pytest.raises(ScoringError) as exc:
        score_job(trained.uri, features=path)
    assert f"missing {len(per_type)} of the" in str(exc.value)
    assert f"churnlab features --model {trained.uri}" in str(exc.value)


def test_features_for_the_model_at_the_data_end_are_the_rows_score_reads(trained, tmp_path):
    """`score` dates a batch at the data's end by default; `features --model` builds that
    date too, the very rows `score` scores, so a batch can be rebuilt for REST or `score
    --features`. A date after the end is refused, and so is the end without --model
    (training rows need a label window), before the model or the data are loaded."""
    from churnlab.scoring import build_scoring_features

    end = trained.observed_until
    path = tmp_path / "at_end.parquet"
    args = ["features", "--data", str(trained.data), "--out", str(path), "--model", trained.uri]
    res = runner.invoke(app, [*args, "--cutoffs", end])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(path)
    assert not table.label_complete.any()
    model = load_model(trained.uri).model
    scored = build_scoring_features(model, trained.data, end)  # what `score` scores
    assert (scored.cutoff == pd.Timestamp(end)).all()
    ours = table.set_index("account_id").loc[scored.account_id].reset_index()
    pd.testing.assert_frame_equal(
        ours[model.input_columns()], scored, check_dtype=False, check_categorical=False
    )
    assert len(table) == len(scored)

    # checked against dataset.json's end before loading anything: this folder holds no table
    named_only = tmp_path / "named_only"
    named_only.mkdir()
    (named_only / "dataset.json").write_bytes((trained.data / "dataset.json").read_bytes())
    after = str((pd.Timestamp(end) + pd.Timedelta(days=1)).date())
    for extra, date, says in (
        (["--model", "models:/churn-nope@champion"], after, "after the end of observation"),
        ([], end, "on or after the end of observation"),
    ):
        res = runner.invoke(
            app, ["features", "--data", str(named_only), "--cutoffs", date, *extra,
                  "--out", str(tmp_path / "no.parquet")],
        )  # fmt: skip
        assert res.exit_code == 1, res.output
        assert says in res.output and date in res.output and "observed_until" in res.output
    assert not (tmp_path / "no.parquet").exists()


def test_accounts_without_events_are_scored(trained, tmp_path):
    data = tmp_path / "quiet"
    data.mkdir()
    for f in trained.data.iterdir():
        if f.is_file():
            (data / f.name).write_bytes(f.read_bytes())
    scores = score_job(trained.uri, data=trained.data, as_of=trained.observed_until).scores
    quiet = scores.account_id.iloc[:5].tolist()
    events = pd.read_parquet(trained.data / "events.parquet")
    events[~events.account_id.isin(quiet)].to_parquet(data / "events.parquet", index=False)
    again = score_job(trained.uri, data=data, as_of=trained.observed_until).scores
    assert set(quiet) <= set(again.account_id)
    assert len(again) == len(scores)
    assert again.set_index("account_id").loc[quiet, "p_churn"].notna().all()


def _fails(trained, frame: pd.DataFrame, tmp_path, *needles: str) -> None:
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    with pytest.raises(ScoringError) as exc:
        score_job(trained.uri, features=path)
    for needle in needles:
        assert needle in str(exc.value)


def test_duplicate_account_ids_fail_naming_them(trained, features, tmp_path):
    dup = pd.concat([features, features.iloc[[3, 7]]], ignore_index=True)
    ids = features.account_id.iloc[[3, 7]].tolist()
    _fails(trained, dup, tmp_path, "duplicate", *[str(i) for i in ids])


def test_missing_feature_columns_fail_naming_them(trained, features, tmp_path):
    _fails(trained, features.drop(columns=["tenure_days", "plan"]), tmp_path, "tenure_days", "plan")


def test_wrong_dtypes_fail_naming_the_column_and_values(trained, features, tmp_path):
    bad = features.assign(tenure_days=features.tenure_days.astype(str))
    bad.loc[2, "tenure_days"] = "about a year"
    _fails(trained, bad, tmp_path, "tenure_days", "about a year")


def test_unseen_categories_are_scored(trained, features, at_test_cutoff):
    model = load_model(trained.uri)
    odd = features.assign(plan="platinum-unseen", country="Atlantis")
    out = model.predict(odd)
    assert len(out) == len(features) and out.p_churn.between(0, 1).all()


def test_as_of_after_the_data_fails(trained):
    with pytest.raises((ScoringError, ValueError), match="after the end of observation"):
        score_job(trained.uri, data=trained.data, as_of="2031-01-01")


def test_unknown_model_fails_naming_it(trained):
    with pytest.raises(ScoringError, match="churn-nope"):
        score_job("models:/churn-nope@champion", data=trained.data, as_of=trained.test_cutoff)


def test_atomic_write_keeps_the_previous_output(trained, features, at_test_cutoff, tmp_path):
    out = tmp_path / "scores.parquet"
    write_scores(at_test_cutoff.scores, out)
    before = out.read_bytes()
    # a failure while writing: pyarrow cannot serialize this column half-way through the frame
    broken = at_test_cutoff.scores.assign(reason_1=[object()] * len(at_test_cutoff.scores))
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error type
        write_scores(broken, out)
    assert out.read_bytes() == before
    # a failing job (bad input) leaves it too
    bad = tmp_path / "dup.parquet"
    pd.concat([features, features.head(1)]).to_parquet(bad)
    with pytest.raises(ScoringError):
        score_job(trained.uri, features=bad, out=out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dup.parquet", "scores.parquet"]


def test_cli_scores_writes_and_logs_its_own_run(trained, tmp_path):
    out = tmp_path / "scores.csv"
    client = mlflow.MlflowClient()
    training_before = client.get_run(trained.run_id).data
    result = runner.invoke(
        app,
        [
            "score", "--model", trained.uri, "--data", str(trained.data),
            "--as-of", trained.observed_until, "--out", str(out), "--json", "--log",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    written = pd.read_csv(out)
    assert summary["accounts"] == len(written) > 0
    assert summary["model_version"] == trained.version
    assert set(summary["tiers"]) == {"high", "medium", "low"}
    run = client.get_run(summary["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["churnlab.kind"] == "scoring"
    assert run.data.metrics["accounts"] == len(written)
    training_after = client.get_run(trained.run_id).data
    assert training_after.metrics == training_before.metrics
    assert training_after.params == training_before.params
    # what monitoring reads back: the batch date, its profile in the model's reference bins
    # and the predictions
    assert run.data.tags["churnlab.batch_date"] == trained.observed_until
    profile = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/monitoring/profile.json")
    reference = mlflow.artifacts.load_dict(f"runs:/{trained.run_id}/monitoring/reference.json")
    assert profile["rows"] == len(written)
    assert set(profile["features"]) == set(reference["features"])
    assert all(sum(c) == len(written) for c in profile["features"].values())
    local = mlflow.artifacts.download_artifacts(
        f"runs:/{run.info.run_id}/monitoring/predictions.parquet"
    )
    stored = pd.read_parquet(local)
    assert stored.p_churn.to_numpy() == pytest.approx(written.p_churn.to_numpy())


def test_cli_bad_input_exits_non_zero_with_a_clear_message(trained, features, tmp_path):
    bad = tmp_path / "bad.parquet"
    features.drop(columns=["tenure_days"]).to_parquet(bad)
    out = tmp_path / "s.parquet"
    result = runner.invoke(
        app, ["score", "--model", trained.uri, "--features", str(bad), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "tenure_days" in result.output
    assert not out.exists()


def test_a_batch_whose_event_types_changed_says_so(trained, tmp_path, caplog):
    """The log renames a type the model reads (every ``search`` is now ``ai_search``): its
    features go to 0 and reasons would blame a lost habit. Scoring says which types the model
    reads have no event in the last 90 days, and which unknown types carry many events."""
    import shutil

    from churnlab.scoring import build_scoring_features

    data = tmp_path / "renamed"
    shutil.copytree(trained.data, data)
    events = pd.read_parquet(data / "events.parquet")
    model = load_model(trained.uri).model
    kept = model.feature_spec.vocabulary.types
    renamed = next(t for t in events.event_type.value_counts().index if t in kept)
    events["event_type"] = events.event_type.astype(str).replace({renamed: f"ai_{renamed}"})
    events.to_parquet(data / "events.parquet", index=False)
    with caplog.at_level("WARNING"):
        build_scoring_features(model, data, trained.test_cutoff)
    said = caplog.text
    assert f"event type(s) ['{renamed}'] the model reads have no event in the 90 days" in said
    assert f"'ai_{renamed}' (" in said and "this model ignores them" in said


def test_a_model_trained_on_a_rolled_up_log_refuses_a_batch_without_counts(trained):
    """A model whose events had a count column (its vocabulary says so) scoring a log whose
    export lost the column would count each row as one event: refused, saying why."""
    from dataclasses import replace

    from churnlab.data import Vocabulary
    from churnlab.scoring import build_scoring_features

    model = load_model(trained.uri).model
    spec = model.feature_spec
    counted = Vocabulary.from_dict({**spec.vocabulary.to_dict(), "counted": True})
    model.feature_spec = replace(spec, vocabulary=counted)
    with pytest.raises(ScoringError, match=r"rolled-up event log .* have no count column"):
        build_scoring_features(model, trained.data, trained.test_cutoff)


def test_categories_spelled_in_another_case_score_alike_and_unknown_ones_are_named(trained, caplog):
    """A later export writes the plan in capitals: the same scores (a value that differs from
    one training category only in case is that category). A plan the model never saw, on
    every row, is read as missing and said to be."""
    from churnlab.scoring import build_scoring_features

    model = load_model(trained.uri).model
    frame = build_scoring_features(model, trained.data, trained.test_cutoff)
    assert frame.plan.notna().all() and frame.plan.nunique() > 1
    want = model.score(frame)
    shouted = model.score(frame.assign(plan=" " + frame.plan.str.upper()))
    np.testing.assert_array_equal(want.p_churn.to_numpy(), shouted.p_churn.to_numpy())
    assert "never seen in training" not in caplog.text
    with caplog.at_level("WARNING"):
        model.score(frame.assign(plan="platinum"))
    assert f"column 'plan': {len(frame)} of {len(frame)} values were never seen" in caplog.text
    assert "'platinum'" in caplog.text


def test_serve_on_a_busy_port_fails_before_announcing(trained, monkeypatch):
    """A port another server holds: exit 1 naming it, before 'serving ...' and the exec."""
    import socket

    def no_exec(*args):
        raise AssertionError("the server was started")

    monkeypatch.setattr("os.execvpe", no_exec)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = runner.invoke(app, ["serve", "--model", trained.uri, "--port", str(port)])
    assert res.exit_code == 1, res.output
    assert f"cannot serve on 127.0.0.1:{port}: the address is in use" in res.output
    assert "serving" not in res.output


def test_an_interrupted_score_says_so_in_one_line(trained, tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM (raised as KeyboardInterrupt by the command line's handler) while
    scoring: exit 130 with one line saying nothing was written; it was silent."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("SIGTERM")

    monkeypatch.setattr("churnlab.scoring.score_job", interrupted)
    out = tmp_path / "scores.parquet"
    res = runner.invoke(
        app, ["score", "--model", trained.uri, "--data", str(trained.data), "--out", str(out)]
    )
    assert res.exit_code == 130, res.output
    assert f"interrupted: nothing was written ({out} is as it was)" in res.output


def test_logging_a_batch_date_again_names_the_earlier_run_and_whether_the_data_changed(trained):
    """fuzz7 repro_1: a stale export (this week's folder a copy of last week's) scored the same
    date again, exit 0 and no notice, and silently replaced the earlier batch in monitoring."""
    as_of = "2024-12-15"  # after the training window, logged by no other test
    first = score_job(trained.uri, data=trained.data, as_of=as_of, log_run=True)
    assert first.summary["notices"] == []
    tags = mlflow.MlflowClient().get_run(first.run_id).data.tags
    assert len(tags["churnlab.data_digest"]) == 16
    res = runner.invoke(
        app,
        [
            "score", "--model", trained.uri, "--data", str(trained.data), "--as-of", as_of,
            "--out", str(trained.root / "again.parquet"), "--json", "--log",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (notice,) = json.loads(res.stdout)["notices"]
    assert f"batch {as_of} of churn-scoring version {trained.version} is already logged" in notice
    assert f"run {first.run_id} (logged " in notice and "identical data" in notice
    assert "notice:" in res.stderr and first.run_id in res.stderr


def test_logging_a_batch_inside_the_training_window_says_it_is_in_sample(trained):
    """fuzz7 repro_2: a back-fill at the model's validation cutoff was logged silently and
    then monitored as a matured production batch."""
    validation = mlflow.artifacts.load_dict(f"runs:/{trained.run_id}/monitoring/reference.json")[
        "cutoffs"
    ][-1]
    job = score_job(trained.uri, data=trained.data, as_of=validation, log_run=True)
    (notice,) = job.summary["notices"]
    assert f"batch {validation} is on or before {validation}, the latest cutoff" in notice
    assert "in-sample" in notice
    # without --log nothing is said: the notice is about monitoring
    assert score_job(trained.uri, data=trained.data, as_of=validation).summary["notices"] == []


def test_an_out_that_is_an_input_file_is_refused_before_any_work(tmp_path):
    """``score --features crm.csv --out crm.csv`` replaced the user's own table with the
    scores (exit 0); so would ``--out`` naming a table of a ``--data`` folder. Refused before
    the model is loaded, whatever the spelling of the path; the input stays byte-identical."""
    table = tmp_path / "customers.csv"
    table.write_text("CustomerId,Age\n1,30\n2,41\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.csv").write_text("account_id,ts,event_type\n1,2024-01-01,login\n")
    before = {p: p.read_bytes() for p in (table, data / "events.csv")}
    model = "models:/churn-none@champion"
    for args in (
        ["score", "--model", model, "--features", str(table), "--out", str(table)],
        ["score", "--model", model, "--features", str(table), "--out", f"{tmp_path}/./{table.name}"],
        ["score", "--model", model, "--data", str(data), "--out", str(data / "events.csv")],
        ["features", "--data", str(data), "--cutoffs", "2024-01-01", "--out", str(data / "events.csv")],
    ):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "this command reads" in result.output and "choose another --out" in result.output
        assert "replace your data" in result.output
        if "--features" in args:
            assert "the --features table" in result.output
            assert "customers.scores.csv" in result.output
    assert {p: p.read_bytes() for p in before} == before
    # a file of the folder churnlab does not read as a table (last week's scores, written
    # there by a scheduled job) is no input: the check lets it be replaced
    from churnlab.data.schema import DATASET_FILES
    from churnlab.files import check_not_input

    (data / "scores.parquet").write_bytes(b"old")
    check_not_input(data / "scores.parquet", {"--data": data}, DATASET_FILES)
    (data / "dataset.json").write_text("{}")
    with pytest.raises(FileExistsError, match="a table of the --data folder"):
        check_not_input(data / "dataset.json", {"--data": data}, DATASET_FILES)


def test_ids_too_wide_for_int64_are_kept_as_written(trained, at_test_cutoff, features, tmp_path):
    """22-digit account numbers in a CSV wrapped to -9223372036854775808 (two accounts on one
    fabricated key, exit 0): the ids are kept as text, exactly as written, as the dataset
    reader keeps ids that do not all fit a 64-bit integer; the scores are unchanged."""
    rows = features.head(5).copy()
    wide = ["1180591620717411303424", "1180591620717411303425"]
    path = tmp_path / "wide.csv"
    text = rows.to_csv(index=False).splitlines()
    for i, big in enumerate(wide, start=1):
        text[i] = big + text[i][text[i].index(",") :]
    path.write_text("\n".join(text) + "\n")
    got = score_job(trained.uri, features=path).scores
    want = [*wide, *(str(i) for i in rows.account_id.iloc[2:])]
    assert got.account_id.tolist() == want
    expected = at_test_cutoff.scores.set_index("account_id").loc[rows.account_id, "p_churn"]
    np.testing.assert_allclose(got.p_churn.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)


def test_an_integer_cutoff_is_read_as_yyyymmdd_not_nanoseconds(
    trained, at_test_cutoff, features, tmp_path
):
    """A cutoff written 20250301 (as a CSV or warehouse keeps dates) was read as nanoseconds
    since 1970: it is that date, as the dataset reader reads it."""
    rows = features.head(3)
    path = tmp_path / "basic.csv"
    rows.assign(cutoff=rows.cutoff.dt.strftime("%Y%m%d").astype(int)).to_csv(path, index=False)
    got = score_job(trained.uri, features=path).scores
    assert (got.cutoff == rows.cutoff.to_numpy()).all()
    want = at_test_cutoff.scores.set_index("account_id").loc[rows.account_id, "p_churn"]
    np.testing.assert_allclose(got.p_churn.to_numpy(), want.to_numpy(), rtol=0, atol=1e-12)


def test_a_unit_change_upstream_gets_a_notice_on_the_scores(trained, features, tmp_path):
    """MRR exported in cents from one day on (x100) and a feature in other units (x1000) score
    without error, but every account would land in the top tier: the job says so. The same
    rows as exported get no such notice."""
    from churnlab.scoring import load_model

    plain = score_job(trained.uri, features=_parquet(features, tmp_path / "plain.parquet"))
    assert not [n for n in plain.summary["notices"] if "mrr:" in n or "at the edge" in n]
    reference = load_model(trained.uri).model.reference["features"]
    wide = [
        f
        for f, e in reference.items()
        if e["kind"] == "numeric" and len(e["edges"]) >= 8 and (features[f] > 0).mean() > 0.95
    ]
    shifted = features.assign(mrr=features.mrr * 100, **{wide[0]: features[wide[0]] * 1000})
    job = score_job(trained.uri, features=_parquet(shifted, tmp_path / "shifted.parquet"))
    text = " | ".join(job.summary["notices"])
    factor = re.search(r"mrr: this batch's median is [\d,.]+, ([\d,.]+)x the", text)
    assert factor and float(factor.group(1).replace(",", "")) > 50, text
    assert f"{wide[0]!r} (" in text and "at the edge of what the model was validated on" in text


def _parquet(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path)
    return path
