"""churnlab's REST server: ``POST /invocations`` scores rows exactly as batch scoring does.

The request is MLflow's scoring-server format (``{"dataframe_records": [...]}`` or
``{"dataframe_split": {"columns": [...], "data": [...]}}``, optional ``"params":
{"reasons": false}``), so clients of ``mlflow models serve`` work unchanged. Unlike that
server, the rows reach :func:`~churnlab.scoring.check.check_feature_table` as the client sent
them, before any type coercion: ``"maybe"`` in a boolean column, an id of ``1.5``, a null
cutoff, an infinite number or a negative ``mrr`` are refused with the same message batch
scoring gives (HTTP 400), never silently converted. The answer is strict JSON: missing values
are ``null``, never ``NaN``; timestamps are ISO 8601.

Run by :func:`churnlab.scoring.serve.start_server` and ``churnlab serve`` as
``python -m churnlab.scoring.rest`` with the model URI in ``CHURNLAB_SERVE_MODEL``. With an
uplift model (``CHURNLAB_SERVE_UPLIFT_MODEL``) every answer row also has ``uplift``,
``expected_gain`` and ``action``, decided over the request's rows by the contact policy in
``CHURNLAB_SERVE_POLICY`` (JSON of :class:`~churnlab.scoring.uplift.ContactPolicy`) exactly as
batch scoring decides over its rows.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations, and
# Request/Response are imported inside create_app
import json
import math
import os
from typing import Any

import numpy as np
import pandas as pd

from churnlab.model import UpliftModel
from churnlab.scoring.check import ScoringError
from churnlab.scoring.load import LoadedModel, load_model
from churnlab.scoring.uplift import ContactPolicy, add_decisions

ENV_MODEL = "CHURNLAB_SERVE_MODEL"
ENV_UPLIFT_MODEL = "CHURNLAB_SERVE_UPLIFT_MODEL"
ENV_POLICY = "CHURNLAB_SERVE_POLICY"
FORMATS = ("dataframe_records", "dataframe_split")


def _no_constants(token: str) -> Any:
    raise ScoringError(f"request: {token} is not JSON; send null for a missing value")


def parse_request(body: bytes) -> tuple[pd.DataFrame, bool]:
    """The rows of a request body as the client sent them, and whether reasons are wanted."""
    try:
        payload = json.loads(body, parse_constant=_no_constants)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScoringError(f"request: not valid JSON ({exc})") from None
    if not isinstance(payload, dict) or sum(k in payload for k in FORMATS) != 1:
        raise ScoringError(f"request: expected a JSON object with exactly one of {list(FORMATS)}")
    params = payload.get("params") or {}
    reasons = params.get("reasons", True) if isinstance(params, dict) else None
    if not isinstance(reasons, bool):
        raise ScoringError('request: "params" must be an object whose "reasons" is true or false')
    if "dataframe_records" in payload:
        records = payload["dataframe_records"]
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ScoringError("request: dataframe_records must be a list of objects")
        frame = pd.DataFrame.from_records(records, index=range(len(records)))
        return frame.assign(**{ABSENT: _absent_keys(records, frame.columns)}), reasons
    split = payload["dataframe_split"]
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
        raise ScoringError("request: dataframe_split must be an object with columns and data")
    data = split.get("data") or []
    if not isinstance(data, list) or any(
        not isinstance(r, list) or len(r) != len(split["columns"]) for r in data
    ):
        raise ScoringError("request: every dataframe_split data row must list every column")
    return pd.DataFrame(data, columns=split["columns"]), reasons


ABSENT = "__churnlab_absent_keys__"  # per row of dataframe_records: the keys it left out


def _absent_keys(records: list[dict], columns: pd.Index) -> list[tuple[str, ...]]:
    """Per record, the request's columns it does not name (most records name them all)."""
    n = len(columns)
    return [() if len(r) == n else tuple(c for c in columns if c not in r) for r in records]


def _refuse_absent_keys(frame: pd.DataFrame, model: LoadedModel) -> pd.DataFrame:
    """``frame`` without the bookkeeping column, or a ScoringError naming the columns the
    model reads that some records leave out, with their rows: a missing column is refused
    as documented (send null for a missing value); only ``mrr`` may be left out."""
    if ABSENT not in frame.columns:
        return frame
    absent = frame.pop(ABSENT)
    reads = set(model.input_schema.input_names()) - {"mrr"}
    rows: dict[str, list[int]] = {}
    for i, keys in enumerate(absent):
        for key in keys:
            if key in reads:
                rows.setdefault(key, []).append(i)
    if rows:
        said = "; ".join(
            f"{key!r} in {len(at)} row(s): rows {at[:5]}{' and more' if len(at) > 5 else ''}"
            for key, at in rows.items()
        )
        raise ScoringError(
            f"request: record(s) without a column the model reads: {said} "
            "(send null for a missing value)"
        )
    return frame


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def to_json(scores: pd.DataFrame) -> bytes:
    """``{"predictions": [...]}`` as strict JSON (``null`` for missing and non-finite)."""
    columns = list(scores.columns)
    rows = [
        dict(zip(columns, map(_jsonable, row), strict=True))
        for row in scores.itertuples(index=False, name=None)
    ]
    return json.dumps({"predictions": rows}, allow_nan=False).encode()


def answer(
    model: LoadedModel,
    body: bytes,
    uplift: LoadedModel | None = None,
    policy: ContactPolicy | None = None,
) -> tuple[int, bytes]:
    """HTTP status and JSON body for one /invocations request (with ``uplift``: the
    decisions over the request's rows added)."""
    try:
        frame, reasons = parse_request(body)
        frame = _refuse_absent_keys(frame, model)
        scores = model.predict(frame, reasons=reasons, source="request")
        if uplift is not None:
            scores = add_decisions(scores, frame, uplift, policy or ContactPolicy(), "request")
    except ScoringError as exc:
        return 400, json.dumps({"error_code": "BAD_REQUEST", "message": str(exc)}).encode()
    return 200, to_json(scores)


def create_app(model_uri: str | None = None):
    """The FastAPI app serving ``model_uri`` (default: ``$CHURNLAB_SERVE_MODEL``)."""
    from fastapi import FastAPI, Request, Response
    from starlette.concurrency import run_in_threadpool

    model = load_model(model_uri or os.environ[ENV_MODEL])
    uplift_uri = os.environ.get(ENV_UPLIFT_MODEL)
    uplift = load_model(uplift_uri, kind=UpliftModel) if uplift_uri else None
    policy = ContactPolicy.from_json(os.environ.get(ENV_POLICY))
    app = FastAPI(title="churnlab", docs_url=None, redoc_url=None, openapi_url=None)
    about = {"model": model.ref.name, "version": model.ref.version}
    if uplift is not None:
        about.update(uplift_model=uplift.ref.name, uplift_version=uplift.ref.version)
    version = json.dumps(about)

    @app.get("/ping")
    @app.get("/health")
    def ping() -> Response:
        return Response("\n", media_type="text/plain")

    @app.get("/version")
    def model_version() -> Response:
        return Response(version, media_type="application/json")

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/json":
            message = {"error_code": "BAD_REQUEST", "message": "send application/json"}
            return Response(json.dumps(message), status_code=415, media_type="application/json")
        status, content = await run_in_threadpool(
            answer, model, await request.body(), uplift, policy
        )
        return Response(content, status_code=status, media_type="application/json")

    return app


def main() -> None:
    """``python -m churnlab.scoring.rest --host H --port P --workers N``."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "churnlab.scoring.rest:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
