"""Scoring with a registered model, for the notebooks: the one place that calls the model.

Until the batch scoring API (issue 7) lands this loads the pyfunc model by URI and calls its
``predict`` on a feature table built by the same point-in-time builders the model was trained
with; swap :func:`score` for the batch API at merge.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from churnlab.data.io import Dataset
from churnlab.features import build_features, build_observations

# imported here, not lazily: churnlab.tracking pulls in plotting modules that select matplotlib's
# Agg backend, which must happen before a notebook's `%matplotlib inline`
from churnlab.tracking.store import connect


def champion_uri(experiment: str, model_name: str | None = None) -> str:
    """``models:/<model>@champion``; the model defaults to ``churn-<experiment>``."""
    return f"models:/{model_name or f'churn-{experiment}'}@champion"


def load_model(model_uri: str) -> Any:
    """The MLflow pyfunc model (``.unwrap_python_model()`` gives the ``ChurnModel``)."""
    import mlflow.pyfunc

    connect()
    return mlflow.pyfunc.load_model(model_uri)


def feature_frame(dataset: Dataset, churn_model: Any, cutoff: str | pd.Timestamp) -> pd.DataFrame:
    """The model's input at ``cutoff``: accounts active then, with the builders it was trained
    with (labels kept for hindsight, when the data reach past the cutoff)."""
    spec = churn_model.feature_spec
    if spec.get("kind") != "events":
        raise ValueError("feature_frame builds event-data features; this model reads a table")
    obs = build_observations(dataset, [pd.Timestamp(cutoff)], int(spec["horizon_days"]))
    names = [b["name"] for b in spec["builders"]]
    table, used = build_features(dataset, obs, names=names)
    frame = dataset.con.to_pyarrow(table).to_pandas()
    frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    dtypes = {f.name: f.dtype for b in used for f in b.features}
    for c in churn_model.features:
        if dtypes.get(c) == "category":  # as in training
            frame[c] = frame[c].astype("string")
        elif pd.api.types.is_integer_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]):
            frame[c] = frame[c].astype("float64")  # counts are declared as doubles
    return frame


def score(model_uri: str, frame: pd.DataFrame) -> pd.DataFrame:
    """p_churn, risk_tier, health_score, revenue_at_risk and reasons per row of ``frame``."""
    model = load_model(model_uri)
    cols = model.unwrap_python_model().input_columns()
    return model.predict(frame[cols])
