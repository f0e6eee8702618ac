"""Pattern-deduplicated tree SHAP equals LightGBM's (and shap's) exact values."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap

from churnlab.modeling.tree_shap import lightgbm_contributions


@pytest.fixture(scope="module")
def model_and_rows():
    rng = np.random.default_rng(5)
    n = 6000

    def frame(n):
        return pd.DataFrame(
            {
                "with_nan": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
                "counts": rng.poisson(3, n).astype(float),  # zeros, no NaN in training
                "plan": pd.Categorical(
                    rng.choice(["a", "b", "c", "d"], n), categories=list("abcd")
                ),
                "noise": rng.normal(size=n),
            }
        )

    def label(X):
        logit = X.with_nan.fillna(1) + 0.3 * X.counts - (X.plan == "b") * 1.5 + 0.1 * X.noise
        return (rng.random(len(X)) < 1 / (1 + np.exp(-logit.to_numpy() + 1))).astype(int)

    X, Xv = frame(n), frame(2000)
    model = lgb.LGBMClassifier(
        n_estimators=400, num_leaves=15, learning_rate=0.1, verbose=-1, random_state=1
    )
    model.fit(
        X, label(X), eval_X=Xv, eval_y=label(Xv), callbacks=[lgb.early_stopping(20, verbose=False)]
    )
    rows = frame(5000)
    # values training never saw: NaN where training had none, an unseen category, exact zeros
    rows.loc[:200, "counts"] = np.nan
    rows.loc[200:400, "plan"] = np.nan
    rows.loc[400:600, "with_nan"] = 0.0
    return model.booster_, rows


def test_equals_lightgbm_and_shap(model_and_rows, caplog):
    booster, rows = model_and_rows
    with caplog.at_level("DEBUG", logger="churnlab.modeling.tree_shap"):
        ours = lightgbm_contributions(booster, rows, min_rows=1)
    assert "full computation" not in caplog.text  # the pattern path ran, no fallback
    full = booster.predict(rows, pred_contrib=True, num_iteration=booster.best_iteration)
    np.testing.assert_allclose(ours, full, atol=1e-10)
    theirs = shap.TreeExplainer(booster).shap_values(rows)
    np.testing.assert_allclose(ours[:, :-1], theirs, atol=1e-6)
    np.testing.assert_allclose(
        ours.sum(axis=1),
        booster.predict(rows, raw_score=True, num_iteration=booster.best_iteration),
        atol=1e-9,
    )
