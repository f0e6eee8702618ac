"""REST parity: ``mlflow models serve`` on the exported champion, on 127.0.0.1 and a free port,
answers /invocations with the same rows as batch scoring."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from churnlab.scoring import load_model, score_job
from churnlab.scoring.serve import invoke, start_server, stop_server


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    from churnlab.tracking import export_model

    folder = export_model(trained.uri, tmp_path_factory.mktemp("export") / "churn-scoring")
    process, url = start_server(folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield url, folder
    stop_server(process)
    assert process.poll() is not None


def test_rest_answers_like_batch_scoring(trained, server, features):
    url, folder = server
    batch = score_job(folder, data=trained.data, as_of=trained.test_cutoff).scores
    # the rows a client would post: a few high-risk accounts and a few others
    ids = pd.concat([batch.nlargest(4, "p_churn"), batch.nsmallest(4, "p_churn")]).account_id
    rows = features[features.account_id.isin(ids)]
    records = json.loads(rows.to_json(orient="records", date_format="iso"))
    answer = pd.DataFrame(invoke(url, records)["predictions"])
    expected = batch[batch.account_id.isin(ids)].reset_index(drop=True)
    assert list(answer.columns) == list(expected.columns)
    assert answer.account_id.tolist() == expected.account_id.tolist()
    assert (pd.to_datetime(answer.cutoff) == expected.cutoff).all()
    for col in expected.columns:
        if pd.api.types.is_float_dtype(expected[col]):
            np.testing.assert_allclose(
                answer[col].astype(float), expected[col], rtol=0, atol=1e-12, err_msg=col
            )
        elif col not in ("account_id", "cutoff"):
            got = answer[col].astype(object).where(answer[col].notna(), None).tolist()
            want = expected[col].astype(object).where(expected[col].notna(), None).tolist()
            assert got == want, col
    assert (answer.model_version == trained.version).all()
    # cutoffs as JavaScript's toISOString writes them (UTC, "Z"), or with an offset
    for suffix, shift in (("Z", "0h"), ("+02:00", "-2h")):
        shifted = [
            {**r, "cutoff": str(pd.Timestamp(r["cutoff"]) - pd.Timedelta(shift)) + suffix}
            for r in records
        ]
        zoned = pd.DataFrame(invoke(url, shifted)["predictions"])
        assert (pd.to_datetime(zoned.cutoff) == expected.cutoff).all(), suffix
        np.testing.assert_array_equal(zoned.p_churn.to_numpy(), answer.p_churn.to_numpy())


def test_rest_rejects_rows_missing_a_feature(trained, server, features):
    import urllib.error

    url, _folder = server
    records = json.loads(
        features.head(2).drop(columns=["tenure_days"]).to_json(orient="records", date_format="iso")
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        invoke(url, records)
    assert exc.value.code == 400
    assert "tenure_days" in exc.value.read().decode()


def test_rest_says_an_empty_request_has_no_rows(server):
    """No records at all: 'no rows', not a list of every column the model reads."""
    url, _folder = server
    for body in ({"dataframe_records": []}, {"dataframe_split": {"columns": [], "data": []}}):
        status, text = _post(url, json.dumps(body).encode())
        assert status == 400 and json.loads(text)["message"] == "request: no rows, nothing to score"


def _post(url: str, body: bytes) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _strict(text: str):
    def refuse(token):
        raise AssertionError(f"{token} in the answer is not strict JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        ("in_danger_zone", "maybe", "in_danger_zone"),
        ("account_id", 1.5, "fractional ids"),
        ("cutoff", None, "key 'cutoff' missing"),
        ("mrr", -10.0, "'mrr' negative"),
    ],
)
def test_rest_refuses_what_batch_refuses_with_the_same_message(
    trained, server, features, column, value, said
):
    """Issue 16, item 6: no value is coerced on the way in; the message is batch scoring's."""
    from churnlab.scoring import ScoringError

    url, folder = server
    model = load_model(folder)
    records = json.loads(features.head(3).to_json(orient="records", date_format="iso"))
    records[1][column] = value
    status, text = _post(url, json.dumps({"dataframe_records": records}).encode())
    assert status == 400, text
    message = _strict(text)["message"]
    assert said in message, message
    assert "rows [1]" in message or column in ("in_danger_zone", "account_id"), message
    assert "1.5" in message or column != "account_id", message
    with pytest.raises(ScoringError) as batch:
        model.predict(pd.DataFrame.from_records(records), source="request")
    assert message == str(batch.value)


def test_rest_answers_strict_json_and_refuses_infinity(trained, server, features):
    url, _folder = server
    features = features.head(2)
    records = json.loads(features.to_json(orient="records", date_format="iso"))
    records[0]["mrr"] = None  # no revenue: revenue_at_risk is null, not NaN
    body = {"dataframe_records": records, "params": {"reasons": False}}
    status, text = _post(url, json.dumps(body).encode())
    assert status == 200, text
    rows = _strict(text)["predictions"]
    assert rows[0]["revenue_at_risk"] is None and rows[1]["revenue_at_risk"] > 0
    assert rows[0]["contribution_1"] is None and 0 < rows[0]["p_churn"] < 1
    numeric = next(c for c in features.columns if features[c].dtype.kind == "f")
    records[0][numeric] = float("inf")
    status, text = _post(url, json.dumps({"dataframe_records": records}).encode())
    assert status == 400 and "not JSON" in _strict(text)["message"]
    status, text = _post(
        url, json.dumps({"dataframe_records": records}).replace("Infinity", "1e999").encode()
    )
    assert status == 400 and f"{numeric!r} infinite" in _strict(text)["message"], text


