"""Batch scoring: load a registered (or exported) model, build its features at an as-of date
with the builders and parameters it was trained with, score, summarize, write atomically.

A model is named by ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or an exported folder
(``models/NAME``). The registered version is resolved here, from the registry or the folder's
``MLmodel``, and handed to the pyfunc through its ``model_config`` so every output row names it.

Example::

    job = score_job("models:/churn-demo@champion", data="data/demo", as_of="2026-01-01",
                    out="data/scores.parquet")
    job.summary["tiers"]["high"]["revenue_at_risk"]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnlab.config import ReasonsSpec
from churnlab.data.schema import DATASET_FILES
from churnlab.evaluation.profiles import batch_profile, fitted_until
from churnlab.features.population import describe_population
from churnlab.files import atomic_file, check_not_input, check_writable, file_digest
from churnlab.model import UpliftModel
from churnlab.scoring.features import build_scoring_features, in_population, read_scoring_table
from churnlab.scoring.load import LoadedModel, ScoringError, load_model
from churnlab.scoring.ranges import range_notices
from churnlab.scoring.uplift import ContactPolicy, add_decisions, decision_summary
from churnlab.tracking import ModelRef, log_scoring_run
from churnlab.tracking.monitoring import batch_runs
from churnlab.vocab import TIERS

log = logging.getLogger(__name__)


@dataclass
class ScoreResult:
    scores: pd.DataFrame
    summary: dict[str, Any]
    out: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    # the batch counted in the model's reference bins (churnlab.evaluation.profiles); None
    # for a model without a reference profile or a Spark job
    profile: dict[str, Any] | None = None


# -- summary and output -------------------------------------------------------------------------
def summarize(scores: pd.DataFrame, ref: ModelRef | None = None, top: int = 5) -> dict[str, Any]:
    """Accounts scored; count and revenue at risk per tier; the drivers most often among the
    high tier's reasons (accounts with the driver in any of their top reasons)."""
    tiers = {}
    for tier in TIERS:
        part = scores[scores.risk_tier == tier]
        tiers[tier] = {
            "accounts": len(part),
            "revenue_at_risk": float(np.nansum(part.revenue_at_risk)),
            "mean_p_churn": float(part.p_churn.mean()) if len(part) else None,
        }
    high = scores[scores.risk_tier == "high"]
    driver_cols = [c for c in scores.columns if c.startswith("driver_")]
    drivers: list[dict[str, Any]] = []
    if len(high) and driver_cols:
        long = high[driver_cols].melt(ignore_index=False).dropna()
        counts = long.reset_index().drop_duplicates(["index", "value"]).value.value_counts()
        drivers = [
            {"driver": d, "accounts": int(n), "share": round(n / len(high), 4)}
            for d, n in counts.head(top).items()
        ]
    return {
        "model": ref.uri if ref else None,
        "model_name": ref.name if ref else None,
        "model_version": ref.version if ref else None,
        "accounts": len(scores),
        "cutoffs": sorted({str(pd.Timestamp(c).date()) for c in scores.cutoff.dropna().unique()}),
        "revenue_at_risk": float(np.nansum(scores.revenue_at_risk)),
        "tiers": tiers,
        "high_tier_drivers": drivers,
    }


def write_scores(
    scores: pd.DataFrame, out: str | Path, before_replace: Callable[[], None] | None = None
) -> Path:
    """Write ``scores`` to Parquet or CSV atomically: a temp file beside ``out``, then rename.
    An existing ``out`` is replaced only when the new file is complete, and only if
    ``before_replace`` (called once the file is written; ``score --log`` logs the batch there)
    does not raise: otherwise ``out`` is left as it was."""
    out = Path(out)
    if out.suffix not in (".parquet", ".csv"):
        raise ScoringError(f"{out}: expected a .parquet or .csv output file")
    with atomic_file(out) as tmp:
        if out.suffix == ".parquet":
            scores.to_parquet(tmp, index=False)
        else:
            scores.to_csv(tmp, index=False)
        if before_replace is not None:
            before_replace()
    return out


def _batch_profile(model: Any, frame: pd.DataFrame | None, scores: pd.DataFrame) -> dict | None:
    """The batch counted in the model's reference bins, for monitoring; None (with a warning)
    when there is no feature table (Spark) or no reference (a model trained before
    monitoring)."""
    reference = getattr(model, "reference", None)
    if frame is None or reference is None:
        log.warning(
            "no batch profile logged: %s",
            "the Spark engine keeps no feature table"
            if frame is None
            else "the model has no reference profile (trained before monitoring): retrain it",
        )
        return None
    return batch_profile(
        reference, frame, scores.p_churn.to_numpy(), scores.risk_tier.to_numpy(), TIERS
    )


# -- the job ------------------------------------------------------------------------------------
def _check_arguments(data: Any, features: Any, out: str | Path | None, engine: str) -> None:
    """What can be wrong with the arguments, before any work."""
    if (data is None) == (features is None):
        raise ScoringError("give either raw data (and an as-of date) or a prepared feature table")
    if out is not None and Path(out).suffix not in (".parquet", ".csv"):
        raise ScoringError(f"{out}: expected a .parquet or .csv output file")
    if engine not in ("duckdb", "spark"):
        raise ScoringError(f"engine must be duckdb or spark, not {engine!r}")
    if out is not None:
        check_writable(out)  # before the work, not after it
        check_not_input(out, {"--features": features, "--data": data}, DATASET_FILES)


