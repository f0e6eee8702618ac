"""``churnlab monitor``: every logged scoring batch of a registered model version checked against
the version's reference profile, with a verdict per batch and overall, logged to MLflow.

Example::

    result = monitor("models:/churn-demo@champion", data="data/demo")
    result.overall["verdict"], result.overall["reasons"]
    result.exit_code   # 0 for ok / warn, EXIT_RETRAIN for retrain
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.config import MonitoringSpec
from churnlab.data import load_dataset
from churnlab.errors import ChurnlabError
from churnlab.evaluation.profiles import fitted_until
from churnlab.features import build_observations
from churnlab.monitoring.checks import check_batch
from churnlab.monitoring.verdict import (
    VERDICTS,
    batch_verdict,
    event_type_reason,
    repeat_reasons,
    worst,
)
from churnlab.tracking import ModelRef, resolve_model
from churnlab.tracking.monitoring import (
    LoggedBatch,
    load_reference,
    load_training_spec,
    log_monitoring,
    logged_batches,
    version_run,
)

log = logging.getLogger(__name__)
# the exit code of `churnlab monitor` when the verdict is retrain (errors exit 1, usage 2)
EXIT_RETRAIN = 3
# the share of a matured batch's accounts that may have no label in --data (accounts deleted
# since, a late correction) before monitor refuses to measure it: beyond it the labels are of
# other accounts (another folder, another business with the same ids, a re-keyed export)
MAX_UNLABELLED_SHARE = 0.05


class MonitoringError(ChurnlabError):
    """Monitoring cannot run: no batches, no reference profile, bad dates."""


@dataclass
class MonitorResult:
    ref: ModelRef
    overall: dict[str, Any]
    batches: list[dict[str, Any]]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    run_id: str | None = None
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return EXIT_RETRAIN if self.overall["verdict"] == "retrain" else 0


def settings_of(ref: ModelRef, run_id: str | None = None) -> MonitoringSpec:
    """The ``monitoring:`` section the version was trained with (defaults if it had none);
    ``run_id``: the version's training run, when already known."""
    spec = load_training_spec(ref, run_id)
    return MonitoringSpec.model_validate(spec.get("monitoring") or {})


def _matured(batch: LoggedBatch, reference: dict[str, Any], end: pd.Timestamp) -> bool:
    window = int(reference.get("horizon_days", 0)) + int(reference.get("lead_days", 0))
    return batch.batch_date + pd.Timedelta(days=window) <= end


def realized_labels(
    data: str | Path,
    batches: list[LoggedBatch],
    reference: dict[str, Any],
    as_of: pd.Timestamp | None,
) -> pd.DataFrame | None:
    """Labels of the batches whose label window has ended, with the model's own label
    definition (horizon, lead), read from ``data`` as it was at ``as_of`` (default: the data's
    end); None when no batch has matured."""
    ds = load_dataset(data)
    end = ds.observed_until if as_of is None else as_of
    if end > ds.observed_until:
        raise MonitoringError(
            f"--as-of {end.date()} is after the end of {data} ({ds.observed_until.date()})"
        )
    # a batch counts as matured once its whole label window lies before ``end``; its labels
    # then read nothing after it
    cutoffs = [b.batch_date for b in batches if _matured(b, reference, end) and b.batch_date < end]
    if not cutoffs:
        return None
    obs = build_observations(
        ds, cutoffs, int(reference["horizon_days"]), int(reference.get("lead_days", 0))
    ).to_pandas()
    obs = obs[obs.label_complete.astype(bool)]
    obs["cutoff"] = pd.to_datetime(obs.cutoff)
    return obs[["account_id", "cutoff", "churned_within_h", "mrr"]]


def label_coverage(batch: LoggedBatch, own: pd.DataFrame) -> dict[str, Any]:
    """How many of a matured batch's scored accounts have a label in the data: the batch's
    rows, those labelled, those missing and up to five of their ids."""
    ids = batch.predictions.account_id
    missing = ids[~ids.isin(own.account_id[own.churned_within_h.notna()])]
    return {
        "batch_rows": len(ids),
        "labelled": len(ids) - len(missing),
        "missing": len(missing),
        "missing_examples": [str(v) for v in missing.head(5)],
    }


