"""Uplift families on randomized synthetic data with a known heterogeneous effect: the sign
convention (uplift = control risk - treated risk), ranking by the true effect, seeded
determinism, and the input errors."""

from __future__ import annotations

import functools
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from churnlab.config import SpecError
from churnlab.modeling import (
    FAMILIES,
    UPLIFT_FAMILIES,
    make_estimator,
    make_uplift_estimator,
)
from churnlab.vocab import UPLIFT_FAMILIES as UPLIFT_NAMES


def _population(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Features, churn label, randomized treatment and the true uplift (reduction in churn
    probability if treated): large for price-sensitive accounts on plans a and b, none for
    the others, negative for a small do-not-disturb segment; a missing value now and then."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "usage": rng.normal(size=n),
            "price_sensitivity": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "plan": pd.Series(rng.choice(["a", "b", "c"], size=n), dtype="string"),
        }
    )
    X.loc[rng.random(n) < 0.03, "usage"] = np.nan
    base = 1 / (1 + np.exp(-(-0.4 - 0.8 * X.usage.fillna(0).to_numpy())))
    sensitive = (X.price_sensitivity > 0).to_numpy() & (X.plan != "c").to_numpy()
    do_not_disturb = (X.price_sensitivity < -1.2).to_numpy()
    effect = np.where(sensitive, 0.6 * base, 0.0) - np.where(do_not_disturb, 0.1, 0.0)
    treated = rng.integers(0, 2, size=n)
    p = np.clip(base - treated * effect, 0.0, 1.0)
    y = (rng.random(n) < p).astype(int)
    return X, y, treated, effect


@functools.cache
def _data():
    return {part: _population(n, seed) for part, n, seed in (("train", 4000, 1), ("val", 1500, 2), ("test", 2000, 3))}  # fmt: skip


@functools.cache
def _fitted(family: str):
    X, y, t, _ = _data()["train"]
    return make_uplift_estimator(family, seed=5).fit(X, y, t)


def test_registry_names_match_the_shared_names():
    assert tuple(UPLIFT_FAMILIES) == UPLIFT_NAMES
    assert not set(UPLIFT_FAMILIES) & set(FAMILIES)


@pytest.mark.parametrize("family", ["uplift_t", "uplift_x", "uplift_dr"])
def test_uplift_ranks_by_the_true_effect_with_the_right_sign(family):
    est = _fitted(family)
    X, _, _, effect = _data()["test"]
    uplift = est.predict_uplift(X)
    assert uplift.shape == (len(X),) and np.isfinite(uplift).all()
    r = np.corrcoef(uplift, effect)[0, 1]
    # positive = the contact keeps the customer: the segment with a true effect scores higher
    assert uplift[effect > 0.1].mean() > uplift[effect == 0].mean() + 0.05
    assert r > (0.5 if family != "uplift_t" else 0.3), r
    choices = est.fit_choices()["resolved_params"]
    assert all(p["n_jobs"] >= 1 and p["random_state"] == 5 for p in _base_params(choices))


def _base_params(choices: dict) -> list[dict]:
    return [v for v in choices.values() if isinstance(v, dict)]


def test_rounds_are_chosen_by_cross_validation():
    arms = _fitted("uplift_t").learner_.models
    assert all(1 <= m.n_estimators_ < 1000 for m in arms), [m.n_estimators_ for m in arms]
    # an effect stage with nothing to find stays near the average effect
    X, y, t, _ = _data()["train"]
    rng = np.random.default_rng(0)
    noise = make_uplift_estimator("uplift_dr", seed=5).fit(X, rng.integers(0, 2, len(y)), t)
    assert noise.predict_uplift(_data()["test"][0]).std() < 0.02


def test_a_refit_with_the_same_seed_is_the_same_model():
    X, y, t, _ = _data()["train"]
    again = make_uplift_estimator("uplift_dr", seed=5).fit(X, y, t)
    Xt = _data()["test"][0]
    np.testing.assert_array_equal(again.predict_uplift(Xt), _fitted("uplift_dr").predict_uplift(Xt))
    # what the MLflow model carries: the fitted learner pickles, and parameters clone
    restored = pickle.loads(pickle.dumps(again))
    np.testing.assert_array_equal(restored.predict_uplift(Xt), again.predict_uplift(Xt))
    assert clone(again).get_params() == again.get_params()


def test_unseen_categories_and_missing_columns():
    est = _fitted("uplift_x")
    X = _data()["test"][0].head(5).assign(plan=pd.Series(["z"] * 5, dtype="string"))
    assert np.isfinite(est.predict_uplift(X)).all()  # an unseen plan is a missing one
    with pytest.raises(ValueError, match=r"missing feature column\(s\): \['noise'\]"):
        est.predict_uplift(X.drop(columns="noise"))


def test_bad_inputs_are_named():
    X, y, t, _ = _data()["val"]
    est = make_uplift_estimator("uplift_t", seed=1)
    with pytest.raises(ValueError, match=r"training rows have no treated rows \(treated = 1\)"):
        est.fit(X, y, np.zeros(len(y)))
    with pytest.raises(ValueError, match="treated: labels must be 0/1"):
        est.fit(X, y, np.full(len(y), 2))
    only_churn = np.where(t == 1, 1, y)
    with pytest.raises(ValueError, match="treated arm has only churners"):
        est.fit(X, only_churn, t)
    with pytest.raises(ValueError, match="1000 rows, 999 labels"):
        est.fit(X.head(1000), y[:999], t[:1000])
    with pytest.raises(ValueError, match="propensity must be one of"):
        make_uplift_estimator("uplift_x", {"propensity": "logit"}, early_stopping_rounds=0).fit(
            X, y, t
        )
    with pytest.raises(Exception, match="not fitted"):
        make_uplift_estimator("uplift_t").predict_uplift(X)


def test_params_are_checked_like_the_churn_families():
    with pytest.raises(SpecError, match="did you mean 'cate_num_leaves'"):
        make_uplift_estimator("uplift_dr", {"cate_num_leave": 3})
    with pytest.raises(SpecError, match="not a parameter of the uplift_t family"):
        make_uplift_estimator("uplift_t", {"propensity": "constant"})  # no propensity in T
    est = make_uplift_estimator("uplift_x", {"max_bin": 63, "cate_n_estimators": 50})
    assert est.extra_params == {"max_bin": 63} and est.cate_n_estimators == 50
    with pytest.raises(ValueError, match="uplift family: make it with make_uplift_estimator"):
        make_estimator("uplift_t")
    with pytest.raises(ValueError, match="unknown uplift family 'lightgbm'"):
        make_uplift_estimator("lightgbm")
