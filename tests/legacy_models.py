"""Estimators in the layout that models registered before the estimators took keyword parameters
were pickled with: one ``params`` dict, the calibration method and the fitted calibration
(``calibrator_``, a CalibratedClassifierCV of a frozen view of the model's raw score) inside.
Built from a fitted estimator exactly as the old ``fit`` built them, so tests can prove that such
pickles still load and score as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from churnlab.modeling import ChurnEstimator, LightGBMChurnModel, SurvivalChurnEstimator
from churnlab.modeling.gbm import _LogOdds
from churnlab.modeling.survival import _HorizonRisk


def legacy_estimator(
    est: ChurnEstimator,
    params: dict,
    X_val: pd.DataFrame,
    y_val,
    calibration: str = "sigmoid",
) -> ChurnEstimator:
    """A copy of the fitted ``est`` in the old layout, calibrated on the validation rows."""
    old = type(est).__new__(type(est))
    state = {k: v for k, v in vars(est).items() if k.endswith("_")}  # the fitted attributes
    state.update(params=dict(params), calibration=calibration)
    state.update(horizon_days=est.horizon_days, seed=est.seed)
    if isinstance(est, LightGBMChurnModel):
        state.update(callbacks=None, datasets=None)
    old.__dict__.update(state)
    view = _legacy_view(old)
    y = np.asarray(y_val).astype(int)
    old.calibrator_ = CalibratedClassifierCV(FrozenEstimator(view), method=calibration).fit(
        old.prepare(X_val), y
    )
    return old


def legacy_risk(old: ChurnEstimator, X: pd.DataFrame) -> np.ndarray:
    """What the old ``predict_risk`` returned: the calibrator on the prepared columns."""
    return old.calibrator_.predict_proba(old.prepare(X))[:, 1]


def _legacy_view(old: ChurnEstimator):
    if isinstance(old, LightGBMChurnModel):
        return _LogOdds(old.booster_)
    if isinstance(old, SurvivalChurnEstimator):
        return _HorizonRisk(old)
    return old.pipeline_  # logistic: the fitted scikit-learn pipeline
