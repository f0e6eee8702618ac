"""Paths and settings. Nothing here does work at import time: every value is computed on call."""

from __future__ import annotations

import os
from pathlib import Path

DEMO_DATA = Path("data") / "demo"


def project_root() -> Path:
    """The project root: ``CHURNLAB_HOME`` if set, else the nearest parent with a pyproject.toml
    that names churnlab, else the current directory."""
    env = os.environ.get("CHURNLAB_HOME")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.exists() and 'name = "churnlab"' in pyproject.read_text():
            return folder
    return here


def data_dir() -> Path:
    return project_root() / "data"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the local SQLite store in the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"
