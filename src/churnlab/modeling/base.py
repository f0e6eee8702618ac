"""The estimator contract every family follows (scikit-learn's).

``__init__`` only stores its keyword parameters, so ``get_params``, ``set_params`` and
``sklearn.base.clone`` work; ``fit(X, y, duration=None, event=None, eval_set=None)`` validates,
fits the model on the training rows (the validation rows in ``eval_set`` serve early stopping and
the input checks) and returns ``self``; fitted attributes end in ``_``.
``predict_raw(X)`` is the model's uncalibrated score of churn within the horizon (log-odds);
``contributions(X)`` gives exact additive attributions on the family's ``attribution_scale``
plus the base value, so ``contributions.sum(axis=1) + base`` is that scale's score for every row.
Probabilities are not the estimator's: ``churnlab.training.calibration`` calibrates
``predict_raw`` on the validation rows.

A spec's ``model.params`` dict maps onto the keywords with :meth:`FamilyEstimator.keywords_for`:
the names a family declares go to their keyword, any other library parameter to
``extra_params``. :class:`FamilyEstimator` holds that and the column handling; the uplift
families (``churnlab.modeling.uplift``) share it without the churn contract's methods.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from churnlab.config import SpecError

CATEGORY_KINDS = ("O", "U", "S")
# keyword parameters that are not the model library's: never set from a spec's model.params
RUN_PARAMETERS = frozenset({"horizon_days", "seed", "callbacks", "datasets", "extra_params"})


def is_categorical(col: pd.Series) -> bool:
    """Text and pandas-categorical columns are categorical; numbers and booleans are not."""
    return (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(col.dtype)
        or col.dtype.kind in CATEGORY_KINDS
    )


class NotFittedError(RuntimeError):
    pass


class FamilyEstimator(BaseEstimator):
    """What every family shares, churn and uplift alike: its keyword parameters (checked
    against a spec's ``model.params``), the training columns and their preparation, and the
    fitted check. Families declare their keyword parameters in ``__init__`` (library
    parameters first, in the order the library gets them)."""

    family: ClassVar[str] = ""
    kind: ClassVar[str] = ""

    # -- parameters ----------------------------------------------------------------------------
    @classmethod
    def model_defaults(cls) -> dict[str, Any]:
        """The family's library parameters and their defaults, in signature order."""
        return {
            name: p.default for name, p in _parameters(cls).items() if name not in RUN_PARAMETERS
        }

    @classmethod
    def library_parameters(cls) -> frozenset[str] | None:
        """The names ``extra_params`` passes to the model library (its parameters and their
        aliases), or None when a family does not know them (then any name passes)."""
        return None

    @classmethod
    def check_params(cls, params: Mapping[str, Any], where: str = "model.params") -> None:
        """Raise a :class:`~churnlab.config.SpecError` naming every key of ``params`` the family
        does not take, each with the nearest valid name: a typo (``num_leave``) must not train
        silently with the default."""
        own = list(cls.model_defaults())
        library = cls.library_parameters() if "extra_params" in _parameters(cls) else frozenset()
        if library is None:
            return
        valid = set(own) | library
        unknown = [k for k in params if k not in valid]
        if not unknown:
            return
        lines = []
        for key in unknown:
            # the family's own keywords first: they are what a spec usually means
            near = difflib.get_close_matches(str(key), sorted(own), n=1) or (
                difflib.get_close_matches(str(key), sorted(library), n=1)
            )
            hint = f"did you mean {near[0]!r}?" if near else f"its own: {', '.join(own)}"
            lines.append(f"  {where}.{key}: not a parameter of the {cls.family} family; {hint}")
        raise SpecError(f"unknown {where} name(s) for the {cls.family} family\n" + "\n".join(lines))

    @classmethod
    def keywords_for(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """A spec's ``model.params`` as keyword arguments: the family's own parameters by name,
        any other into ``extra_params`` (an error for families without it).

        >>> from churnlab.modeling import LightGBMChurnModel
        >>> LightGBMChurnModel.keywords_for({"num_leaves": 7, "max_bin": 63})
        {'num_leaves': 7, 'extra_params': {'max_bin': 63}}
        """
        cls.check_params(params)
        names = cls.model_defaults()
        keywords = {k: v for k, v in params.items() if k in names}
        other = {k: v for k, v in params.items() if k not in names}
        return {**keywords, "extra_params": other} if other else keywords

    def _model_params(self) -> dict[str, Any]:
        """The library parameters of this fit: the keywords in signature order, then
        ``extra_params`` (which may not repeat a keyword)."""
        own = {name: getattr(self, name) for name in self.model_defaults()}
        extra = dict(getattr(self, "extra_params", None) or {})
        clash = sorted(set(extra) & set(own))
        if clash:
            raise ValueError(
                f"{self.family}: extra_params {clash} are keyword parameters of "
                f"{type(self).__name__}; set them as keywords"
            )
        return {**own, **extra}

    # -- helpers -------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _learn_columns(self, X: pd.DataFrame) -> None:
        """Record the training columns, which are categorical, and their categories."""
        self.feature_names_in_ = list(X.columns)
        self.categorical_ = [c for c in X.columns if is_categorical(X[c])]
        self.categories_ = {
            c: sorted(pd.Series(X[c]).dropna().astype(str).unique()) for c in self.categorical_
        }

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns in training order, categoricals with the training categories (unseen -> NaN),
        numbers as float64. Missing columns are an error naming them."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(X).__name__}")
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"missing feature column(s): {missing}")
        dtypes = X.dtypes
        ready = [
            c
            for c in self.feature_names_in_
            if c not in self.categorical_
            and (pd.api.types.is_numeric_dtype(dtypes[c]) or pd.api.types.is_bool_dtype(dtypes[c]))
        ]
        # the columns that are numbers already convert in one block (single-row scoring latency)
        block = X[ready].astype("float64")
        out = {}
        for c in self.feature_names_in_:
            if c in block:
                continue
            col = X[c]
            if c in self.categorical_:
                if isinstance(col.dtype, pd.CategoricalDtype) and list(col.cat.categories) == list(
                    self.categories_[c]
                ):
                    out[c] = col.array  # prepared already
                    continue
                col = _as_training_spelling(col, self.categories_[c])
                # values outside the training categories (unseen) and missing ones get code -1
                cats = pd.Index(self.categories_[c], dtype=object)
                codes = cats.get_indexer(col.astype("string").astype(object))
                out[c] = pd.Categorical.from_codes(codes, categories=self.categories_[c])
            else:
                try:
                    out[c] = pd.to_numeric(col, errors="raise").astype("float64")
                except (TypeError, ValueError) as exc:
                    bad = col[pd.to_numeric(col, errors="coerce").isna() & col.notna()].head(3)
                    raise ValueError(
                        f"feature column {c!r} must be numeric; bad values {bad.tolist()}"
                    ) from exc
        if out:
            block = pd.concat([block, pd.DataFrame(out, index=X.index)], axis=1)
        return block[self.feature_names_in_]


