"""Calibration of a fitted estimator on the validation rows: calibrated risks, validation rows
only, the same numbers as the calibration that used to live inside the estimators, survival
horizons and the family's score columns, and models pickled with their calibration inside."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score

from churnlab.explain import explain
from churnlab.modeling import (
    CoxChurnModel,
    LightGBMChurnModel,
    LightGBMSurvivalModel,
    LogisticChurnModel,
    NotFittedError,
)
from churnlab.training.calibration import CalibratedChurnModel, _RawScore
from tests.legacy_models import legacy_estimator, legacy_risk
from tests.modeling.test_estimators import _frame
from tests.modeling.test_survival import _survival_data


def calibrated(est, X, y, X_val, y_val, method: str = "sigmoid") -> CalibratedChurnModel:
    """Fit ``est`` (early stopping on the validation rows), then calibrate it on them."""
    est.fit(X, y, eval_set=(X_val, y_val))
    return CalibratedChurnModel(est, method).fit(X_val, y_val)


@pytest.fixture(scope="module")
def data():
    return _frame(6000, 1), _frame(3000, 2), _frame(3000, 3)


@pytest.mark.parametrize("cls", [LogisticChurnModel, LightGBMChurnModel])
def test_calibrated_risk(cls, data):
    (X, y), (Xv, yv), (Xt, yt) = data
    est = cls(n_estimators=300) if cls is LightGBMChurnModel else cls()
    model = calibrated(est, X, y, Xv, yv)
    assert model.estimator is est
    p = model.predict_risk(Xt)
    assert ((p >= 0) & (p <= 1)).all()
    # calibrated on held-out rows: mean risk close to the observed rate
    assert abs(p.mean() - yt.mean()) < 0.02
    assert roc_auc_score(yt, p) > 0.7
    # attributions are the estimator's and add up to its raw score
    values, base = model.contributions(Xt)
    np.testing.assert_allclose(values.sum(axis=1) + base, model.predict_raw(Xt), atol=1e-9)
    assert explain(model, Xt.head(50)).scale == "log-odds"
    # scoring: risk, raw score and attributions at once, the same numbers
    risk, raw, together = model.score(Xt)
    np.testing.assert_array_equal(risk, p)
    np.testing.assert_array_equal(raw, est.predict_raw(Xt))
    pd.testing.assert_frame_equal(together, values)
    risk_only, raw_only, none = model.score(Xt, contributions=False)
    np.testing.assert_array_equal(risk_only, p)
    np.testing.assert_array_equal(raw_only, raw)
    assert none is None
    extra = model.extra_outputs(Xt)
    assert extra.columns.empty and extra.index.equals(Xt.index)  # classifiers add no column
    assert not hasattr(model, "predict_survival") and not hasattr(model, "summary")


def test_calibration_uses_validation_rows_only(data):
    """The model is fitted on training rows; the validation rows only move the calibration
    (settings fixed here: with C and the transforms on "auto" the validation labels choose them,
    as they choose LightGBM's rounds)."""
    (X, y), (Xv, yv), (Xt, _) = data
    fixed = {"C": 1.0, "numeric_transform": "scale"}
    a = calibrated(LogisticChurnModel(**fixed), X, y, Xv, yv)
    flipped = pd.Series(np.where(np.arange(len(yv)) % 3 == 0, 1, yv))
    b = calibrated(LogisticChurnModel(**fixed), X, y, Xv, flipped)
    np.testing.assert_allclose(a.predict_raw(Xt), b.predict_raw(Xt))
    assert b.predict_risk(Xt).mean() > a.predict_risk(Xt).mean() + 0.1
    # calibrating again does not refit the estimator
    raw = a.predict_raw(Xt)
    again = CalibratedChurnModel(a.estimator).fit(Xv, flipped)
    np.testing.assert_array_equal(again.predict_raw(Xt), raw)
    np.testing.assert_array_equal(again.predict_risk(Xt), b.predict_risk(Xt))


def test_calibration_weights_rows(data):
    """Weights (recency of pooled cutoffs) move the calibration: rows weighted to nothing do
    not count, and a weight of 2 is the row twice."""
    (X, y), (Xv, yv), (Xt, _) = data
    est = LogisticChurnModel(C=1.0, numeric_transform="scale").fit(X, y, eval_set=(Xv, yv))
    flipped = pd.Series(np.where(np.arange(len(yv)) % 3 == 0, 1, yv))
    both_X, both_y = pd.concat([Xv, Xv], ignore_index=True), pd.concat([yv, flipped])
    w = np.r_[np.ones(len(yv)), np.full(len(yv), 1e-12)]
    only_first = CalibratedChurnModel(est).fit(both_X, both_y.reset_index(drop=True), w)
    plain = CalibratedChurnModel(est).fit(Xv, yv)
    np.testing.assert_allclose(only_first.predict_risk(Xt), plain.predict_risk(Xt), rtol=1e-4)
    twice = CalibratedChurnModel(est).fit(both_X, pd.concat([yv, yv], ignore_index=True))
    doubled = CalibratedChurnModel(est).fit(Xv, yv, np.full(len(yv), 2.0))
    np.testing.assert_allclose(doubled.predict_risk(Xt), twice.predict_risk(Xt), rtol=1e-4)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("cls", [LogisticChurnModel, LightGBMChurnModel])
def test_same_probabilities_as_the_calibration_inside_the_estimator(cls, method, data):
    """The risk is CalibratedClassifierCV (frozen) on the raw score, and equals what the
    estimators' own calibration (a frozen view of the model, fitted on the prepared columns)
    gave."""
    (X, y), (Xv, yv), (Xt, _) = data
    est = cls(n_estimators=100) if cls is LightGBMChurnModel else cls()
    model = calibrated(est, X, y, Xv, yv, method)
    p = model.predict_risk(Xt)
    reference = CalibratedClassifierCV(FrozenEstimator(_RawScore()), method=method)
    reference.fit(est.predict_raw(Xv)[:, None], yv)
    np.testing.assert_array_equal(p, reference.predict_proba(est.predict_raw(Xt)[:, None])[:, 1])
    before = legacy_risk(legacy_estimator(est, {}, Xv, yv, method), Xt)
    np.testing.assert_allclose(p, before, rtol=0, atol=1e-12)


def test_errors(data):
    (X, y), (Xv, yv), (Xt, _) = data
    with pytest.raises(NotFittedError):
        CalibratedChurnModel(LogisticChurnModel()).predict_risk(X)
    with pytest.raises(NotFittedError):
        CalibratedChurnModel(LogisticChurnModel()).fit(Xv, yv)  # the estimator is not fitted
    est = LogisticChurnModel(horizon_days=90).fit(X, y, eval_set=(Xv, yv))
    with pytest.raises(NotFittedError, match="not calibrated yet"):
        CalibratedChurnModel(est).predict_risk(Xt)
    with pytest.raises(ValueError, match="calibration must be 'isotonic' or 'sigmoid'"):
        CalibratedChurnModel(est, "platt").fit(Xv, yv)
    with pytest.raises(ValueError, match="validation rows have only one class"):
        CalibratedChurnModel(est).fit(Xv, yv * 0)
    model = CalibratedChurnModel(est).fit(Xv, yv)
    with pytest.raises(ValueError, match="predicts churn within 90 days"):
        model.predict_risk(X, 30)
    np.testing.assert_array_equal(model.predict_risk(Xt, 90), model.predict_risk(Xt))
    with pytest.raises(ValueError, match=r"missing feature column\(s\): \['nps'\]"):
        model.score(Xt.drop(columns="nps"))
    # unseen categories are missing values, for the calibrated risk too
    assert np.isfinite(model.predict_risk(Xt.head(5).assign(plan="platinum"))).all()


# -- survival families -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def survival_models():
    X, d, e, _, _ = _survival_data(3000, 1)
    Xv, dv, ev, _, tv = _survival_data(1500, 2)
    yv = (tv <= 90).astype(int)  # the validation cutoff's labels are complete
    models = {
        "cox": CoxChurnModel(horizon_days=90),
        "lightgbm_survival": LightGBMSurvivalModel(
            n_estimators=150, min_child_samples=50, learning_rate=0.1, horizon_days=90
        ),
    }
    out = {}
    for family, est in models.items():
        est.fit(X, duration=d, event=e, eval_set=(Xv, yv, dv, ev))
        out[family] = CalibratedChurnModel(est, "sigmoid").fit(Xv, yv)
    return out, _survival_data(1500, 3), (Xv, yv)


@pytest.mark.parametrize("family", ["cox", "lightgbm_survival"])
def test_survival_risk_calibrated_at_the_trained_horizon(survival_models, family):
    models, (Xt, _, _, _, t), _ = survival_models
    model = models[family]
    # the risk at the trained horizon is calibrated; the truth is known here (uncensored t)
    p90 = model.predict_risk(Xt)
    assert abs(p90.mean() - (t <= 90).mean()) < 0.03
    np.testing.assert_array_equal(model.predict_risk(Xt, 90), p90)
    # other horizons: 1 - S(h), ordered
    p30, p60 = model.predict_risk(Xt, 30), model.predict_risk(Xt, 60)
    np.testing.assert_allclose(p30, 1 - model.predict_survival(Xt, [30])[:, 0])
    assert (p30 <= p60 + 1e-12).all()
    out = model.extra_outputs(Xt)
    assert list(out.columns) == [
        "p_churn_30d",
        "p_churn_60d",
        "p_churn_90d",
        "expected_lifetime_days",
    ]
    np.testing.assert_allclose(out.p_churn_90d, p90)
    np.testing.assert_allclose(out.p_churn_30d, p30)
    assert out.expected_lifetime_days.between(0, 180).all()
    # higher risk, shorter expected lifetime
    assert np.corrcoef(p90, out.expected_lifetime_days)[0, 1] < -0.9
    # scoring: the calibrated risk and the attributions of the log-hazard
    risk, raw, values = model.score(Xt)
    np.testing.assert_array_equal(risk, p90)
    np.testing.assert_array_equal(raw, model.predict_raw(Xt))  # logit(1 - S(90)): tiers cut it
    np.testing.assert_allclose(
        values.sum(axis=1) + model.contributions(Xt)[1], model.predict_log_hazard(Xt), atol=1e-8
    )
    assert explain(model, Xt.head(50)).scale == "log-hazard"
    assert hasattr(model, "summary") == (family == "cox")
    assert hasattr(model, "plot_hazard_ratios") == (family == "cox")


@pytest.mark.parametrize("family", ["cox", "lightgbm_survival"])
def test_survival_calibration_equals_the_one_inside_the_estimator(survival_models, family):
    models, (Xt, *_), (Xv, yv) = survival_models
    model = models[family]
    old = legacy_estimator(model.estimator, {}, Xv, yv)
    np.testing.assert_allclose(model.predict_risk(Xt), legacy_risk(old, Xt), rtol=0, atol=1e-12)


# -- models pickled with their calibration inside ----------------------------------------------
@pytest.mark.parametrize(
    ("cls", "params", "method"),
    [
        (LogisticChurnModel, {"C": 0.5}, "sigmoid"),
        (LightGBMChurnModel, {"n_estimators": 60}, "isotonic"),
        (CoxChurnModel, {"penalizer": 0.2}, "sigmoid"),
    ],
)
def test_models_pickled_with_their_calibration_inside_predict_as_before(cls, params, method, data):
    (X, y), (Xv, yv), (Xt, _) = data
    est = cls(**params, horizon_days=90)
    if est.kind == "survival":
        rng = np.random.default_rng(0)
        d = np.where(y == 1, rng.uniform(1, 90, len(y)), rng.uniform(60, 200, len(y)))
        est.fit(X, duration=d, event=y, eval_set=(Xv, yv))
    else:
        est.fit(X, y, eval_set=(Xv, yv))
    old = legacy_estimator(est, params, Xv, yv, method)
    expected = legacy_risk(old, Xt)

    loaded = pickle.loads(pickle.dumps(old))
    model = CalibratedChurnModel.from_legacy(loaded)
    assert model.estimator is loaded and model.method == method
    assert not {"calibrator_", "calibration", "params"} & set(vars(loaded))
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(model.predict_risk(Xt), expected)
    np.testing.assert_array_equal(model.score(Xt)[0], expected)
    if est.kind == "survival":
        np.testing.assert_array_equal(model.extra_outputs(Xt).p_churn_90d, expected)
