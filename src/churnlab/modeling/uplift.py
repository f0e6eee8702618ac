"""Uplift families: the effect of a retention contact on churn within the horizon.

Meta-learners from EconML (PyWhy) with LightGBM base models. The outcome is churn (1 =
churned), so :meth:`UpliftEstimator.predict_uplift` is the *reduction* in churn probability a
contact brings: risk if not contacted minus risk if contacted. Positive means the offer keeps
the customer; negative, that the contact drives them away.

- ``uplift_t`` (:class:`TLearnerUplift`): two LightGBM classifiers, one per arm; the uplift is
  the difference of their probabilities.
- ``uplift_x`` (:class:`XLearnerUplift`): the same arm classifiers, then a LightGBM regressor
  per arm on the imputed effects, combined by the propensity (Künzel et al. 2019).
- ``uplift_dr`` (:class:`DRLearnerUplift`): a cross-fitted outcome classifier and propensity
  model, then a LightGBM regressor on the doubly robust pseudo-outcomes (Kennedy 2020).

The rows are meant to be randomized (contacted accounts split into treated and control), so
the propensity defaults to ``"constant"`` (each arm's share of the training rows): a model of
a coin flip only adds noise. ``propensity="lightgbm"`` fits one where the share varies with
the features.

Every LightGBM base model chooses its boosting rounds by 5-fold cross-validation on the rows
it is fitted on (early stopping with patience ``early_stopping_rounds``; 0 fits exactly
``n_estimators``): a campaign's validation cutoff holds too few randomized rows to stop on, and
the effect stage's targets (imputed effects, doubly robust pseudo-outcomes) are too noisy to fit
for a fixed number of rounds. Where the rows show no heterogeneity, the cross-validated effect
model stays close to the average effect instead of fitting noise.

These families share the churn families' parameters and column handling
(:class:`~churnlab.modeling.base.FamilyEstimator`), not their contract: no ``predict_raw``,
calibration or attributions.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from churnlab.config import threads
from churnlab.modeling.base import FamilyEstimator, binary_labels
from churnlab.modeling.gbm import lightgbm_parameters, size_defaults

CROSS_FIT_FOLDS = 2  # the DR-learner's nuisance models: econml's default
CV_FOLDS = 5  # the cross-validation that chooses each base model's boosting rounds
PROPENSITY_CLIP = 0.05  # the DR-learner's inverse weights never exceed 1 / 0.05
PROPENSITIES = ("constant", "lightgbm")


class UpliftEstimator(FamilyEstimator):
    """The uplift contract: ``fit(X, y, treated)`` returns ``self``; ``predict_uplift(X)`` is
    the estimated reduction in churn probability if contacted.

    The keywords before ``extra_params`` are the LightGBM outcome classifiers' (``n_estimators``
    caps the rounds, ``early_stopping_rounds`` is the patience of the cross-validation that
    chooses them; 0 fits exactly ``n_estimators``); ``extra_params`` go to every LightGBM model
    of the learner. ``num_leaves`` and ``min_child_samples`` left at None scale
    with the rows each model fits on (:func:`~churnlab.modeling.gbm.size_defaults`).
    """

    kind: ClassVar[str] = "uplift"

    @classmethod
    def library_parameters(cls) -> frozenset[str] | None:
        return lightgbm_parameters()

    def __init__(
        self,
        *,
        n_estimators: int = 1000,
        learning_rate: float = 0.03,
        num_leaves: int | None = None,
        min_child_samples: int | None = None,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.7,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        extra_params: dict[str, Any] | None = None,
        horizon_days: int | None = None,
        seed: int = 42,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.extra_params = extra_params
        self.horizon_days = horizon_days
        self.seed = seed

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any, treated: Any) -> UpliftEstimator:
        """Fit on randomized rows: ``y`` churned within the horizon (0/1), ``treated`` whether
        the row was contacted (1) or held out as control (0)."""
        y, t = binary_labels(y, "y"), binary_labels(treated, "treated")
        if len(y) != len(X) or len(t) != len(X):
            raise ValueError(f"{len(X)} rows, {len(y)} labels and {len(t)} treatment flags")
        check_arms(y, t, "training")
        self.__dict__.pop("fitted_", None)  # a failed refit leaves no fitted model behind
        self._learn_columns(X)
        M = self._matrix(self.prepare(X))
        self.treated_share_ = float(t.mean())
        self.resolved_params_ = self._resolve(y, t)
        with _quiet():
            self.learner_ = self._learner().fit(y, t, X=M)
        self.fitted_ = True
        return self

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """Estimated reduction in churn probability within the horizon if contacted (control
        risk minus treated risk), one value per row."""
        self._check_fitted()
        with _quiet():
            effect = self.learner_.effect(self._matrix(self.prepare(X)))
        return -np.ravel(np.asarray(effect, dtype=float))

    def fit_choices(self) -> dict[str, Any]:
        """The parameters this fit resolved (rounds chosen on the validation rows, leaf
        sizes), as the churn families report theirs."""
        self._check_fitted()
        return {"resolved_params": self.resolved_params_, "treated_share": self.treated_share_}

    # -- the base models -----------------------------------------------------------------------
    def _matrix(self, prepared: pd.DataFrame) -> np.ndarray:
        """Numbers for econml: categories as their training codes (missing or unseen: NaN);
        LightGBM is told which columns they are (``_categorical_index``)."""
        cols = []
        for c in prepared.columns:
            col = prepared[c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                codes = col.cat.codes.to_numpy(dtype="float64")
                cols.append(np.where(codes < 0, np.nan, codes))
            else:
                cols.append(col.to_numpy(dtype="float64"))
        return np.column_stack(cols) if cols else np.empty((len(prepared), 0))

    @property
    def _categorical_index(self) -> list[int]:
        return [i for i, c in enumerate(self.feature_names_in_) if c in self.categorical_]

    def _lightgbm(self, n_rows: int, **override: Any) -> dict[str, Any]:
        """LightGBM parameters for a base model fitted on ``n_rows`` rows."""
        params = {
            "random_state": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "n_jobs": threads(),
            "verbose": -1,
            **self._model_params(),
            **size_defaults(n_rows, self.num_leaves, self.min_child_samples),
            **override,
        }
        params.pop("early_stopping_rounds")
        return params

    def _probability(self, params: dict[str, Any]) -> LightGBMProbability:
        return LightGBMProbability(params, self._categorical_index, int(self.early_stopping_rounds))

    def _resolve(self, y, t) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _learner(self):  # pragma: no cover - abstract
        raise NotImplementedError


class TLearnerUplift(UpliftEstimator):
    """Two-model learner: one LightGBM classifier per arm; uplift = P(churn | control) -
    P(churn | treated)."""

    family = "uplift_t"

    def _resolve(self, y, t) -> dict[str, Any]:
        return {f"outcome_{arm}": self._lightgbm(int((t == i).sum())) for i, arm in _ARMS}

    def _learner(self):
        from econml.metalearners import TLearner

        p = self.resolved_params_
        # one model per arm, control (treated = 0) first
        return TLearner(
            models=[self._probability(p["outcome_control"]),
                    self._probability(p["outcome_treated"])],
            allow_missing=True,
        )  # fmt: skip


class _CateStage(UpliftEstimator):
    """Learners with a final effect (CATE) regressor and a propensity: their extra keywords."""

    def __init__(
        self,
        *,
        n_estimators: int = 1000,
        learning_rate: float = 0.03,
        num_leaves: int | None = None,
        min_child_samples: int | None = None,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.7,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        cate_n_estimators: int = 200,
        cate_num_leaves: int = 7,
        cate_min_child_samples: int | None = None,
        propensity: str = "constant",
        extra_params: dict[str, Any] | None = None,
        horizon_days: int | None = None,
        seed: int = 42,
    ):
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            subsample=subsample,
            subsample_freq=subsample_freq,
            colsample_bytree=colsample_bytree,
            reg_lambda=reg_lambda,
            early_stopping_rounds=early_stopping_rounds,
            extra_params=extra_params,
            horizon_days=horizon_days,
            seed=seed,
        )
        self.cate_n_estimators = cate_n_estimators
        self.cate_num_leaves = cate_num_leaves
        self.cate_min_child_samples = cate_min_child_samples
        self.propensity = propensity

    def _model_params(self) -> dict[str, Any]:
        own = super()._model_params()
        for name in ("cate_n_estimators", "cate_num_leaves", "cate_min_child_samples"):
            own.pop(name)
        own.pop("propensity")
        return own

    def _cate_params(self, n_rows: int) -> dict[str, Any]:
        """The effect regressor: shallow and with large leaves, since the imputed effects or
        pseudo-outcomes it fits are far noisier than the churn labels."""
        leaf = self.cate_min_child_samples
        return self._lightgbm(
            n_rows,
            n_estimators=int(self.cate_n_estimators),
            num_leaves=int(self.cate_num_leaves),
            min_child_samples=int(leaf if leaf is not None else np.clip(n_rows // 50, 20, 200)),
        )

    def _propensity_model(self, n_rows: int):
        if self.propensity not in PROPENSITIES:
            raise ValueError(
                f"{self.family}: propensity must be one of {PROPENSITIES}, not {self.propensity!r}"
            )
        if self.propensity == "constant":
            from sklearn.dummy import DummyClassifier

            return DummyClassifier(strategy="prior")
        params = self._lightgbm(n_rows, num_leaves=7, min_child_samples=max(50, n_rows // 50))
        return self._probability(params)


class XLearnerUplift(_CateStage):
    """X-learner: arm classifiers, then per arm a regressor of the imputed effects, weighted
    by the propensity."""

    family = "uplift_x"

    def _resolve(self, y, t) -> dict[str, Any]:
        out = {f"outcome_{arm}": self._lightgbm(int((t == i).sum())) for i, arm in _ARMS}
        out["cate"] = self._cate_params(int(min((t == 0).sum(), (t == 1).sum())))
        return {**out, "n_rows": len(y)}

    def _learner(self):
        from econml.metalearners import XLearner

        p, cat = self.resolved_params_, self._categorical_index
        return XLearner(
            models=[self._probability(p["outcome_control"]),
                    self._probability(p["outcome_treated"])],
            cate_models=LightGBMEffect(p["cate"], cat, int(self.early_stopping_rounds)),
            propensity_model=self._propensity_model(p["n_rows"]),
            allow_missing=True,
        )  # fmt: skip


class DRLearnerUplift(_CateStage):
    """DR-learner: cross-fitted outcome classifier (treatment as a feature) and propensity,
    then a regressor of the doubly robust pseudo-outcomes."""

    family = "uplift_dr"

    def _resolve(self, y, t) -> dict[str, Any]:
        fold_rows = len(y) * (CROSS_FIT_FOLDS - 1) // CROSS_FIT_FOLDS
        return {
            "outcome": self._lightgbm(fold_rows),
            "cate": self._cate_params(len(y)),
            "n_rows": len(y),
        }

    def _learner(self):
        from econml.dr import DRLearner

        p, cat = self.resolved_params_, self._categorical_index
        return DRLearner(
            model_propensity=self._propensity_model(p["n_rows"]),
            model_regression=self._probability(p["outcome"]),
            model_final=LightGBMEffect(p["cate"], cat, int(self.early_stopping_rounds)),
            discrete_outcome=True,
            min_propensity=PROPENSITY_CLIP,
            cv=CROSS_FIT_FOLDS,
            random_state=self.seed,
            allow_missing=True,
        )


_ARMS = ((0, "control"), (1, "treated"))


# -- LightGBM as econml's base models ---------------------------------------------------------
class _LightGBMBase(BaseEstimator):
    """A LightGBM base model of a meta-learner: ``params`` (scikit-learn API names,
    ``n_estimators`` the cap on rounds), ``categorical`` column positions, and ``stop``, the
    patience of the cross-validation on the fit's rows that chooses the rounds (0: exactly
    ``n_estimators``). ``n_estimators_`` holds the rounds used."""

    objective: ClassVar[str] = ""

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        categorical: list[int] | None = None,
        stop: int = 0,
    ):
        self.params = params
        self.categorical = categorical
        self.stop = stop

    def _fit(self, model_class, X, y, sample_weight):
        params = dict(self.params or {})
        y = np.ravel(y)
        self.n_estimators_ = int(params.get("n_estimators", 100))
        if self.stop:
            self.n_estimators_ = cv_rounds(
                params, X, y, sample_weight, self.categorical, int(self.stop), self.objective
            )
        self.model_ = model_class(**{**params, "n_estimators": self.n_estimators_}).fit(
            X,
            y,
            sample_weight=sample_weight,
            categorical_feature=list(self.categorical or []) or "auto",
        )
        return self


class LightGBMProbability(ClassifierMixin, _LightGBMBase):
    """A LightGBM classifier whose ``predict`` is P(y = 1): the meta-learners take outcome
    models' ``predict`` as the outcome's expectation, which for churn is its probability."""

    objective = "binary"

    def fit(self, X, y, sample_weight=None):
        import lightgbm as lgb

        self._fit(lgb.LGBMClassifier, X, y, sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self.model_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.model_.predict_proba(X)[:, 1]

    def score(self, X, y, sample_weight=None) -> float:
        """Negative log-loss (econml reports nuisance models' scores; accuracy would need
        class predictions)."""
        from sklearn.metrics import log_loss

        return -log_loss(np.ravel(y), self.predict_proba(X), sample_weight=sample_weight)


class LightGBMEffect(RegressorMixin, _LightGBMBase):
    """A LightGBM regressor of the effect stage."""

    objective = "regression"

    def fit(self, X, y, sample_weight=None):
        import lightgbm as lgb

        return self._fit(lgb.LGBMRegressor, X, y, sample_weight)

    def predict(self, X) -> np.ndarray:
        return self.model_.predict(X)


def cv_rounds(
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray | None,
    categorical: list[int] | None,
    stop: int,
    objective: str,
) -> int:
    """The boosting rounds at which ``CV_FOLDS``-fold cross-validated loss (log-loss, or
    squared error for a regressor) of a LightGBM model with ``params`` stopped improving; at
    most ``params["n_estimators"]``. Stratified for classifiers; too few rows of a class to
    stratify: 1 round (the base rate)."""
    import lightgbm as lgb

    binary = objective == "binary"
    folds = CV_FOLDS
    if binary:
        folds = min(folds, int(np.bincount(y.astype(int), minlength=2).min()))
        if folds < 2:
            return 1
    core = {k: v for k, v in params.items() if k != "n_estimators"}
    core.update(
        objective=objective,
        metric="binary_logloss" if binary else "l2",
        feature_pre_filter=False,
    )
    data = lgb.Dataset(X, y, weight=weight, categorical_feature=categorical or "auto", params=core)
    result = lgb.cv(
        core,
        data,
        num_boost_round=int(params["n_estimators"]),
        nfold=folds,
        stratified=binary,
        seed=int(core.get("random_state", 0)),
        callbacks=[lgb.early_stopping(stop, verbose=False)],
    )
    return max(1, len(next(iter(result.values()))))


def check_arms(y: np.ndarray, treated: np.ndarray, rows: str) -> None:
    """Both arms among ``rows``, each with churners and non-churners: an arm without them
    leaves its outcome model nothing to learn."""
    for arm, name in _ARMS:
        in_arm = treated == arm
        if not in_arm.any():
            raise ValueError(f"the {rows} rows have no {name} rows (treated = {arm})")
        churned = int(y[in_arm].sum())
        if churned in (0, int(in_arm.sum())):
            kind = "no churners" if churned == 0 else "only churners"
            raise ValueError(f"the {rows} rows' {name} arm has {kind} among {in_arm.sum()} rows")


@contextmanager
def _quiet() -> Iterator[None]:
    """econml warns on any missing feature value (a missing usage count is no threat to a
    randomized comparison) and hands classifiers column-vector labels."""
    from sklearn.exceptions import DataConversionWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*contains NaN", category=UserWarning)
        warnings.filterwarnings("ignore", category=DataConversionWarning)
        yield


UPLIFT_FAMILIES: dict[str, type[UpliftEstimator]] = {
    "uplift_t": TLearnerUplift,
    "uplift_x": XLearnerUplift,
    "uplift_dr": DRLearnerUplift,
}
