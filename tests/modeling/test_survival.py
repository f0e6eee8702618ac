"""Survival families: interval expansion, out-of-time censoring, the estimator contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index
from sksurv.metrics import concordance_index_censored

from churnlab.modeling import CoxChurnModel, LightGBMSurvivalModel, NotFittedError
from churnlab.modeling.cox import CoxConvergenceError
from churnlab.modeling.gbm_survival import expand_intervals
from churnlab.training.split import out_of_time_splits, survival_targets


def test_expansion_by_hand():
    # interval k covers days (7k, 7k + 7]
    duration = np.array([10.0, 7.0, 15.0, 3.0, 40.0, 40.0, 0.0, 14.0])
    event = np.array([1, 1, 0, 0, 1, 0, 1, 0])
    rows, k, label, weight = expand_intervals(duration, event, interval_days=7, max_intervals=4)
    got = pd.DataFrame({"row": rows, "k": k, "label": label, "weight": weight})
    expected = pd.DataFrame(
        [
            (0, 0, 0, 1), (0, 1, 1, 1),  # churn on day 10: at risk in weeks 0 and 1, churns in 1
            (1, 0, 1, 1),  # churn on day 7: the end of week 0
            (2, 0, 0, 1), (2, 1, 0, 1), (2, 2, 0, 1 / 7),  # censored on day 15: 1 day of week 2
            (3, 0, 0, 3 / 7),  # censored on day 3: 3 days of week 0
            (4, 0, 0, 1), (4, 1, 0, 1), (4, 2, 0, 1), (4, 3, 0, 1),  # churn after 4 weeks: censored
            (5, 0, 0, 1), (5, 1, 0, 1), (5, 2, 0, 1), (5, 3, 0, 1),
            (6, 0, 1, 1),  # churn on the cutoff day counts in week 0
            (7, 0, 0, 1), (7, 1, 0, 1),  # censored exactly at the end of week 1
        ],
        columns=["row", "k", "label", "weight"],
    )  # fmt: skip
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # not a Cartesian product: only at-risk pairs
    assert len(rows) < len(duration) * 4


def _split_frame() -> pd.DataFrame:
    """Three accounts at monthly cutoffs; data end 2025-12-31."""
    end = pd.Timestamp("2025-12-31")
    churn = {0: pd.Timestamp("2025-08-15"), 1: None, 2: pd.Timestamp("2025-11-20")}
    rows = []
    for c in pd.date_range("2025-01-01", "2025-10-01", freq="MS"):
        for a, at in churn.items():
            if at is not None and at <= c:
                continue
            stop = at if at is not None else end
            rows.append(
                {
                    "account_id": a,
                    "cutoff": c,
                    "duration_days": (stop - c).days,
                    "event": int(at is not None),
                    "churned_within_h": at is not None and at <= c + pd.Timedelta(days=90),
                    "label_complete": c + pd.Timedelta(days=90) <= end,
                }
            )
    return pd.DataFrame(rows)


def test_out_of_time_censoring():
    f = _split_frame()
    (split,) = out_of_time_splits(f, horizon_days=90)
    assert split.cutoffs["validation"] == ["2025-07-01"] and split.cutoffs["test"] == ["2025-10-01"]
    t = survival_targets(f, split)
    mask, d, e = t["train"]
    train = f[mask].assign(d=d, e=e)
    # every cutoff before the validation cutoff, including those whose label window is still
    # open there (May, June), which the classifiers' purged split drops
    assert sorted(train.cutoff.dt.strftime("%Y-%m").unique()) == [f"2025-0{m}" for m in range(1, 7)]
    assert not split.masks["train"][f.cutoff.dt.month.isin([5, 6]).to_numpy()].any()
    val_cut = pd.Timestamp("2025-07-01")
    follow_up = (val_cut - train.cutoff).dt.days
    assert (train.d <= follow_up).all()  # nothing seen past the validation cutoff
    # account 0 churns 2025-08-15, after the validation cutoff: censored there
    a0 = train[train.account_id == 0]
    assert (a0.e == 0).all() and (a0.d == follow_up[a0.index]).all()
    # validation rows are followed up to the test cutoff only
    mask, d, e = t["validation"]
    v = f[mask].assign(d=d, e=e).set_index("account_id")
    assert v.loc[0, "e"] == 1 and v.loc[0, "d"] == 45  # churn before the test cutoff stays
    assert v.loc[2, "e"] == 0 and v.loc[2, "d"] == 92  # churn after it is censored there
    # test rows keep their follow-up to the end of the data
    mask, d, e = t["test"]
    assert d.tolist() == f[mask].duration_days.tolist() and e.tolist() == f[mask].event.tolist()


def _true_log_hazard(X: pd.DataFrame) -> np.ndarray:
    return (-5.5 + 0.8 * X.trend - 0.05 * X.seats + 0.6 * (X.plan == "basic")).to_numpy()


def _survival_data(n: int, seed: int):
    """Exponential churn times with a known risk direction, censored by the end of follow-up."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "trend": rng.normal(0, 1, n),
            "seats": rng.poisson(8, n).astype(float),
            "plan": rng.choice(["basic", "pro", "enterprise"], n),
        }
    )
    t = rng.exponential(1 / np.exp(_true_log_hazard(X)))
    follow_up = rng.uniform(60, 240, n)
    d = np.minimum(t, follow_up)
    e = (t <= follow_up).astype(int)
    y = ((t <= 90) & (follow_up >= 90)).astype(int)  # complete 90-day labels where follow-up >= 90
    return X, d, e, y, t


