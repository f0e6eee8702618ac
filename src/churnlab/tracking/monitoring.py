"""MLflow side of monitoring: read back a model version's reference profile and training spec,
the logged scoring batches of a version, and log a monitoring pass as a run whose metrics are
time series over batch dates (experiment ``monitoring``)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import yaml
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from churnlab.tracking.artifacts import jsonable
from churnlab.tracking.registry import champion_version
from churnlab.tracking.runs import tracked_run
from churnlab.tracking.store import connect, ensure_experiment, store_lock
from churnlab.tracking.uris import ModelRef, RegistryError
from churnlab.vocab import (
    BATCH_DATE_TAG,
    CHAMPION,
    DATA_DIGEST_TAG,
    KIND_TAG,
    PREVIOUS,
    SCORED_FROM_TAG,
)

MONITORING_EXPERIMENT = "monitoring"
SCORING_EXPERIMENT = "scoring"


@dataclass
class BatchRun:
    """One finished ``score --log`` run of a batch date: when it was logged and the digest of
    the data it scored (None for runs logged before scoring runs recorded one)."""

    run_id: str
    batch_date: pd.Timestamp
    logged_at: pd.Timestamp  # UTC
    data_digest: str | None

    def describe(self) -> str:
        """``run 1a2b3c4d (logged 2025-07-07 09:30 UTC)``"""
        return f"run {self.run_id} (logged {self.logged_at:%Y-%m-%d %H:%M} UTC)"


@dataclass
class LoggedBatch:
    """One ``score --log`` run of a model version: its date, profile and predictions; the
    runs that logged the same date before it (newest first) are in ``earlier``."""

    run_id: str
    batch_date: pd.Timestamp
    model_version: str
    profile: dict[str, Any]
    predictions: pd.DataFrame
    logged_at: pd.Timestamp | None = None
    data_digest: str | None = None
    earlier: list[BatchRun] = field(default_factory=list)
    source: str | None = None  # the --data (or --features) it was scored from, as given

    @property
    def run(self) -> BatchRun:
        return BatchRun(self.run_id, self.batch_date, self.logged_at, self.data_digest)


def _download_json(run_id: str, path: str) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=path, dst_path=tmp
            )
        except (MlflowException, OSError):
            return None
        return json.loads(Path(local).read_text())


def version_run(ref: ModelRef) -> str:
    """The training run that logged a registered version."""
    if not ref.is_registry or ref.name is None or ref.version is None:
        raise RegistryError(
            f"monitoring needs a registered model (models:/NAME@ALIAS or models:/NAME/VERSION), "
            f"not {ref.uri}: batches are found by the registered name and version"
        )
    client = connect()
    try:
        return client.get_model_version(ref.name, ref.version).run_id
    except MlflowException as exc:
        raise RegistryError(f"model {ref.uri}: {exc.message}") from exc


def load_reference(ref: ModelRef, run_id: str | None = None) -> dict[str, Any]:
    """The reference profile logged with a version's training run (``run_id``, when the
    caller has already looked it up)."""
    run_id = run_id or version_run(ref)
    reference = _download_json(run_id, "monitoring/reference.json")
    if reference is None:
        raise RegistryError(
            f"version {ref.version} of {ref.name!r} (run {run_id}) has no reference profile: it "
            "was trained before monitoring existed; retrain it (churnlab train SPEC)"
        )
    return reference


def load_training_spec(ref: ModelRef, run_id: str | None = None) -> dict[str, Any]:
    """The resolved spec a version was trained with (``spec.yaml`` of its run ``run_id``)."""
    run_id = run_id or version_run(ref)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="spec.yaml", dst_path=tmp
            )
        except (MlflowException, OSError):
            return {}
        return yaml.safe_load(Path(local).read_text()) or {}


def _batch_run(run: Any) -> BatchRun:
    return BatchRun(
        run.info.run_id,
        pd.Timestamp(run.data.tags[BATCH_DATE_TAG]),
        pd.Timestamp(run.info.start_time, unit="ms"),
        run.data.tags.get(DATA_DIGEST_TAG),
    )


def _scoring_runs(ref: ModelRef) -> dict[str, list[Any]]:
    """Batch date -> the finished ``score --log`` runs of this version that logged it, newest
    first."""
    client = connect()
    exp = client.get_experiment_by_name(SCORING_EXPERIMENT)
    if exp is None:
        return {}
    runs = client.search_runs(
        [exp.experiment_id],
        # the name and version are compared here, never pasted into the filter
        filter_string=f"tags.`{KIND_TAG}` = 'scoring' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=50_000,
    )
    by_date: dict[str, list[Any]] = {}
    for run in runs:
        tags = run.data.tags
        if (tags.get("churnlab.model_name"), tags.get("churnlab.model_version")) != (
            str(ref.name),
            str(ref.version),
        ):
            continue
        date = tags.get(BATCH_DATE_TAG)
        if date:
            by_date.setdefault(date, []).append(run)
    return by_date


def batch_runs(ref: ModelRef, batch_date: Any) -> list[BatchRun]:
    """The finished ``score --log`` runs of this version that logged ``batch_date``, newest
    first (what a new run of that date would replace in monitoring)."""
    date = str(pd.Timestamp(batch_date).date())
    return [_batch_run(run) for run in _scoring_runs(ref).get(date, [])]


def logged_batches(ref: ModelRef, until: pd.Timestamp | None = None) -> list[LoggedBatch]:
    """Every finished ``score --log`` run of this version that kept a profile, one per batch
    date (the latest run of a date wins; the earlier ones are kept in ``earlier``), oldest
    first; batches after ``until`` are left out."""
    out = []
    for date, runs in sorted(_scoring_runs(ref).items()):
        when = pd.Timestamp(date)
        if until is not None and when > until:
            continue
        found = _batch_artifacts(runs[0])
        if found is not None:
            newest = _batch_run(runs[0])
            out.append(
                LoggedBatch(
                    newest.run_id,
                    when,
                    str(ref.version),
                    *found,
                    logged_at=newest.logged_at,
                    data_digest=newest.data_digest,
                    earlier=[_batch_run(r) for r in runs[1:]],
                    source=_scored_from(runs[0]),
                )
            )
    return out


def _scored_from(run: Any) -> str | None:
    """The data folder (or feature table) a scoring run scored, as ``score --log`` recorded
    it: absolute where the run recorded its own, else the path as given."""
    params = run.data.params
    return run.data.tags.get(SCORED_FROM_TAG) or params.get("data") or params.get("features")


def _batch_artifacts(run: Any) -> tuple[dict[str, Any], pd.DataFrame] | None:
    """A scoring run's profile and predictions: its ``monitoring/`` folder fetched in one
    download from the run's own artifact location (no lookup of the run per file); None when
    the run kept no profile."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{run.info.artifact_uri}/monitoring", dst_path=tmp
                )
            )
        except (MlflowException, OSError):
            return None
        if not (local / "profile.json").is_file():
            return None
        profile = json.loads((local / "profile.json").read_text())
        return profile, pd.read_parquet(local / "predictions.parquet")


