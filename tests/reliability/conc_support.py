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

CLI = str(Path(sys.executable).with_name("churnlab"))
SIM = SimulationParams(accounts=300, months=12, seed=11)


def make_project(root: Path, name: str = "fast", **spec_extra) -> Path:
    """A project folder with ``data/sim``, ``spec.yaml`` (30 trees) and ``pyproject.toml``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
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