@pytest.fixture(scope="module")
def fitted():
    X, d, e, _, _ = _survival_data(3000, 1)
    Xv, dv, ev, _, tv = _survival_data(1500, 2)
    yv = (tv <= 90).astype(int)  # the validation cutoff's labels are complete
    test = _survival_data(1500, 3)
    models = {
        "cox": CoxChurnModel(horizon_days=90),
        "lightgbm_survival": LightGBMSurvivalModel(
            n_estimators=150, min_child_samples=50, learning_rate=0.1, horizon_days=90
        ),
    }
    for m in models.values():
        assert m.fit(X, duration=d, event=e, eval_set=(Xv, yv, dv, ev)) is m
    return models, test, (Xv, yv)


@pytest.mark.parametrize("family", ["cox", "lightgbm_survival"])
def test_survival_estimator_contract(fitted, family):
    """S(t | x) and attributions of the fitted model (its calibration:
    tests/training/test_calibration.py)."""
    models, (Xt, d, e, _, _), _ = fitted
    est = models[family]
    times = np.array([0, 7, 30, 60, 90, 120, 200.0])
    S = est.predict_survival(Xt, times)
    assert S.shape == (len(Xt), len(times))
    assert ((S >= 0) & (S <= 1)).all()
    assert np.allclose(S[:, 0], 1.0)
    assert (np.diff(S, axis=1) <= 1e-12).all()  # survival never increases
    # the raw score is the logit of the uncalibrated risk at the trained horizon
    p90 = 1 - S[:, 4]
    np.testing.assert_allclose(est.predict_raw(Xt), np.log(p90 / (1 - p90)), rtol=1e-9)
    c = concordance_index_censored(e.astype(bool), d, 1 - S[:, 4])[0]
    best = concordance_index_censored(e.astype(bool), d, _true_log_hazard(Xt))[0]
    assert c > best - 0.03  # close to the generating model's own C-index
    # attributions add up exactly to the log-hazard score, and follow the generating direction
    values, base = est.contributions(Xt)
    assert list(values.columns) == list(Xt.columns)
    np.testing.assert_allclose(values.sum(axis=1) + base, est.predict_log_hazard(Xt), atol=1e-8)
    assert np.corrcoef(Xt.trend, values.trend)[0, 1] > 0.5
    raw, together, _ = est.predict_raw_and_contributions(Xt)
    np.testing.assert_array_equal(raw, est.predict_raw(Xt))
    pd.testing.assert_frame_equal(together, values)
    from churnlab.explain import explain

    assert explain(est, Xt.head(50)).scale == "log-hazard"  # what plots and reports label
    lifetime = est.predict_expected_lifetime(Xt)
    assert ((lifetime >= 0) & (lifetime <= 180)).all()
    # higher risk, shorter expected lifetime
    assert np.corrcoef(p90, lifetime)[0, 1] < -0.9


