"""Which MLflow tracking store and registry churnlab talks to."""

from __future__ import annotations

import logging
import os

import mlflow
from mlflow.tracking import MlflowClient

from churnlab import config

log = logging.getLogger(__name__)


def _local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def connect() -> MlflowClient:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` or the project's SQLite store (registry included)."""
    # quiet MLflow's own chatter (telemetry, emoji run links) in batch jobs
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = config.tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """The experiment's id, creating it (artifacts under ``mlartifacts/`` for the local store)."""
    config.check_experiment_name(name)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    location = None
    if _local_store(config.tracking_uri()):
        location = (config.artifact_root() / name).as_uri()
    return client.create_experiment(name, artifact_location=location)
