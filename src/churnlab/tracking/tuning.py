"""``churnlab tune`` on MLflow: a parent run holds the study, each trial is a nested run, and
the final model (best params, evaluated once on the test cutoff) is logged and registered
exactly as ``churnlab train`` logs one, so it can be compared, promoted and scored.

The Optuna study lives in ``optuna.db`` beside ``mlflow.db``; an interrupted command (Ctrl-C or
SIGTERM) keeps its finished trials, ends the parent run KILLED, and resumes when re-run.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import optuna
from mlflow.entities import Metric, Param, RunStatus
from optuna.trial import FrozenTrial, TrialState

from churnlab import config
from churnlab.config import ExperimentSpec
from churnlab.tracking.reuse import code_version, find_reusable, run_key
from churnlab.tracking.runs import RunSummary, run_tags, tracked_run
from churnlab.tracking.store import connect, ensure_experiment, store_lock
from churnlab.tracking.training import check_store_writable, log_and_summarize
from churnlab.training import checked_data, data_digest, train
from churnlab.training.tuning import TuneResult, open_study, study_name, tune
from churnlab.vocab import KIND_TAG

log = logging.getLogger(__name__)
TRIAL_KIND = "tuning_trial"
# a pruned trial ran as intended (stopped early by the pruner): FINISHED and tagged pruned;
# KILLED is kept for runs a person interrupted (Ctrl-C, SIGTERM)
_STATUS = {
    TrialState.COMPLETE: RunStatus.FINISHED,
    TrialState.PRUNED: RunStatus.FINISHED,
    TrialState.FAIL: RunStatus.FAILED,
}
PRUNED_TAG = "churnlab.pruned"


def optuna_storage(root: Path | None = None) -> Path:
    """``optuna.db`` in the project root, beside ``mlflow.db``."""
    return (root or config.project_root()) / "optuna.db"


@dataclass
class TuneSummary:
    run: RunSummary
    study: str
    storage: str
    metric: str
    best_params: dict[str, Any]
    best_value: float
    counts: dict[str, int]
    new_trials: int

    def to_dict(self) -> dict[str, Any]:
        out = self.run.to_dict()
        return {
            "study": self.study,
            "storage": self.storage,
            "metric": self.metric,
            "best_params": self.best_params,
            f"best_validation_{self.metric}": self.best_value,
            "trials": self.counts,
            "new_trials": self.new_trials,
            **out,
        }


class TrialLogger:
    """Optuna callback: one nested MLflow run per finished trial (params, validation metric,
    state complete/pruned/failed, timing) under the parent run."""

    def __init__(self, experiment_id: str, parent_run_id: str, metric: str, study: str):
        self.client = mlflow.tracking.MlflowClient()
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.metric = metric
        self.study = study

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        # ``tune`` holds Ctrl-C or SIGTERM until this returns: the trial's run is logged and
        # ended, never left RUNNING
        if trial.user_attrs.get("skipped"):  # not a trial: the budget was taken
            return
        start = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
        end = trial.datetime_complete.timestamp() if trial.datetime_complete else time.time()
        state = {TrialState.FAIL: "failed"}.get(trial.state, trial.state.name.lower())
        run = self.client.create_run(
            self.experiment_id,
            start_time=int(start * 1000),
            run_name=f"trial-{trial.number}",
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                KIND_TAG: TRIAL_KIND,
                "optuna.study": self.study,
                "optuna.trial": str(trial.number),
                "optuna.state": state,
                **({PRUNED_TAG: "true"} if trial.state == TrialState.PRUNED else {}),
                **(
                    {"churnlab.error": trial.user_attrs["error"]}
                    if "error" in trial.user_attrs
                    else {}
                ),
            },
        )
        rid = run.info.run_id
        ms = int(end * 1000)
        try:
            metrics = [
                Metric(f"intermediate_{self.metric}", float(v), ms, int(step))
                for step, v in sorted(trial.intermediate_values.items())
            ]
            metrics.append(Metric("seconds", end - start, ms, 0))
            if trial.value is not None:
                metrics.append(Metric(f"validation_{self.metric}", float(trial.value), ms, 0))
            if "best_iteration" in trial.user_attrs:
                metrics.append(Metric("best_iteration", trial.user_attrs["best_iteration"], ms, 0))
            self.client.log_batch(
                rid,
                metrics=metrics,
                params=[Param(k, str(v)) for k, v in trial.params.items()],
            )
        finally:
            status = _STATUS.get(trial.state, RunStatus.FAILED)
            self.client.set_terminated(rid, RunStatus.to_string(status), end_time=int(end * 1000))


def log_study(result: TuneResult) -> None:
    """Best params, study counts, the trials table and Optuna's plots, into the active run."""
    mlflow.log_params(
        {
            "tuning.study": result.study_name,
            **{f"tuning.best.{k}": v for k, v in result.best_params.items()},
        }
    )
    mlflow.log_metrics(
        {
            f"tuning_best_validation_{result.metric}": result.best_value,
            "tuning_best_trial": result.best_trial,
            "tuning_new_trials": result.new_trials,
            "seconds_tuning": result.seconds,
            **{f"tuning_trials_{k}": v for k, v in result.counts.items()},
        }
    )
    table = result.study.trials_dataframe()
    for c in table.columns:
        if str(table[c].dtype).startswith(("datetime", "timedelta")):
            table[c] = table[c].astype(str)
    mlflow.log_text(table.to_csv(index=False), "tuning/trials.csv")
    from optuna.visualization import matplotlib as ovm

    plots: dict[str, Callable[[optuna.Study], Any]] = {
        "optimization_history": ovm.plot_optimization_history,
        "param_importances": ovm.plot_param_importances,
        "parallel_coordinate": ovm.plot_parallel_coordinate,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for name, plot in plots.items():
            try:
                ax = plot(result.study)
            except (ValueError, RuntimeError) as exc:  # e.g. importances need 2+ trials
                log.warning("optuna plot %s skipped: %s", name, exc)
                continue
            fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            fig.set_size_inches(10, 6)
            fig.tight_layout()
            mlflow.log_figure(fig, f"tuning/{name}.png")
            plt.close(fig)


REGISTERED_ATTR = "churnlab.registered"


def _completion(result: TuneResult) -> str:
    """What identifies one completion of a study: its trial counts and best trial."""
    return f"{result.counts['complete']}c{result.counts['pruned']}p:best{result.best_trial}"


def _full(result: TuneResult, budget: int) -> bool:
    return result.counts["complete"] + result.counts["pruned"] >= budget


def registered_for(result: TuneResult) -> str | None:
    """The version already registered for this completion of the study, if any."""
    done = result.study.user_attrs.get(REGISTERED_ATTR) or {}
    return done.get("version") if done.get("key") == _completion(result) else None


def _registered_elsewhere(run: Any, spec: ExperimentSpec, result: TuneResult, version: str):
    """The parent run of a worker whose study another worker already registered: the study
    is logged, no model; the run leaves the leaderboard (it holds no test metrics)."""
    log_study(result)
    mlflow.set_tags({KIND_TAG: "tuning_worker", "churnlab.registered_by_worker": version})
    return RunSummary(
        run_id=run.info.run_id,
        experiment=spec.experiment,
        model_name=spec.model_name,
        model_version=version,
        model_uri=f"models:/{spec.model_name}/{version}",
        metrics={},
        split={},
        seconds={"tuning": result.seconds},
    )


def _budget(spec: ExperimentSpec, trials: int | None) -> int:
    return trials if trials is not None else spec.tuning.trials


def tuning_key(spec: ExperimentSpec, root: Path, trials: int | None = None) -> str:
    """The reuse key of ``churnlab tune``: the spec, data, code, seed and trial budget."""
    code = code_version(root)
    return run_key(
        spec, data_digest(spec, root), code, command="tune", trials=_budget(spec, trials)
    )


def _param(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def reused_tuning(
    spec: ExperimentSpec, root: Path | None = None, trials: int | None = None
) -> TuneSummary | None:
    """The summary of a FINISHED tuned run of the same spec, data, code, seed and trial budget
    (tagged only when its study had reached the budget), or None: ``tune`` then has nothing to
    run, train or register."""
    root = root or config.project_root()
    return _reused(spec, root, tuning_key(spec, root, trials))


def _reused(spec: ExperimentSpec, root: Path, key: str) -> TuneSummary | None:
    client = connect(create=True)
    run = find_reusable(client, spec.experiment, key)
    if run is None:
        return None
    logged = client.get_run(run.run_id).data
    prefix = "tuning.best."
    counts = {"complete": 0, "pruned": 0, "fail": 0}
    counts.update(
        {
            k.removeprefix("tuning_trials_"): int(v)
            for k, v in logged.metrics.items()
            if k.startswith("tuning_trials_")
        }
    )
    return TuneSummary(
        run=run,
        study=logged.params.get("tuning.study", study_name(spec)),
        storage=logged.tags.get("optuna.storage", str(optuna_storage(root))),
        metric=spec.metric,
        best_params={
            k.removeprefix(prefix): _param(v)
            for k, v in logged.params.items()
            if k.startswith(prefix)
        },
        best_value=logged.metrics.get(f"tuning_best_validation_{spec.metric}", math.nan),
        counts=counts,
        new_trials=0,
    )


def tune_and_log(
    spec: ExperimentSpec,
    spec_text: str | None = None,
    root: Path | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    callbacks: Iterable[Callable[[optuna.Study, FrozenTrial], None]] = (),
    progress: Callable[[str], Any] | None = None,
    fresh: bool = False,
    in_memory: bool = False,
    force: bool = False,
) -> TuneSummary:
    """Check data and split, then run (or resume) the study inside a parent MLflow run, train
    the final model with the best params and log it like ``train_and_log``.

    A finished tuned run of the same spec, data, code, seed and budget whose study was
    complete is reused (:func:`reused_tuning`): no run, no version. ``force`` trains and
    registers the final model again (no new trials if the study is complete); ``fresh``
    starts the study over.

    Spec, data and split are checked before any run exists; the study is opened (and checked
    for a changed spec) before the parent run starts, so neither leaves a half-made run.
    ``in_memory``: a new study held in memory (``churnlab train --tune``), not resumed from
    or kept in ``optuna.db``.
    """
    say = progress or (lambda msg: log.info(msg))
    root = root or config.project_root()
    check_store_writable()
    data, splits, data_seconds = checked_data(spec, root, say)  # before the store is touched
    key = tuning_key(spec, root, trials)
    if not (force or fresh):
        reused = _reused(spec, root, key)
        if reused is not None:
            return reused
    storage = None if in_memory else optuna_storage(root)
    study = open_study(spec, data, storage, fresh=fresh)  # a changed spec fails before any run

    client = connect(create=True)
    exp_id = ensure_experiment(client, spec.experiment)
    tags = run_tags(
        spec,
        data,
        root,
        **{
            "churnlab.tuned": "true",
            "optuna.study": study_name(spec),
            "optuna.storage": str(storage or "memory"),
            "mlflow.note.content": f"{spec.model.family} tuned with Optuna on {data.source}",
        },
    )
    with tracked_run(exp_id, f"{spec.name}-tuned", tags) as run:
        logger = TrialLogger(exp_id, run.info.run_id, spec.metric, study_name(spec))
        say(f"tuning {spec.model.family} ({study_name(spec)})")
        result = tune(
            spec,
            data,
            splits,
            storage=storage,
            trials=trials,
            timeout=timeout,
            callbacks=[logger, *callbacks],
            study=study,
        )
        # workers that end on the same study register one version between them
        with store_lock(f"tuned.{study_name(spec)}"):
            done = None if force else registered_for(result)
            if done is not None:
                say(f"version {done} was registered for this study by another worker")
                summary = _registered_elsewhere(run, spec, result, done)
            else:
                best_spec = result.tuned_spec(spec)
                say("training the final model with the best params")
                final = train(best_spec, data=data, root=root, progress=say, splits=splits)
                final.seconds["data"] = data_seconds
                say("logging to MLflow")
                summary = log_and_summarize(
                    run,
                    final,
                    spec_text,
                    before_register=lambda: log_study(result),
                    # reusable only once the study holds its budget (not cut by --timeout)
                    reuse_key=key if _full(result, _budget(spec, trials)) else None,
                    tuning=result.seconds,
                )
                result.study.set_user_attr(
                    REGISTERED_ATTR, {"key": _completion(result), "version": summary.model_version}
                )
    return TuneSummary(
        run=summary,
        study=result.study_name,
        storage=str(storage or "memory"),
        metric=spec.metric,
        best_params=result.best_params,
        best_value=result.best_value,
        counts=result.counts,
        new_trials=result.new_trials,
    )