def _check_coverage(
    batch: LoggedBatch, coverage: dict[str, Any], data: str | Path, ref: ModelRef
) -> None:
    """Refuse to measure a batch whose accounts are mostly not in ``data``: realized metrics on
    whichever rows happen to share an id would be of other accounts, and could call for a
    retrain."""
    rows, missing = coverage["batch_rows"], coverage["missing"]
    if not rows or missing / rows <= MAX_UNLABELLED_SHARE:
        return
    given = Path(data).resolve()
    source = batch.source
    scored = ""
    if source:
        scored = f"; the batch was scored from {source}"
        if Path(source) == given:
            scored += " (the same path: have accounts been removed or re-keyed since?)"
    raise MonitoringError(
        f"batch {batch.batch_date.date()} of {ref.name} version {ref.version} (run "
        f"{batch.run_id}): {missing} of its {rows} scored accounts have no label in {data} at "
        f"that date (e.g. account_id {', '.join(coverage['missing_examples'])}), more than "
        f"{MAX_UNLABELLED_SHARE:.0%}{scored}; realized performance would be measured on other "
        "accounts, so nothing was measured: give --data the data folder the batch was scored "
        "from (a later export of it)"
    )


def _flat_metrics(batch: dict[str, Any]) -> dict[str, float]:
    """The batch's numbers as MLflow metrics (one time series each)."""
    d, pred = batch["drift"], batch["prediction"]
    out = {
        "rows": batch["rows"],
        "drifted_features": d["drifted"],
        "drifted_share": d["drifted_share"],
        "shifted_features": batch["shift"]["drifted"] if batch["shift"] else None,
        "verdict_level": VERDICTS.index(batch["verdict"]),
        **{k: v for k, v in pred.items() if not k.startswith("reference_")},
        **{f"estimated_{k}": v for k, v in batch["estimated"].items()},
        **{f"driver_psi_{r['driver']}": r["mean_psi"] for r in d["drivers"]},
    }
    if batch["realized"]:
        out.update({f"realized_{k}": v for k, v in batch["realized"].items()})
    return out


