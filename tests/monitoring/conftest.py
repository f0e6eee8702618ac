"""A champion trained once on simulated history before any change, and projects that copy its
MLflow store so each scenario's scored batches are monitored on their own."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from churnlab.config import parse_spec
from churnlab.data.simulate import SimulationParams, simulate
from tests.conftest import new_project

NAME = "churn-monitoring"
SEED = 23
ACCOUNTS, MONTHS = 3000, 20  # 2024-01-01 to 2025-09-01
CHANGE = "2025-03-01"
TRAIN_CUTOFFS = "2024-03-01:2024-10-01:1M"
HORIZON = 60
# monthly batches: four before the change, then the first month after it (a cutoff on the
# change date itself already sees price_increase's new subscriptions, which start that day)
BEFORE = ["2024-11-01", "2024-12-01", "2025-01-01", "2025-02-01"]
AFTER = ["2025-04-01"]


@dataclass
class Champion:
    root: Path
    data: Path
    version: str
    uri: str


def _project(root: Path) -> pytest.MonkeyPatch:
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_HOME", str(root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    return mp


def sim_params(scenario: str = "none") -> SimulationParams:
    # no retention campaigns: with them the label-free ROC-AUC estimate sat 0.004-0.061 above
    # the realized one on every matured batch (the champion's probabilities no longer calibrated
    # on the later months: the campaigns change the churn process over time, which no monitor
    # sees without labels; not analysed further). These tests are about the scenarios' changes
    return SimulationParams(
        accounts=ACCOUNTS,
        months=MONTHS,
        seed=SEED,
        scenario=scenario,
        change_at=CHANGE,
        campaigns=False,
    )


@pytest.fixture(scope="session")
def champion(tmp_path_factory) -> Champion:
    """LightGBM trained on cutoffs whose label windows close months before the change: the
    history is the same process in every scenario, so one champion serves them all."""
    import mlflow

    from churnlab.tracking import train_and_log
    from churnlab.tracking.store import connect

    root = tmp_path_factory.mktemp("monitoring-project")
    new_project(root)
    mp = _project(root)
    data = root / "data" / "none"
    simulate(data, sim_params())
    spec = parse_spec(
        {
            "name": "lightgbm",
            "experiment": "monitoring-tests",
            "registered_model": NAME,
            "data": {"path": str(data)},
            "cutoffs": TRAIN_CUTOFFS,
            "horizon_days": HORIZON,
            "model": {"family": "lightgbm", "params": {"n_estimators": 80}},
        }
    )
    summary = train_and_log(spec, root=root)
    connect()
    mlflow.MlflowClient().set_registered_model_alias(NAME, "champion", summary.model_version)
    mp.undo()
    return Champion(root, data, summary.model_version, f"models:/{NAME}@champion")


# each scenario's simulated history, made once per test process and copied into every project
# that needs it (retrain and the drift scenarios both use price_increase: the same seed and
# parameters, so the same data)
_SIMULATED: dict[str, Path] = {}


def _simulated(tmp_path_factory, scenario: str) -> Path:
    if scenario not in _SIMULATED:
        out = tmp_path_factory.mktemp(f"sim-{scenario}") / scenario
        simulate(out, sim_params(scenario))
        _SIMULATED[scenario] = out
    return _SIMULATED[scenario]


def scenario_project(champion: Champion, tmp_path_factory, scenario: str) -> tuple[Path, Path]:
    """A copy of the champion's project (store and registry) and the scenario's data in it."""
    root = tmp_path_factory.mktemp(f"project-{scenario}") / "p"
    shutil.copytree(champion.root, root, ignore=shutil.ignore_patterns("data"))
    data = root / "data" / scenario
    source = champion.data if scenario == "none" else _simulated(tmp_path_factory, scenario)
    shutil.copytree(source, data)
    return root, data


def score_batches(uri: str, data: Path, dates: list[str]) -> list[str]:
    """A logged scoring batch at each date, as ``score --log`` records it (risk only: reasons
    are not what monitoring reads; the features of every date built in one pass)."""
    from churnlab.scoring import score_batches as backfill

    return [r.run_id for r in backfill(uri, data, [pd.Timestamp(d) for d in dates])]


@pytest.fixture
def in_project():
    """Point churnlab at a project root for the rest of one test."""
    patches = []

    def enter(root: Path) -> None:
        patches.append(_project(root))

    yield enter
    for mp in patches:
        mp.undo()
