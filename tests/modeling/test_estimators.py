"""The estimator contract: scikit-learn parameters, exact attributions, column checks, old
pickles. (Calibration: tests/training/test_calibration.py.)"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from churnlab.explain import explain
from churnlab.modeling import (
    FAMILIES,
    CoxChurnModel,
    LightGBMChurnModel,
    LightGBMSurvivalModel,
    LogisticChurnModel,
    NotFittedError,
    make_estimator,
    unseen_categories,
)
from tests.legacy_models import legacy_estimator, legacy_risk


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
def test_exact_attributions(cls, data):
    (X, y), (Xv, yv), (Xt, yt) = data
    est = cls(n_estimators=300) if cls is LightGBMChurnModel else cls()
    assert est.fit(X, y, eval_set=(Xv, yv)) is est
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(yt, est.predict_raw(Xt)) > 0.7
    values, base = est.contributions(Xt)
    assert list(values.columns) == list(X.columns)
    np.testing.assert_allclose(values.sum(axis=1) + base, est.predict_raw(Xt), atol=1e-9)
    assert explain(est, Xt.head(50)).scale == "log-odds"
    # the direction the data were generated with
    assert np.corrcoef(Xt.trend, values.trend)[0, 1] < -0.5
    # one column preparation for both: the same values as the separate calls
    raw, together, base_together = est.predict_raw_and_contributions(Xt)
    np.testing.assert_array_equal(raw, est.predict_raw(Xt))
    pd.testing.assert_frame_equal(together, values)
    np.testing.assert_array_equal(base_together, base)


def test_lightgbm_contributions_equal_shap_tree_explainer(data):
    import shap

    (X, y), (Xv, yv), (Xt, _) = data
    est = LightGBMChurnModel(n_estimators=200).fit(X, y, eval_set=(Xv, yv))
    ours, base = est.contributions(Xt.head(500))
    prepared = est.prepare(Xt.head(500))
    explainer = shap.TreeExplainer(est.booster_)
    theirs = explainer.shap_values(prepared)
    np.testing.assert_allclose(ours.to_numpy(), theirs, atol=1e-6)
    np.testing.assert_allclose(base, explainer.expected_value, atol=1e-6)


def test_columns_checked_and_unseen_categories_handled(data):
    (X, y), (Xv, yv), (Xt, _) = data
    est = LightGBMChurnModel(n_estimators=50).fit(X, y, eval_set=(Xv, yv))
    with pytest.raises(ValueError, match=r"missing feature column\(s\): \['nps'\]"):
        est.predict_raw(Xt.drop(columns="nps"))
    with pytest.raises(ValueError, match="'events_30d' must be numeric"):
        est.predict_raw(Xt.assign(events_30d="many"))
    with pytest.raises(ValueError, match=r"missing feature column\(s\): \['nps'\]"):
        est.predict_raw_and_contributions(Xt.drop(columns="nps"))
    unseen = Xt.head(5).assign(plan="platinum")
    assert np.isfinite(est.predict_raw(unseen)).all()
    assert np.isfinite(LogisticChurnModel().fit(X, y, eval_set=(Xv, yv)).predict_raw(unseen)).all()
    # column order does not matter
    np.testing.assert_allclose(est.predict_raw(Xt[Xt.columns[::-1]]), est.predict_raw(Xt))


@pytest.mark.parametrize("cls", [LogisticChurnModel, LightGBMChurnModel])
def test_a_yes_no_column_scores_alike_in_any_spelling(cls, data):
    """Trained on True/False, scored on yes/no, TRUE/FALSE or 1/0: the same scores (before,
    every other spelling was an unseen category, read as missing: every score changed,
    silently). Other category columns keep their values as they are."""
    (X, y), (Xv, yv), (Xt, _) = data

    def with_flag(frame, yes="True", no="False"):
        return frame.assign(paperless=np.where(frame.trend > 0, yes, no))

    est = cls().fit(with_flag(X), y, eval_set=(with_flag(Xv), yv))
    want = est.predict_raw(with_flag(Xt))
    assert not np.allclose(want, est.predict_raw(Xt.assign(paperless=None)))  # it matters
    for yes, no in (("yes", "no"), ("TRUE", "FALSE"), (" Y ", "n"), (1, 0)):
        np.testing.assert_allclose(est.predict_raw(with_flag(Xt, yes, no)), want)


@pytest.mark.parametrize("cls", [LogisticChurnModel, LightGBMChurnModel])
def test_a_category_in_another_case_scores_alike(cls, data):
    """Trained on North/South, scored on north, SOUTH or " North ": the same scores (before,
    an unseen category, read as missing); where two training categories fold alike (a and
    A), neither takes a third spelling, which stays unseen and is counted as such."""
    (X, y), (Xv, yv), (Xt, _) = data

    def with_region(frame, north="North", south="South"):
        return frame.assign(region=np.where(frame.trend > 0, north, south))

    est = cls().fit(with_region(X), y, eval_set=(with_region(Xv), yv))
    want = est.predict_raw(with_region(Xt))
    assert not np.allclose(want, est.predict_raw(Xt.assign(region=None)))  # it matters
    for north, south in (("north", "south"), ("NORTH", " South ")):
        np.testing.assert_allclose(est.predict_raw(with_region(Xt, north, south)), want)
    assert unseen_categories(est, with_region(Xt, "north", "south")).get("region") is None
    shouted = with_region(Xt, "NORTH", "Mars")
    unseen, present, examples = unseen_categories(est, shouted)["region"]
    assert (unseen, present, examples) == ((Xt.trend <= 0).sum(), len(Xt), ["Mars"])

    twins = cls().fit(with_region(X, "a", "A"), y, eval_set=(with_region(Xv, "a", "A"), yv))
    assert (
        unseen_categories(twins, with_region(Xt, "a", " a "))["region"][0] == (Xt.trend <= 0).sum()
    )


def test_fit_requires_validation_and_two_classes(data):
    (X, y), (Xv, yv), _ = data
    with pytest.raises(NotFittedError):
        LogisticChurnModel().predict_raw(X)
    with pytest.raises(NotFittedError):
        LogisticChurnModel().contributions(X)
    with pytest.raises(ValueError, match="eval_set"):
        LogisticChurnModel().fit(X, y)
    with pytest.raises(ValueError, match="validation rows have only one class"):
        LogisticChurnModel().fit(X, y, eval_set=(Xv, yv * 0))
    with pytest.raises(ValueError, match="training rows have only one class"):
        LogisticChurnModel().fit(X, y * 0, eval_set=(Xv, yv))


def test_a_failed_refit_leaves_no_fitted_model(data):
    (X, y), (Xv, yv), (Xt, _) = data
    est = LogisticChurnModel().fit(X, y, eval_set=(Xv, yv))
    assert est.predict_raw(Xt).shape == (len(Xt),)
    with pytest.raises(ValueError, match="missing feature column"):
        est.fit(X, y, eval_set=(Xv.drop(columns="nps"), yv))
    with pytest.raises(NotFittedError):
        est.predict_raw(Xt)


# -- scikit-learn parameters -------------------------------------------------------------------
FAST = {
    "logistic": {"C": 0.5},
    "lightgbm": {"n_estimators": 40, "num_leaves": 7},
    "cox": {"penalizer": 0.2},
    "lightgbm_survival": {"n_estimators": 30, "min_child_samples": 50},
}


def _fit(est, X, y):
    """Fit any family on the classifier test frames (survival: synthetic follow-up)."""
    if est.kind != "survival":
        return est.fit(X, y, eval_set=(X, y))
    rng = np.random.default_rng(0)
    duration = np.where(y == 1, rng.uniform(1, 90, len(y)), rng.uniform(60, 200, len(y)))
    return est.fit(X, duration=duration, event=y, eval_set=(X, y, duration, y))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_get_params_set_params_and_clone(family, data):
    (X, y), _, (Xt, _) = data
    X, y = X.head(2000), y.head(2000)
    est = make_estimator(family, FAST[family], horizon_days=90, seed=3)
    params = est.get_params()
    assert params["horizon_days"] == 90 and params["seed"] == 3
    assert {k: params[k] for k in FAST[family]} == FAST[family]
    assert set(params) == set(type(est)().get_params())  # all keywords, nothing else
    # __init__ only stores: an unfitted estimator has no fitted attribute
    assert not [k for k in vars(est) if k.endswith("_")]
    assert est.set_params(seed=5) is est and est.seed == 5
    est.set_params(seed=3)
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(not_a_parameter=1)

    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    _fit(est, X, y)
    assert not [k for k in vars(twin) if k.endswith("_")]  # cloning copies no fitted state
    _fit(twin, X, y)
    np.testing.assert_array_equal(twin.predict_raw(Xt), est.predict_raw(Xt))
    values, base = twin.contributions(Xt.head(100))
    expected, expected_base = est.contributions(Xt.head(100))
    pd.testing.assert_frame_equal(values, expected)
    np.testing.assert_array_equal(base, expected_base)
    # a fitted estimator clones to an unfitted one with the same parameters
    assert clone(est).get_params() == params
    with pytest.raises(NotFittedError):
        clone(est).predict_raw(Xt)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_any_column_name_a_table_may_have(family, data):
    # LightGBM refuses " , : [ ] { } in a feature name and turns spaces into "_" (then refuses
    # the duplicate); the survival family adds a column named "interval". A customer table's
    # headers are whatever its export wrote: the same model, whatever the names
    (X, y), _, (Xt, _) = data
    X, y = X.head(2000), y.head(2000)
    names = ["Plan: tier", "Revenue [USD]", "a b", "a_b"]
    if family == "lightgbm_survival":
        names[-1] = "interval"
    plain = _fit(make_estimator(family, FAST[family], horizon_days=90, seed=3), X, y)
    renamed = dict(zip(X.columns, names, strict=True))
    est = _fit(
        make_estimator(family, FAST[family], horizon_days=90, seed=3), X.rename(columns=renamed), y
    )
    np.testing.assert_allclose(est.predict_raw(Xt.rename(columns=renamed)), plain.predict_raw(Xt))
    values, _ = est.contributions(Xt.head(50).rename(columns=renamed))
    assert list(values.columns) == names
    np.testing.assert_allclose(values.to_numpy(), plain.contributions(Xt.head(50))[0].to_numpy())


def test_model_params_map_onto_keywords_and_extra_params():
    assert LightGBMChurnModel.keywords_for({"num_leaves": 7, "max_bin": 63, "seed": 1}) == {
        "num_leaves": 7,
        "extra_params": {"max_bin": 63, "seed": 1},  # a spec's "seed" is LightGBM's, not ours
    }
    est = make_estimator("logistic", {"C": 0.5, "l1_ratio": 1.0, "solver": "saga"}, seed=7)
    assert (est.C, est.extra_params, est.seed) == (0.5, {"l1_ratio": 1.0, "solver": "saga"}, 7)
    assert make_estimator("lightgbm_survival", {"interval_days": 14}).interval_days == 14
    assert make_estimator("cox", {"step_size": 0.5}).step_size == 0.5
    with pytest.raises(
        ValueError, match=r"unknown model\.params name\(s\) for the cox family"
    ) as e:
        make_estimator("cox", {"num_leaves": 7, "max_bin": 63, "penalizer": 0.1})
    assert "model.params.num_leaves: not a parameter of the cox family" in str(e.value)
    assert "model.params.max_bin: not a parameter of the cox family" in str(e.value)
    with pytest.raises(ValueError, match="unknown model family 'forest'"):
        make_estimator("forest")
    assert LightGBMChurnModel.model_defaults()["n_estimators"] == 2000
    assert list(CoxChurnModel.model_defaults()) == [
        "penalizer",
        "l1_ratio",
        "step_size",
        "max_steps",
        "numeric_transform",
    ]


def test_the_library_gets_the_params_it_got_before(data, monkeypatch):
    """Defaults, then the spec's params in their place, other library params after them: the
    dict handed to lgb.train is the one the params-dict estimators built."""
    import lightgbm as lgb

    (X, y), (Xv, yv), _ = data
    seen = []
    train = lgb.train
    monkeypatch.setattr(
        lgb, "train", lambda params, *a, **kw: seen.append(params) or train(params, *a, **kw)
    )
    monkeypatch.setenv("CHURNLAB_THREADS", "1")
    spec_params = {"max_bin": 63, "num_leaves": 7, "n_estimators": 20}
    make_estimator("lightgbm", spec_params, seed=5).fit(X, y, eval_set=(Xv, yv))
    assert list(seen[0].items()) == [
        ("objective", "binary"),
        ("metric", "binary_logloss"),
        ("random_state", 5),
        ("deterministic", True),
        ("force_row_wise", True),
        ("n_jobs", 1),
        ("verbose", -1),
        ("learning_rate", 0.03),
        ("num_leaves", 7),
        ("min_child_samples", 40),  # 6,000 training rows / 150
        ("subsample", 0.8),
        ("subsample_freq", 1),
        ("colsample_bytree", 0.7),
        ("reg_lambda", 1.0),
        ("max_bin", 63),
    ]
    with pytest.raises(ValueError, match=r"extra_params \['num_leaves'\] are keyword parameters"):
        LightGBMChurnModel(extra_params={"num_leaves": 3}).fit(X, y, eval_set=(Xv, yv))


# -- models pickled before this layout ---------------------------------------------------------
def test_lightgbm_models_pickled_with_an_lgbmclassifier_still_load(data):
    """Models logged before LightGBM was trained through lgb.train held an LGBMClassifier
    (``model_``, and ``model`` in the calibrator's wrapper), a ``params`` dict instead of
    keyword parameters and their calibration inside; they unpickle, predict and refit."""
    import lightgbm as lgb

    (X, y), (Xv, yv), (Xt, _) = data
    est = LightGBMChurnModel(n_estimators=50).fit(X, y, eval_set=(Xv, yv))
    clf = lgb.LGBMClassifier(n_estimators=30, verbose=-1).fit(est.prepare(X), y)
    est.booster_ = clf.booster_
    old = legacy_estimator(est, {"n_estimators": 50}, Xv, yv)
    expected_risk = legacy_risk(old, Xt)
    del old.booster_, old.fitted_, old.datasets
    old.model_ = clf  # the old layout
    wrapper = old.calibrator_.calibrated_classifiers_[0].estimator.estimator
    del wrapper.booster
    wrapper.model = clf

    loaded = pickle.loads(pickle.dumps(old))
    raw = clf.predict(est.prepare(Xt), raw_score=True)
    np.testing.assert_allclose(loaded.predict_raw(Xt), raw)
    np.testing.assert_allclose(
        loaded.calibrator_.calibrated_classifiers_[0].estimator.estimator.decision_function(
            est.prepare(Xt)
        ),
        raw,
    )
    np.testing.assert_array_equal(legacy_risk(loaded, Xt), expected_risk)
    # the params dict became keyword parameters, the rest took their defaults
    assert loaded.get_params() == LightGBMChurnModel(n_estimators=50).get_params()

    loaded.fit(X, y, eval_set=(Xv, yv))  # and refit: as a fresh model with those parameters
    fresh = LightGBMChurnModel(n_estimators=50).fit(X, y, eval_set=(Xv, yv))
    np.testing.assert_array_equal(loaded.predict_raw(Xt), fresh.predict_raw(Xt))


@pytest.mark.parametrize("cls", [LogisticChurnModel, LightGBMSurvivalModel])
def test_params_dict_pickles_load_with_keyword_parameters(cls, data):
    (X, y), _, (Xt, _) = data
    X, y = X.head(2000), y.head(2000)
    old_params = {"C": 0.5, "solver": "saga"} if cls is LogisticChurnModel else {"n_estimators": 30}
    est = _fit(make_estimator(cls.family, old_params, horizon_days=90), X, y)
    old = legacy_estimator(est, old_params, X, y)
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict_raw(Xt), est.predict_raw(Xt))