def _one_batch(
    batch: LoggedBatch,
    reference: dict[str, Any],
    settings: MonitoringSpec,
    previous: LoggedBatch | None,
    repeated: list[str] | None = None,
    own: pd.DataFrame | None = None,
    coverage: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    checks, table = check_batch(
        reference,
        batch.profile,
        batch.predictions,
        own,
        settings.feature_psi,
        settings.metric,
        previous=previous.profile if previous is not None else None,
    )
    verdict, reasons = batch_verdict(checks, reference, settings)
    renamed = event_type_reason(table, reference, settings.feature_psi)
    if renamed is not None:  # what drifted is the log's vocabulary: say so, and the fix
        reasons.append(renamed)
    if repeated:  # the batch was logged again: a stale export or a job run twice
        verdict, reasons = worst([verdict, "warn"]), [*repeated, *reasons]
    out = {
        "batch_date": str(batch.batch_date.date()),
        "run_id": batch.run_id,
        "matured": own is not None,
        "labels": coverage,
        **checks,
        "verdict": verdict,
        "reasons": reasons,
    }
    out["metrics"] = _flat_metrics(out)
    return out, table


def _overall(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest batch's verdict, and the newest matured batch's if it is worse: the current
    data and the latest performance that could be measured."""
    latest = batches[-1]
    matured = [b for b in batches if b["matured"]]
    considered = [latest] + ([matured[-1]] if matured and matured[-1] is not latest else [])
    verdict = worst([b["verdict"] for b in considered])
    reasons = [f"{b['batch_date']}: {r}" for b in considered for r in b["reasons"]]
    return {
        "verdict": verdict,
        "reasons": reasons,
        "batches": len(batches),
        "matured": len(matured),
        "latest_batch": latest["batch_date"],
        "flagged": [b["batch_date"] for b in batches if b["verdict"] != "ok"],
    }


def _production(
    ref: ModelRef, batches: list[LoggedBatch], until: pd.Timestamp | None
) -> tuple[list[LoggedBatch], dict[str, Any] | None]:
    """The batches dated after ``until`` (the latest cutoff the model was trained or
    validated on) and a record of the rest: in-sample back-fills, whose realized metrics,
    drift and comparison with the next batch would describe the training data, not
    production. Raises when no batch is left."""
    if until is None or all(b.batch_date > until for b in batches):
        return batches, None
    inside = [b for b in batches if b.batch_date <= until]
    left = [b for b in batches if b.batch_date > until]
    record = {
        "until": str(until.date()),
        "batches": [{"batch_date": str(b.batch_date.date()), "run_id": b.run_id} for b in inside],
    }
    if not left:
        raise MonitoringError(
            f"every logged batch of {ref.name} version {ref.version} "
            f"({', '.join(b['batch_date'] for b in record['batches'])}) is dated on or before "
            f"{until.date()}, the latest cutoff it was trained or validated on: in-sample, not "
            f"production; log a batch dated after {until.date()} with `churnlab score --log`"
        )
    return left, record


def monitor(
    model_uri: str,
    data: str | Path | None = None,
    as_of: str | pd.Timestamp | None = None,
    settings: MonitoringSpec | None = None,
    log_run: bool = True,
) -> MonitorResult:
    """Check every logged batch of the version behind ``model_uri`` (batches dated after
    ``as_of`` are left out); labels come from ``data`` for batches whose label window ended by
    ``as_of`` (default: the data's end). Logged as a run of the ``monitoring`` experiment.

    Batches dated on or before the latest cutoff the model was trained or validated on are
    in-sample: left out of everything and listed in ``overall["in_sample"]``. A batch logged
    again (from the same data, or not newer than the run before it) gets a warning."""
    t0 = time.perf_counter()
    ref = resolve_model(model_uri)
    training_run = version_run(ref)
    reference = load_reference(ref, training_run)
    settings = settings or settings_of(ref, training_run)
    until = None if as_of is None else pd.Timestamp(as_of)
    batches = logged_batches(ref, until=until)
    if not batches:
        raise MonitoringError(
            f"no logged scoring batches of {ref.name} version {ref.version}"
            + (f" on or before {until.date()}" if until is not None else "")
            + ": score with `churnlab score --log` first"
        )
    batches, in_sample = _production(ref, batches, fitted_until(reference))
    labels = None if data is None else realized_labels(data, batches, reference, until)
    repeated = repeat_reasons(batches)
    own: dict[int, pd.DataFrame] = {}
    coverage: dict[int, dict[str, Any]] = {}
    for i, batch in enumerate(batches):
        if labels is not None and (labels.cutoff == batch.batch_date).any():
            own[i] = labels[labels.cutoff == batch.batch_date].drop(columns="cutoff")
            coverage[i] = label_coverage(batch, own[i])
            _check_coverage(batch, coverage[i], data, ref)
    results, tables = [], {}
    for i, batch in enumerate(batches):
        previous = batches[i - 1] if i else None
        out, table = _one_batch(
            batch, reference, settings, previous, repeated.get(i), own.get(i), coverage.get(i)
        )
        results.append(out)
        tables[out["batch_date"]] = table
    result = MonitorResult(ref=ref, overall=_overall(results), batches=results, tables=tables)
    result.overall["in_sample"] = in_sample
    result.overall["model"] = {"uri": ref.uri, "name": ref.name, "version": ref.version}
    result.overall["settings"] = settings.model_dump()
    result.overall["reference_metric"] = reference.get(
        "test_metrics", reference.get("metrics", {})
    ).get(settings.metric)
    result.overall["reference_estimated_metric"] = reference.get("expected", {}).get(
        settings.metric
    )
    if log_run:
        result.run_id = log_monitoring(ref, results, result.overall, tables)
    result.seconds = time.perf_counter() - t0
    return result
