"""Reusing a finished run instead of training the same model again.

A run is identified by its *reuse key*: a digest of the resolved spec, the data's digest, the
code version, the seed and churnlab's version (plus, for ``tune``, the trial budget). The key is
tagged on a run (:data:`REUSE_TAG`) only once its model is registered, so only FINISHED runs
with a version can match; ``train`` and ``tune`` look the key up through MLflow's search API
and, on a match, return that run's summary instead of training (``--force`` trains anyway).

The code version is the project's git commit. A work tree with uncommitted changes to tracked
files adds a digest of ``git diff HEAD`` (the changes themselves): the same uncommitted edits
reuse their run, any further edit trains again, and the commit tag alone (``<sha>-dirty``) can
never stand for two different trees. The installed churnlab package's own source is digested
too, so code that git does not see (an untracked module, churnlab installed from elsewhere, a
project outside git) still changes the key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churnlab import __version__
from churnlab.config import ExperimentSpec
from churnlab.tracking.runs import LEAK_TAG, STRONG_TAG, RunSummary, git_commit
from churnlab.vocab import MODEL_TAG

log = logging.getLogger(__name__)
REUSE_TAG = "churnlab.reuse_key"
VERSION_TAG = "churnlab.model_version"


def code_version(root: Path) -> str:
    """The git commit of ``root``; with uncommitted changes to tracked files, the commit and a
    digest of those changes (``<sha>-dirty:<diff digest>``); ``unknown`` outside git."""
    commit = git_commit(root)
    if not commit.endswith("-dirty"):
        return commit
    try:
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--binary"], cwd=root, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return f"{commit}:unknown"
    return f"{commit}:{hashlib.sha256(diff).hexdigest()[:16]}"


@lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 (16 hex digits) over the installed churnlab package's Python files."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run_key(spec: ExperimentSpec, data_digest: str, code: str, **extra: Any) -> str:
    """What identifies a training run's result: resolved spec, data, code, seed, churnlab
    version and ``extra`` (e.g. ``command="tune", trials=20``), as 32 hex digits."""
    payload = {
        "spec": spec.resolved(),
        "data_digest": data_digest,
        "code": code,
        "source": source_digest(),
        "seed": spec.seed,
        "churnlab": __version__,
        **extra,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :32
    ]


def _split(run_id: str) -> dict[str, Any]:
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/split.json")
    except (MlflowException, OSError, ValueError):
        return {}


def find_reusable(client: MlflowClient, experiment: str, key: str) -> RunSummary | None:
    """The latest FINISHED run of ``experiment`` tagged with ``key`` whose registered version
    still exists, as the summary ``train`` returns (``reused`` set); None if there is none."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None or exp.lifecycle_stage == "deleted":
        return None
    runs = client.search_runs(
        [exp.experiment_id],
        # the key is our own hex digest, never user text
        filter_string=f"tags.`{REUSE_TAG}` = '{key}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    for run in runs:
        name, version = run.data.tags.get(MODEL_TAG), run.data.tags.get(VERSION_TAG)
        if not name or not version:
            continue
        try:
            registered = client.get_model_version(name, version)
        except MlflowException:  # the version was deleted: train again
            continue
        if registered.run_id != run.info.run_id:
            continue
        log.info("run %s matches (reuse key %s)", run.info.run_id, key)
        return RunSummary(
            run_id=run.info.run_id,
            experiment=experiment,
            model_name=name,
            model_version=version,
            model_uri=f"models:/{name}/{version}",
            metrics=dict(run.data.metrics),
            split=_split(run.info.run_id),
            seconds={},
            reused=True,
            leak_suspects=json.loads(run.data.tags.get(LEAK_TAG, "{}")),
            strong_suspects=json.loads(run.data.tags.get(STRONG_TAG, "{}")),
        )
    return None


__all__ = ["REUSE_TAG", "code_version", "find_reusable", "run_key", "source_digest"]
