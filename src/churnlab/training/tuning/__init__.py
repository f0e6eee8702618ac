"""Hyperparameter tuning with Optuna: search spaces, the trial objective, pruning and resumable
studies. Nothing here talks to MLflow: callers pass Optuna callbacks (``tracking.tuning`` logs a
nested run per trial, the CLI drives a progress bar) and get a ``TuneResult`` back.

The objective fits the spec's family through the shared estimator interface
(``estimator_for``, ``fit(..., eval_set=...)``, ``predict_raw``; ``CalibratedChurnModel`` when
the metric needs probabilities) on the training cutoffs and scores the spec's metric on the
validation cutoff (or the mean over the rolling-origin folds' validation cutoffs). The rows of
the test cutoff are never handed to the objective: the final model is evaluated on them once,
after the search.
"""

from churnlab.training.tuning.objective import (
    RANKING_METRICS,
    LightGBMPruningCallback,
    TrialFold,
    TrialObjective,
    metric_value,
    scores_raw,
    trial_fold,
)
from churnlab.training.tuning.space import (
    DEFAULT_SEARCH_SPACES,
    TuningError,
    direction,
    make_pruner,
    search_space,
    suggest,
)
from churnlab.training.tuning.study import (
    TuneResult,
    counts,
    fingerprint,
    open_study,
    study_name,
    tune,
)

__all__ = [
    "DEFAULT_SEARCH_SPACES",
    "RANKING_METRICS",
    "LightGBMPruningCallback",
    "TrialFold",
    "TrialObjective",
    "TuneResult",
    "TuningError",
    "counts",
    "direction",
    "fingerprint",
    "make_pruner",
    "metric_value",
    "open_study",
    "scores_raw",
    "search_space",
    "study_name",
    "suggest",
    "trial_fold",
    "tune",
]
