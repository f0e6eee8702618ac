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
