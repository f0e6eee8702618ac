"""Hyperparameter tuning with Optuna: search spaces, the trial objective, pruning and resumable
studies. Nothing here talks to MLflow: callers pass Optuna callbacks (``tracking.tuning`` logs a
nested run per trial, the CLI drives a progress bar) and get a ``TuneResult`` back.

The objective fits the spec's family through the shared estimator interface
(``estimator_for``, ``fit(..., eval_set=...)``, ``predict_risk``) on the training cutoffs and
scores the spec's ranking metric on the validation cutoff (or the mean over the rolling-origin
folds' validation cutoffs). The rows of the test cutoff are never handed to the objective: the
final model is evaluated on them once, after the search.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from churnlab.config import LOWER_IS_BETTER, SURVIVAL_FAMILIES, ExperimentSpec, SearchParam
from churnlab.evaluation import classification_metrics
from churnlab.modeling import estimator_for
from churnlab.modeling.data import TrainingData
from churnlab.modeling.split import Split

log = logging.getLogger(__name__)


def _p(**kw: Any) -> SearchParam:
    return SearchParam(**kw)


_LIGHTGBM_SPACE = {
    "num_leaves": _p(type="int", low=7, high=127, log=True),
    "learning_rate": _p(type="log", low=0.01, high=0.2),
    "min_child_samples": _p(type="int", low=10, high=200, log=True),
    "colsample_bytree": _p(type="float", low=0.4, high=1.0),  # feature_fraction
    "subsample": _p(type="float", low=0.5, high=1.0),  # bagging_fraction (subsample_freq=1)
    "reg_alpha": _p(type="log", low=1e-3, high=10.0),  # lambda_l1
    "reg_lambda": _p(type="log", low=1e-3, high=10.0),  # lambda_l2
}

# Sound defaults per family, used when the spec has no ``search_space``. n_estimators is not
# searched: every LightGBM trial early-stops on the validation cutoff.
DEFAULT_SEARCH_SPACES: dict[str, dict[str, SearchParam]] = {
    "lightgbm": _LIGHTGBM_SPACE,
    # scikit-learn >= 1.8 expresses the penalty as l1_ratio (0 = L2, 1 = L1); saga does both
    "logistic": {
        "C": _p(type="log", low=1e-3, high=10.0),
        "l1_ratio": _p(type="categorical", choices=[0.0, 1.0]),
        "solver": _p(type="categorical", choices=["saga"]),
    },
    "cox": {
        "penalizer": _p(type="log", low=1e-4, high=1.0),
        "l1_ratio": _p(type="float", low=0.0, high=1.0),
    },
    "lightgbm_survival": {
        **_LIGHTGBM_SPACE,
        "interval_days": _p(type="categorical", choices=[7, 14, 30, 60]),
    },
}

# families whose fit takes LightGBM callbacks, so trials can be pruned per boosting round.
# lightgbm_survival is not among them: its boosting rounds fit interval hazards, so a per-round
# report would score hazard rows, not the objective's churn-within-horizon risk.
PRUNABLE_FAMILIES = {"lightgbm"}
# families that can keep their binned training data between fits on the same rows (``datasets=``)
DATASET_REUSE_FAMILIES = {"lightgbm"}


class TuningError(ValueError):
    """A study that cannot run or resume (changed spec, every trial failed, unknown family)."""


def search_space(spec: ExperimentSpec) -> dict[str, SearchParam]:
    """The spec's ``search_space``, or the family's default."""
    if spec.search_space:
        return dict(spec.search_space)
    try:
        return DEFAULT_SEARCH_SPACES[spec.model.family]
    except KeyError:
        raise TuningError(
            f"model.family {spec.model.family!r} has no default search space; "
            "declare one under search_space:"
        ) from None


def suggest(trial: optuna.Trial, space: dict[str, SearchParam]) -> dict[str, Any]:
    """Sample one value per dimension of ``space`` from the trial."""
    out: dict[str, Any] = {}
    for name, p in space.items():
        if p.type == "categorical":
            out[name] = trial.suggest_categorical(name, p.choices)
        elif p.type == "int":
            out[name] = trial.suggest_int(
                name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log
            )
        else:
            out[name] = trial.suggest_float(
                name, p.low, p.high, log=p.log or p.type == "log", step=p.step
            )
    return out


def direction(metric: str) -> str:
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"


def make_pruner(kind: str, report_every: int = 10) -> optuna.pruners.BasePruner:
    """``median`` or ``percentile`` (keep the top 25%) after 5 finished trials and 2 reports,
    ``hyperband`` (from 2 reports, reduction factor 3), or ``none``."""
    warmup = 2 * report_every
    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=warmup, interval_steps=report_every
        )
    if kind == "percentile":
        return optuna.pruners.PercentilePruner(
            25.0, n_startup_trials=5, n_warmup_steps=warmup, interval_steps=report_every
        )
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=warmup, reduction_factor=3)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise TuningError(
        f"tuning.pruner: unknown pruner {kind!r}; expected median, percentile, hyperband, none"
    )


# metrics of the ranking alone: Platt scaling (sigmoid calibration) is a strictly increasing map
# of the margin whenever its fitted slope is positive (the margin ranks validation churners
# higher at all), so they are the same on the calibrated probabilities and on the raw log-odds
RANKING_METRICS = {"pr_auc": average_precision_score, "roc_auc": roc_auc_score}


def scores_raw(spec: ExperimentSpec) -> bool:
    """Whether trials score the raw log-odds and skip calibrating: a ranking metric under
    sigmoid calibration, for a classifier family (isotonic ties scores, so it can change the
    ranking; a trial with an anti-predictive margin scores 1 - AUC here, worse, not better)."""
    return (
        spec.metric in RANKING_METRICS
        and spec.model.calibration == "sigmoid"
        and spec.model.family not in SURVIVAL_FAMILIES
    )


_SKLEARN_METRICS = {
    **RANKING_METRICS,
    "log_loss": lambda y, p: log_loss(y, p, labels=[0, 1]),
    "brier": brier_score_loss,
}


def metric_value(metric: str, y: np.ndarray, p: np.ndarray) -> float:
    """``classification_metrics(y, p)[metric]``, computing only that metric when scikit-learn
    has it (pruning reports call this every few boosting rounds)."""
    if metric in _SKLEARN_METRICS:
        p = np.clip(np.asarray(p, float), 1e-7, 1 - 1e-7)  # as classification_metrics does
        return float(_SKLEARN_METRICS[metric](np.asarray(y, int), p))
    return float(classification_metrics(y, p)[metric])


class LightGBMPruningCallback:
    """Report the spec's metric on the validation rows every ``report_every`` boosting rounds
    and stop the trial when the pruner says so.

    The metric is computed by the same ``classification_metrics`` as the objective, on
    LightGBM's cached validation predictions (``Booster.eval_valid``, no re-prediction), and
    reported as is: the study's direction (maximize PR-AUC, minimize log loss) is what the
    pruner compares with. These probabilities are uncalibrated; ranking metrics are unchanged
    by the (monotone) calibration the objective applies.
    """

    order = 35  # after LightGBM's early stopping (30)

    def __init__(self, trial: optuna.Trial, metric: str, report_every: int = 10):
        self.trial = trial
        self.metric = metric
        self.report_every = report_every

    def _feval(self, preds: np.ndarray, dataset: Any) -> tuple[str, float, bool]:
        y = np.asarray(dataset.get_label(), dtype=int)
        value = metric_value(self.metric, y, preds)
        return f"churnlab_{self.metric}", value, self.metric not in LOWER_IS_BETTER

    def __call__(self, env: Any) -> None:
        step = env.iteration + 1
        if step % self.report_every:
            return
        results = env.model.eval_valid(feval=self._feval)
        value = next(r[2] for r in results if r[1] == f"churnlab_{self.metric}")
        self.trial.report(float(value), step=step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at boosting round {step} ({self.metric} {value:.4f})")


@dataclass
class _Fold:
    """The training and validation rows of one split; the test rows are not kept."""

    X: pd.DataFrame
    y: np.ndarray
    duration: np.ndarray | None
    event: np.ndarray | None
    X_val: pd.DataFrame
    y_val: np.ndarray
    eval_extra: tuple = ()


def _fold(data: TrainingData, split: Split, family: str) -> _Fold:
    """Classifiers train on the split's training rows; survival families on the rows and
    follow-up ``survival_targets`` gives them (censored at the validation cutoff, so no
    training target sees past it), validation durations followed up to the test cutoff."""
    from churnlab.modeling.survival import survival_targets

    frame = data.frame
    y = frame.churned_within_h.fillna(False).astype(int).to_numpy()
    va = split.masks["validation"]
    if family in SURVIVAL_FAMILIES:
        targets = survival_targets(frame, split)
        tr, d_tr, e_tr = targets["train"]
        _, d_va, e_va = targets["validation"]
        extra = (d_va, e_va)
    else:
        tr, d_tr, e_tr, extra = split.masks["train"], None, None, ()
    return _Fold(
        X=frame.loc[tr, data.features],
        y=y[tr],
        duration=d_tr,
        event=e_tr,
        X_val=frame.loc[va, data.features],
        y_val=y[va],
        eval_extra=extra,
    )


class TrialObjective:
    """Optuna objective: sample params, fit the family on each fold's training rows with early
    stopping on its validation rows, return the metric on validation (mean over folds)."""

    def __init__(
        self,
        spec: ExperimentSpec,
        data: TrainingData,
        splits: list[Split],
        space: dict[str, SearchParam] | None = None,
        prune: bool = True,
    ):
        self.spec = spec
        self.space = space if space is not None else search_space(spec)
        used = splits if spec.tuning.objective == "backtest" else splits[:1]
        self.folds = [_fold(data, s, spec.model.family) for s in used]
        self.prune = prune and spec.model.family in PRUNABLE_FAMILIES
        # every trial fits the same rows: LightGBM bins them once per fold, not once per trial
        reuse = spec.model.family in DATASET_REUSE_FAMILIES
        self.datasets: list[dict | None] = [{} if reuse else None for _ in self.folds]
        # a ranking metric under sigmoid calibration is scored on the raw log-odds: calibrating
        # each trial could not change its value (isotonic can: it ties scores)
        self.uncalibrated = scores_raw(spec)

    def __call__(self, trial: optuna.Trial) -> float:
        with _interruptible():
            return self._run(trial)

    def _run(self, trial: optuna.Trial) -> float:
        spec = self.spec
        params = {**spec.model.params, **suggest(trial, self.space)}
        values, rounds = [], []
        try:
            for k, f in enumerate(self.folds):
                extra: dict[str, Any] = {}
                if self.datasets[k] is not None:
                    extra["datasets"] = self.datasets[k]
                if self.prune and k == 0:  # steps are boosting rounds of the first fold
                    cb = LightGBMPruningCallback(trial, spec.metric, spec.tuning.report_every)
                    extra["callbacks"] = [cb]
                est = estimator_for(spec, params, **extra)
                fit = {"calibrate": False} if self.uncalibrated else {}
                est.fit(
                    f.X,
                    f.y,
                    duration=f.duration,
                    event=f.event,
                    eval_set=(f.X_val, f.y_val, *f.eval_extra),
                    **fit,
                )
                if self.uncalibrated:
                    score = RANKING_METRICS[spec.metric](f.y_val, est.predict_raw(f.X_val))
                    values.append(float(score))
                else:
                    values.append(metric_value(spec.metric, f.y_val, est.predict_risk(f.X_val)))
                if getattr(est, "best_iteration_", None) is not None:
                    rounds.append(int(est.best_iteration_))
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:2000])
            raise
        if rounds:
            trial.set_user_attr("best_iteration", rounds[0])
        if len(values) > 1:
            trial.set_user_attr("fold_values", [float(v) for v in values])
        return float(np.mean(values))


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
    url = None
    if storage is not None:
        storage = Path(storage)
        storage.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{storage}"
        if fresh and name in optuna.get_all_study_names(url):
            optuna.delete_study(study_name=name, storage=url)
    with _quiet_optuna():
        study = optuna.create_study(
            storage=url,
            study_name=name,
            load_if_exists=True,
            direction=direction(spec.metric),
            sampler=optuna.samplers.TPESampler(seed=spec.seed),
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


def counts(study: optuna.Study) -> dict[str, int]:
    out = {s.name.lower(): 0 for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name.lower()] = out.get(t.state.name.lower(), 0) + 1
    return out


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
    objective = TrialObjective(spec, data, splits, space, prune=prune)
    catch: tuple[type[Exception], ...] = (ValueError, TypeError, ArithmeticError)
    try:
        from lightgbm.basic import LightGBMError

        catch = (*catch, LightGBMError)
    except ImportError:  # pragma: no cover - lightgbm is a core dependency
        pass
    t0 = time.perf_counter()
    if remaining:
        log.info("study %s: %d trial(s) to run (%s)", study.study_name, remaining, before)
        with _quiet_optuna(), _deferred_interrupts():
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=timeout,
                catch=catch,
                callbacks=[*callbacks, _stop_if_interrupted],
            )
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


class _Interrupts(threading.local):
    """Ctrl-C / SIGTERM while a study runs: raised as ``KeyboardInterrupt`` inside the objective
    (Optuna records that trial as failed and stops), and held while Optuna samples or stores a
    trial or callbacks log one: Optuna 5 turns an interrupt inside its own bookkeeping into an
    ``UnboundLocalError`` in ``_run_trial``. After a finished trial's callbacks a held
    interrupt stops the study, which then raises it; one held while the next trial is sampled
    is raised when that trial starts."""

    active = False  # handlers installed (main thread, inside tune)
    raising = False  # inside the objective: interrupt now
    pending: int | None = None


_INTERRUPTS = _Interrupts()


def _on_interrupt(signum: int, frame: Any) -> None:
    if _INTERRUPTS.raising:
        raise KeyboardInterrupt(signal.Signals(signum).name)
    _INTERRUPTS.pending = signum


def _raise_pending() -> None:
    signum, _INTERRUPTS.pending = _INTERRUPTS.pending, None
    if signum is not None:
        raise KeyboardInterrupt(signal.Signals(signum).name)


def _stop_if_interrupted(study: optuna.Study, trial: FrozenTrial) -> None:
    """The last callback: an interrupt held during this trial's bookkeeping stops the study."""
    if _INTERRUPTS.pending is not None:
        study.stop()


@contextmanager
def _deferred_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or _INTERRUPTS.active:
        yield
        return
    _INTERRUPTS.pending, _INTERRUPTS.raising = None, False
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if handler is signal.SIG_IGN or handler is None:  # ignored (nohup) or not Python's
            continue
        previous[sig] = signal.signal(sig, _on_interrupt)
    _INTERRUPTS.active = True
    try:
        yield
    except Exception as exc:  # an interrupt held when the study failed still interrupts
        if _INTERRUPTS.pending is not None:
            raise KeyboardInterrupt(signal.Signals(_INTERRUPTS.pending).name) from exc
        raise
    finally:
        _INTERRUPTS.active = False
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _raise_pending()


@contextmanager
def _interruptible() -> Iterator[None]:
    if not _INTERRUPTS.active:
        yield
        return
    before = _INTERRUPTS.raising
    try:
        _INTERRUPTS.raising = True  # from here a signal raises at once; one held earlier, now
        _raise_pending()
        yield
    finally:
        _INTERRUPTS.raising = before


class _quiet_optuna:
    """Optuna logs every trial at INFO; churnlab reports trials through callbacks instead."""

    def __enter__(self) -> None:
        self.level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        optuna.logging.set_verbosity(self.level)
