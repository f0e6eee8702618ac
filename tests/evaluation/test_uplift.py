"""Uplift metrics against hand-computed values on tiny data, and their sign on simulated data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from churnlab.evaluation import (
    auuc,
    plot_qini,
    plot_uplift_by_decile,
    policy_value_vs_oracle,
    qini_coefficient,
    qini_curve,
    true_uplift_corr,
    uplift_at_k,
    uplift_by_decile,
    uplift_metrics,
)
from churnlab.vocab import UPLIFT_METRICS

# eight rows, already in score order; treated and control alternate
SCORE = np.array([8, 7, 6, 5, 4, 3, 2, 1], float)
TREATED = np.array([1, 0, 1, 0, 1, 0, 1, 0])
Y = np.array([0, 1, 0, 1, 1, 0, 1, 0])


def test_qini_and_uplift_curves_by_hand():
    # top k: n_t, n_c, churned c_t, c_c -> Q = c_c * n_t / n_c - c_t, U = (c_c/n_c - c_t/n_t) * k
    # k=1: 1,0,0,0 -> no control row: Q = 0, U = 0
    # k=2: 1,1,0,1 -> Q = 1, U = (1 - 0) * 2 = 2
    # k=3: 2,1,0,1 -> Q = 2, U = 3
    # k=4: 2,2,0,2 -> Q = 2, U = 4
    # k=5: 3,2,1,2 -> Q = 2*3/2 - 1 = 2, U = (1 - 1/3) * 5 = 10/3
    # k=6: 3,3,1,2 -> Q = 1, U = (2/3 - 1/3) * 6 = 2
    # k=7: 4,3,2,2 -> Q = 8/3 - 2 = 2/3, U = (2/3 - 1/2) * 7 = 7/6
    # k=8: 4,4,2,2 -> Q = 0, U = 0
    curve = qini_curve(Y, TREATED, SCORE)
    assert curve.k.tolist() == list(range(9))
    assert curve.qini.to_numpy() == pytest.approx([0, 0, 1, 2, 2, 2, 1, 2 / 3, 0])
    assert curve.uplift_gain.to_numpy() == pytest.approx([0, 0, 2, 3, 4, 10 / 3, 2, 7 / 6, 0])
    # Qini: Q / N_t (N_t = 4) over x = k/8; Q(N) = 0 so the random line is 0; trapezoid with
    # both ends 0: (0 + 1 + 2 + 2 + 2 + 1 + 2/3) / 4 / 8 = 13/48
    assert qini_coefficient(Y, TREATED, SCORE) == pytest.approx(13 / 48)
    # AUUC: U / 8 over x = k/8: (0 + 2 + 3 + 4 + 10/3 + 2 + 7/6) / 8 / 8 = 15.5 / 64
    assert auuc(Y, TREATED, SCORE) == pytest.approx(15.5 / 64)


def test_uplift_at_k_and_by_decile_by_hand():
    # top 25% (2 rows): treated row 1 stayed, control row 2 churned -> 1 - 0
    assert uplift_at_k(Y, TREATED, SCORE, 0.25) == pytest.approx(1.0)
    # top 50%: treated rows 1, 3 stayed (0); control rows 2, 4 churned (1) -> 1
    assert uplift_at_k(Y, TREATED, SCORE, 0.5) == pytest.approx(1.0)
    # all rows: control 2/4 churned, treated 2/4 -> 0
    assert uplift_at_k(Y, TREATED, SCORE, 1.0) == pytest.approx(0.0)
    # the top 1 row has no control row
    assert np.isnan(uplift_at_k(Y, TREATED, SCORE, 0.125))
    # two "deciles": rows 1-4 as above (uplift 1); rows 5-8: treated 5, 7 churned (1), control
    # 6, 8 stayed (0) -> -1
    table = uplift_by_decile(Y, TREATED, SCORE, true_uplift=SCORE / 10, bins=2)
    assert table.decile.tolist() == [1, 2]
    assert table.n_treated.tolist() == [2, 2] and table.n_control.tolist() == [2, 2]
    assert table.uplift.tolist() == pytest.approx([1.0, -1.0])
    assert table.mean_score.tolist() == pytest.approx([6.5, 2.5])
    assert table.mean_true_uplift.tolist() == pytest.approx([0.65, 0.25])


def test_ties_enter_together_and_a_constant_score_is_random():
    curve = qini_curve(Y, TREATED, np.ones(8))
    assert curve.k.tolist() == [0, 8]
    assert qini_coefficient(Y, TREATED, np.ones(8)) == pytest.approx(0.0)


def _simulated(n=4000, seed=0):
    """A randomized campaign where contact lowers churn by tau (negative for some)."""
    rng = np.random.default_rng(seed)
    tau = rng.uniform(-0.1, 0.3, n)
    treated = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.4 - treated * tau).astype(int)
    return y, treated, tau, rng


def test_perfect_ranking_beats_random_and_reversed_is_negative():
    y, treated, tau, rng = _simulated()
    perfect = qini_coefficient(y, treated, tau)
    random = qini_coefficient(y, treated, rng.random(len(y)))
    reversed_ = qini_coefficient(y, treated, -tau)
    # seed 0: about 0.029, 0.003 and -0.029
    assert perfect > 0.015 and abs(random) < 0.01
    assert reversed_ < -0.015
    assert auuc(y, treated, tau) > auuc(y, treated, -tau)
    assert uplift_at_k(y, treated, tau, 0.1) > uplift_at_k(y, treated, -tau, 0.1)


def test_uplift_metrics_names_and_truth():
    y, treated, tau, rng = _simulated()
    noisy = tau + rng.normal(0, 0.1, len(y))
    m = uplift_metrics(y, treated, noisy, true_uplift=tau)
    assert tuple(m) == UPLIFT_METRICS
    assert m["oracle_qini"] > m["qini"] > 0
    assert 0.5 < m["true_uplift_corr"] < 1
    assert 0.5 < m["policy_value_vs_oracle"] < 1
    assert set(uplift_metrics(y, treated, noisy)) == {
        "qini",
        "auuc",
        "uplift_at_10",
        "uplift_at_30",
    }
    assert true_uplift_corr(tau, tau) == pytest.approx(1.0)
    # treating the rows with positive score: tau = [0.2, -0.1, 0.3], score > 0 on rows 0, 1
    # -> (0.2 - 0.1) / (0.2 + 0.3)
    got = policy_value_vs_oracle([1.0, 0.5, -1.0], [0.2, -0.1, 0.3])
    assert got == pytest.approx(0.2)


def test_plots_return_axes_with_the_curves():
    y, treated, tau, _ = _simulated(n=500)
    ax = plot_qini(y, treated, tau * 0.5, true_uplift=tau)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0].startswith("model (Qini") and labels[1].startswith("oracle (Qini")
    assert "random" in labels
    ax2 = plot_uplift_by_decile(uplift_by_decile(y, treated, tau, true_uplift=tau))
    assert len(ax2.patches) == 10
    plt.close("all")


@pytest.mark.parametrize(
    ("y", "treated", "score", "message"),
    [
        ([0, 2, 1], [0, 1, 1], [1, 2, 3], r"y must be 0/1; 1 rows are not \(rows \[1\]"),
        ([0, 1, 1], [1, 1, 1], [1, 2, 3], "treated and control rows; got 3 treated and 0"),
        (
            [0, 1, 1],
            [0, 1, 1],
            [1, np.nan, 3],
            r"score has 1 missing or infinite values \(rows \[1\]",
        ),
        ([0, 1, 1], [0, 1], [1, 2, 3], "treated has"),
        ([0, 1, 1], [0, 1, 0], [1, 2], "score has"),
    ],
)
def test_bad_input_is_named(y, treated, score, message):
    with pytest.raises(ValueError, match=message):
        uplift_metrics(np.array(y), np.array(treated), np.array(score))
