"""The trial objective: fit the spec's family on each fold's training rows with early stopping
on its validation rows and score the spec's metric there; the pruning callback that reports
it every few boosting rounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from churnlab.config import ExperimentSpec, SearchParam
from churnlab.evaluation import classification_metrics
from churnlab.modeling import ChurnEstimator, estimator_for
from churnlab.training.calibration import CalibratedChurnModel
from churnlab.training.data import TrainingData
from churnlab.training.split import Split
from churnlab.training.train import fold_targets
from churnlab.training.tuning.interrupts import interruptible
from churnlab.training.tuning.space import (
    DATASET_REUSE_FAMILIES,
    PRUNABLE_FAMILIES,
    search_space,
    suggest,
)
from churnlab.vocab import LOWER_IS_BETTER, SURVIVAL_FAMILIES

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
class TrialFold:
    """The training and validation rows of one split; the test rows are not kept."""

    X: pd.DataFrame
    y: np.ndarray
    duration: np.ndarray | None
    event: np.ndarray | None
    X_val: pd.DataFrame
    y_val: np.ndarray
    eval_extra: tuple = ()


def trial_fold(data: TrainingData, split: Split, family: str) -> TrialFold:
    """The rows the final model trains on (:func:`~churnlab.training.train.fold_targets`):
    classifiers the split's training rows; survival families every earlier cutoff, censored at
    the validation cutoff, with validation durations followed up to the test cutoff."""
    frame = data.frame
    y = frame.churned_within_h.fillna(False).astype(int).to_numpy()
    targets = fold_targets(frame, split, family in SURVIVAL_FAMILIES)
    tr, d_tr, e_tr = targets["train"]
    va, d_va, e_va = targets["validation"]
    return TrialFold(
        X=frame.loc[tr, data.features],
        y=y[tr],
        duration=d_tr,
        event=e_tr,
        X_val=frame.loc[va, data.features],
        y_val=y[va],
        eval_extra=(d_va, e_va) if family in SURVIVAL_FAMILIES else (),
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
        self.folds = [trial_fold(data, s, spec.model.family) for s in used]
        self.prune = prune and spec.model.family in PRUNABLE_FAMILIES
        # every trial fits the same rows: LightGBM bins them once per fold, not once per trial
        reuse = spec.model.family in DATASET_REUSE_FAMILIES
        self.datasets: list[dict | None] = [{} if reuse else None for _ in self.folds]
        # a ranking metric under sigmoid calibration is scored on the raw log-odds: calibrating
        # each trial could not change its value (isotonic can: it ties scores)
        self.uncalibrated = scores_raw(spec)

    def __call__(self, trial: optuna.Trial) -> float:
        with interruptible():
            return self._run(trial)

    def _run(self, trial: optuna.Trial) -> float:
        params = {**self.spec.model.params, **suggest(trial, self.space)}
        values, rounds = [], []
        try:
            for k, f in enumerate(self.folds):
                est = self._fitted(trial, k, f, params)
                values.append(self._value(est, f))
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

    def _fitted(
        self, trial: optuna.Trial, k: int, f: TrialFold, params: dict[str, Any]
    ) -> ChurnEstimator:
        """The family with the trial's params, fitted on fold ``k``'s training rows."""
        extra: dict[str, Any] = {}
        if self.datasets[k] is not None:
            extra["datasets"] = self.datasets[k]
        if self.prune and k == 0:  # steps are boosting rounds of the first fold
            spec = self.spec
            extra["callbacks"] = [
                LightGBMPruningCallback(trial, spec.metric, spec.tuning.report_every)
            ]
        est = estimator_for(self.spec, params, **extra)
        return est.fit(
            f.X,
            f.y,
            duration=f.duration,
            event=f.event,
            eval_set=(f.X_val, f.y_val, *f.eval_extra),
        )

    def _value(self, est: ChurnEstimator, f: TrialFold) -> float:
        """The spec's metric on the fold's validation rows: of the raw score when it cannot
        differ from the calibrated one's (``scores_raw``), else of the model calibrated on
        those rows."""
        metric = self.spec.metric
        if self.uncalibrated:
            return float(RANKING_METRICS[metric](f.y_val, est.predict_raw(f.X_val)))
        model = CalibratedChurnModel(est, self.spec.model.calibration).fit(f.X_val, f.y_val)
        return metric_value(metric, f.y_val, model.predict_risk(f.X_val))
