"""A trained, registered and promoted LightGBM model on a small simulation, in a throwaway
project root with its own MLflow store (one per test module)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from churnlab.config import parse_spec
from churnlab.data.simulate import SimulationParams, simulate
from tests.conftest import new_project

NAME = "churn-scoring"


@dataclass
class Trained:
    root: Path
    data: Path
    run_id: str
    version: str
    uri: str  # models:/NAME@champion
    test_cutoff: str
    observed_until: str


def train_small(
    tmp_path_factory, accounts: int, months: int, cutoffs: str, family: str = "lightgbm"
):
    """Simulate, train one model into a fresh project and alias it ``champion``."""
    import mlflow

    from churnlab.tracking import train_and_log
    from churnlab.tracking.store import connect

    root = tmp_path_factory.mktemp("scoring-project")
    new_project(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_HOME", str(root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = root / "data" / "sim"
    manifest = simulate(data, SimulationParams(accounts=accounts, months=months, seed=11))
    spec = parse_spec(
        {
            "name": family,
            "experiment": "scoring-tests",
            "registered_model": NAME,
            "data": {"path": str(data)},
            "cutoffs": cutoffs,
            "horizon_days": 60,
            "model": {
                "family": family,
                "params": {"n_estimators": 80} if family == "lightgbm" else {},
            },
        }
    )
    summary = train_and_log(spec, root=root)
    connect()
    mlflow.MlflowClient().set_registered_model_alias(NAME, "champion", summary.model_version)
    test_cutoff = summary.split["test"]["cutoffs"][0]
    trained = Trained(
        root=root,
        data=data,
        run_id=summary.run_id,
        version=summary.model_version,
        uri=f"models:/{NAME}@champion",
        test_cutoff=str(test_cutoff)[:10],
        observed_until=str(manifest["observed_until"])[:10],
    )
    return trained, mp


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """Trained once per test process; the project root is set only while training and, for
    each scoring test module, by ``scoring_project``."""
    model, mp = train_small(tmp_path_factory, 800, 14, "2024-03-01:2024-12-01:1M")
    mp.undo()
    return model


@pytest.fixture(scope="session")
def _features_at_test_cutoff(trained):
    from churnlab.scoring import build_scoring_features, load_model

    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_HOME", str(trained.root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        model = load_model(trained.uri)
        return build_scoring_features(model.model, trained.data, trained.test_cutoff)
    finally:
        mp.undo()


@pytest.fixture
def features(_features_at_test_cutoff):
    """The champion's feature rows at the test cutoff, as ``build_scoring_features`` gives
    them: built once per test process, a copy for each test."""
    return _features_at_test_cutoff.copy()


@pytest.fixture(scope="module", autouse=True)
def scoring_project(trained):
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_HOME", str(trained.root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield trained.root
    mp.undo()
