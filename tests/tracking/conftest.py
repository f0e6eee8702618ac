"""A throwaway project root per test module: its own SQLite MLflow store and artifacts."""

from __future__ import annotations

import pytest

from churnlab.config import parse_spec
from tests.conftest import new_project

CUTOFFS = "2024-03-01:2025-06-01:1M"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    new_project(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_HOME", str(root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield root
    mp.undo()


def small_spec(small_sim, family: str, **extra):
    raw = {
        "name": family,
        "experiment": "small",
        "data": {"path": str(small_sim)},
        "cutoffs": CUTOFFS,
        "horizon_days": 60,
        "model": {
            "family": family,
            "params": {"n_estimators": 300} if family == "lightgbm" else {},
        },
    }
    raw.update(extra)
    return parse_spec(raw)
