"""Model URIs: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``models:/NAME/latest``, a
logged model's ``models:/m-ID`` or an exported folder, resolved to the registered name and
version they hold."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.models import Model

from churnlab import config
from churnlab.errors import ChurnlabError
from churnlab.tracking.store import connect

log = logging.getLogger(__name__)
_REGISTRY_URI = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+|(?i:latest)))$"
)
# a logged model (MLflow 3), registered or not: what mlflow.log_model returns
_LOGGED_MODEL_URI = re.compile(r"^models:/(?P<id>m-[0-9a-f]{32})$")
_EXPECTED = "expected models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/latest"


class RegistryError(ChurnlabError):
    """A registry operation that cannot be done: unknown experiment, model, alias or URI."""


@dataclass
class ModelRef:
    """Where a model comes from: the URI given, its registered name and version (if known)."""

    uri: str
    name: str | None
    version: str | None

    @property
    def is_registry(self) -> bool:
        return self.uri.startswith("models:/")

    @property
    def pinned(self) -> str:
        """The URI of the very version resolved (an alias or ``latest`` may move on)."""
        if self.is_registry and self.name and self.version:
            return f"models:/{self.name}/{self.version}"
        return self.uri


def resolve_model(uri: str | Path) -> ModelRef:
    """Name and version behind ``uri``; a registry alias is resolved to its current version."""
    uri = str(uri)
    if uri.startswith("models:/"):
        return _resolve_registry(uri)
    folder = Path(uri)
    if not (folder / "MLmodel").is_file():
        raise RegistryError(
            f"model {uri}: not a registry URI (models:/NAME@ALIAS, models:/NAME/VERSION) "
            "and not an MLflow model folder (no MLmodel file)"
        )
    config = Model.load(str(folder / "MLmodel")).flavors.get("python_function", {})
    config = config.get("config") or {}
    version = config.get("model_version")
    return ModelRef(
        uri=str(folder),
        name=config.get("model_name"),
        version=None if version in (None, "") else str(version),
    )


def _resolve_registry(uri: str) -> ModelRef:
    logged = _LOGGED_MODEL_URI.match(uri)
    match = _REGISTRY_URI.match(uri)
    if not (match or logged):
        stage = uri.removeprefix("models:/").split("/")
        hint = ""
        if len(stage) == 2 and stage[1] and not stage[1].isdigit():
            hint = f" (stages such as {stage[1]!r} are deprecated in MLflow: use an alias)"
        raise RegistryError(
            f"model URI {uri!r}: {_EXPECTED}, models:/m-ID or an exported model folder{hint}"
        )
    store = config.tracking_uri()
    where = f"the MLflow store {store}" + (
        " (MLFLOW_TRACKING_URI)" if os.environ.get("MLFLOW_TRACKING_URI") else ""
    )
    if store.startswith("sqlite:///") and not Path(store.removeprefix("sqlite:///")).exists():
        # a model is looked up, never created: a mistyped store is not made (and left) empty
        raise RegistryError(
            f"model {uri}: {where} does not exist: point MLFLOW_TRACKING_URI at the store "
            "the model was registered in, or train one first"
        )
    client = connect()
    try:
        if logged:
            return _logged_model(client, uri, logged["id"])
        name = match["name"]
        if match["alias"]:
            found = client.get_model_version_by_alias(name, match["alias"])
            check_finished(client, found)
            version = found.version
        elif match["version"].isdigit():
            version = client.get_model_version(name, match["version"]).version
        else:  # latest: the highest version number, as MLflow reads models:/NAME/latest
            versions = client.get_registered_model(name).latest_versions or []
            if not versions:
                raise RegistryError(f"model {uri}: {name!r} has no version")
            version = max(int(v.version) for v in versions)
    except MlflowException as exc:
        raise RegistryError(f"model {uri}: {exc.message} (in {where})") from exc
    return ModelRef(uri=uri, name=name, version=str(version))


def _logged_model(client, uri: str, model_id: str) -> ModelRef:
    """A logged model, with the registered version it became (MLflow tags the logged model
    with its registrations; the newest is taken): scores then carry the version."""
    found = client.get_logged_model(model_id)
    try:
        registrations = json.loads(found.tags.get("mlflow.modelVersions") or "[]")
        newest = registrations[-1]
        name, version = str(newest["name"]), str(newest["version"])
    except (ValueError, LookupError, TypeError):
        return ModelRef(uri=uri, name=None, version=None)
    return ModelRef(uri=uri, name=name, version=version)


def check_finished(client, version) -> None:
    """A version is usable by alias only if the run that logged it finished: a run killed
    after registering (or still running) never serves a champion."""
    if not version.run_id:
        return
    try:
        status = client.get_run(version.run_id).info.status
    except MlflowException:
        return  # the run was deleted: the version stands on its own
    if status != "FINISHED":
        raise RegistryError(
            f"version {version.version} of {version.name!r} comes from run {version.run_id}, "
            f"which is {status}, not FINISHED; it cannot be used by alias"
        )


def stamp_version(folder: str | Path, name: str, version: str) -> None:
    """Write the registered name and version into an exported model folder's ``MLmodel``
    (the pyfunc's ``model_config``), so serving the folder reports them."""
    path = Path(folder) / "MLmodel"
    meta = Model.load(str(path))
    flavor = meta.flavors.get("python_function", {})
    config = flavor.get("config")
    if config is None or "model_version" not in config:
        log.warning("%s was logged without a model_version config; not stamped", folder)
        return
    flavor["config"] = {**config, "model_version": str(version), "model_name": name}
    meta.save(str(path))


def model_name_of(uri: str) -> str:
    """The registered name in a ``models:/`` URI, or the folder name of an exported model."""
    if uri.startswith("models:/"):
        return uri.removeprefix("models:/").split("@")[0].split("/")[0]
    return Path(uri).name
