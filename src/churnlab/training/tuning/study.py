"""Resumable studies: one per experiment and spec, fingerprinted so a changed spec or data is
refused, run until they hold the budget of complete or pruned trials."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from churnlab.config import ExperimentSpec, SearchParam
from churnlab.files import file_lock
from churnlab.training.data import TrainingData
from churnlab.training.split import Split
from churnlab.training.tuning.interrupts import (
    deferred_interrupts,
    quiet_optuna,
    stop_if_interrupted,
)
from churnlab.training.tuning.objective import TrialObjective, scores_raw
from churnlab.training.tuning.space import TuningError, direction, make_pruner, search_space

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10
BUDGET_SKIP = "budget reached by another worker"


@dataclass
class TuneResult:
    """What a (possibly resumed) study found."""

    study_name: str
    metric: str
    direction: str
    best_params: dict[str, Any]  # the sampled values of the best trial
    params: dict[str, Any]  # the spec's fixed params overlaid with best_params
    best_value: float
    best_trial: int
    counts: dict[str, int]  # trials per state, over the whole study
    new_trials: int  # trials run by this call
    seconds: float
    study: optuna.Study = field(repr=False)

    def tuned_spec(self, spec: ExperimentSpec) -> ExperimentSpec:
        """The spec with the best params, named ``<name>-tuned``."""
        model = spec.model.model_copy(update={"params": dict(self.params)})
        return spec.model_copy(update={"model": model, "name": f"{spec.name}-tuned"})


def study_name(spec: ExperimentSpec) -> str:
    """One study per experiment and spec: ``<experiment>.<spec name>``."""
    return f"{spec.experiment}.{spec.name}"


def fingerprint(spec: ExperimentSpec, data: TrainingData, space: dict[str, SearchParam]) -> str:
    """What must not change for a study to be resumed: data, observations, family, fixed
    params, metric, objective and search space."""
    key = {
        "data_digest": data.data_digest,
        "cutoffs": spec.cutoffs,
        "horizon_days": spec.horizon_days,
        "lead_days": spec.lead_days,
        "split": spec.split.model_dump(mode="json"),
        "features": data.features,
        "family": spec.model.family,
        "params": spec.model.params,
        "calibration": spec.model.calibration,
        "metric": spec.metric,
        "objective": spec.tuning.objective,
        "trial_scoring": "raw log-odds" if scores_raw(spec) else "calibrated",
        "seed": spec.seed,
        "space": {k: v.model_dump(mode="json") for k, v in space.items()},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def open_study(
    spec: ExperimentSpec,
    data: TrainingData,
    storage: str | Path | None,
    pruner: str | None = None,
    space: dict[str, SearchParam] | None = None,
    fresh: bool = False,
) -> optuna.Study:
    """Create or resume the spec's study in SQLite ``storage`` (in memory when None).

    A stored study made from a different spec or data is not resumed (its trials would not be
    comparable): the error says so; ``fresh`` deletes the stored study and starts over.
    """
    space = space if space is not None else search_space(spec)
    name = study_name(spec)
    url: optuna.storages.RDBStorage | None = None
    if storage is not None:
        storage = Path(storage)
        storage.parent.mkdir(parents=True, exist_ok=True)
        # a heartbeat per running trial: a trial whose process died (SIGKILL) stops beating
        # and is failed by the next worker that starts a trial
        # creating the storage's tables is not safe from two processes at once ("table
        # trial_params already exists"): workers starting together take turns
        with file_lock(storage.with_name(f".{storage.name}.init.lock")):
            url = optuna.storages.RDBStorage(
                f"sqlite:///{storage}",
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=3 * HEARTBEAT_SECONDS,
                engine_kwargs={"connect_args": {"timeout": 60}},
            )
            if fresh and name in optuna.get_all_study_names(url):
                optuna.delete_study(study_name=name, storage=url)
    with quiet_optuna():
        study = optuna.create_study(
            storage=url,
            study_name=name,
            load_if_exists=True,
            direction=direction(spec.metric),
            # workers on one study: running trials count as "liars", so two workers do not
            # sample the same parameters
            sampler=TrialSeededTPE(spec.seed),
            pruner=make_pruner(pruner or spec.tuning.pruner, spec.tuning.report_every),
        )
    fp = fingerprint(spec, data, space)
    stored = study.user_attrs.get("fingerprint")
    if stored is None:
        study.set_user_attr("fingerprint", fp)
        study.set_user_attr("family", spec.model.family)
        study.set_user_attr("metric", spec.metric)
    elif stored != fp:
        raise TuningError(
            f"study {name!r} in {storage} was made from a different spec or data (family, "
            "params, metric, search space, cutoffs or data changed), so its trials cannot be "
            "resumed; start it over (churnlab tune --fresh) or rename the spec (name:)"
        )
    if study.direction.name.lower() != direction(spec.metric):
        raise TuningError(f"study {name!r} optimizes in the other direction than {spec.metric}")
    return study


class TrialSeededTPE(optuna.samplers.BaseSampler):
    """TPE whose random state is seeded per trial from the spec's seed and the trial's number.

    Trial numbers are unique across the workers of a study, so two workers never draw the same
    parameters (a shared seed made a second worker repeat the first one's draws), while one
    worker alone stays reproducible: the same seed and history give the same trials. Running
    trials count as "liars" (``constant_liar``), so concurrent workers spread out.
    """

    def __init__(self, seed: int | None):
        self.seed = seed
        self._tpe = self._for_trial(0)

    def _for_trial(self, number: int) -> optuna.samplers.TPESampler:
        seed = None
        if self.seed is not None:
            seed = int(np.random.SeedSequence([self.seed, number]).generate_state(1)[0])
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._tpe = self._for_trial(trial.number)
        self._tpe.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._tpe.reseed_rng()


def counts(study: optuna.Study) -> dict[str, int]:
    out = {s.name.lower(): 0 for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("skipped"):
            continue
        out[t.state.name.lower()] = out.get(t.state.name.lower(), 0) + 1
    return out


class BudgetTaken(RuntimeError):
    """The study's trial budget is taken by complete, pruned and other workers' trials."""


class _Budgeted:
    """The objective, run only while the study's budget is not taken: complete and pruned
    trials plus the running trials other workers started before this one. A worker that finds
    the budget taken fails its new trial with ``BUDGET_SKIP`` (not counted) and stops.

    Only earlier trials count: two workers starting the last trial of the budget at once each
    see the other's trial running, and if both yielded the study would end one trial short (CI
    saw 3 of 4). The earlier trial runs, the later one yields."""

    def __init__(self, objective: Callable[[optuna.Trial], float], budget: int):
        self.objective = objective
        self.budget = budget

    def __call__(self, trial: optuna.Trial) -> float:
        trials = trial.study.get_trials(deepcopy=False)
        others = sum(t.state == TrialState.RUNNING and t.number < trial.number for t in trials)
        done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
        if done + others >= self.budget:
            trial.set_user_attr("skipped", BUDGET_SKIP)
            trial.study.stop()
            raise BudgetTaken(BUDGET_SKIP)
        return self.objective(trial)


def _wait_for_other_workers(study: optuna.Study, every: float = 1.0) -> None:
    """Until no trial of the study runs (other workers finish theirs, or a dead worker's trial
    is failed once its heartbeat is stale), so every worker ends on the same study."""
    while any(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False)):
        with deferred_interrupts():
            time.sleep(every)
        if isinstance(study._storage, optuna.storages.RDBStorage):
            optuna.storages.fail_stale_trials(study)


def tune(
    spec: ExperimentSpec,
    data: TrainingData,
    splits: list[Split],
    storage: str | Path | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    pruner: str | None = None,
    callbacks: Iterable[Callable[[optuna.Study, FrozenTrial], None]] = (),
    study: optuna.Study | None = None,
) -> TuneResult:
    """Run (or resume) the spec's study until it holds ``trials`` complete or pruned trials
    (default ``spec.tuning.trials``) or ``timeout`` seconds pass.

    ``callbacks`` are called after every finished trial (complete, pruned or failed). Failed
    trials (a fit that raises ``ValueError``/``TypeError``/LightGBM errors) are recorded and
    the search goes on; Ctrl-C or SIGTERM stops it, keeping every finished trial. ``study``:
    one already made by ``open_study`` (else it is opened from ``storage``).
    """
    space = search_space(spec)
    study = study or open_study(spec, data, storage, pruner, space)
    budget = trials if trials is not None else spec.tuning.trials
    timeout = timeout if timeout is not None else spec.tuning.timeout
    before = counts(study)
    remaining = max(budget - before["complete"] - before["pruned"], 0)
    prune = (pruner or spec.tuning.pruner) != "none"
    objective = _Budgeted(TrialObjective(spec, data, splits, space, prune=prune), budget)
    catch: tuple[type[Exception], ...] = (
        ValueError,
        TypeError,
        ArithmeticError,
        BudgetTaken,
    )
    try:
        from lightgbm.basic import LightGBMError

        catch = (*catch, LightGBMError)
    except ImportError:  # pragma: no cover - lightgbm is a core dependency
        pass
    t0 = time.perf_counter()
    if remaining:
        log.info("study %s: %d trial(s) to run (%s)", study.study_name, remaining, before)
        with quiet_optuna(), deferred_interrupts():
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=timeout,
                catch=catch,
                callbacks=[*callbacks, stop_if_interrupted],
            )
    _wait_for_other_workers(study)
    seconds = time.perf_counter() - t0
    after = counts(study)
    if after["complete"] == 0:
        errors = {
            t.user_attrs.get("error") for t in study.get_trials(deepcopy=False) if t.user_attrs
        } - {None}
        raise TuningError(
            f"study {study.study_name!r} has no complete trial ({after}); "
            f"errors: {sorted(errors)[:3] or 'none recorded'}"
        )
    best = study.best_trial
    return TuneResult(
        study_name=study.study_name,
        metric=spec.metric,
        direction=direction(spec.metric),
        best_params=dict(best.params),
        params={**spec.model.params, **best.params},
        best_value=float(best.value),
        best_trial=best.number,
        counts=after,
        new_trials=sum(after.values()) - sum(before.values()),
        seconds=seconds,
        study=study,
    )
