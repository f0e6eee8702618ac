"""Estimator families behind one interface, splits and training orchestration."""

from churnlab.modeling.base import ChurnEstimator, NotFittedError, is_categorical
from churnlab.modeling.cox import CoxChurnModel
from churnlab.modeling.gbm import LightGBMChurnModel
from churnlab.modeling.gbm_survival import LightGBMSurvivalModel
from churnlab.modeling.logistic import LogisticChurnModel
from churnlab.modeling.survival import SurvivalChurnEstimator

FAMILIES: dict[str, type[ChurnEstimator]] = {
    "logistic": LogisticChurnModel,
    "lightgbm": LightGBMChurnModel,
    "cox": CoxChurnModel,
    "lightgbm_survival": LightGBMSurvivalModel,
}


def make_estimator(family: str, **kwargs) -> ChurnEstimator:
    try:
        cls = FAMILIES[family]
    except KeyError:
        raise ValueError(
            f"unknown model family {family!r}; expected one of {list(FAMILIES)}"
        ) from None
    return cls(**kwargs)


def estimator_for(spec, params: dict | None = None, **extra) -> ChurnEstimator:
    """The spec's model family with its calibration, horizon and seed; ``params`` (default: the
    spec's) replaces the model params, ``extra`` goes to the estimator (e.g. ``callbacks``)."""
    return make_estimator(
        spec.model.family,
        params=dict(spec.model.params if params is None else params),
        calibration=spec.model.calibration,
        horizon_days=spec.horizon_days,
        seed=spec.seed,
        **extra,
    )


__all__ = [
    "FAMILIES",
    "ChurnEstimator",
    "CoxChurnModel",
    "LightGBMChurnModel",
    "LightGBMSurvivalModel",
    "LogisticChurnModel",
    "NotFittedError",
    "SurvivalChurnEstimator",
    "estimator_for",
    "is_categorical",
    "make_estimator",
]