def _ms(date: Any) -> int:
    return int(pd.Timestamp(date).timestamp() * 1000)


def log_monitoring(
    ref: ModelRef,
    batches: list[dict[str, Any]],
    overall: dict[str, Any],
    tables: dict[str, pd.DataFrame],
) -> str:
    """One run in the ``monitoring`` experiment: per batch its numeric results as metrics at
    the batch date (step = batch index, timestamp = batch date), the overall verdict as tags,
    the whole result as ``monitor.json`` and each batch's feature drift as a table."""
    client = connect(create=True)
    exp_id = ensure_experiment(client, MONITORING_EXPERIMENT)
    tags = {
        KIND_TAG: "monitoring",
        "churnlab.model_name": str(ref.name),
        "churnlab.model_version": str(ref.version),
        "churnlab.verdict": overall["verdict"],
    }
    with tracked_run(exp_id, f"monitor-{ref.name}-v{ref.version}", tags) as run:
        mlflow.log_params({"model_uri": ref.uri, "batches": len(batches)})
        series = [
            Metric(key, float(value), _ms(batch["batch_date"]), step)
            for step, batch in enumerate(batches)
            for key, value in batch["metrics"].items()
            if value is not None and pd.notna(value)
        ]
        for start in range(0, len(series), 1000):  # MLflow's batch limit
            client.log_batch(run.info.run_id, metrics=series[start : start + 1000])
        result = {"overall": overall, "batches": batches}
        mlflow.log_dict(json.loads(json.dumps(result, default=str)), "monitor.json")
        for name, table in tables.items():
            mlflow.log_table(jsonable(table), f"drift/{name}.json")
        return run.info.run_id


def latest_monitoring(model_name: str) -> dict[str, Any] | None:
    """The newest finished monitoring pass of a registered model (``monitor.json``)."""
    client = connect()
    exp = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{KIND_TAG}` = 'monitoring' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1000,
    )
    for run in runs:
        if run.data.tags.get("churnlab.model_name") == model_name:
            return _download_json(run.info.run_id, "monitor.json")
    return None


def swap_champion(model_name: str, expected: str, challenger: str) -> bool:
    """Point ``champion`` at ``challenger`` (the replaced one keeps ``previous``) if the
    champion is still ``expected``; under the promotion lock, so the alias is moved, never
    removed, and no concurrent promotion is lost. False if the champion changed meanwhile."""
    client = connect()
    with store_lock("promote"):
        current = champion_version(client, model_name)
        if current is None or str(current.version) != str(expected):
            return False
        client.set_registered_model_alias(model_name, PREVIOUS, str(current.version))
        client.set_registered_model_alias(model_name, CHAMPION, str(challenger))
    return True


def log_retrain(result: dict[str, Any]) -> str:
    """The champion/challenger comparison as a run of the ``monitoring`` experiment."""
    client = connect(create=True)
    exp_id = ensure_experiment(client, MONITORING_EXPERIMENT)
    tags = {
        KIND_TAG: "retrain",
        "churnlab.model_name": result["model_name"],
        "churnlab.promoted": str(result["promoted"]).lower(),
        "churnlab.challenger_run": str(result.get("training_run_id")),
    }
    with tracked_run(exp_id, f"retrain-{result['model_name']}", tags) as run:
        mlflow.log_params(
            {
                "champion_version": result["champion_version"],
                "challenger_version": result["challenger_version"],
                "window": result["window"],
                "metric": result["metric"],
            }
        )
        for side in ("champion", "challenger"):
            mlflow.log_metrics({f"{side}_{k}": v for k, v in result[side].items() if pd.notna(v)})
        mlflow.log_dict(json.loads(json.dumps(result, default=str)), "retrain.json")
        return run.info.run_id
