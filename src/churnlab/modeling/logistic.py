"""Logistic baseline: imputation (with missing-value indicators), signed log1p and scaling for
numbers, one-hot for categoricals, L2 logistic regression. Attributions are exact:
w_j * (x_j - mean_j) on the transformed columns, summed back to each input feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from churnlab.modeling.base import ChurnEstimator

DEFAULTS = {"C": 0.05, "max_iter": 5000, "class_weight": None}


def _signed_log1p(x):
    return np.sign(x) * np.log1p(np.abs(x))


def _as_text(x):
    return pd.DataFrame(x).astype(object).where(pd.DataFrame(x).notna(), "(missing)")


class LogisticChurnModel(ChurnEstimator):
    family = "logistic"

    def _fit_model(self, X, y, X_val, y_val) -> None:
        params = {**DEFAULTS, **(self.params or {})}
        numeric = [c for c in X.columns if c not in self.categorical_]
        steps = [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    FunctionTransformer(_signed_log1p, feature_names_out="one-to-one"),
                    StandardScaler(),
                ),
                numeric,
            )
        ]
        if self.categorical_:
            steps.append(
                (
                    "cat",
                    make_pipeline(
                        FunctionTransformer(_as_text, feature_names_out="one-to-one"),
                        OneHotEncoder(
                            handle_unknown="ignore", min_frequency=20, sparse_output=False
                        ),
                    ),
                    self.categorical_,
                )
            )
        pre = ColumnTransformer(steps, verbose_feature_names_out=True)
        self.pipeline_ = Pipeline(
            [("pre", pre), ("lr", LogisticRegression(**{"random_state": self.seed, **params}))]
        ).fit(X, y)
        Z = pre.transform(X)
        self.train_means_ = Z.mean(axis=0)
        self.column_owner_ = self._owners(pre.get_feature_names_out())

    def _owners(self, names) -> np.ndarray:
        """The input feature each transformed column comes from."""
        features = sorted(self.feature_names_in_, key=len, reverse=True)
        owners = []
        for name in names:
            _, _, rest = name.partition("__")
            rest = rest.removeprefix("missingindicator_")
            owners.append(next(f for f in features if rest == f or rest.startswith(f + "_")))
        return np.array([self.feature_names_in_.index(o) for o in owners])

    def _classifier(self):
        return self.pipeline_

    def _raw_log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.decision_function(X)

    def _contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        lr = self.pipeline_.named_steps["lr"]
        Z = self.pipeline_.named_steps["pre"].transform(X)
        w = lr.coef_[0]
        per_column = (Z - self.train_means_) * w
        out = np.zeros((len(X), len(self.feature_names_in_)))
        np.add.at(out.T, self.column_owner_, per_column.T)
        base = float(lr.intercept_[0] + self.train_means_ @ w)
        return out, np.full(len(X), base)
