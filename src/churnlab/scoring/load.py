"""Loading a churnlab model by URI, told the registered version it is, and the error every
scoring input problem raises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from pandas.api.types import is_numeric_dtype

from churnlab.model import ChurnModel, UpliftModel
from churnlab.scoring.check import ScoringError, check_feature_table
from churnlab.tracking import ModelRef, RegistryError, resolve_model


@dataclass
class LoadedModel:
    ref: ModelRef
    pyfunc: Any  # mlflow.pyfunc.PyFuncModel
    model: ChurnModel | UpliftModel
    input_schema: Any  # mlflow.types.Schema

    def predict(
        self, frame: pd.DataFrame, reasons: bool = True, source: str = "features"
    ) -> pd.DataFrame:
        """Check ``frame`` (:func:`check_feature_table`: clear errors, signature types), then
        the pyfunc's predict (signature enforced), as REST and Spark call it."""
        frame = _declared_missing(_dates_as_days(frame, self.model), self.model)
        frame = check_feature_table(frame, self.input_schema, source)
        ids = None
        if "account_id" in frame.columns and not is_numeric_dtype(frame["account_id"]):
            declared = self.input_schema.input_types_dict().get("account_id")
            if str(getattr(declared, "name", declared)) in ("long", "integer"):
                # ids too wide for the signature's integer, kept as text by the check: the
                # pyfunc scores by position and the ids go back as written
                ids = frame["account_id"].to_numpy()
                frame = frame.assign(account_id=np.arange(len(frame), dtype="int64"))
        if isinstance(self.model, UpliftModel):  # no reasons to skip
            scores = self.pyfunc.predict(frame)
        else:
            scores = self.pyfunc.predict(frame, params={"reasons": reasons})
        if ids is not None:
            scores["account_id"] = ids
        return scores


def load_model(uri: str | Path, kind: type = ChurnModel) -> LoadedModel:
    """The pyfunc model behind ``uri``, told its registered version; ``kind``: the model
    class expected (``ChurnModel``, or ``UpliftModel`` for an uplift model)."""
    try:
        ref = resolve_model(uri)
    except RegistryError as exc:
        raise ScoringError(str(exc)) from None
    try:
        pyfunc = mlflow.pyfunc.load_model(
            ref.pinned, model_config={"model_version": ref.version} if ref.version else None
        )
    except MlflowException as exc:
        raise ScoringError(f"cannot load model {ref.uri}: {exc.message}") from exc
    model = pyfunc.unwrap_python_model()
    if not isinstance(model, kind):
        what = "an uplift model" if kind is UpliftModel else "a churnlab churn model"
        raise ScoringError(f"model {ref.uri} is not {what} ({type(model).__name__})")
    if ref.name is None:
        ref.name = model.model_name
    schema = pyfunc.metadata.get_input_schema()
    if schema is None:
        raise ScoringError(f"model {ref.uri} has no input signature")
    return LoadedModel(ref=ref, pyfunc=pyfunc, model=model, input_schema=schema)


def _declared_missing(frame: pd.DataFrame, model: Any) -> pd.DataFrame:
    """A customer-table model's missing-value codes (``data.na_values``: ``-1``, ``?``) as
    missing values, as training read them (a REST client sends the batch as written)."""
    from churnlab.data.single_table import declared_missing

    codes = tuple(getattr(getattr(model, "feature_spec", None), "na_values", ()) or ())
    return declared_missing(frame, codes, skip=("account_id",))[0] if codes else frame


def _dates_as_days(frame: pd.DataFrame, model: Any) -> pd.DataFrame:
    """A customer-table model's date features sent as ISO text (``2024-03-15``, as a REST
    client writes them; or as the training table wrote them, 15/03/2024) as the days since
    1970-01-01 the model was trained on; other values
    are left to the type check, which names them."""
    from churnlab.data.single_table import date_days

    spec = getattr(model, "feature_spec", None)
    dates, orders = getattr(spec, "dates", ()), dict(getattr(spec, "date_orders", ()))
    text = [c for c in dates if c in frame.columns and not is_numeric_dtype(frame[c])]
    converted = {c: days for c in text if (days := date_days(frame[c], orders.get(c))) is not None}
    return frame.assign(**converted) if converted else frame
