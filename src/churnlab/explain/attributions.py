"""SHAP attributions for any estimator (through its ``contributions``), global summaries per
feature and per driver, and the plots (beeswarm, dependence)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd


@dataclass
class Explanation:
    """Per-row, per-feature attributions, the base value per row and the feature values they
    explain (same index). ``scale``: what they add up to, the log-odds of churn for the
    classifiers, the log-hazard for the survival families."""

    values: pd.DataFrame
    base: np.ndarray
    data: pd.DataFrame
    scale: str = "log-odds"

    def categories(self) -> dict[str, list[str]]:
        """The levels of each non-numeric feature, in the order ``to_shap`` codes them."""
        return {c: list(levels) for c, levels in self._categories.items()}

    @cached_property
    def _categories(self) -> dict[str, list[str]]:
        # worked out once: every plot of a run asks (the data do not change after fitting)
        return {
            c: [str(v) for v in pd.Categorical(self.data[c].astype("string")).categories]
            for c in self.data.columns
            if not pd.api.types.is_numeric_dtype(self.data[c])
            or pd.api.types.is_bool_dtype(self.data[c])
        }

    def to_shap(self):
        """A ``shap.Explanation`` for shap's plots: categoricals as their codes in
        ``categories()`` (missing values as NaN). Built once; the plots slice it."""
        return self._shap

    @cached_property
    def _shap(self):
        import shap

        data = self.data.copy()
        for c, levels in self.categories().items():
            codes = pd.Categorical(data[c].astype("string"), categories=levels).codes
            data[c] = np.where(codes < 0, np.nan, codes.astype(float))
        return shap.Explanation(
            values=self.values.to_numpy(),
            base_values=self.base,
            data=data.to_numpy(dtype=float, na_value=np.nan),
            feature_names=list(self.values.columns),
        )


def explain(estimator, X: pd.DataFrame) -> Explanation:
    """The ``contributions`` of a fitted estimator (or calibrated model) on ``X``, on its
    ``attribution_scale``."""
    values, base = estimator.contributions(X)
    return Explanation(
        values=values,
        base=np.asarray(base),
        data=X[list(values.columns)],
        scale=estimator.attribution_scale,
    )


def global_importance(
    expl: Explanation, drivers: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean |SHAP| per feature and per driver (sum of its features), largest first."""
    per_feature = (
        expl.values.abs()
        .mean()
        .rename("mean_abs_shap")
        .rename_axis("feature")
        .reset_index()
        .assign(driver=lambda d: d.feature.map(drivers).fillna("other"))
        .sort_values("mean_abs_shap", ascending=False, ignore_index=True)
    )
    per_feature["share"] = per_feature.mean_abs_shap / per_feature.mean_abs_shap.sum()
    per_driver = (
        per_feature.groupby("driver", as_index=False)[["mean_abs_shap", "share"]]
        .sum()
        .sort_values("mean_abs_shap", ascending=False, ignore_index=True)
    )
    return per_feature, per_driver


def plot_beeswarm(expl: Explanation, max_display: int = 20, ax=None):
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second
    import shap

    ax = ax if ax is not None else plt.subplots(figsize=(8, 0.35 * max_display + 1.5))[1]
    shap.plots.beeswarm(expl.to_shap(), max_display=max_display, ax=ax, show=False, plot_size=None)
    ax.set_title(f"SHAP values ({expl.scale} of churn)")
    return ax


def plot_dependence(expl: Explanation, feature: str, ax=None):
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second
    import shap

    ax = ax if ax is not None else plt.subplots(figsize=(5.5, 4))[1]
    shap.plots.scatter(expl.to_shap()[:, feature], ax=ax, show=False)
    levels = expl.categories().get(feature)
    if levels is not None:  # name the levels, not their codes
        ax.set_xticks(range(len(levels)), levels)
    ax.set_title(f"SHAP dependence: {feature}")
    return ax


def plot_drivers(per_driver: pd.DataFrame, ax=None, scale: str = "log-odds"):
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

    ax = ax if ax is not None else plt.subplots(figsize=(6, 4))[1]
    d = per_driver.sort_values("mean_abs_shap")
    ax.barh(d.driver, d.mean_abs_shap, color="tab:red")
    ax.set_xlabel(f"mean |SHAP| ({scale}), summed over the driver's features")
    ax.set_title("What drives churn risk")
    return ax
