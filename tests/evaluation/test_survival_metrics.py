"""Survival metrics: sanity on models whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from churnlab.config import parse_spec
from churnlab.evaluation.survival import decile_table, km_reference, survival_metrics
from churnlab.modeling import estimator_for
from churnlab.vocab import DAYS_PER_MONTH


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(0)
    n = 600
    true_t = rng.exponential(120, n)
    follow_up = rng.uniform(95, 200, n)
    d, e = np.minimum(true_t, follow_up), (true_t <= follow_up).astype(int)
    train_t = rng.exponential(120, 2 * n)
    train_c = rng.uniform(30, 300, 2 * n)
    return true_t, d, e, np.minimum(train_t, train_c), (train_t <= train_c).astype(int)


def test_perfect_order_gets_c_of_one(cohort):
    true_t, d, e, dtr, etr = cohort
    # hazards ranked exactly like the true churn times (by rank, so no near-ties)
    rate = (len(true_t) - np.argsort(np.argsort(true_t))) / len(true_t) / 90
    perfect = lambda times: np.exp(-np.asarray(times)[None, :] * rate[:, None])  # noqa: E731
    m = survival_metrics(dtr, etr, d, e, perfect, horizon_days=90)
    assert m["c_index_harrell"] == pytest.approx(1.0)
    assert m["c_index_uno"] == pytest.approx(1.0)
    for t in (30, 60, 90):
        assert m[f"auc_{t}d"] == pytest.approx(1.0)
    # reversed order: every comparable pair wrong
    flipped = 1 / len(true_t) / 90 + rate.max() - rate
    reverse = lambda times: np.exp(-np.asarray(times)[None, :] * flipped[:, None])  # noqa: E731
    r = survival_metrics(dtr, etr, d, e, reverse, horizon_days=90)
    assert r["c_index_harrell"] == pytest.approx(0.0)
    assert r["auc_30d"] == pytest.approx(0.0)


def test_kaplan_meier_model_matches_the_reference(cohort):
    _, d, e, dtr, etr = cohort
    km = lambda times: np.tile(km_reference(dtr, etr, np.asarray(times)), (len(d), 1))  # noqa: E731
    m = survival_metrics(dtr, etr, d, e, km, horizon_days=90)
    assert m["ibs"] == pytest.approx(m["ibs_km_reference"])
    assert m["c_index_harrell"] == pytest.approx(0.5)  # everyone tied
    assert 0 < m["ibs"] < 0.25


def test_times_outside_follow_up_are_nan_not_errors(cohort):
    true_t, d, e, dtr, etr = cohort
    short = np.minimum(d, 50.0)
    perfect = lambda times: np.exp(-1e-5 * np.asarray(times)[None, :] / true_t[:, None])  # noqa: E731
    m = survival_metrics(dtr, etr, short, e * (d <= 50), perfect, horizon_days=90)
    assert np.isnan(m["auc_60d"]) and np.isnan(m["auc_90d"]) and np.isfinite(m["auc_30d"])
    assert np.isfinite(m["ibs"])


def test_test_rows_followed_longer_than_any_training_row(cohort):
    """Training follow-up ending at 150 days (censored there) and test rows followed up to 200:
    the censoring weights are unknown past 150 (scikit-survival raised "censoring survival
    function is zero"). Cut there, every IPCW metric equals the one on the test rows cut at 120
    days instead: none up to the 90-day horizon depends on where the cut falls."""
    true_t, d, e, dtr, etr = cohort
    dtr, etr = np.minimum(dtr, 150.0), etr * (dtr <= 150.0)
    assert (d >= 150).sum() > 50
    model = lambda times: np.exp(-np.asarray(times)[None, :] / true_t[:, None])  # noqa: E731
    m = survival_metrics(dtr, etr, d, e, model, horizon_days=90)
    cut = survival_metrics(dtr, etr, np.minimum(d, 120.0), e * (d <= 120.0), model, 90)
    ipcw = [k for k in m if k != "c_index_harrell"]  # Harrell's reads the whole follow-up
    assert {k: m[k] for k in ipcw} == pytest.approx({k: cut[k] for k in ipcw})
    assert all(np.isfinite(v) for v in m.values())


def test_decile_table_against_kaplan_meier(cohort):
    true_t, d, e, *_ = cohort
    times = np.arange(0, 91, 10.0)
    S = np.exp(-times[None, :] / 120.0).repeat(len(d), axis=0)
    table = decile_table(d, e, 1 / true_t, S, times)
    assert sorted(table.decile.unique()) == list(range(1, 11))
    last = table[table.days == 90].set_index("decile").kaplan_meier
    assert last[10] < last[1]  # the riskiest decile (shortest true times) churns most


def test_test_rows_all_followed_past_the_horizon_give_nan_not_a_crash(cohort):
    """A customer table of long tenures (every test row past the 90-day horizon): Uno's C has
    no pair before the horizon to rank; it is NaN, the other metrics stand (sksurv raised
    'Found array with 0 sample(s)', which ended training after the fit)."""
    _, d, e, dtr, etr = cohort
    late = d + 100  # every test row beyond 90 days
    rate = 1 / (late + 1)
    model = lambda times: np.exp(-np.asarray(times)[None, :] * rate[:, None])  # noqa: E731
    m = survival_metrics(dtr, etr, late, e, model, horizon_days=90)
    assert np.isnan(m["c_index_uno"]) and 0 <= m["c_index_harrell"] <= 1


def test_durations_in_whole_months_are_evaluated_at_whole_months():
    """A customer table's tenure in months (1 to 72, converted to days): nobody churns between
    two whole months, so the AUC at 30 days (just before 1 month) had no case to rank and came
    out NaN. Evaluated in the table's unit, the times are 1, 2 and 3 months."""
    rng = np.random.default_rng(1)
    months = lambda n: rng.integers(1, 73, n) * DAYS_PER_MONTH  # noqa: E731
    d, dtr = months(800), months(1600)
    e, etr = rng.random(800) < 0.3, rng.random(1600) < 0.3
    rate = (len(d) - np.argsort(np.argsort(d + 1e-3 * ~e))) / len(d)
    perfect = lambda times: np.exp(-np.asarray(times)[None, :] * rate[:, None] / 90)  # noqa: E731
    in_days = survival_metrics(dtr, etr, d, e, perfect, horizon_days=90)
    assert np.isnan(in_days["auc_30d"])
    m = survival_metrics(dtr, etr, d, e, perfect, 3 * DAYS_PER_MONTH, unit="months")
    assert {"auc_1mo", "auc_2mo", "auc_3mo"} <= set(m) and "auc_30d" not in m
    assert [m[f"auc_{n}mo"] for n in (1, 2, 3)] == pytest.approx([1.0, 1.0, 1.0])
    weeks = survival_metrics(dtr, etr, d, e, perfect, 13 * 7, unit="weeks")
    assert {"auc_4w", "auc_9w", "auc_13w"} <= set(weeks)


def test_an_auc_time_with_no_churner_yet_is_nan_with_a_reason_and_no_raw_warning(caplog):
    """Whole-month tenures (1 to 72) whose test rows ended in the first month are all still
    active: at 1 month there is no churner to rank. scikit-survival divided by zero there,
    printing numpy's 'invalid value encountered in divide' and an unexplained auc_1mo nan;
    the metric is NaN with a warning that says why, and the other times are computed."""
    import logging
    import warnings

    rng = np.random.default_rng(3)
    months = lambda n: rng.integers(1, 73, n) * DAYS_PER_MONTH  # noqa: E731
    d, dtr = months(400), months(800)
    e, etr = rng.random(400) < 0.3, rng.random(800) < 0.3
    e[d <= DAYS_PER_MONTH] = False  # nobody in the test rows churned in the first month
    assert (d == DAYS_PER_MONTH).any() and (e & (d <= 2 * DAYS_PER_MONTH)).any()
    rate = (len(d) - np.argsort(np.argsort(d + 1e-3 * ~e))) / len(d)
    model = lambda times: np.exp(-np.asarray(times)[None, :] * rate[:, None] / 90)  # noqa: E731
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING):
        warnings.simplefilter("error", RuntimeWarning)
        m = survival_metrics(dtr, etr, d, e, model, 3 * DAYS_PER_MONTH, unit="months")
    assert np.isnan(m["auc_1mo"]) and np.isfinite(m["auc_2mo"]) and np.isfinite(m["auc_3mo"])
    (said,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("auc_1mo")]
    assert "no test customer churned within" in said and "(1 month)" in said


