"""The linear models' preprocessing, shared by the logistic and Cox families.

Numbers: a per-column shape transform (:class:`NumericShape`), median imputation with
missing-value indicators, standard scaling. Categoricals: one-hot (rare levels grouped, unseen
levels ignored). ``column_owners`` maps each transformed column back to the input feature it
comes from, so attributions computed on the transformed columns (w_j * (z_j - mean_j)) sum
exactly to per-feature attributions.

``numeric_transform`` (a keyword of both linear families) says how numbers are shaped:

- ``"auto"`` (default): each numeric column gets the transform :class:`NumericShape` picks on
  the training rows, and the family then keeps this preprocessing only if it scores better on
  the validation rows than plain scaling (:func:`better_on_validation`), so the linear
  families are never worse on validation than plain scaling;
- ``"per_column"``: the per-column transforms alone, not compared with plain scaling (what a
  refit uses once "auto" kept them on the validation rows);
- ``"scale"``: plain scaling (no transform);
- ``"signed_log1p"``: sign(x) * log1p(|x|) on every numeric column (before 0.x: the only
  behaviour; models pickled then load with this value).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    PowerTransformer,
    StandardScaler,
)

NUMERIC_TRANSFORMS = ("auto", "per_column", "scale", "signed_log1p")
SHAPES = ("none", "signed_log1p", "yeo_johnson")  # in order of preference
SHAPE_NAMES = {"auto": "per_column", "none": "scale", "signed_log1p": "signed_log1p"}
SKEW_OK = 0.5  # |skewness| at or below which a column counts as symmetric enough


def _signed_log1p(x):
    return np.sign(x) * np.log1p(np.abs(x))


def _as_text(x):
    return pd.DataFrame(x).astype(object).where(pd.DataFrame(x).notna(), "(missing)")


def _abs_skew(values: np.ndarray) -> np.ndarray:
    """|sample skewness| per column, missing values left out (0 for constant columns)."""
    with np.errstate(all="ignore"):
        s = pd.DataFrame(values).skew()
    return s.abs().fillna(0.0).to_numpy()


class NumericShape(TransformerMixin, BaseEstimator):
    """A per-column transform of numbers, chosen on the rows it is fitted on (the training rows).

    Criterion, per column: the first of ``none``, ``signed_log1p``, ``yeo_johnson`` (scikit-
    learn's ``PowerTransformer``, lambda fitted by maximum likelihood) whose output has
    |skewness| <= ``SKEW_OK`` (0.5); if none gets there, the one with the smallest |skewness|.
    Columns with two or fewer distinct values are left as they are. Skewness is label-free and
    cheap, and it targets what hurts a linear model with scaled inputs: a long tail, where a few
    extreme rows set the coefficient and squeeze every other row into a narrow range. It does
    not look at the label, so whether the shaped columns actually predict better is settled by
    the families on the validation rows (:func:`better_on_validation`).

    ``method="signed_log1p"`` applies the signed log1p to every column; ``"none"`` nothing.
    Missing values stay missing (imputation follows). ``choices_`` maps each column to its
    transform.

    >>> X = pd.DataFrame({"flat": [1.0, 2, 3, 4, 5, 6, 7], "tail": [1.0, 3, 10, 30, 100, 300, 1000]})
    >>> NumericShape().fit(X).choices_
    {'flat': 'none', 'tail': 'signed_log1p'}
    """

    def __init__(self, method: str = "auto"):
        self.method = method

    def fit(self, X, y=None):
        frame = pd.DataFrame(X).astype("float64")
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.power_ = None  # Yeo-Johnson fitted on the columns that needed it ("auto" only)
        if self.method in ("none", "signed_log1p"):
            self.choices_ = dict.fromkeys(map(str, frame.columns), self.method)
        elif self.method == "auto":
            self.choices_ = self._choose(frame)
        else:
            raise ValueError(
                f"NumericShape: method must be auto, none or signed_log1p, got {self.method!r}"
            )
        return self

    def _choose(self, frame: pd.DataFrame) -> dict[str, str]:
        values = frame.to_numpy()
        skews = {"none": _abs_skew(values), "signed_log1p": _abs_skew(_signed_log1p(values))}
        wide = (frame.nunique() > 2).to_numpy()
        # Yeo-Johnson (a maximum-likelihood fit per column, the costly candidate) only where
        # neither cheaper shape is symmetric enough: the choice is the same, since it is only
        # ever taken after both of those fail
        needy = wide & (skews["none"] > SKEW_OK) & (skews["signed_log1p"] > SKEW_OK)
        # (kept as fitted: the columns that end up with another shape pass through it unused)
        if needy.any():
            yj = np.full(len(needy), np.inf)
            self.power_ = PowerTransformer(method="yeo-johnson", standardize=False)
            with np.errstate(all="ignore"):
                yj[needy] = _abs_skew(self.power_.fit_transform(frame.loc[:, needy]))
            skews["yeo_johnson"] = yj
        choices = {}
        for j, col in enumerate(map(str, frame.columns)):
            if not wide[j]:
                choices[col] = "none"
                continue
            per = {name: float(s[j]) for name, s in skews.items()}
            ok = [name for name in SHAPES if per.get(name, np.inf) <= SKEW_OK]
            choices[col] = ok[0] if ok else min(per, key=per.get)
        return choices

    def transform(self, X):
        frame = pd.DataFrame(X, columns=self.feature_names_in_).astype("float64")
        out = frame.copy()
        log_cols = [c for c, how in self.choices_.items() if how == "signed_log1p"]
        if log_cols:
            out[log_cols] = _signed_log1p(frame[log_cols].to_numpy())
        if self.power_ is not None:
            fitted = list(self.power_.feature_names_in_)
            shaped = pd.DataFrame(self.power_.transform(frame[fitted]), columns=fitted)
            yj = [c for c in fitted if self.choices_[c] == "yeo_johnson"]
            out[yj] = shaped[yj].to_numpy()
        return out.to_numpy()

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_in_, dtype=object)


def linear_preprocessor(
    numeric: list[str], categorical: list[str], shape: str = "signed_log1p"
) -> ColumnTransformer:
    """An unfitted transformer from the prepared frame to the linear models' design matrix;
    ``shape`` is :class:`NumericShape`'s method for the numeric columns ("none": plain
    scaling)."""
    steps = [
        (
            "num",
            make_pipeline(
                NumericShape(method=shape),
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
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


def candidate_shapes(numeric_transform: str) -> list[str]:
    """The :class:`NumericShape` methods a linear family fits for its ``numeric_transform``:
    "auto" tries the per-column choice and plain scaling (in that order), the others one."""
    if numeric_transform not in NUMERIC_TRANSFORMS:
        raise ValueError(
            f"numeric_transform must be one of {list(NUMERIC_TRANSFORMS)}, got {numeric_transform!r}"
        )
    return {
        "auto": ["auto", "none"],
        "per_column": ["auto"],
        "scale": ["none"],
        "signed_log1p": ["signed_log1p"],
    }[numeric_transform]


def shape_choices(pre: ColumnTransformer) -> dict[str, str]:
    """Column -> transform of a fitted :func:`linear_preprocessor` (empty without numbers)."""
    num = pre.named_transformers_.get("num")
    shape = getattr(num, "named_steps", {}).get("numericshape")
    return dict(shape.choices_) if shape is not None else {}


def better_on_validation(scores: dict[str, float]) -> str:
    """The candidate with the best validation score; on a tie the later one (plain scaling,
    the simpler preprocessing, is tried last).

    >>> better_on_validation({"auto": 0.80, "none": 0.80})
    'none'
    """
    names = list(scores)
    return max(reversed(names), key=lambda n: np.nan_to_num(scores[n], nan=-np.inf))


def choose_preprocessing(
    numeric_transform: str,
    fit_and_score: Callable[[str], tuple[Any, ColumnTransformer, float]],
    validated: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Fit a linear family once per candidate preprocessing of ``numeric_transform`` and keep
    the one with the best validation score.

    ``fit_and_score(shape)`` fits the family on the training rows with
    ``linear_preprocessor(..., shape)`` and returns (the fitted thing, its fitted preprocessor,
    the validation score, higher is better). With "auto", the per-column choice is fitted first;
    when it leaves every column as it is, it *is* plain scaling and nothing else is fitted.
    ``validated=False`` (no validation target to score on) keeps plain scaling for "auto".
    Returns the kept fit and the record of the choice (what the run logs)."""
    shapes = candidate_shapes(numeric_transform)
    if not validated and numeric_transform == "auto":
        shapes = ["none"]
    fits: dict[str, tuple[Any, ColumnTransformer, float]] = {}
    for shape in shapes:
        unshaped = "auto" in fits and set(shape_choices(fits["auto"][1]).values()) <= {"none"}
        if shape == "none" and unshaped:
            break
        fits[shape] = fit_and_score(shape)
    scores = {s: float(f[2]) for s, f in fits.items()}
    kept = better_on_validation(scores)
    fitted, pre, _ = fits[kept]
    record = {
        "numeric_transform": numeric_transform,
        "kept": SHAPE_NAMES[kept],
        "columns": shape_choices(pre),
        "validation_score": {
            SHAPE_NAMES[s]: v if np.isfinite(v) else None for s, v in scores.items()
        },
    }
    return fitted, record


