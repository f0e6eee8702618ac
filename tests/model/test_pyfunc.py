"""The pyfunc's scoring through the calibrated model's public methods, and models registered
before calibration left the estimators: they load and score exactly as they did."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from churnlab.explain import top_reasons
from churnlab.features import FeatureSpec
from churnlab.model import REASON_COLUMNS, ChurnModel
from churnlab.modeling import CoxChurnModel, LightGBMChurnModel, LogisticChurnModel
from churnlab.training import CalibratedChurnModel
from tests.legacy_models import legacy_estimator, legacy_risk
from tests.modeling.test_estimators import _frame

SURVIVAL_COLUMNS = ["p_churn_30d", "p_churn_60d", "p_churn_90d", "expected_lifetime_days"]


@pytest.fixture(scope="module")
def data():
    return _frame(4000, 1), _frame(2000, 2), _frame(500, 3)


def _fit(est, X, y, X_val, y_val):
    if est.kind != "survival":
        return est.fit(X, y, eval_set=(X_val, y_val))
    rng = np.random.default_rng(0)
    duration = np.where(y == 1, rng.uniform(1, 90, len(y)), rng.uniform(60, 200, len(y)))
    return est.fit(X, duration=duration, event=y, eval_set=(X_val, y_val))


def _pyfunc(estimator, X: pd.DataFrame) -> ChurnModel:
    features = list(X.columns)
    return ChurnModel(
        estimator=estimator,
        feature_spec=FeatureSpec(
            kind="customers",
            features=tuple(features),
            roles={"id": "account_id", "label": "churned", "duration": None, "mrr": "mrr"},
        ),
        tier_thresholds={"high": 0.5, "medium": -1.0},
        descriptions={f: f"the {f}" for f in features},
        drivers={f: "engagement" for f in features},
        horizon_days=90,
        mrr_stats={"mean": 100.0, "median": 90.0},
        model_name="churn-test",
    )


def _input(X: pd.DataFrame) -> pd.DataFrame:
    return X.assign(account_id=np.arange(len(X)), mrr=50.0)


def _expected(old, X: pd.DataFrame, thresholds: dict, templates: dict) -> pd.DataFrame:
    """What the old pyfunc computed, through the old estimator's own calibration."""
    p = legacy_risk(old, X)
    raw = old._raw_log_odds(old.prepare(X))
    values = pd.DataFrame(
        old._contributions(old.prepare(X))[0], columns=old.feature_names_in_, index=X.index
    )
    tier = np.where(
        raw >= thresholds["high"], "high", np.where(raw >= thresholds["medium"], "medium", "low")
    )
    top = top_reasons(values, X, templates, {f: "engagement" for f in X}, k=3, tiers=tier)
    out = pd.DataFrame({"p_churn": p, "risk_tier": tier}, index=X.index)
    return pd.concat([out, top[REASON_COLUMNS]], axis=1)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (LogisticChurnModel, {"C": 0.5}),
        (LightGBMChurnModel, {"n_estimators": 60}),
        (CoxChurnModel, {"penalizer": 0.2}),
    ],
)
def test_models_registered_with_the_calibration_inside_score_as_before(cls, params, data):
    (X, y), (Xv, yv), (Xt, _) = data
    est = _fit(cls(**params, horizon_days=90), X, y, Xv, yv)
    old = legacy_estimator(est, params, Xv, yv)
    pyfunc = _pyfunc(old, Xt)
    expected = _expected(old, Xt, pyfunc.tier_thresholds, pyfunc.reasons)
    if est.kind == "survival":
        S = old.predict_survival(Xt, [30, 60])
        expected["p_churn_30d"], expected["p_churn_60d"] = 1 - S[:, 0], 1 - S[:, 1]
        expected["p_churn_90d"] = expected.p_churn

    loaded = pickle.loads(pickle.dumps(pyfunc))
    assert isinstance(loaded.estimator, CalibratedChurnModel)
    assert loaded.estimator.estimator.get_params() == est.get_params()
    scores = loaded.score(_input(Xt)).set_index(Xt.index)
    np.testing.assert_array_equal(scores.p_churn, expected.p_churn)
    assert (scores.risk_tier == expected.risk_tier).all()
    pd.testing.assert_frame_equal(
        scores[REASON_COLUMNS], expected[REASON_COLUMNS], check_dtype=False
    )
    if est.kind == "survival":
        assert list(scores.columns[-4:]) == SURVIVAL_COLUMNS
        for c in ("p_churn_30d", "p_churn_60d", "p_churn_90d"):
            np.testing.assert_array_equal(scores[c], expected[c])
    else:
        assert not set(SURVIVAL_COLUMNS) & set(scores.columns)


def test_scores_survive_pickling_and_skip_reasons_on_request(data):
    (X, y), (Xv, yv), (Xt, _) = data
    est = LightGBMChurnModel(n_estimators=60).fit(X, y, eval_set=(Xv, yv))
    pyfunc = _pyfunc(CalibratedChurnModel(est).fit(Xv, yv), Xt)
    frame = _input(Xt)
    scores = pyfunc.score(frame)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(pyfunc)).score(frame), scores)
    np.testing.assert_array_equal(scores.p_churn, pyfunc.estimator.predict_risk(Xt))
    fast = pyfunc.score(frame, reasons=False)
    assert list(fast.columns) == list(scores.columns)
    np.testing.assert_array_equal(fast.p_churn, scores.p_churn)
    assert fast.reason_1.isna().all() and fast.contribution_1.isna().all()
