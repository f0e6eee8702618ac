"""Which MLflow tracking store and registry churnlab talks to."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churnlab import config
from churnlab.errors import ChurnlabError
from churnlab.files import file_lock, process_alive

log = logging.getLogger(__name__)
_READY: set[str] = set()  # URIs whose store this process has opened (tables created, migrated)


def _local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


class StoreError(ChurnlabError):
    """The MLflow store cannot be used: a malformed or unknown tracking URI, or no store where
    a command that only reads looks for one."""


# the tracking URI schemes MLflow serves (a database with an optional +driver, a server, a
# folder); anything else is taken for a typo
_SCHEMES = {"sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks", "file"}
_EXAMPLES = (
    "sqlite:///relative/path/mlflow.db, sqlite:////absolute/path/mlflow.db, "
    "postgresql://HOST/DB, http(s)://SERVER or a folder"
)


def _where(uri: str) -> str:
    named = "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "the store URI"
    return f"{named}={uri}"


def check_tracking_uri(uri: str) -> None:
    """Refuse a tracking URI MLflow would fail on with a traceback: an unknown scheme
    (``sqllite:///...``) or a SQLite URI without its three slashes (``sqlite:/x.db``)."""
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme == "sqlite" and not uri.startswith("sqlite:///"):
        raise StoreError(
            f"{_where(uri)}: a malformed SQLite URI (sqlite: is followed by three slashes and "
            "the path: sqlite:///relative/path/mlflow.db or sqlite:////absolute/path/mlflow.db)"
        )
    if "://" in uri and scheme.split("+")[0] not in _SCHEMES:
        raise StoreError(f"{_where(uri)}: unknown scheme {scheme!r}; expected {_EXAMPLES}")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative paths from the working folder),
    else None."""
    if not uri.startswith("sqlite:///"):
        return None
    raw = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if raw in ("", ":memory:") else Path(raw)


def connect(create: bool = False) -> MlflowClient:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` or the project's SQLite store (registry
    included). Only ``create`` (a command that logs) makes a SQLite store that does not exist
    yet; a command that only reads says there is none rather than leave an empty store (and
    its folders) behind on a mistyped path."""
    # quiet MLflow's own chatter (telemetry, emoji run links) in batch jobs
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = config.tracking_uri()
    check_tracking_uri(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri in _READY:
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    db = sqlite_path(uri)
    if db is not None and not create and not db.is_file():
        raise StoreError(
            f"no MLflow store at {db.resolve()} ({_where(uri)}): nothing is tracked there yet; "
            "train a model first, or point MLFLOW_TRACKING_URI at the store"
        )
    # opening a SQLite store the first time creates and migrates its tables (alembic); two
    # processes doing that at once fail ("duplicate column name"), so one at a time
    with store_lock("init"):
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_registered_models(max_results=1)
        except MlflowException as exc:
            if is_locked(exc):
                raise
            raise StoreError(f"cannot open the MLflow store {_where(uri)}: {exc.message}") from exc
    _READY.add(uri)
    return client


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is SQLite's "database is locked": another process
    holds a write transaction on the store for longer than the driver waits."""
    seen: BaseException | None = exc
    while seen is not None:
        if "database is locked" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def lock_path(purpose: str) -> Path:
    """The lock file for ``purpose`` beside the SQLite store (or in the project root)."""
    uri = config.tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return db.with_name(f".{db.name}.{purpose}.lock")
    return config.project_root() / f".mlflow.{purpose}.lock"


@contextmanager
def store_lock(purpose: str) -> Iterator[None]:
    """Hold an exclusive lock (``flock``, released when the process dies) for ``purpose``:
    store initialisation, promotion, registering a study's tuned version."""
    with file_lock(lock_path(purpose)):
        yield


# MLflow 3's experiment type: "custom_model_development" is a model-training experiment, which
# the UI opens on its runs (MLflow 3.0-3.x read it from this tag; newer UIs take the type from
# the "GenAI apps & agents" / "Machine learning" switch instead, see docs/experiments.md)
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """The experiment's id, creating it (artifacts under ``mlartifacts/`` for the local store)
    as a model-training experiment (:data:`EXPERIMENT_KIND_TAG`; a kind already set is kept)."""
    config.check_experiment_name(name)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        if EXPERIMENT_KIND_TAG not in exp.tags:
            client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        end_stale_runs(client, exp.experiment_id)
        return exp.experiment_id
    location = None
    if _local_store(config.tracking_uri()):
        location = (config.artifact_root() / name).as_uri()
    try:
        return client.create_experiment(
            name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
        )
    except MlflowException:  # another process created it first
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


PID_TAG, HOST_TAG = "churnlab.pid", "churnlab.host"


def end_stale_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Runs of this host left RUNNING by a process that died (SIGKILL, power loss): ended
    KILLED, so they are never mistaken for finished or still running work."""
    host = socket.gethostname()
    stale = []
    for run in client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    ):
        tags = run.data.tags
        pid = tags.get(PID_TAG, "")
        if tags.get(HOST_TAG) != host or not pid.isdigit() or process_alive(int(pid)):
            continue
        client.set_tag(run.info.run_id, "churnlab.error", f"process {pid} died while running")
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
        stale.append(run.info.run_id)
    if stale:
        log.warning("marked %d run(s) of dead processes KILLED: %s", len(stale), stale)
    return stale