def test_cox_exact_on_log_partial_hazard(fitted):
    models, (Xt, *_), _ = fitted
    cox = models["cox"]
    values, base = cox.contributions(Xt)
    np.testing.assert_allclose(base, 0.0)
    lph = cox.cph_.predict_log_partial_hazard(cox._design(cox.prepare(Xt))).to_numpy()
    np.testing.assert_allclose(values.sum(axis=1), lph, atol=1e-8)
    assert {"coef", "exp(coef)"} <= set(cox.summary.columns)


def test_survival_fit_errors():
    X, d, e, y, _ = _survival_data(300, 4)
    with pytest.raises(NotFittedError):
        CoxChurnModel(horizon_days=90).predict_survival(X, [30])
    with pytest.raises(ValueError, match="duration= and event="):
        CoxChurnModel(horizon_days=90).fit(X, eval_set=(X, y))
    with pytest.raises(ValueError, match="horizon_days is needed"):
        CoxChurnModel().fit(X, duration=d, event=e, eval_set=(X, y))
    with pytest.raises(ValueError, match="validation rows have only one class"):
        CoxChurnModel(horizon_days=90).fit(X, duration=d, event=e, eval_set=(X, y * 0))
    bad = d.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="1 duration"):
        CoxChurnModel(horizon_days=90).fit(X, duration=bad, event=e, eval_set=(X, y))
    # a collinear copy without a penalty: dropped from the design (as is the last one-hot level,
    # the others and the baseline hazard determine it), the fit converges
    Xc = X.assign(trend_copy=X.trend)
    cox = CoxChurnModel(penalizer=0.0, horizon_days=90).fit(
        Xc, duration=d, event=e, eval_set=(Xc, y)
    )
    dropped = cox.fit_choices()["fit"]["dropped_columns"]["collinear"]
    assert dropped == ["num__trend_copy", "cat__plan_pro"]
    # a fit that never converges (one Newton step allowed), even retried: a clear error with
    # the advice, not a stack trace nor a silently accepted model
    with pytest.raises(CoxConvergenceError, match=r"raise model\.params\.penalizer"):
        CoxChurnModel(penalizer=0.0, max_steps=1, horizon_days=90).fit(
            Xc, duration=d, event=e, eval_set=(Xc, y)
        )
    with pytest.raises(ValueError, match="must cover"):
        LightGBMSurvivalModel(max_intervals=4, horizon_days=90).fit(
            X, duration=d, event=e, eval_set=(X, y, d, e)
        )


def test_spec_rules_for_survival_families(tmp_path):
    from churnlab.config import SpecError, parse_spec

    table = {"table": str(tmp_path / "crm.csv"), "id": "id", "label": "churned"}
    with pytest.raises(SpecError, match=r"data\.duration"):
        parse_spec({"name": "s", "data": table, "model": {"family": "cox"}})
    spec = parse_spec(
        {"name": "s", "data": {**table, "duration": "tenure"}, "model": {"family": "cox"}}
    )
    assert spec.model.family == "cox"
    events = {"name": "s", "data": {"path": "data/demo"}, "cutoffs": "2024-03-01"}
    with pytest.raises(SpecError, match="lead_days"):
        parse_spec({**events, "lead_days": 7, "model": {"family": "lightgbm_survival"}})