def independent_columns(Z: np.ndarray, rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """The columns of a design matrix a model without an intercept of its own (Cox) can
    identify: (kept, collinear) column indices, constant columns in neither.

    Constant columns (an all-present feature's missing indicator) carry no information;
    collinear ones are exact linear combinations of the kept columns and the constant (the
    levels of a one-hot encoding sum to 1, columns missing together share one indicator, a
    column that is another times 12). Both make the Hessian singular, and with them a fit's
    coefficients are not unique. Found by a rank-revealing QR (column pivoting) of the centred,
    scaled columns: a column whose remaining norm is below ``rtol`` times the first one's adds
    nothing. Fitted on the training rows only.

    >>> Z = np.column_stack([[1.0, 2, 3, 4], [2.0, 4, 6, 8], [5.0, 5, 5, 5], [1.0, 0, 0, 1]])
    >>> [c.tolist() for c in independent_columns(Z)]
    [[0, 3], [1]]
    """
    centred = Z - Z.mean(axis=0)
    scale = centred.std(axis=0)
    varying = np.flatnonzero(scale > 1e-12)
    if varying.size == 0:
        return varying, varying
    R = np.linalg.qr(centred[:, varying] / scale[varying], mode="r")
    outside = np.zeros(varying.size)  # beyond as many columns as rows, nothing is new
    outside[: min(R.shape)] = np.abs(np.diag(R))
    new = outside > rtol * np.sqrt(len(Z))
    return varying[new], varying[~new]


def column_owners(names, features: list[str]) -> np.ndarray:
    """The index (in ``features``) of the input feature each transformed column comes from."""
    by_length = sorted(features, key=len, reverse=True)
    owners = []
    for name in names:
        _, _, rest = name.partition("__")
        rest = rest.removeprefix("missingindicator_")
        owners.append(next(f for f in by_length if rest == f or rest.startswith(f + "_")))
    return np.array([features.index(o) for o in owners])
