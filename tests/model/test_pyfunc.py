"""The pyfunc's scoring through the calibrated model's public methods, and models registered
before calibration left the estimators: they load and score exactly as they did."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from churnlab.config import DEFAULT_HINTS
from churnlab.data import Vocabulary
from churnlab.evaluation.profiles import reference_profile
from churnlab.explain import top_reasons
from churnlab.features import FeatureSpec
from churnlab.features.reasons import ReasonTemplate
from churnlab.features.registry import builders, reason_templates
from churnlab.features.spec import BuilderRef
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


# a billing system's log: a started cancel flow and a failed payment are warning signs, a login
# a good habit; the failed payment is mapped to the payment_failure role
WARNINGS = Vocabulary(
    types=("login", "Cancel Flow Started", "invoice.payment_failed"),
    roles={"session_start": ("login",), "payment_failure": ("invoice.payment_failed",)},
)


def _recency_frame(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Days since each type (365: none in a year): churn rises with a recent cancel flow or
    failed payment, and with a long time since the last login."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "days_since_login": rng.exponential(6, n).clip(0, 365).round(),
            "days_since_cancel_flow_started": np.where(
                rng.random(n) < 0.15, rng.integers(0, 60, n), 365
            ).astype(float),
            "days_since_invoice_payment_failed": np.where(
                rng.random(n) < 0.15, rng.integers(0, 60, n), 365
            ).astype(float),
            "tenure_days": np.full(n, 700.0),
        }
    )
    logit = (
        -3.0
        + 0.12 * X.days_since_login.clip(0, 40)
        + 2.5 * (X.days_since_cancel_flow_started < 30)
        + 2.0 * (X.days_since_invoice_payment_failed < 30)
    )
    return X, pd.Series(rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def test_recent_warning_events_read_as_events_and_long_absences_as_absences():
    (X, y), (Xv, yv), (Xt, _) = (_recency_frame(4000, s) for s in (1, 2, 3))
    est = LightGBMChurnModel(n_estimators=80).fit(X, y, eval_set=(Xv, yv))
    calibrated = CalibratedChurnModel(est).fit(Xv, yv)
    activity = next(b for b in builders() if b.name == "event_type_activity")
    drivers = {f.name: activity.driver_of(f) for f in activity.outputs(WARNINGS)}
    model = ChurnModel(
        estimator=calibrated,
        feature_spec=FeatureSpec(
            kind="events",
            features=tuple(X.columns),
            builders=(BuilderRef("event_type_activity"),),
            vocabulary=WARNINGS,
        ),
        tier_thresholds={"high": -10.0, "medium": -20.0},  # every row gets reasons
        descriptions={f: f for f in X.columns},
        drivers={**drivers, "tenure_days": "account"},
        horizon_days=90,
        mrr_stats={"mean": 100.0, "median": 90.0},
        model_name="churn-warnings",
        reasons=reason_templates(WARNINGS),
    )
    model.reference = reference_profile(
        Xv, model.drivers, calibrated.predict_risk(Xv), np.full(len(Xv), "low"), ("low",)
    )
    # the driver of a role-mapped type's features is its role's; the others keep engagement
    assert drivers["days_since_invoice_payment_failed"] == "billing"
    assert drivers["days_since_cancel_flow_started"] == drivers["days_since_login"] == "engagement"
    # a model logged before templates had their low-value wording reads the same once loaded
    old = pickle.loads(pickle.dumps(model))
    old.reasons = {f: ReasonTemplate(t.templates, t.if_missing) for f, t in old.reasons.items()}
    old = pickle.loads(pickle.dumps(old))
    for m in (model, old):
        out = m.score(Xt.assign(account_id=np.arange(len(Xt)), mrr=50.0))
        reasons = pd.concat(
            [
                out[[f"{k}_{i}" for k in ("reason", "driver", "hint")]].set_axis(
                    ["reason", "driver", "hint"], axis=1
                )
                for i in (1, 2, 3)
            ]
        ).dropna()
        cancel = reasons[reasons.reason.str.contains("Cancel Flow Started")]
        failed = reasons[reasons.reason.str.contains("payment_failed")]
        login = reasons[reasons.reason.str.contains("'login'")]
        assert len(cancel) > 20 and len(failed) > 20 and len(login) > 20
        # a recent warning event is news, never "no 'Cancel Flow Started' for 5 days"
        assert cancel.reason.str.fullmatch(
            r"'Cancel Flow Started' (\d+ days?|less than a day) ago"
        ).all()
        assert failed.reason.str.fullmatch(
            r"'invoice.payment_failed' (\d+ days?|less than a day) ago"
        ).all()
        assert (failed.driver == "billing").all()
        assert (failed.hint == DEFAULT_HINTS["billing"]).all()
        # a long absence of a good habit still reads as an absence
        assert login.reason.str.fullmatch(r"no 'login' for \d+ days").all()
        assert (login.driver == "engagement").all()
