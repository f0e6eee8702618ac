"""The deployable uplift model: the MLflow pyfunc ``UpliftModel``.

It carries the feature spec (replayed by scoring as for a churn model), the fitted uplift
estimator (``churnlab.modeling.uplift``), the campaign economics of its spec (the defaults
scoring turns an uplift into an expected gain with) and its registered name. ``predict``
takes the feature table (one row per account and cutoff) and returns per row ``account_id``,
``cutoff``, ``uplift`` (the estimated reduction in churn probability within the horizon if the
account is contacted; negative: the contact drives it away), the model name and version.
Expected gains and contact decisions depend on a whole batch and the job's budget: scoring
adds them (``churnlab.scoring.uplift``).
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from churnlab.features import FeatureSpec
from churnlab.modeling import UpliftEstimator
from churnlab.training import TrainResult

UPLIFT_COLUMNS = ("uplift", "uplift_model_name", "uplift_model_version")


class UpliftModel(mlflow.pyfunc.PythonModel):
    def __init__(
        self,
        estimator: UpliftEstimator,
        feature_spec: FeatureSpec,
        horizon_days: int,
        model_name: str,
        campaign: dict[str, float],
        model_version: str | None = None,
    ):
        self.estimator = estimator
        self.feature_spec = feature_spec
        self.horizon_days = horizon_days
        self.model_name = model_name
        self.campaign = dict(campaign)  # value_months, contact_cost, offer_cost
        self.model_version = model_version

    @property
    def features(self) -> list[str]:
        return list(self.feature_spec.features)

    def input_columns(self) -> list[str]:
        return self.feature_spec.input_columns()

    def load_context(self, context) -> None:
        version = (context.model_config or {}).get("model_version")
        self.model_version = None if version in (None, "") else str(version)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None):
        return self.score(model_input)

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Keys, the estimated uplift, and this model's name and version, per row."""
        n = len(frame)
        cols: dict[str, Any] = {
            "account_id": frame["account_id"].to_numpy(),
            "cutoff": frame["cutoff"].to_numpy() if "cutoff" in frame else np.full(n, pd.NaT),
            "uplift": self.estimator.predict_uplift(frame[self.features]),
            "uplift_model_name": np.full(n, self.model_name, dtype=object),
            "uplift_model_version": np.full(n, self.model_version, dtype=object),
        }
        return pd.DataFrame(cols)

    def output_example(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.score(frame).assign(uplift_model_version="")


def build_uplift_pyfunc(result: TrainResult) -> UpliftModel:
    """The pyfunc scoring loads, from what ``training.train`` returned for an uplift family."""
    spec = result.spec
    return UpliftModel(
        estimator=result.estimator,
        feature_spec=result.data.feature_spec,
        horizon_days=spec.horizon_days,
        model_name=spec.model_name,
        campaign=spec.uplift.model_dump(include={"value_months", "contact_cost", "offer_cost"}),
    )