def test_serving_an_alias_pins_its_version(trained):
    """``churnlab serve --model models:/NAME@champion`` serves the version the alias points at
    when the server starts, and says so on /version."""
    import urllib.request

    process, url = start_server(trained.uri, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with urllib.request.urlopen(f"{url}/version", timeout=10) as resp:
            about = json.loads(resp.read())
    finally:
        stop_server(process)
    assert (
        about["version"] == trained.version
        and about["model"] == trained.uri.split("/")[1].split("@")[0]
    )


def _records(features, n: int = 2) -> list[dict]:
    return json.loads(features.head(n).to_json(orient="records", date_format="iso"))


def test_rest_keeps_ids_too_wide_for_int64_and_reads_an_integer_cutoff_as_yyyymmdd(
    server, features
):
    """``2**70`` came back as -9223372036854775808 for two accounts at once, and a cutoff of
    ``20250301`` was read as nanoseconds since 1970: wide ids are kept exactly, as text (as
    batch scoring keeps them), and an integer cutoff is the yyyymmdd date it writes."""
    url, _folder = server
    records = _records(features)
    status, text = _post(url, json.dumps({"dataframe_records": records}).encode())
    assert status == 200, text
    plain = _strict(text)["predictions"]
    wide = [{**r, "account_id": 2**70 + i} for i, r in enumerate(records)]
    status, text = _post(url, json.dumps({"dataframe_records": wide}).encode())
    assert status == 200, text
    got = _strict(text)["predictions"]
    assert [p["account_id"] for p in got] == [str(2**70), str(2**70 + 1)]
    assert [p["p_churn"] for p in got] == [p["p_churn"] for p in plain]
    cutoff = pd.Timestamp(records[0]["cutoff"])
    basic = [{**r, "cutoff": int(f"{cutoff:%Y%m%d}")} for r in records]
    status, text = _post(url, json.dumps({"dataframe_records": basic}).encode())
    assert status == 200, text
    got = _strict(text)["predictions"]
    assert [pd.Timestamp(p["cutoff"]) for p in got] == [cutoff, cutoff]
    assert [p["p_churn"] for p in got] == [p["p_churn"] for p in plain]


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        ("account_id", True, "'account_id' (long): true/false is not a whole number: rows [0]"),
        ("account_id", [1], "a list or object where one value belongs: 'account_id' in 1 row(s)"),
        ("account_id", {"a": 1}, "'account_id' in 1 row(s): rows [0], e.g. {'a': 1}"),
        ("cutoff", ["2025-03-01"], "'cutoff' in 1 row(s): rows [0], e.g. ['2025-03-01']"),
        ("cutoff", 12345, "a number is not a date unless it is one written yyyymmdd"),
        ("cutoff", "9999-12-31", "out of range (dates from 1677-09-21 to 2262-04-11"),
        ("cutoff", "2025-03-01T00:00:00Z", "times with a 'Z' or an offset in rows [0] beside"),
    ],
)
def test_rest_refuses_bad_keys_with_400_naming_the_column_and_rows(
    server, features, column, value, said
):
    """A list or object in a key column was a bare 500; ``true`` was account 1; a ``Z`` cutoff
    beside naive ones or year 9999 was "wrong type" quoting valid cutoffs as bad examples."""
    url, _folder = server
    records = _records(features)
    records[0][column] = value
    status, text = _post(url, json.dumps({"dataframe_records": records}).encode())
    assert status == 400, text
    message = _strict(text)["message"]
    assert said in message, message
    assert "wrong type" not in message or column == "account_id", message
    assert records[1]["cutoff"] not in message, message


def test_rest_names_a_column_a_record_leaves_out_and_an_empty_record(server, features):
    """A record without a column the model reads was scored as if null (200) although a
    missing column is a 400; ``[{}]`` was answered "no rows" though it has one row."""
    url, _folder = server
    records = _records(features)
    del records[1]["days_since_last_activity"]
    status, text = _post(url, json.dumps({"dataframe_records": records}).encode())
    assert status == 400, text
    message = _strict(text)["message"]
    assert "'days_since_last_activity' in 1 row(s): rows [1]" in message, message
    assert "send null for a missing value" in message, message
    del records[0]["mrr"], records[1]["mrr"]  # mrr may be left out, also per record
    records[1]["days_since_last_activity"] = None
    status, text = _post(url, json.dumps({"dataframe_records": records}).encode())
    assert status == 200, text
    status, text = _post(url, json.dumps({"dataframe_records": [{}]}).encode())
    assert status == 400, text
    message = _strict(text)["message"]
    assert "no rows" not in message and "missing" in message, message
