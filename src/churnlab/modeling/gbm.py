"""LightGBM with native categoricals and early stopping on the validation cutoff.
Attributions: exact tree SHAP from LightGBM's own ``pred_contrib`` (multi-threaded C++), run
once per distinct decision pattern per tree (``tree_shap``)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from churnlab.config import threads
from churnlab.modeling.base import ChurnEstimator
from churnlab.modeling.tree_shap import lightgbm_contributions, small_batch_threads


@functools.cache
def lightgbm_parameters() -> frozenset[str] | None:
    """Every name LightGBM takes: its parameters and their aliases (from the library itself),
    and the scikit-learn API's names."""
    import lightgbm as lgb

    try:
        core = lgb.basic._ConfigAliases._get_all_param_aliases()
    except Exception:  # a LightGBM without the alias dump (private API): names are not checked
        return None
    names = {alias for aliases in core.values() for alias in aliases}
    return frozenset(names | set(lgb.LGBMClassifier().get_params()))


# what LightGBM's model format refuses in a feature name (the JSON characters " , : [ ] { }),
# and the spaces it turns into "_" (refusing the duplicates that makes)
_NOT_IN_LIGHTGBM_NAMES = re.compile(r'[",:\[\]{}\s]')


def lightgbm_feature_names(names: Sequence[str]) -> list[str]:
    """The names LightGBM is given for the columns ``names``, in order: the characters it
    refuses (or rewrites) become ``_``, and a name made equal to an earlier one gets a
    suffix. Only LightGBM sees them; predictions read columns by position, and the estimator
    keeps the table's own names everywhere else (a column ``Plan: tier`` or
    ``Revenue [USD]`` failed a fit with "Do not support special JSON characters").

    >>> lightgbm_feature_names(["Plan: tier", "Plan_ tier", "Revenue [USD]", "ok"])
    ['Plan__tier', 'Plan__tier_2', 'Revenue__USD_', 'ok']
    """
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = candidate = _NOT_IN_LIGHTGBM_NAMES.sub("_", str(name))
        k = 1
        while candidate in taken:
            k += 1
            candidate = f"{base}_{k}"
        taken.add(candidate)
        out.append(candidate)
    return out


