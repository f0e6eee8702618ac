"""MLflow runs that always end (FINISHED, FAILED with the error, or KILLED on Ctrl-C/SIGTERM),
the tags every training run carries, and the record of a scoring job as its own run."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
from mlflow.entities import RunStatus

from churnlab import __version__, config
from churnlab.config import ExperimentSpec
from churnlab.tracking.store import HOST_TAG, PID_TAG, connect, ensure_experiment
from churnlab.tracking.uris import ModelRef
from churnlab.vocab import BATCH_DATE_TAG, DATA_DIGEST_TAG, KIND_TAG, MODEL_TAG, SCORED_FROM_TAG

if TYPE_CHECKING:
    from churnlab.training import TrainingData

log = logging.getLogger(__name__)
# a training run's columns that alone separated churners (JSON: column -> ROC-AUC)
LEAK_TAG = "churnlab.leak_suspects"
# ... and those that alone ranked churners almost perfectly, from STRONG_AUC up to LEAK_AUC
# (JSON: column -> ROC-AUC); promote refuses a version with either tag without --force
STRONG_TAG = "churnlab.strong_suspects"
# columns left out of a survival family for nearly determining the duration (JSON: -> |Spearman|)
DURATION_TWIN_TAG = "churnlab.duration_twins"
# what a logged scoring batch keeps of its scores: enough to join realized labels later
BATCH_PREDICTION_COLUMNS = ["account_id", "cutoff", "p_churn", "risk_tier", "revenue_at_risk"]


@dataclass
class RunSummary:
    run_id: str
    experiment: str
    model_name: str
    model_version: str | None
    model_uri: str | None
    metrics: dict[str, float]
    split: dict[str, Any]
    seconds: dict[str, float]
    reused: bool = False  # an earlier run with the same spec, data, code and seed
    # columns that alone separated churners on the training rows -> ROC-AUC (:data:`LEAK_TAG`)
    leak_suspects: dict[str, float] = field(default_factory=dict)
    # columns that alone ranked churners almost perfectly, below the leak bar (:data:`STRONG_TAG`)
    strong_suspects: dict[str, float] = field(default_factory=dict)
    # what training warned of on stderr (columns left out, few churners, leaks, how values
    # were read), for ``train --json``: a script reads them without parsing the log
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "reused": self.reused,
            "experiment": self.experiment,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "model_uri": self.model_uri,
            "split": self.split,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "test_metrics": {
                k.removeprefix("test_"): v for k, v in self.metrics.items() if k.startswith("test_")
            },
            "validation_metrics": {
                k.removeprefix("validation_"): v
                for k, v in self.metrics.items()
                if k.startswith("validation_")
            },
            "leak_suspects": self.leak_suspects,
            "strong_suspects": self.strong_suspects,
            "notices": self.notices,
        }


def git_commit(root: Path | None = None) -> str:
    """HEAD's commit, suffixed ``-dirty`` when tracked files differ; ``unknown`` outside git."""
    root = root or config.project_root()
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class _Terminated(KeyboardInterrupt):
    """SIGTERM, treated like Ctrl-C so the run ends KILLED."""


class RunKilled(KeyboardInterrupt):
    """Ctrl-C or SIGTERM inside a tracked run; the run was ended KILLED."""

    def __init__(self, run_id: str):
        super().__init__(run_id)
        self.run_id = run_id


def _start_run(in_main: bool, on_term: Any, **kwargs: Any) -> tuple[Any, list[int]]:
    """``mlflow.start_run(**kwargs)`` with SIGTERM and SIGINT held back until it returns: the
    run exists in the store before start_run does, and a signal in between would leave it
    RUNNING with nobody knowing its id. The signals that came meanwhile are returned (the run
    is then ended KILLED, and named); afterwards SIGTERM goes to ``on_term``."""
    pending: list[int] = []
    held = {}
    if in_main:
        for sig in (signal.SIGTERM, signal.SIGINT):
            held[sig] = signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        return mlflow.start_run(**kwargs), pending
    finally:
        for sig, handler in held.items():
            signal.signal(sig, on_term if sig == signal.SIGTERM else handler)


