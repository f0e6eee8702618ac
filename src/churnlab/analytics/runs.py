"""Read what a training run logged: tables (``predictions/test.json``, ``shap/*.json``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd

from churnlab.tracking.store import connect


def run_table(run_id: str, artifact: str) -> pd.DataFrame:
    """A table logged with ``mlflow.log_table`` (e.g. ``predictions/test.json``) as a frame."""
    import mlflow

    connect()
    with tempfile.TemporaryDirectory(prefix="churnlab-run-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=artifact, dst_path=tmp
        )
        raw = json.loads(Path(local).read_text())
    frame = pd.DataFrame(raw["data"], columns=raw["columns"])
    if "cutoff" in frame:
        frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    return frame
