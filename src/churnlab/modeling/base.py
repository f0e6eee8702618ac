"""The estimator contract every family follows (scikit-learn style).

``__init__`` only stores parameters; ``fit(X, y, duration=None, event=None, eval_set=None)``
validates, fits the model on the training rows and its probability calibration on ``eval_set``
(the validation cutoff) only, and returns ``self``; fitted attributes end in ``_``.
``predict_risk(X, horizon_days)`` gives calibrated P(churn within the horizon);
``contributions(X)`` gives exact additive attributions on the model's log-odds scale plus the
base value, so ``contributions.sum(axis=1) + base == raw log-odds`` for every row.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

CATEGORY_KINDS = ("O", "U", "S")


def is_categorical(col: pd.Series) -> bool:
    """Text and pandas-categorical columns are categorical; numbers and booleans are not."""
    return (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(col.dtype)
        or col.dtype.kind in CATEGORY_KINDS
    )


class NotFittedError(RuntimeError):
    pass


class ChurnEstimator:
    """Shared column handling and calibration; families implement ``_fit_model``,
    ``_raw_log_odds``, ``_contributions`` and ``_classifier`` (a scikit-learn classifier)."""

    family: ClassVar[str] = ""
    kind: ClassVar[str] = "classifier"

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        calibration: str = "sigmoid",
        horizon_days: int | None = None,
        seed: int = 42,
    ):
        self.params = params
        self.calibration = calibration
        self.horizon_days = horizon_days
        self.seed = seed

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series | np.ndarray,
        duration: Any = None,
        event: Any = None,
        eval_set: tuple[pd.DataFrame, Any] | None = None,
        calibrate: bool = True,
    ) -> ChurnEstimator:
        """``calibrate=False`` skips fitting the calibration: ``predict_raw`` and
        ``contributions`` work, ``predict_risk`` does not (tuning trials scored by a ranking
        metric under sigmoid calibration, which cannot change the ranking, use this)."""
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(
                f"calibration must be 'isotonic' or 'sigmoid', not {self.calibration!r}"
            )
        if eval_set is None:
            raise ValueError(
                f"{self.family}: fit needs eval_set=(X_validation, y_validation): early stopping "
                "and probability calibration use the validation rows only"
            )
        y = _binary(y, "y")
        X_val, y_val = eval_set[0], _binary(eval_set[1], "eval_set y")
        for name, target in (("training", y), ("validation", y_val)):
            if target.min() == target.max():
                raise ValueError(f"the {name} rows have only one class (all {bool(target[0])})")
        for attr in ("fitted_", "calibrator_"):  # a refit leaves nothing of the previous fit
            self.__dict__.pop(attr, None)
        self._learn_columns(X)
        Xt, Xv = self._prepare(X), self._prepare(X_val)
        self._fit_model(Xt, y, Xv, y_val)
        if calibrate:
            self.calibrator_ = CalibratedClassifierCV(
                FrozenEstimator(self._classifier()), method=self.calibration
            ).fit(Xv, y_val)
        self.fitted_ = True
        return self

    # -- prediction ----------------------------------------------------------------------------
    def predict_risk(self, X: pd.DataFrame, horizon_days: int | None = None) -> np.ndarray:
        """Calibrated probability of churn within the trained horizon."""
        self._check_fitted()
        if not hasattr(self, "calibrator_"):
            raise NotFittedError(
                f"this {type(self).__name__} was fitted with calibrate=False: it has no "
                "probabilities, only predict_raw"
            )
        if horizon_days is not None and self.horizon_days and horizon_days != self.horizon_days:
            raise ValueError(
                f"this {self.family} model predicts churn within {self.horizon_days} days; "
                f"for other horizons ({horizon_days}) train a survival family or another model"
            )
        return self.calibrator_.predict_proba(self._prepare(X))[:, 1]

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds of the fitted model (what ``contributions`` add up to)."""
        self._check_fitted()
        return self._raw_log_odds(self._prepare(X))

    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Per-feature additive attributions on the log-odds scale and the base value per row."""
        self._check_fitted()
        values, base = self._contributions(self._prepare(X))
        return pd.DataFrame(values, columns=self.feature_names_in_, index=X.index), base

    # -- helpers -------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        # calibrator_ alone: a model pickled before ``fitted_`` existed
        if not (getattr(self, "fitted_", False) or hasattr(self, "calibrator_")):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _learn_columns(self, X: pd.DataFrame) -> None:
        """Record the training columns, which are categorical, and their categories."""
        self.feature_names_in_ = list(X.columns)
        self.categorical_ = [c for c in X.columns if is_categorical(X[c])]
        self.categories_ = {
            c: sorted(pd.Series(X[c]).dropna().astype(str).unique()) for c in self.categorical_
        }

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
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

    def _fit_model(self, X, y, X_val, y_val) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _raw_log_odds(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _classifier(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(params={self.params!r}, calibration={self.calibration!r})"


def _binary(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(pd.Series(y).astype("float64"))
    if np.isnan(arr).any():
        raise ValueError(f"{name}: {int(np.isnan(arr).sum())} missing label(s)")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError(f"{name}: labels must be 0/1 or booleans")
    return arr.astype(int)
