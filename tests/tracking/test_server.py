"""Training against a real ``mlflow server`` on 127.0.0.1 (the team setup)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from churnlab.tracking import train_and_log
from tests.conftest import migrated_store
from tests.tracking.conftest import small_spec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    # an empty store MLflow already migrated (as the first server start would); no GenAI job
    # runner: training needs tracking and the registry, not MLflow's huey job consumers
    shutil.copyfile(migrated_store(), tmp_path / "server.db")
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
        start_new_session=True,  # its own process group: the server's workers end with it
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError("mlflow server did not start in 120 s")
    yield url, tmp_path
    # the server starts uvicorn workers: end the whole group, or they outlive the test
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_train_against_tracking_server(server, small_sim, project, monkeypatch):
    url, folder = server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    summary = train_and_log(small_spec(small_sim, "logistic", experiment="remote"))
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    run = client.get_run(summary.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["test_roc_auc"] > 0.6
    assert client.get_model_version("churn-remote", summary.model_version).run_id == summary.run_id
    # artifacts went through the server into its artifact store, not the local project
    stored = [p for p in (folder / "artifacts").rglob("MLmodel")]
    assert stored and not (project / "mlartifacts" / "remote").exists()
    assert os.environ["MLFLOW_TRACKING_URI"] == url
