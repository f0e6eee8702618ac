"""REST parity: ``mlflow models serve`` on the exported champion, on 127.0.0.1 and a free port,
answers /invocations with the same rows as batch scoring."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from churnlab.scoring import build_scoring_features, load_model, score_job
from churnlab.scoring.serve import invoke, start_server, stop_server


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    from churnlab.tracking import export_model

    folder = export_model(trained.uri, tmp_path_factory.mktemp("export") / "churn-scoring")
    process, url = start_server(folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield url, folder
    stop_server(process)
    assert process.poll() is not None


def test_rest_answers_like_batch_scoring(trained, server):
    url, folder = server
    batch = score_job(folder, data=trained.data, as_of=trained.test_cutoff).scores
    model = load_model(folder)
    features = build_scoring_features(model.model, trained.data, trained.test_cutoff)
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


def test_rest_rejects_rows_missing_a_feature(trained, server):
    import urllib.error

    url, folder = server
    model = load_model(folder)
    features = build_scoring_features(model.model, trained.data, trained.test_cutoff).head(2)
    records = json.loads(
        features.drop(columns=["tenure_days"]).to_json(orient="records", date_format="iso")
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        invoke(url, records)
    assert exc.value.code == 400
    assert "tenure_days" in exc.value.read().decode()
