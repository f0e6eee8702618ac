"""Monthly churn/MRR/NRR and cohort tables on a hand-made dataset, where every number is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.analytics import cohort_retention, monthly_retention, plot_cohort_heatmap, plot_nrr
from churnlab.data import load_dataset
from tests.conftest import tiny_frames, write_frames


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_dataset(write_frames(tiny_frames(), tmp_path_factory.mktemp("tiny")))


def test_monthly_movements_and_negative_churn(tiny):
    m = monthly_retention(tiny).set_index("month")
    # February: accounts 1 (45) and 2 (15) pay; account 1 upgrades to 105 on March 1st
    feb = m.loc[pd.Timestamp("2024-02-01")]
    assert feb.start_mrr == 60 and feb.expansion_mrr == 60 and feb.churned_mrr == 0
    assert feb.nrr == pytest.approx(2.0)  # negative net churn shows as NRR > 100%
    # March: account 3 signs up at 2400 (new MRR, not expansion)
    mar = m.loc[pd.Timestamp("2024-03-01")]
    assert mar.new_mrr == 2400 and mar.nrr == pytest.approx(1.0)
    # May: account 2 (15) churns on May 20th, one of three paying accounts
    may = m.loc[pd.Timestamp("2024-05-01")]
    assert may.churned_accounts == 1 and may.churn_rate == pytest.approx(1 / 3)
    assert may.mrr_churn_rate == pytest.approx(15 / 2520)
    assert may.nrr == pytest.approx(2505 / 2520)
    # June is not a complete month (data end on June 29th)
    assert m.index.max() == pd.Timestamp("2024-05-01")


def test_cohorts_by_accounts_and_revenue(tiny):
    acc = cohort_retention(tiny, "accounts")
    assert acc.loc["2024-02"].tolist()[:4] == [1.0, 1.0, 1.0, 0.0]  # churned in May: 0, not NaN
    assert np.isnan(acc.loc["2024-02", 5]) and np.isnan(acc.loc["2024-03", 4])  # not observed
    rev = cohort_retention(tiny, "revenue")
    assert rev.loc["2024-01", 2] == pytest.approx(105 / 45)  # the upgrade: above 100%
    with pytest.raises(ValueError, match="accounts' or 'revenue"):
        cohort_retention(tiny, "seats")


def test_plots_draw_the_tables(tiny):
    ax = plot_nrr(monthly_retention(tiny))
    assert len(ax.patches) == 4 and max(p.get_height() for p in ax.patches) == pytest.approx(200)
    ax = plot_cohort_heatmap(cohort_retention(tiny))
    assert {t.get_text() for t in ax.texts} >= {"100", "0"}
