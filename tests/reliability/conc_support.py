"""Helpers for the concurrency and interrupt tests: a throwaway project (its own SQLite MLflow
store and optuna.db) with a small simulated dataset and a fast LightGBM spec, and the CLI run
as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from churnlab.data.simulate import SimulationParams, simulate
from tests.conftest import new_project

CLI = str(Path(sys.executable).with_name("churnlab"))
SIM = SimulationParams(accounts=300, months=12, seed=11)


def make_project(root: Path, name: str = "fast", **spec_extra) -> Path:
    """A project folder with ``data/sim``, ``spec.yaml`` (30 trees) and ``pyproject.toml``."""
    root.mkdir(parents=True, exist_ok=True)
    new_project(root)
    if not (root / "data" / "sim").exists():
        simulate(root / "data" / "sim", SIM)
    spec = {
        "name": name,
        "experiment": "rel",
        "data": {"path": str(root / "data" / "sim")},
        "cutoffs": "2024-04-01:2024-11-01:1M",
        "horizon_days": 30,
        "model": {"family": "lightgbm", "params": {"n_estimators": 30, "num_leaves": 7}},
        **spec_extra,
    }
    (root / "spec.yaml").write_text(yaml.safe_dump(spec))
    return root


def env_for(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    env["CHURNLAB_HOME"] = str(root)
    env["CHURNLAB_CACHE"] = str(root / "cache")
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


def start(root: Path, *args: str) -> subprocess.Popen:
    """``churnlab ARGS`` in ``root`` as its own process (stdout and stderr captured)."""
    return subprocess.Popen(
        [CLI, *args],
        cwd=root,
        env=env_for(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(root: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], cwd=root, env=env_for(root), capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate, timeout: float = 120, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def run_states(root: Path) -> dict[str, str]:
    """run name -> status, read straight from the project's mlflow.db (empty before it exists)."""
    import sqlite3

    db = root / "mlflow.db"
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return dict(con.execute("select run_uuid, status from runs").fetchall())
    except sqlite3.OperationalError:  # tables not created yet
        return {}


def fake_versions(root: Path, model: str, metrics: list[dict[str, float]], status="FINISHED"):
    """Training runs with the given test metrics, each registered as a version of ``model``
    (real MLflow calls on the project's SQLite store; the versions hold no model files)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("rel")
    exp_id = exp.experiment_id if exp else client.create_experiment("rel")
    if not client.search_registered_models(f"name = '{model}'"):
        client.create_registered_model(model)
    versions = []
    for i, values in enumerate(metrics):
        run = client.create_run(
            exp_id,
            run_name=f"cand{i}",
            tags={"churnlab.kind": "training", "churnlab.registered_model": model},
        )
        rid = run.info.run_id
        for k, v in values.items():
            client.log_metric(rid, f"test_{k}", v)
        mv = client.create_model_version(model, f"{run.info.artifact_uri}/model", run_id=rid)
        client.set_tag(rid, "churnlab.model_version", str(mv.version))
        if status is not None:
            client.set_terminated(rid, status)
        versions.append(str(mv.version))
    return client, versions
