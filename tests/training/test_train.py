"""Training orchestration on simulated data (no MLflow): reproducible, purged, explained."""

from __future__ import annotations

import numpy as np
import pytest

from churnlab.config import parse_spec
from churnlab.training.data import load_training_data
from churnlab.training.train import train


@pytest.fixture(scope="module")
def spec_and_data(small_sim):
    spec = parse_spec(
        {
            "name": "t",
            "data": {"path": str(small_sim)},
            "cutoffs": "2024-03-01:2025-06-01:1M",
            "horizon_days": 60,
            "split": {"backtest_folds": 2},
            "features": {"drivers": ["engagement", "team", "billing"], "exclude": ["plan"]},
            "model": {"family": "lightgbm", "params": {"n_estimators": 200}},
        }
    )
    return spec, load_training_data(spec)


def test_vocabulary_is_fitted_before_the_earliest_validation_cutoff(spec_and_data):
    from churnlab.training.train import make_splits

    spec, data = spec_and_data
    vocab = data.feature_spec.vocabulary
    earliest = min(s.cutoffs["validation"][0] for s in make_splits(spec, data))
    assert vocab.fitted_before[:10] == earliest
    assert "create_report" in vocab.types and vocab.role("session_start") == ("login",)
    assert "n_create_report_30d" in data.features and "create_report_trend_30_60" in data.features


def test_feature_selection_by_driver(spec_and_data):
    _, data = spec_and_data
    assert set(data.drivers.values()) == {"engagement", "team", "billing"}
    assert "plan" not in data.features and "current_mrr" in data.features
    assert "last_nps" not in data.frame.columns


def test_same_seed_same_model_and_metrics(spec_and_data):
    spec, data = spec_and_data
    a, b = train(spec, data=data), train(spec, data=data)
    np.testing.assert_array_equal(a.predictions["test"].p, b.predictions["test"].p)
    assert a.metrics == b.metrics
    # two rolling-origin folds: per-fold test metrics and their mean
    m = a.metrics
    assert m["backtest_mean_test_roc_auc"] == pytest.approx(
        (m["fold0_test_roc_auc"] + m["fold1_test_roc_auc"]) / 2
    )
    assert a.folds[1].split.cutoffs["test"] < a.folds[0].split.cutoffs["test"]
    # the oracle beats any model and is reported with the gap
    assert m["test_oracle_roc_auc"] - m["test_roc_auc"] == pytest.approx(
        m["test_oracle_gap_roc_auc"]
    )
    # the fitted estimator, calibrated on the validation cutoff; its early-stopping round
    est = a.estimator.estimator
    assert a.estimator.method == spec.model.calibration and est.n_estimators == 200
    assert a.folds[0].best_iteration == est.best_iteration_ <= 200
    # tiers from validation risk: top 10% high, next 20% medium
    val = a.estimator.predict_raw(data.frame.loc[a.split.masks["validation"], data.features])
    assert np.mean(val >= a.tier_thresholds["high"]) == pytest.approx(0.10, abs=0.005)
    assert np.mean(val >= a.tier_thresholds["medium"]) == pytest.approx(0.30, abs=0.005)
    # explanations add up to the model's raw log-odds
    e = a.explanation
    np.testing.assert_allclose(
        e.values.sum(axis=1).to_numpy() + e.base, a.estimator.predict_raw(e.data), atol=1e-9
    )


def test_lead_gap_rows_are_left_out(small_sim):
    """Churn inside the lead gap leaves a null label: such rows are in no part."""
    spec = parse_spec(
        {
            "name": "lead",
            "data": {"path": str(small_sim)},
            "cutoffs": "2024-03-01:2025-06-01:1M",
            "horizon_days": 60,
            "lead_days": 14,
            "features": {"drivers": ["engagement"]},
            "model": {"family": "logistic"},
        }
    )
    data = load_training_data(spec)
    gap = data.frame.churned_within_h.isna().to_numpy()
    assert gap.any()
    result = train(spec, data=data)
    for mask in result.split.masks.values():
        assert not (mask & gap).any()
    assert result.metrics["test_roc_auc"] > 0.6


def test_calibration_pools_the_unused_cutoffs_weighted_by_recency(spec_and_data):
    """``split.pool_calibration``: the calibration is fitted on the validation cutoff and the
    cutoffs between it and training (out of sample, closed by the test cutoff), weighted by
    ``calibration_half_life_days``; the model itself is the one fitted on the training rows."""
    import pandas as pd

    from churnlab.training import CalibratedChurnModel

    spec, data = spec_and_data
    pooled = spec.split.model_copy(
        update={"backtest_folds": 1, "pool_calibration": True, "calibration_half_life_days": 30}
    )
    result = train(spec.model_copy(update={"split": pooled}), data=data)
    s, est = result.split, result.estimator.estimator
    # every cutoff after the last training cutoff, up to the validation cutoff
    assert len(s.cutoffs["calibration"]) > 1
    assert min(s.cutoffs["calibration"]) > s.cutoffs["train"][-1]
    assert s.cutoffs["calibration"][-1] == s.cutoffs["validation"][0]
    X = data.frame[data.features]
    y = data.frame.churned_within_h.fillna(False).astype(int)
    cut = pd.to_datetime(data.frame.cutoff[s.calibration])
    age = (pd.Timestamp(s.cutoffs["validation"][0]) - cut).dt.days.to_numpy()
    by_hand = CalibratedChurnModel(est).fit(X[s.calibration], y[s.calibration], 0.5 ** (age / 30))
    test = X[s.masks["test"]]
    np.testing.assert_allclose(result.estimator.predict_risk(test), by_hand.predict_risk(test))
    va = s.masks["validation"]
    alone = CalibratedChurnModel(est).fit(X[va], y[va])
    assert not np.allclose(alone.predict_risk(test), by_hand.predict_risk(test))
    assert result.split.describe()["calibration"]["rows"] == int(s.calibration.sum())


def test_a_frame_at_one_cutoff_is_built_and_training_refuses_it_first(tmp_path, monkeypatch):
    """``load_training_data`` builds the frame of cutoffs that cannot be split (an export at
    one cutoff), its vocabulary fitted before that cutoff; training (``check_split``) refuses
    them before any feature is built."""
    from churnlab.training.split import SplitError
    from tests.conftest import tiny_frames, write_frames

    path = write_frames(tiny_frames(), tmp_path / "tiny")
    spec = parse_spec(
        {
            "name": "export",
            "data": {"path": str(path)},
            "cutoffs": ["2024-04-15"],
            "horizon_days": 30,
            "model": {"family": "logistic"},
        }
    )
    monkeypatch.setenv("CHURNLAB_FEATURE_CACHE", "0")
    data = load_training_data(spec)
    assert len(data.frame) > 0 and set(data.frame.cutoff.astype(str)) == {"2024-04-15"}
    assert data.feature_spec.vocabulary.fitted_before[:10] == "2024-04-15"

    def built(*args, **kwargs):
        raise AssertionError("features built for cutoffs that cannot be split")

    monkeypatch.setattr("churnlab.training.data.feature_frame", built)
    with pytest.raises(SplitError, match="not enough cutoffs"):
        load_training_data(spec, check_split=True)
