"""The estimator contract: calibrated risks, exact attributions, column checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.explain import explain
from churnlab.modeling import LightGBMChurnModel, LogisticChurnModel, NotFittedError


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "events_30d": rng.poisson(20, n).astype("int64"),
            "nps": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 11, n)).astype(float),
            "trend": rng.normal(0, 1, n),
            "plan": rng.choice(["basic", "pro", "enterprise"], n),
        }
    )
    logit = -2.5 - 0.08 * (X.events_30d - 20) - 0.8 * X.trend + (X.plan == "basic") * 0.7
    logit = logit + np.where(X.nps.isna(), 0.3, -0.1 * (X.nps.fillna(5) - 5))
    y = pd.Series(rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def data():
    return _frame(6000, 1), _frame(3000, 2), _frame(3000, 3)


@pytest.mark.parametrize("cls", [LogisticChurnModel, LightGBMChurnModel])
def test_calibrated_and_exact_attributions(cls, data):
    (X, y), (Xv, yv), (Xt, yt) = data
    est = cls(params={"n_estimators": 300} if cls is LightGBMChurnModel else None).fit(
        X, y, eval_set=(Xv, yv)
    )
    p = est.predict_risk(Xt)
    assert ((p >= 0) & (p <= 1)).all()
    # calibrated on held-out rows: mean risk close to the observed rate
    assert abs(p.mean() - yt.mean()) < 0.02
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(yt, p) > 0.7
    values, base = est.contributions(Xt)
    assert list(values.columns) == list(X.columns)
    np.testing.assert_allclose(values.sum(axis=1) + base, est.predict_raw(Xt), atol=1e-9)
    assert explain(est, Xt.head(50)).scale == "log-odds"
    # the direction the data were generated with
    assert np.corrcoef(Xt.trend, values.trend)[0, 1] < -0.5


def test_lightgbm_contributions_equal_shap_tree_explainer(data):
    import shap

    (X, y), (Xv, yv), (Xt, _) = data
    est = LightGBMChurnModel(params={"n_estimators": 200}).fit(X, y, eval_set=(Xv, yv))
    ours, base = est.contributions(Xt.head(500))
    prepared = est._prepare(Xt.head(500))
    explainer = shap.TreeExplainer(est.booster_)
    theirs = explainer.shap_values(prepared)
    np.testing.assert_allclose(ours.to_numpy(), theirs, atol=1e-6)
    np.testing.assert_allclose(base, explainer.expected_value, atol=1e-6)


def test_calibration_uses_validation_rows_only(data):
    """The model is fitted on training rows; the validation rows only move the calibration."""
    (X, y), (Xv, yv), (Xt, _) = data
    a = LogisticChurnModel().fit(X, y, eval_set=(Xv, yv))
    flipped = pd.Series(np.where(np.arange(len(yv)) % 3 == 0, 1, yv))
    b = LogisticChurnModel().fit(X, y, eval_set=(Xv, flipped))
    np.testing.assert_allclose(a.predict_raw(Xt), b.predict_raw(Xt))
    assert b.predict_risk(Xt).mean() > a.predict_risk(Xt).mean() + 0.1


def test_columns_checked_and_unseen_categories_handled(data):
    (X, y), (Xv, yv), (Xt, _) = data
    est = LightGBMChurnModel(params={"n_estimators": 50}).fit(X, y, eval_set=(Xv, yv))
    with pytest.raises(ValueError, match=r"missing feature column\(s\): \['nps'\]"):
        est.predict_risk(Xt.drop(columns="nps"))
    with pytest.raises(ValueError, match="'events_30d' must be numeric"):
        est.predict_risk(Xt.assign(events_30d="many"))
    unseen = Xt.head(5).assign(plan="platinum")
    assert np.isfinite(est.predict_risk(unseen)).all()
    assert np.isfinite(LogisticChurnModel().fit(X, y, eval_set=(Xv, yv)).predict_risk(unseen)).all()
    # column order does not matter
    np.testing.assert_allclose(est.predict_risk(Xt[Xt.columns[::-1]]), est.predict_risk(Xt))


def test_fit_requires_validation_and_two_classes(data):
    (X, y), (Xv, yv), _ = data
    with pytest.raises(NotFittedError):
        LogisticChurnModel().predict_risk(X)
    with pytest.raises(ValueError, match="eval_set"):
        LogisticChurnModel().fit(X, y)
    with pytest.raises(ValueError, match="validation rows have only one class"):
        LogisticChurnModel().fit(X, y, eval_set=(Xv, yv * 0))
    with pytest.raises(ValueError, match="predicts churn within 90 days"):
        LogisticChurnModel(horizon_days=90).fit(X, y, eval_set=(Xv, yv)).predict_risk(X, 30)


def test_lightgbm_models_pickled_with_an_lgbmclassifier_still_load(data):
    """Models logged before LightGBM was trained through lgb.train held an LGBMClassifier
    (``model_``, and ``model`` in the calibrator's wrapper); they unpickle and predict."""
    import pickle

    import lightgbm as lgb

    (X, y), (Xv, yv), (Xt, _) = data
    est = LightGBMChurnModel(params={"n_estimators": 50}).fit(X, y, eval_set=(Xv, yv))
    clf = lgb.LGBMClassifier(n_estimators=30, verbose=-1).fit(est._prepare(X), y)
    old = pickle.loads(pickle.dumps(est))
    del old.booster_, old.fitted_, old.datasets
    old.model_ = clf  # the old layout
    wrapper = old.calibrator_.calibrated_classifiers_[0].estimator.estimator
    del wrapper.booster
    wrapper.model = clf
    loaded = pickle.loads(pickle.dumps(old))
    raw = clf.predict(est._prepare(Xt), raw_score=True)
    np.testing.assert_allclose(loaded.predict_raw(Xt), raw)
    assert loaded.predict_risk(Xt).shape == (len(Xt),)
    np.testing.assert_allclose(
        loaded.calibrator_.calibrated_classifiers_[0].estimator.estimator.decision_function(
            est._prepare(Xt)
        ),
        raw,
    )

    loaded.fit(X, y, eval_set=(Xv, yv))  # and refit


def test_a_refit_without_calibration_keeps_no_old_calibrator(data):
    (X, y), (Xv, yv), (Xt, _) = data
    est = LogisticChurnModel().fit(X, y, eval_set=(Xv, yv))
    assert est.predict_risk(Xt).shape == (len(Xt),)
    est.fit(X.iloc[:3000], y.iloc[:3000], eval_set=(Xv, yv), calibrate=False)
    assert est.predict_raw(Xt).shape == (len(Xt),)
    with pytest.raises(NotFittedError, match="calibrate=False"):
        est.predict_risk(Xt)
