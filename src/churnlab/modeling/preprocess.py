"""The linear models' preprocessing, shared by the logistic and Cox families.

Numbers: median imputation with missing-value indicators, signed log1p, standard scaling.
Categoricals: one-hot (rare levels grouped, unseen levels ignored). ``column_owners`` maps each
transformed column back to the input feature it comes from, so attributions computed on the
transformed columns (w_j * (z_j - mean_j)) sum exactly to per-feature attributions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def _signed_log1p(x):
    return np.sign(x) * np.log1p(np.abs(x))


def _as_text(x):
    return pd.DataFrame(x).astype(object).where(pd.DataFrame(x).notna(), "(missing)")


def linear_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """An unfitted transformer from the prepared frame to the linear models' design matrix."""
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
    if categorical:
        steps.append(
            (
                "cat",
                make_pipeline(
                    FunctionTransformer(_as_text, feature_names_out="one-to-one"),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=False),
                ),
                categorical,
            )
        )
    return ColumnTransformer(steps, verbose_feature_names_out=True)


def column_owners(names, features: list[str]) -> np.ndarray:
    """The index (in ``features``) of the input feature each transformed column comes from."""
    by_length = sorted(features, key=len, reverse=True)
    owners = []
    for name in names:
        _, _, rest = name.partition("__")
        rest = rest.removeprefix("missingindicator_")
        owners.append(next(f for f in by_length if rest == f or rest.startswith(f + "_")))
    return np.array([features.index(o) for o in owners])
