"""Artifacts of a run: figures and tables logged, and tables read back (``predictions/test.json``,
``shap/*.json``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
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


def log_figure(ax: Any, path: str) -> None:
    """Log the figure of ``ax`` into the active run as ``path`` (PNG) and close it."""
    fig = ax.figure
    fig.tight_layout()
    mlflow.log_figure(fig, path)
    plt.close(fig)


def jsonable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with dates as ISO days, as ``mlflow.log_table`` stores them."""
    out = frame.reset_index(drop=True).copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out
