"""Search spaces per family, sampling from a trial, study direction and pruners."""

from __future__ import annotations

from typing import Any

import optuna

from churnlab.config import ExperimentSpec, SearchParam
from churnlab.errors import ChurnlabError
from churnlab.vocab import LOWER_IS_BETTER


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


class TuningError(ChurnlabError):
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
