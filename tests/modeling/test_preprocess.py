"""The linear families' numeric preprocessing is chosen on the training rows and kept only when
it beats plain scaling on the validation rows; LightGBM's leaf defaults follow the row count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index
from sklearn.metrics import roc_auc_score

from churnlab.modeling import CoxChurnModel, LightGBMChurnModel, LogisticChurnModel
from churnlab.modeling.gbm import size_defaults
from churnlab.modeling.preprocess import NumericShape, better_on_validation


def _frame(n: int, seed: int, effect: str) -> tuple[pd.DataFrame, np.ndarray]:
    """``spend`` is lognormal (long right tail); churn depends on log(spend) ("log") or on
    spend itself ("raw"); ``age`` is symmetric, ``promo`` binary."""
    rng = np.random.default_rng(seed)
    spend = rng.lognormal(3, 1.2, n)
    X = pd.DataFrame(
        {
            "spend": np.where(rng.random(n) < 0.05, np.nan, spend),
            "age": rng.normal(40, 10, n),
            "promo": rng.integers(0, 2, n).astype(float),
            "plan": rng.choice(["a", "b"], n),
        }
    )
    signal = np.log(spend) - 3 if effect == "log" else (spend - spend.mean()) / spend.std()
    logit = -1.5 - 1.2 * signal + 0.03 * (X.age - 40) + 0.4 * X.promo
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_shape_chosen_per_column_on_the_rows_it_is_fitted_on():
    X, _ = _frame(3000, 0, "log")
    shape = NumericShape().fit(X[["spend", "age", "promo"]])
    assert shape.choices_["age"] == "none" and shape.choices_["promo"] == "none"
    assert shape.choices_["spend"] in ("signed_log1p", "yeo_johnson")
    out = shape.transform(X[["spend", "age", "promo"]])
    assert abs(pd.Series(out[:, 0]).skew()) < 0.5  # the tail is gone
    np.testing.assert_array_equal(np.isnan(out[:, 0]), X.spend.isna())  # missing stays missing
    # other rows are transformed with the choices (and Yeo-Johnson lambda) of the fitted rows
    shifted = X[["spend", "age", "promo"]].assign(age=np.exp(X.age / 5))
    assert shape.transform(shifted).shape == out.shape
    assert shape.choices_ == NumericShape().fit(X[["spend", "age", "promo"]]).choices_
    assert NumericShape(method="none").fit(X[["spend"]]).choices_ == {"spend": "none"}
    with pytest.raises(ValueError, match="method must be"):
        NumericShape(method="box-cox").fit(X[["spend"]])


def test_tie_goes_to_plain_scaling():
    assert better_on_validation({"auto": 0.7, "none": 0.7}) == "none"
    assert better_on_validation({"auto": 0.71, "none": 0.7}) == "auto"
    assert better_on_validation({"auto": float("nan"), "none": 0.5}) == "none"


@pytest.mark.parametrize("effect", ["log", "raw"])
def test_logistic_never_worse_than_plain_scaling_on_validation(effect):
    (X, y), (Xv, yv) = _frame(3000, 1, effect), _frame(1500, 2, effect)
    auto = LogisticChurnModel().fit(X, y, eval_set=(Xv, yv))
    plain = LogisticChurnModel(numeric_transform="scale").fit(X, y, eval_set=(Xv, yv))
    old = LogisticChurnModel(numeric_transform="signed_log1p").fit(X, y, eval_set=(Xv, yv))
    auc = {m: roc_auc_score(yv, e.predict_raw(Xv)) for m, e in [("auto", auto), ("plain", plain)]}
    assert auc["auto"] >= auc["plain"]
    record = auto.fit_choices()["preprocessing"]
    assert record["columns"]["spend"] != "none" or record["kept"] == "scale"
    assert set(record["validation_score"]) == {"per_column", "scale"}
    assert record["validation_score"]["scale"] == pytest.approx(auc["plain"])
    old_auc = roc_auc_score(yv, old.predict_raw(Xv))
    if effect == "log":  # the shape is what the data need: kept, and it beats plain scaling
        # (both with the C each chose on the validation rows)
        assert record["kept"] == "per_column" and auc["auto"] > auc["plain"] + 0.005
    else:  # a log would hurt: plain scaling kept, as good as the unconditional log or better
        assert record["kept"] == "scale" and auc["auto"] > old_auc
        np.testing.assert_allclose(auto.predict_raw(Xv), plain.predict_raw(Xv))
    assert plain.fit_choices()["preprocessing"]["columns"]["spend"] == "none"
    assert old.fit_choices()["preprocessing"]["columns"]["spend"] == "signed_log1p"


def _survival(X, y, seed):
    rng = np.random.default_rng(seed)
    return np.where(y == 1, rng.uniform(1, 90, len(y)), rng.uniform(60, 200, len(y)))


@pytest.mark.parametrize("effect", ["log", "raw"])
def test_cox_never_worse_than_plain_scaling_on_validation(effect):
    (X, y), (Xv, yv) = _frame(2000, 3, effect), _frame(1000, 4, effect)
    d, dv = _survival(X, y, 5), _survival(Xv, yv, 6)
    fits = {}
    for how in ("auto", "scale"):  # at one penalizer: "auto" chooses it after the preprocessing
        est = CoxChurnModel(numeric_transform=how, penalizer=0.1, horizon_days=90)
        fits[how] = est.fit(X, duration=d, event=y, eval_set=(Xv, yv, dv, yv))
    c = {h: concordance_index(dv, -e.predict_log_hazard(Xv), yv) for h, e in fits.items()}
    assert c["auto"] >= c["scale"]
    record = fits["auto"].fit_choices()["preprocessing"]
    assert record["validation_score"]["scale"] == pytest.approx(c["scale"])
    if effect == "log":
        assert record["kept"] == "per_column" and c["auto"] > c["scale"]


def test_models_pickled_before_the_choice_report_the_signed_log():
    (X, y), (Xv, yv) = _frame(800, 7, "log"), _frame(400, 8, "log")
    est = LogisticChurnModel(numeric_transform="signed_log1p").fit(X, y, eval_set=(Xv, yv))
    state = {k: v for k, v in vars(est).items() if k not in ("preprocessing_", "numeric_transform")}
    old = LogisticChurnModel.__new__(LogisticChurnModel)
    old.__setstate__(state)
    assert old.numeric_transform == "signed_log1p"
    np.testing.assert_array_equal(old.predict_raw(Xv), est.predict_raw(Xv))


@pytest.mark.parametrize(
    ("rows", "leaves", "child"),
    [(600, 7, 5), (3000, 15, 20), (4500, 15, 30), (7500, 15, 50), (500_000, 15, 50)],
)
def test_lightgbm_leaf_defaults_follow_the_training_rows(rows, leaves, child):
    assert size_defaults(rows) == {"num_leaves": leaves, "min_child_samples": child}
    assert size_defaults(rows, num_leaves=63, min_child_samples=77) == {
        "num_leaves": 63,
        "min_child_samples": 77,
    }


def test_lightgbm_fit_uses_and_records_the_resolved_values(monkeypatch):
    import lightgbm as lgb

    (X, y), (Xv, yv) = _frame(3000, 9, "raw"), _frame(1000, 10, "raw")
    seen = []
    train = lgb.train
    monkeypatch.setattr(
        lgb, "train", lambda params, *a, **kw: seen.append(params) or train(params, *a, **kw)
    )
    est = LightGBMChurnModel(n_estimators=20).fit(X, y, eval_set=(Xv, yv))
    assert (seen[0]["num_leaves"], seen[0]["min_child_samples"]) == (15, 20)
    assert est.fit_choices() == {"resolved_params": {"num_leaves": 15, "min_child_samples": 20}}
    assert est.get_params()["min_child_samples"] is None  # still "by the data" when cloned
    LightGBMChurnModel(n_estimators=20, min_child_samples=50).fit(X, y, eval_set=(Xv, yv))
    assert seen[-1]["min_child_samples"] == 50  # a value given wins
