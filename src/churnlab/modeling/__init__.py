"""Estimator families behind one scikit-learn style interface (keyword parameters, ``fit``
returns ``self``, fitted attributes end in ``_``), and the mapping of a spec's ``model.params``
onto them. Churn families are in ``FAMILIES``; uplift families (the effect of a contact on
churn, their own contract) in ``UPLIFT_FAMILIES``."""

from collections.abc import Mapping
from typing import Any

from churnlab.modeling.base import (
    ChurnEstimator,
    FamilyEstimator,
    NotFittedError,
    binary_labels,
    check_two_classes,
    is_categorical,
    unseen_categories,
)
from churnlab.modeling.cox import CoxChurnModel
from churnlab.modeling.gbm import LightGBMChurnModel
from churnlab.modeling.gbm_survival import LightGBMSurvivalModel
from churnlab.modeling.logistic import LogisticChurnModel
from churnlab.modeling.survival import SurvivalChurnEstimator
from churnlab.modeling.uplift import (
    UPLIFT_FAMILIES,
    DRLearnerUplift,
    TLearnerUplift,
    UpliftEstimator,
    XLearnerUplift,
)

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
    if family in UPLIFT_FAMILIES:
        raise ValueError(f"{family} is an uplift family: make it with make_uplift_estimator")
    try:
        cls = FAMILIES[family]
    except KeyError:
        raise ValueError(
            f"unknown model family {family!r}; expected one of {list(FAMILIES)}"
        ) from None
    return cls(**cls.keywords_for(params or {}), **kwargs)


def make_uplift_estimator(
    family: str, params: Mapping[str, Any] | None = None, **kwargs: Any
) -> UpliftEstimator:
    """An unfitted uplift estimator of ``family``, ``params`` mapped as :func:`make_estimator`
    maps them.

    >>> make_uplift_estimator("uplift_t", {"num_leaves": 7}, seed=3)
    TLearnerUplift(num_leaves=7, seed=3)
    """
    try:
        cls = UPLIFT_FAMILIES[family]
    except KeyError:
        raise ValueError(
            f"unknown uplift family {family!r}; expected one of {list(UPLIFT_FAMILIES)}"
        ) from None
    return cls(**cls.keywords_for(params or {}), **kwargs)


def family_class(family: str) -> type[FamilyEstimator]:
    """The class of a churn or uplift family."""
    return {**FAMILIES, **UPLIFT_FAMILIES}[family]


def check_model_params(spec) -> None:
    """Raise before any work if the spec's ``model.params`` or ``search_space`` name a
    parameter its model family does not take (the error names the nearest valid name)."""
    cls = family_class(spec.model.family)
    cls.check_params(spec.model.params)
    if spec.search_space:
        cls.check_params(dict.fromkeys(spec.search_space), where="search_space")


def estimator_for(spec, params: Mapping[str, Any] | None = None, **extra: Any) -> ChurnEstimator:
    """The spec's model family with its horizon and seed; ``params`` (default: the spec's)
    replaces the model params, ``extra`` goes to the estimator (e.g. ``callbacks``)."""
    return make_estimator(
        spec.model.family,
        dict(spec.model.params if params is None else params),
        horizon_days=spec.model_horizon_days,
        seed=spec.seed,
        **extra,
    )


__all__ = [
    "FAMILIES",
    "UPLIFT_FAMILIES",
    "ChurnEstimator",
    "CoxChurnModel",
    "DRLearnerUplift",
    "FamilyEstimator",
    "LightGBMChurnModel",
    "LightGBMSurvivalModel",
    "LogisticChurnModel",
    "NotFittedError",
    "SurvivalChurnEstimator",
    "TLearnerUplift",
    "UpliftEstimator",
    "XLearnerUplift",
    "binary_labels",
    "check_model_params",
    "check_two_classes",
    "estimator_for",
    "family_class",
    "is_categorical",
    "make_estimator",
    "make_uplift_estimator",
    "unseen_categories",
]