# yes/no as tables write it: a category column trained on one spelling (True/False) scores
# the others alike (yes/no, TRUE/FALSE, 1/0) instead of reading them as unseen (missing)
_TRUTH = {
    **dict.fromkeys(("true", "t", "yes", "y", "1", "1.0"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0", "0.0"), False),
}


def _as_training_spelling(col: pd.Series, categories: list[str]) -> pd.Series:
    """``col`` with values in another spelling written as the training categories spell them:
    yes/no values where those are a yes/no pair (``yes`` for ``True``), and values that differ
    from one training category only in case or surrounding spaces (``north`` for ``North``,
    where no other category folds to it); other values as they are."""
    truths = {_TRUTH.get(str(v).strip().casefold()) for v in categories}
    if len(categories) == 2 and truths == {True, False}:
        spelled = {_TRUTH[str(v).strip().casefold()]: v for v in categories}
        truth = col.astype("string").str.strip().str.casefold().map(_TRUTH)
        return truth.map(spelled).where(truth.notna(), col.astype("string"))
    text = col.astype("string")
    known = text.isin(categories).fillna(False) | text.isna()
    if known.all():
        return text
    folds: dict[str, list[str]] = {}
    for v in categories:
        folds.setdefault(str(v).strip().casefold(), []).append(v)
    unique = {k: v[0] for k, v in folds.items() if len(v) == 1}
    mapped = text.str.strip().str.casefold().map(unique)
    return text.where(known | mapped.isna(), mapped)


def unseen_categories(estimator: Any, X: pd.DataFrame) -> dict[str, tuple[int, int, list]]:
    """Per category column of ``estimator`` (or the estimator it wraps): values of ``X`` that
    are neither missing nor a training category in any spelling it reads
    (:func:`_as_training_spelling`), as (unseen, present, a few examples). A model reads
    them as missing."""
    inner = getattr(estimator, "estimator", estimator)
    out = {}
    for c, categories in (getattr(inner, "categories_", None) or {}).items():
        if c not in X:
            continue
        col = _as_training_spelling(X[c], categories)
        present = col.notna()
        unseen = present & ~col.isin(categories).fillna(False)
        if unseen.any():
            out[c] = (int(unseen.sum()), int(present.sum()), X[c][unseen].unique()[:3].tolist())
    return out


class ChurnEstimator(FamilyEstimator):
    """A churn family: fit checks, the raw score and attributions. Families implement
    ``_fit_model``, ``_raw_log_odds`` and ``_contributions``."""

    kind: ClassVar[str] = "classifier"
    attribution_scale: ClassVar[str] = "log-odds"  # what ``contributions`` add up to

    def __setstate__(self, state: dict) -> None:
        # estimators pickled before they took keyword parameters held one ``params`` dict;
        # parameters added since a model was pickled take their defaults
        legacy = state.pop("params", None)
        if legacy:
            state = {**type(self).keywords_for(legacy), **state}
        for name, p in _parameters(type(self)).items():
            state.setdefault(name, p.default)
        if "calibrator_" in state:  # fitted before ``fitted_`` existed
            state.setdefault("fitted_", True)
        super().__setstate__(state)

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series | np.ndarray,
        duration: Any = None,
        event: Any = None,
        eval_set: tuple[pd.DataFrame, Any] | None = None,
    ) -> ChurnEstimator:
        """Fit on the training rows. ``eval_set=(X_validation, y_validation)`` is required:
        early stopping uses it where the family stops early, and the calibration that follows
        fits on the same rows. ``duration`` and ``event`` are for the survival families."""
        if eval_set is None:
            raise ValueError(
                f"{self.family}: fit needs eval_set=(X_validation, y_validation): early stopping "
                "and probability calibration use the validation rows only"
            )
        y = binary_labels(y, "y")
        X_val, y_val = eval_set[0], binary_labels(eval_set[1], "eval_set y")
        check_two_classes(y, "training")
        check_two_classes(y_val, "validation")
        self.__dict__.pop("fitted_", None)  # a failed refit leaves no fitted model behind
        self._learn_columns(X)
        self._fit_model(self.prepare(X), y, self.prepare(X_val), y_val)
        self.fitted_ = True
        return self

    # -- prediction ----------------------------------------------------------------------------
    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """The model's uncalibrated score of churn within the horizon, as log-odds: what
        calibration maps to a probability and risk tiers cut."""
        self._check_fitted()
        return self._raw_log_odds(self.prepare(X))

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Per-feature additive attributions on ``attribution_scale`` and the base value per
        row."""
        self._check_fitted()
        values, base = self._contributions(self.prepare(X))
        return pd.DataFrame(values, columns=self.feature_names_in_, index=X.index), base

    def predict_raw_and_contributions(
        self, X: pd.DataFrame
    ) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
        """``predict_raw`` and ``contributions`` from one column preparation (scoring with
        reasons): the raw score, the attributions per feature and the base value per row."""
        self._check_fitted()
        prepared = self.prepare(X)
        raw = self._raw_log_odds(prepared)
        values, base = self._contributions(prepared)
        return raw, pd.DataFrame(values, columns=self.feature_names_in_, index=X.index), base

    def fit_choices(self) -> dict[str, Any]:
        """What this fit chose from the training and validation rows (resolved size-dependent
        parameters, the linear families' preprocessing, a family's ``fit_record_``: searches
        and retries), as plain data the run logs; empty for families that choose nothing."""
        self._check_fitted()
        return {
            key: value
            for key, value in (
                ("resolved_params", getattr(self, "resolved_params_", None)),
                ("preprocessing", getattr(self, "preprocessing_", None)),
                ("fit", getattr(self, "fit_record_", None)),
            )
            if value
        }

    def refit_params(self) -> dict[str, Any] | None:
        """Keyword parameters that fix what this fit chose on the validation rows (boosting
        rounds, the linear preprocessing), so the same model can be refitted on training and
        validation rows together without them (``training`` does so for single tables); None
        when the family cannot be refitted that way."""
        return None

    def _fit_model(self, X, y, X_val, y_val) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _raw_log_odds(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The keyword parameters of ``cls.__init__`` (``self`` left out)."""
    params = inspect.signature(cls.__init__).parameters
    return {name: p for name, p in params.items() if name != "self"}


def binary_labels(y: Any, name: str) -> np.ndarray:
    """0/1 labels (booleans allowed) as an int array, or an error naming ``name``."""
    arr = np.asarray(pd.Series(y).astype("float64"))
    if np.isnan(arr).any():
        raise ValueError(f"{name}: {int(np.isnan(arr).sum())} missing label(s)")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError(f"{name}: labels must be 0/1 or booleans")
    return arr.astype(int)


def check_two_classes(y: np.ndarray, rows: str) -> None:
    """Churners and non-churners both among ``rows`` (e.g. "validation")."""
    if y.min() == y.max():
        raise ValueError(f"the {rows} rows have only one class (all {bool(y[0])})")
