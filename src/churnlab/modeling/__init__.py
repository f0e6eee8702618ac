"""Estimator families behind one scikit-learn style interface (keyword parameters, ``fit``
returns ``self``, fitted attributes end in ``_``), and the mapping of a spec's ``model.params``
onto them."""

from collections.abc import Mapping
from typing import Any

from churnlab.modeling.base import (
    ChurnEstimator,
    NotFittedError,
    binary_labels,
    check_two_classes,
    is_categorical,
)
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


def make_estimator(
    family: str, params: Mapping[str, Any] | None = None, **kwargs: Any
) -> ChurnEstimator:
    """An unfitted estimator of ``family``: ``params`` (a spec's ``model.params``) mapped onto
    its keywords (:meth:`ChurnEstimator.keywords_for`), ``kwargs`` passed as they are
    (``horizon_days``, ``seed``, ``callbacks``, ...).

    >>> make_estimator("logistic", {"C": 0.5, "solver": "saga"}, seed=7)
    LogisticChurnModel(C=0.5, extra_params={'solver': 'saga'}, seed=7)
    """
    try:
        cls = FAMILIES[family]
    except KeyError:
        raise ValueError(
            f"unknown model family {family!r}; expected one of {list(FAMILIES)}"
        ) from None
    return cls(**cls.keywords_for(params or {}), **kwargs)


def check_model_params(spec) -> None:
    """Raise before any work if the spec's ``model.params`` or ``search_space`` name a
    parameter its model family does not take (the error names the nearest valid name)."""
    cls = FAMILIES[spec.model.family]
    cls.check_params(spec.model.params)
    if spec.search_space:
        cls.check_params(dict.fromkeys(spec.search_space), where="search_space")


def estimator_for(spec, params: Mapping[str, Any] | None = None, **extra: Any) -> ChurnEstimator:
    """The spec's model family with its horizon and seed; ``params`` (default: the spec's)
    replaces the model params, ``extra`` goes to the estimator (e.g. ``callbacks``)."""
    return make_estimator(
        spec.model.family,
        dict(spec.model.params if params is None else params),
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
    "binary_labels",
    "check_model_params",
    "check_two_classes",
    "estimator_for",
    "is_categorical",
    "make_estimator",
]
