"""Artifacts of a run: figures and tables logged, and tables read back (``predictions/test.json``,
``shap/*.json``)."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

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


def pip_requirements(*extra: str) -> list[str]:
    """The pip requirements logged with a model: churnlab and the libraries its pickles need
    (``extra``: a family's own, e.g. econml for the uplift families), pinned as installed."""
    from importlib.metadata import version

    from churnlab import __version__

    pins = ["mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "pyarrow", "shap", "lifelines"]
    return [f"churnlab=={__version__}"] + [f"{p}=={version(p)}" for p in (*pins, *extra)]


# where MLflow calls its check of a model's requirements against the installed packages:
# while saving the model, and while loading it back to try the input example
_REQUIREMENT_CHECKS = ("mlflow.utils.environment", "mlflow.pyfunc")


@contextmanager
def installed_pins() -> Iterator[None]:
    """Log a model whose requirements are :func:`pip_requirements` without MLflow's check of
    them against the installed packages: they are pinned from the installed packages, so the
    check cannot find a mismatch, and it first maps every installed distribution to its modules
    (every ``RECORD`` file read: 1-3 s a run). Where MLflow no longer has the check by that
    name, nothing is changed."""
    import importlib

    saved = []
    for name in _REQUIREMENT_CHECKS:
        module = importlib.import_module(name)
        check = getattr(module, "warn_dependency_requirement_mismatches", None)
        if check is not None:
            saved.append((module, check))
            module.warn_dependency_requirement_mismatches = lambda requirements: None
    try:
        yield
    finally:
        for module, check in saved:
            module.warn_dependency_requirement_mismatches = check


@contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """``loggers`` at ERROR level for the block."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def model_example(rows: pd.DataFrame) -> pd.DataFrame:
    """Up to 20 rows as a model's signature example: integer counts declared as doubles, so
    a feature table with a missing count still scores."""
    example = rows.head(20).reset_index(drop=True)
    ints = [
        c
        for c in example.columns
        if pd.api.types.is_integer_dtype(example[c]) and c != "account_id"
    ]
    example[ints] = example[ints].astype("float64")
    return example
