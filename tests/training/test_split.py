"""Out-of-time splits with purged label windows; stratified random splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.training.split import SplitError, check_classes, out_of_time_splits, random_split


def _frame(end="2025-12-31", horizon=90) -> pd.DataFrame:
    cutoffs = pd.date_range("2024-03-01", "2025-12-01", freq="MS")
    rows = [(a, c) for c in cutoffs for a in range(20)]
    f = pd.DataFrame(rows, columns=["account_id", "cutoff"])
    f["label_complete"] = f.cutoff + pd.Timedelta(days=horizon) <= pd.Timestamp(end)
    f["churned_within_h"] = (f.account_id % 5 == 0) & f.label_complete
    return f


def test_purged_out_of_time_split():
    f = _frame()
    (s,) = out_of_time_splits(f, horizon_days=90)
    assert s.cutoffs["test"] == ["2025-10-01"]  # latest cutoff whose 90 days end by 2025-12-31
    assert s.cutoffs["validation"] == ["2025-07-01"]  # its window closes by the test cutoff
    assert s.cutoffs["train"][-1] == "2025-04-01" and s.cutoffs["train"][0] == "2024-03-01"
    val = pd.Timestamp(s.cutoffs["validation"][0])
    assert all(pd.Timestamp(c) + pd.Timedelta(days=90) <= val for c in s.cutoffs["train"])
    # no row in two parts, incomplete rows in none
    total = s.masks["train"].astype(int) + s.masks["validation"] + s.masks["test"]
    assert total.max() == 1
    assert not (total.astype(bool) & ~f.label_complete.to_numpy()).any()


def test_pooled_calibration_cutoffs_are_out_of_sample_and_closed_by_the_test_cutoff():
    f = _frame()
    (s,) = out_of_time_splits(f, horizon_days=90, pool_calibration=True)
    # the validation cutoff and the two cutoffs between it and training, which nothing used
    assert s.cutoffs["calibration"] == ["2025-05-01", "2025-06-01", "2025-07-01"]
    test, window = pd.Timestamp(s.cutoffs["test"][0]), pd.Timedelta(days=90)
    assert all(pd.Timestamp(c) + window <= test for c in s.cutoffs["calibration"])
    assert not set(s.cutoffs["calibration"]) & set(s.cutoffs["train"])
    assert not (s.calibration & (s.masks["train"] | s.masks["test"])).any()
    assert (s.calibration >= s.masks["validation"]).all()  # the validation rows are pooled
    assert s.describe()["calibration"] == {"rows": 60, "cutoffs": s.cutoffs["calibration"]}
    # the other parts are the unpooled split's; without purge only the validation cutoff is left
    (plain,) = out_of_time_splits(f, horizon_days=90)
    assert plain.calibration is None and plain.cutoffs == {
        k: v for k, v in s.cutoffs.items() if k != "calibration"
    }
    (unpurged,) = out_of_time_splits(f, horizon_days=90, purge=False, pool_calibration=True)
    assert unpurged.calibration is None


def test_unpurged_and_backtest_folds():
    f = _frame()
    (s,) = out_of_time_splits(f, horizon_days=90, purge=False)
    assert s.cutoffs["validation"] == ["2025-09-01"] and s.cutoffs["train"][-1] == "2025-08-01"
    folds = out_of_time_splits(f, horizon_days=90, folds=3)
    assert [x.cutoffs["test"][0] for x in folds] == ["2025-10-01", "2025-09-01", "2025-08-01"]


def test_horizon_past_the_data_and_too_few_cutoffs():
    f = _frame(end="2024-03-15")
    with pytest.raises(SplitError, match="horizon runs past the end of the data"):
        out_of_time_splits(f, horizon_days=90)
    f = _frame()
    with pytest.raises(SplitError, match="not enough cutoffs"):
        out_of_time_splits(f[f.cutoff >= "2025-05-01"], horizon_days=90)


def test_part_without_churners_is_an_error():
    f = _frame()
    (s,) = out_of_time_splits(f, horizon_days=90)
    y = f.churned_within_h & (f.cutoff != "2025-10-01")
    with pytest.raises(SplitError, match=r"'test' \(cutoffs 2025-10-01\) has no churners"):
        check_classes(s, y)
    with pytest.raises(SplitError, match="use more cutoffs, a longer horizon"):
        check_classes(s, y)


def test_a_small_table_without_churners_in_a_part_says_why_and_what_helps():
    """50 rows with 3 churners (valid as a table): a stratified fifth holds none of them."""
    y = pd.Series(np.r_[np.ones(3), np.zeros(47)].astype(int))
    split = random_split(y, 0.2, 0.2, seed=0)
    with pytest.raises(SplitError) as info:
        check_classes(split, y)
    text = str(info.value)
    assert "has no churners among 10 rows" in text and "3 churners and 47 non-churners" in text
    assert "split.validation_size / split.test_size" in text


def test_random_split_is_stratified_and_seeded():
    y = pd.Series(np.r_[np.ones(100), np.zeros(900)].astype(int))
    a, b = random_split(y, 0.2, 0.2, seed=3), random_split(y, 0.2, 0.2, seed=3)
    for part in ("train", "validation", "test"):
        np.testing.assert_array_equal(a.masks[part], b.masks[part])
        assert abs(y[a.masks[part]].mean() - 0.1) < 0.01
    assert (a.masks["train"].astype(int) + a.masks["validation"] + a.masks["test"] == 1).all()
    assert a.masks["test"].sum() == 200