@contextmanager
def tracked_run(experiment_id: str, run_name: str, tags: dict[str, str]) -> Iterator[Any]:
    """An MLflow run that always ends: FINISHED, FAILED (error tagged) or KILLED."""

    def on_term(signum, frame):
        raise _Terminated()

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_term) if in_main else None
    try:
        owner = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
        run, pending = _start_run(
            in_main, on_term, experiment_id=experiment_id, run_name=run_name, tags={**tags, **owner}
        )
        status, error = RunStatus.FINISHED, None
        try:
            if pending:
                raise KeyboardInterrupt
            yield run
        except RunKilled:
            status, error = RunStatus.KILLED, "interrupted (Ctrl-C or SIGTERM)"
            raise
        except KeyboardInterrupt:
            status, error = RunStatus.KILLED, "interrupted (Ctrl-C or SIGTERM)"
            raise RunKilled(run.info.run_id) from None
        except BaseException as exc:
            status, error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"[:5000]
            raise
        finally:
            try:
                if error:
                    mlflow.set_tag("churnlab.error", error)
            except Exception:  # the status matters more than the message
                log.warning("could not record the error on run %s", run.info.run_id)
            finally:
                mlflow.end_run(RunStatus.to_string(status))
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def flat_params(spec: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in spec.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flat_params(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, list | dict) else str(v)
    return out


def run_tags(spec: ExperimentSpec, data: TrainingData, root: Path, **extra: str) -> dict[str, str]:
    """The tags every training run carries: kind, registered model, family, versions, lineage."""
    return {
        KIND_TAG: "training",
        MODEL_TAG: spec.model_name,
        "churnlab.version": __version__,
        "churnlab.family": spec.model.family,
        DATA_DIGEST_TAG: data.data_digest,
        "mlflow.source.git.commit": git_commit(root),
        "mlflow.note.content": spec.description or f"{spec.model.family} on {data.source}",
        **extra,
    }


def log_scoring_run(
    result: Any,
    ref: ModelRef,
    *,
    data: str | Path | None,
    features: str | Path | None,
    as_of: Any,
    experiment: str = "scoring",
    data_digest: str | None = None,
) -> str:
    """Record a finished scoring job as its own MLflow run (never the training run);
    ``data_digest``: of the data or feature table it scored, so a batch logged again from the
    same data can be told apart from one whose data changed."""
    client = connect(create=True)
    exp_id = ensure_experiment(client, experiment)
    tags = {
        KIND_TAG: "scoring",
        "churnlab.model_uri": ref.uri,
        "churnlab.model_name": str(ref.name),
        "churnlab.model_version": str(ref.version),
    }
    if data_digest:
        tags[DATA_DIGEST_TAG] = data_digest
    scored = data if data is not None else features
    if isinstance(scored, str | Path):
        tags[SCORED_FROM_TAG] = str(Path(scored).resolve())
    name = f"score-{ref.name}-v{ref.version}"
    with tracked_run(exp_id, name, tags) as run:
        mlflow.log_params(
            {
                "model_uri": ref.uri,
                "model_version": ref.version,
                "data": str(data) if data else None,
                "features": str(features) if features else None,
                "as_of": str(as_of) if as_of is not None else None,
                "out": str(result.out) if result.out else None,
            }
        )
        s = result.summary
        metrics = {"accounts": s["accounts"], "revenue_at_risk": s["revenue_at_risk"]}
        for tier, d in s["tiers"].items():
            metrics[f"{tier}_accounts"] = d["accounts"]
            metrics[f"{tier}_revenue_at_risk"] = d["revenue_at_risk"]
        metrics.update({f"seconds_{k}": v for k, v in result.seconds.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_dict(s, "summary.json")
        _log_batch(result)
        return run.info.run_id


def _log_batch(result: Any) -> None:
    """What monitoring reads back without rebuilding features: the batch's profile in the
    model's reference bins and its predictions (keys, p, tier, revenue at risk)."""
    if getattr(result, "profile", None) is None:
        return
    mlflow.log_dict(result.profile, "monitoring/profile.json")
    cutoffs = sorted({str(pd.Timestamp(c).date()) for c in result.scores.cutoff.dropna().unique()})
    if cutoffs:
        mlflow.set_tag(BATCH_DATE_TAG, cutoffs[-1])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.parquet"
        cols = [c for c in BATCH_PREDICTION_COLUMNS if c in result.scores.columns]
        result.scores[cols].to_parquet(path, index=False)
        mlflow.log_artifact(str(path), "monitoring")