def test_durations_in_whole_years_are_evaluated_at_whole_years():
    """A bank's tenure in whole years (0 to 10): evaluated at 1, 2 and 3 years."""
    rng = np.random.default_rng(2)
    years = lambda n: rng.integers(0, 11, n) * 365.25  # noqa: E731
    d, dtr = years(600), years(1200)
    e, etr = rng.random(600) < 0.3, rng.random(1200) < 0.3
    rate = (len(d) - np.argsort(np.argsort(d + 1e-3 * ~e))) / len(d)
    perfect = lambda times: np.exp(-np.asarray(times)[None, :] * rate[:, None] / 365)  # noqa: E731
    y = survival_metrics(dtr, etr, d, e, perfect, 365.25, unit="years")
    assert {"auc_1y", "auc_2y", "auc_3y"} <= set(y) and "auc_30d" not in y
    assert [y[f"auc_{n}y"] for n in (1, 2, 3)] == pytest.approx([1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("unit", "horizon", "expected"),
    [("days", 90, 90), ("months", 90, 3 * DAYS_PER_MONTH), ("months", 365, 12 * DAYS_PER_MONTH),
     ("months", 10, DAYS_PER_MONTH), ("weeks", 90, 91), ("years", 90, 365.25),
     ("years", 730, 2 * 365.25)],
)  # fmt: skip
def test_a_table_in_weeks_months_or_years_is_scored_at_whole_units(
    tmp_path, unit, horizon, expected
):
    (tmp_path / "t.csv").write_text("id,churn,tenure\n1,1,3\n2,0,5\n")
    data = {"table": str(tmp_path / "t.csv"), "id": "id", "label": "churn", "duration": "tenure"}
    spec = parse_spec(
        {"name": "t", "data": {**data, "duration_unit": unit}, "horizon_days": horizon,
         "model": {"family": "cox"}}
    )  # fmt: skip
    assert spec.model_horizon_days == pytest.approx(expected)
    assert estimator_for(spec).horizon_days == pytest.approx(expected)