def _wide_counts(n: int, seed: int, columns: int = 60):
    """A CRM-like table: ``columns`` skewed counts driven by three latent factors (so strongly
    correlated), an annual-plan flag whose customers never churn within the follow-up (a nearly
    separating column), an exact copy of a count, a constant column and a categorical; follow-up
    to 90 days. Returns the table, durations, events and the true log-hazard."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(0, 1, (n, 3))
    X = pd.DataFrame(
        {
            f"count_{i}": rng.poisson(np.exp(1 + factors @ rng.normal(0, 0.7, 3))).astype(float)
            for i in range(columns)
        }
    )
    X["annual_plan"] = (rng.random(n) < 0.3).astype(float)
    X["count_0_again"] = X.count_0
    X["region_code"] = 7.0
    X["plan"] = rng.choice(["basic", "pro"], n)
    log_hazard = 0.9 * factors[:, 0] - 0.6 * factors[:, 1]
    t = np.where(X.annual_plan == 1, np.inf, rng.exponential(60 / np.exp(log_hazard)))
    d, e = np.round(np.minimum(t, 90.0)), (t <= 90).astype(int)
    return X, d, e, np.where(X.annual_plan == 1, -50.0, log_hazard)


def test_cox_converges_on_collinear_constant_and_separating_columns():
    """On 250 rows of 100 correlated counts and a nearly separating flag, lifelines'
    Newton-Raphson with its default step (0.95) stops without converging, at a model far from
    the penalized optimum, which churnlab used to accept silently. Now: collinear and constant
    columns are dropped and recorded, the failed attempt is retried (smaller steps) and
    recorded, and the kept model is the optimum a converging fit finds, ranking held-out
    customers sensibly."""
    X, d, e, true_log_hazard = _wide_counts(1000, 8, columns=100)
    tr, va, te = slice(0, 250), slice(250, 550), slice(550, None)
    fit = {"duration": d[tr], "event": e[tr], "eval_set": (X[va], e[va], d[va], e[va])}
    same = {"penalizer": 0.1, "numeric_transform": "scale", "max_steps": 60, "horizon_days": 90}
    cox = CoxChurnModel(step_size=0.95, **same).fit(X[tr], **fit)
    record = cox.fit_choices()["fit"]
    assert record["dropped_columns"]["constant"] == ["num__region_code"]
    assert record["dropped_columns"]["collinear"] == ["num__count_0_again", "cat__plan_pro"]
    assert record["failed_attempts"] == [
        {"penalizer": 0.1, "step_size": 0.95, "problem": "Newton-Raphson failed to converge"}
    ]
    assert record["penalizer"] == 0.1  # converged with smaller steps, same penalty
    # the kept model is the penalized optimum: lifelines given small steps on the same design
    design = cox._design(cox.prepare(X[tr])).assign(T=d[tr], E=e[tr])
    optimum = CoxPHFitter(penalizer=0.1).fit(design, "T", "E", fit_options={"step_size": 0.2})
    assert cox.cph_.log_likelihood_ == pytest.approx(optimum.log_likelihood_, abs=0.1)
    assert CoxChurnModel(**same).fit(X[tr], **fit).fit_choices()["fit"]["failed_attempts"] == []
    ours = concordance_index(d[te], -cox.predict_log_hazard(X[te]), e[te])
    truth = concordance_index(d[te], -true_log_hazard[te], e[te])
    assert ours > truth - 0.08, (ours, truth)


def test_cox_efron_values_are_lifelines_own(fitted):
    """The vectorized Efron Hessian, gradient and log-likelihood churnlab's Cox fit steps
    with are lifelines' ``_get_efron_values_batch`` up to rounding (ties of up to 20 deaths,
    weights), and the fitted model keeps lifelines' own classes (pickles as before)."""
    from lifelines.fitters.coxph_fitter import SemiParametricPHFitter

    from churnlab.modeling.cox import efron_values

    rng = np.random.default_rng(0)
    n, d = 600, 12
    order = pd.DataFrame({"T": rng.integers(1, 40, n), "E": rng.random(n) < 0.4})
    order = order.sort_values(["T", "E"]).reset_index(drop=True)  # deaths last within a tie
    args = (
        pd.DataFrame(rng.normal(size=(n, d))),
        order["T"].astype(float),
        order["E"],
        pd.Series(rng.uniform(0.5, 2.0, n)),
        None,
        rng.normal(size=d) * 0.3,
    )
    theirs = SemiParametricPHFitter()._get_efron_values_batch(*args)
    ours = efron_values(None, *args)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    cox = fitted[0]["cox"]
    assert type(cox.cph_) is CoxPHFitter
    assert type(cox.cph_._model) is SemiParametricPHFitter