class LightGBMChurnModel(ChurnEstimator):
    """The keywords before ``extra_params`` are LightGBM parameters (scikit-learn API names;
    ``n_estimators`` is the cap on boosting rounds, ``early_stopping_rounds`` the patience on
    the validation rows); ``extra_params`` takes any other (e.g. ``reg_alpha``, ``max_bin``).

    ``callbacks``: extra LightGBM callbacks run after each boosting round (the tuning pruner
    uses this). ``datasets``: a dict shared by fits on the *same* training and validation rows
    (tuning trials): the first fit stores its binned LightGBM Datasets there and later fits
    reuse them instead of re-binning the rows. Models meant for logging are made without
    either.

    ``num_leaves`` and ``min_child_samples`` left at None scale with the training rows n
    (:func:`size_defaults`): ``min_child_samples = clip(round(n / 150), 5, 50)`` and
    ``num_leaves = clip(round(n / 200), 7, 15)``, so from 7,500 rows on they are the fixed
    defaults they replace (50 and 15) and a 3,000-row table gets 20 and 15. A value given
    (spec, tuning) always wins. ``resolved_params_`` holds the values the fit used.
    """

    family = "lightgbm"

    @classmethod
    def library_parameters(cls) -> frozenset[str] | None:
        return lightgbm_parameters()

    def __init__(
        self,
        *,
        n_estimators: int = 2000,
        learning_rate: float = 0.03,
        num_leaves: int | None = None,
        min_child_samples: int | None = None,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.7,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 100,
        extra_params: dict[str, Any] | None = None,
        horizon_days: int | None = None,
        seed: int = 42,
        callbacks: list[Callable] | None = None,
        datasets: dict | None = None,
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
        self.callbacks = callbacks
        self.datasets = datasets

    def _fit_model(self, X, y, X_val, y_val) -> None:
        import lightgbm as lgb

        self.resolved_params_ = size_defaults(len(X), self.num_leaves, self.min_child_samples)
        params = {
            "objective": "binary",
            "metric": "binary_logloss",
            "random_state": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "n_jobs": threads(),
            "verbose": -1,
            **self._model_params(),
            **self.resolved_params_,
        }
        stop = int(params.pop("early_stopping_rounds") or 0)
        rounds = int(params.pop("n_estimators"))
        train_set, valid_set = self._datasets(X, y, X_val, y_val, params)
        # early_stopping_rounds 0: exactly n_estimators rounds (a refit with the rounds chosen)
        stopping = [lgb.early_stopping(stop, verbose=False)] if stop > 0 else []
        self.booster_ = lgb.train(
            params,
            train_set,
            num_boost_round=rounds,
            valid_sets=[valid_set],
            callbacks=[*stopping, *(self.callbacks or [])],
        )
        self.best_iteration_ = int(
            self.booster_.best_iteration or self.booster_.current_iteration()
        )

    def _datasets(self, X, y, X_val, y_val, params: dict):
        """The training and validation Datasets, binned with the fit's params (seed, max_bin,
        ...): built here, or reused from ``self.datasets`` when an earlier fit stored Datasets
        of the same rows binned the same way there (else they are rebuilt and replace them)."""
        import lightgbm as lgb

        # min_data_in_leaf (min_child_samples) may change between fits of one Dataset only when
        # features are not pre-filtered by it; off for every fit, so a tuning trial and the
        # final model with the same params are the same model
        params = {**params, "feature_pre_filter": False}
        names = lightgbm_feature_names(self.feature_names_in_)
        own = dict(zip(self.feature_names_in_, names, strict=True))
        categorical = [own[c] for c in self.categorical_] or "auto"
        named = {"feature_name": names, "categorical_feature": categorical, "params": params}
        train_set = lgb.Dataset(X, y, **named)
        cache = self.datasets
        if cache is None:
            return train_set, lgb.Dataset(X_val, y_val, reference=train_set, **named)
        binning = {k: params.get(k) for k in ("seed", "random_state", "data_random_seed")}
        key = (
            _digest(X, y),
            _digest(X_val, y_val),
            sorted({**train_set.get_params(), **binning}.items(), key=str),
        )
        if cache.get("key") != key:
            valid_set = lgb.Dataset(X_val, y_val, reference=train_set, **named)
            cache.clear()
            cache.update(key=key, train=train_set.construct(), validation=valid_set.construct())
        return cache["train"], cache["validation"]

    def refit_params(self) -> dict[str, Any]:
        """The leaf settings this fit used and its early-stopped rounds, without early
        stopping; ``refit_rows_ratio`` scales the rounds (more rows carry more rounds)."""
        self._check_fitted()
        return {
            **self.resolved_params_,
            "n_estimators": self.best_iteration_,
            "early_stopping_rounds": 0,
        }

    def __setstate__(self, state: dict) -> None:
        # models pickled before churnlab trained through lgb.train held an LGBMClassifier
        if "booster_" not in state and "model_" in state:
            state["booster_"] = state.pop("model_").booster_
        super().__setstate__(state)

    def _raw_log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(X, raw_score=True, **small_batch_threads(len(X)))

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        values = lightgbm_contributions(self.booster_, X)
        return values[:, :-1], values[:, -1]


def size_defaults(
    n_train: int, num_leaves: int | None = None, min_child_samples: int | None = None
) -> dict[str, int]:
    """``num_leaves`` and ``min_child_samples`` for ``n_train`` training rows: the values given,
    else defaults that loosen on small tables (too conservative a leaf size is what lost
    LightGBM 0.02 PR-AUC on 3,000-row tables) and are the old fixed defaults from 7,500 rows.

    >>> size_defaults(3000), size_defaults(100_000), size_defaults(600, num_leaves=31)
    ({'num_leaves': 15, 'min_child_samples': 20}, {'num_leaves': 15, 'min_child_samples': 50}, {'num_leaves': 31, 'min_child_samples': 5})
    """
    auto_leaves = int(np.clip(round(n_train / 200), 7, 15))
    auto_child = int(np.clip(round(n_train / 150), 5, 50))
    return {
        "num_leaves": int(num_leaves) if num_leaves is not None else auto_leaves,
        "min_child_samples": int(min_child_samples)
        if min_child_samples is not None
        else auto_child,
    }


def _digest(X: pd.DataFrame, y: np.ndarray) -> str:
    """Of the rows' values, columns, dtypes and labels."""
    h = hashlib.sha1(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    h.update(repr([(c, str(t)) for c, t in X.dtypes.items()]).encode())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


class _LogOdds(ClassifierMixin, BaseEstimator):
    """The fitted LightGBM booster seen through its raw log-odds: what the calibration inside
    models pickled before calibration left the estimators was fitted on (kept so they load)."""

    def __init__(self, booster=None):
        self.booster = booster

    def __setstate__(self, state: dict) -> None:
        if "booster" not in state and "model" in state:  # pickled with an LGBMClassifier
            state["booster"] = state.pop("model").booster_
        super().__setstate__(state)

    @property
    def classes_(self):
        return np.array([0, 1])

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y):  # never called: the model is fitted (wrapped in FrozenEstimator)
        return self

    def decision_function(self, X):
        return self.booster.predict(X, raw_score=True, **small_batch_threads(len(X)))

    def predict_proba(self, X):
        p = self.booster.predict(X, **small_batch_threads(len(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)