def _prepared_rows(
    model: Any, path: Any, model_uri: Any, encoding: str | None = None
) -> pd.DataFrame:
    """The rows of a prepared table inside the model's population. A table of an events model
    without some of its columns is refused naming how many, which, and how to build one that
    has them (the columns depend on the model's builders and the event vocabulary it was
    fitted on, which a table built for another model or date may lack)."""
    frame = read_scoring_table(model, path, encoding)
    missing = [c for c in model.input_columns() if c not in frame.columns and c != "mrr"]
    if model.feature_spec.kind != "events" or not missing:
        return in_population(model, frame, f"rows of {path}")
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    raise ScoringError(
        f"{path}: missing {len(missing)} of the {len(model.input_columns())} columns the model "
        f"reads ({shown}); a table built by `churnlab features` without --model has the "
        f"columns of its own event vocabulary: build it with `churnlab features --model "
        f"{model_uri} --data DIR --cutoffs DATE --out FILE`"
    )


def score_job(
    model_uri: str | Path,
    *,
    data: str | Path | None = None,
    as_of: str | pd.Timestamp | None = None,
    features: str | Path | None = None,
    out: str | Path | None = None,
    engine: str = "duckdb",
    reasons: bool = True,
    log_run: bool = False,
    reason_settings: ReasonsSpec | None = None,
    uplift_model: str | Path | None = None,
    contact_policy: ContactPolicy | None = None,
    encoding: str | None = None,
) -> ScoreResult:
    """Score every account active at ``as_of`` in ``data`` (default: the data's last date) or
    the rows of a prepared ``features`` table with the model at ``model_uri``; write ``out`` atomically.

    Nothing is logged to the training run; ``log_run`` records this job as its own MLflow run
    (tag ``churnlab.kind=scoring``) with the summary. ``reason_settings`` replaces the
    model's reason threshold, tiers and hints for this job (``score --reasons FILE``).

    ``uplift_model`` (a second registered or exported model, of an uplift family) adds
    ``uplift``, ``expected_gain`` and ``action`` to every row, decided by ``contact_policy``
    (budget, minimum gain, campaign economics; :mod:`churnlab.scoring.uplift`).

    ``encoding`` is the text encoding of a CSV ``features`` table (``score --encoding``;
    without it UTF-8, else the encoding a customer-table model was trained from)."""
    _check_arguments(data, features, out, engine)
    if uplift_model is not None and engine == "spark":
        raise ScoringError("--uplift-model: scoring with an uplift model runs on duckdb")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = load_model(model_uri)
    if reason_settings is not None:
        loaded.model.reason_settings = reason_settings
    # a wrong uplift model fails before any feature is built
    uplift = None if uplift_model is None else load_model(uplift_model, kind=UpliftModel)
    seconds["load"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    frame = None
    notices: list[str] = []  # on the batch's event types (build_scoring_features)
    if engine == "spark":
        from churnlab.scoring.spark import score_spark  # pyspark is an optional extra

        if data is None:
            raise ScoringError("--engine spark builds features from raw data: give --data")
        scores, seconds_spark = score_spark(loaded, data, as_of)
        seconds.update(seconds_spark)
    else:
        if features is not None:
            frame = _prepared_rows(loaded.model, features, model_uri, encoding)
            source = str(features)
        else:
            frame = build_scoring_features(loaded.model, data, as_of, notices=notices)
            source = f"features of {data} at {as_of}"
        seconds["features"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        scores = loaded.predict(frame, reasons=reasons, source=source)
        seconds["scoring"] = time.perf_counter() - t2
    decided = None
    if uplift is not None:
        t4 = time.perf_counter()
        scores, decided = _decide(scores, frame, data, as_of, uplift, contact_policy)
        seconds["uplift"] = time.perf_counter() - t4
    summary = summarize(scores, loaded.ref)
    if decided is not None:
        summary["uplift"] = decided
    summary["population"] = describe_population(loaded.model.feature_spec.population)
    # numbers far off the training range (a unit changed upstream), then, when the job is
    # logged, what concerns the logged batch (``log_run``)
    summary["notices"] = [*notices, *range_notices(loaded.model, frame)]
    result = ScoreResult(
        scores=scores, summary=summary, out=None if out is None else Path(out), seconds=seconds
    )
    log_job = None
    if log_run:
        log_job = partial(
            _log_job, result, loaded, frame, data=data, features=features, as_of=as_of
        )
    _write_and_log(result, t0, log_job)
    return result


def _write_and_log(result: ScoreResult, t0: float, log_job: Callable[[], None] | None) -> None:
    """Write ``result.out`` and log the job (``log_job``), the run before ``out`` is replaced:
    a job whose logging fails (a locked store) leaves the previous scores in place, never new
    scores that no logged batch describes."""
    seconds, t3 = result.seconds, time.perf_counter()

    def finish() -> None:
        if result.out is not None:
            seconds["write"] = time.perf_counter() - t3
        seconds["total"] = time.perf_counter() - t0
        result.summary["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
        if log_job is not None:
            log_job()

    if result.out is None:
        finish()
    else:
        write_scores(result.scores, result.out, before_replace=finish)


def _log_job(
    result: ScoreResult, loaded: LoadedModel, frame: pd.DataFrame | None, **source: Any
) -> None:
    """Record the job as a scoring run with its batch profile, data digest and notices
    (``source``: the job's data, features and as_of)."""
    result.profile = _batch_profile(loaded.model, frame, result.scores)
    given = source["data"] if source["data"] is not None else source["features"]
    digest = _digest(given)
    _batch_notices(result, loaded, digest)
    result.run_id = log_scoring_run(result, loaded.ref, **source, data_digest=digest)


def _digest(source: Any) -> str | None:
    """The digest of the data folder or table scored (None for a frame passed in memory)."""
    if isinstance(source, str | Path) and Path(source).exists():
        return file_digest(source)
    return None


def _batch_notices(result: ScoreResult, loaded: LoadedModel, digest: str | None) -> None:
    """What a user logging this batch should know, in ``result.summary["notices"]`` (the
    command line prints them): the batch date is inside the model's own training window, or the
    same date is already logged for this version (a stale export, or a job run twice)."""
    notices = result.summary.setdefault("notices", [])
    cutoffs = result.summary.get("cutoffs") or []
    ref = loaded.ref
    if not cutoffs:
        return
    date = pd.Timestamp(cutoffs[-1])
    named = ref is not None and ref.name is not None and ref.version is not None
    model = f"{ref.name} version {ref.version}" if named else "the model"
    until = fitted_until(getattr(loaded.model, "reference", None))
    if until is not None and date <= until:
        notices.append(
            f"batch {date.date()} is on or before {until.date()}, the latest cutoff {model} "
            "was trained or validated on: its scores are in-sample, and monitor leaves this "
            f"batch out of performance, verdicts and batch comparisons; to monitor "
            f"production, log batches dated after {until.date()}"
        )
    earlier = batch_runs(ref, date) if named else []
    if earlier:
        last = earlier[0]
        if digest is not None and last.data_digest == digest:
            same = (
                f"from identical data (digest {digest}): the export has not changed since "
                "then (did the upstream job fail?); check the data before acting on these scores"
            )
        elif digest is not None and last.data_digest is not None:
            same = (
                "from different data (the same date re-scored): if the data should have moved "
                "on, check that the export was refreshed"
            )
        else:
            same = "(whether from the same data is unknown: that run recorded no data digest)"
        notices.append(
            f"batch {date.date()} of {model} is already logged by {last.describe()}"
            + (f" and {len(earlier) - 1} earlier run(s)" if len(earlier) > 1 else "")
            + f" {same}; monitor reads only the newest run of a date, so this run replaces "
            f"it there; to score a newer week, give data that reach past {date.date()}"
        )
    for notice in notices:
        log.info(notice)  # the command line prints them as notices


def _decide(
    scores: pd.DataFrame,
    frame: pd.DataFrame,
    data: Any,
    as_of: Any,
    uplift: LoadedModel,
    policy: ContactPolicy | None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``scores`` with the uplift model's decisions, and their summary. The uplift model reads
    the churn job's table when it has its columns (a prepared feature table), else its own
    features built from ``data``."""
    policy = policy or ContactPolicy()
    if set(uplift.model.input_columns()) <= set(frame.columns) or data is None:
        rows = in_population(uplift.model, frame, "rows scored (uplift model)")
    else:
        rows = build_scoring_features(uplift.model, data, as_of)
    scores = add_decisions(scores, rows, uplift, policy)
    return scores, decision_summary(scores, uplift, policy)


def score_batches(
    model_uri: str | Path,
    data: str | Path,
    dates: list[str | pd.Timestamp],
    reasons: bool = False,
) -> list[ScoreResult]:
    """Score the accounts active at each of ``dates`` and log every date as its own scoring
    batch (what ``score --log`` records), loading the model once and building every date's
    features in one pass: backfilling a monitoring history. Nothing is written to files."""
    loaded = load_model(model_uri)
    when = sorted(pd.Timestamp(d) for d in dates)
    notices: list[str] = []
    frame = build_scoring_features(loaded.model, data, when, notices=notices)
    digest = _digest(data)
    out = []
    for date in when:
        part = frame[frame.cutoff == date].reset_index(drop=True)
        scores = loaded.predict(
            part, reasons=reasons, source=f"features of {data} at {date.date()}"
        )
        result = ScoreResult(scores=scores, summary=summarize(scores, loaded.ref))
        result.summary["notices"] = list(notices)
        result.profile = _batch_profile(loaded.model, part, scores)
        _batch_notices(result, loaded, digest)
        result.run_id = log_scoring_run(
            result, loaded.ref, data=data, features=None, as_of=date, data_digest=digest
        )
        out.append(result)
    return out
