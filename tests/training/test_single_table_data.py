"""A single table's duration column: converted to days by its unit, a classifier feature unless
excluded, never a survival family's feature (it is their target)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnlab.config import SpecError, parse_spec, spec_from_options
from churnlab.features.spec import FeatureSpec
from churnlab.training import checked_data, load_training_data, random_split
from churnlab.vocab import DAYS_PER_MONTH


@pytest.fixture
def crm(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    pd.DataFrame(
        {
            "id": [f"C{i:03d}" for i in range(n)],  # in id order: the frame's rows come so
            "plan": rng.choice(["a", "b"], n),
            "tenure": rng.integers(1, 72, n),
            "churn": rng.choice(["Yes", "No"], n),
        }
    ).to_csv(tmp_path / "crm.csv.gz", index=False)
    return tmp_path / "crm.csv.gz"


def _spec(crm, family="logistic", **data):
    return parse_spec(
        {
            "name": "t",
            "data": {"table": str(crm), "id": "id", "label": "churn", "duration": "tenure", **data},
            "model": {"family": family},
        }
    )


def _table_spec(table, family):
    """A spec for a table with an ``id`` and a ``churn`` column and nothing else said."""
    return parse_spec(
        {
            "name": "t",
            "data": {"table": str(table), "id": "id", "label": "churn"},
            "model": {"family": family},
        }
    )


def test_duration_in_months_is_converted_to_days_and_stays_a_classifier_feature(crm):
    data = load_training_data(_spec(crm, duration_unit="months"))
    tenure = pd.read_csv(crm).tenure
    np.testing.assert_allclose(data.frame.duration_days, tenure * DAYS_PER_MONTH)
    assert "tenure" in data.features  # in its own unit, as the table has it
    np.testing.assert_array_equal(data.frame.tenure, tenure)
    assert data.notices == []  # at most 71 months is a plausible tenure


def test_duration_in_days_that_looks_like_months_gets_a_notice(crm, caplog):
    data = load_training_data(_spec(crm))
    np.testing.assert_allclose(data.frame.duration_days, pd.read_csv(crm).tenure)
    (notice,) = data.notices
    assert "looks like months or weeks" in notice and "--duration-unit" in notice
    assert notice in caplog.text


def test_duration_excluded_on_request_and_never_a_survival_feature(crm):
    spec = parse_spec({**_spec(crm).resolved(), "features": {"exclude": ["tenure"]}})
    assert "tenure" not in load_training_data(spec).features
    cox = load_training_data(_spec(crm, "cox", duration_unit="weeks"))
    assert "tenure" not in cox.features
    np.testing.assert_allclose(cox.frame.duration_days, pd.read_csv(crm).tenure * 7)


def test_duration_unit_checked_in_spec_and_options(crm):
    with pytest.raises(SpecError, match="duration_unit"):
        _spec(crm, duration_unit="decades")
    with pytest.raises(SpecError, match="duration_unit: set only with a duration column"):
        parse_spec(
            {
                "name": "t",
                "data": {"table": str(crm), "id": "id", "label": "churn", "duration_unit": "weeks"},
                "model": {"family": "logistic"},
            }
        )
    options = dict.fromkeys(
        ["data", "cutoffs", "horizon", "lead", "mrr", "experiment", "name", "seed"]
    )
    spec = spec_from_options(
        None,
        table=crm,
        id_col="id",
        label="churn",
        duration="tenure",
        duration_unit="months",
        model="lightgbm",
        **options,
    )
    assert spec.data.duration_unit == "months"


def test_command_line_paths_are_relative_to_the_working_directory(crm, tmp_path, monkeypatch):
    # `churnlab train --table crm.csv` typed in the folder holding crm.csv, while the project
    # root (CHURNLAB_HOME, or a parent's pyproject) is elsewhere: the shell's path, not the
    # project's
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("CHURNLAB_HOME", str(project))
    monkeypatch.chdir(crm.parent)
    options = dict.fromkeys(["cutoffs", "horizon", "lead", "mrr", "experiment", "name", "seed"])
    spec = spec_from_options(
        None, table=Path(crm.name), data=None, id_col="id", label="churn", duration=None,
        model="logistic", **options,
    )  # fmt: skip
    assert Path(spec.data.table) == crm
    assert len(load_training_data(spec).frame) == len(pd.read_csv(crm))
    spec = spec_from_options(
        None, data=Path("demo"), table=None, id_col=None, label=None, duration=None,
        model="logistic", **{**options, "cutoffs": "2024-03-01:2024-06-01:1M"},
    )  # fmt: skip
    assert Path(spec.data.path) == crm.parent / "demo"


def test_columns_nothing_can_be_learned_from_are_left_out_with_one_notice(tmp_path):
    rng = np.random.default_rng(2)
    n = 300
    table = tmp_path / "export.csv"
    pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(n)],
            "Email": [f"user{i}@example.com" for i in range(n)],  # one value per customer
            "Notes": rng.choice(["called", "happy", "wants discount", None], n),
            "Monthly": rng.uniform(10, 100, n).round(4),  # numbers: every value distinct, kept
            "Region": "EU",
            "Unnamed: 9": np.nan,  # the empty column a spreadsheet export adds
            "churn": rng.choice(["Yes", "No"], n),
        }
    ).to_csv(table, index=False)
    spec = _table_spec(table, "lightgbm")
    data = load_training_data(spec)
    assert data.features == ["Notes", "Monthly"]
    assert set(data.dropped) == {"Email", "Region", "Unnamed: 9"}
    assert data.dropped["Region"] == "constant"
    assert data.dropped["Email"] == "300 distinct values in 300 rows: an identifier or text"
    (notice,) = [m for m in data.notices if "left out of the features" in m]
    assert notice.startswith("3 column(s) of export.csv left out of the features: 'Region'")
    assert not set(data.dropped) & set(data.frame.columns)


def test_row_numbers_and_numeric_ids_are_left_out_but_distinct_measures_kept(tmp_path):
    """A bank export's RowNumber (1..n) and a second account number are ids, not measures; an
    epoch time, a large total and an amount, each distinct in every row too, are kept."""
    rng = np.random.default_rng(4)
    n = 400
    table = tmp_path / "bank.csv"
    pd.DataFrame(
        {
            "CustomerId": rng.permutation(n) + 15_565_701,
            "RowNumber": np.arange(1, n + 1),
            "AccountNo": rng.choice(10**8, n, replace=False),  # sparse, but named like an id
            "SignupEpoch": rng.choice(10**8, n, replace=False) + 1_600_000_000,
            "TotalBytes": rng.choice(10**9, n, replace=False),
            "Balance": rng.uniform(0, 10**5, n).round(2),
            "Age": rng.integers(18, 80, n),
            "churn": rng.choice(["Yes", "No"], n),
        }
    ).to_csv(table, index=False)
    data = load_training_data(
        parse_spec(
            {
                "name": "t",
                "data": {"table": str(table), "id": "CustomerId", "label": "churn"},
                "model": {"family": "lightgbm"},
            }
        )
    )
    assert data.features == ["SignupEpoch", "TotalBytes", "Balance", "Age"]
    assert data.dropped == {
        "RowNumber": "whole numbers 1..400, a different one in each row: a row number or a "
        "sequential id",
        "AccountNo": "a different whole number in each of 400 rows: a numeric id",
    }


def test_decimal_comma_numbers_left_as_text_are_not_called_an_identifier():
    """Numbers with a decimal comma the reader could not take (a comma-separated file, or one
    value with a decimal point beside them) are left out saying so, not as 'an identifier'."""
    from churnlab.training.data import identifier_like

    n = 120
    frame = pd.DataFrame(
        {
            "Monthly": [f"{10 + i},{i % 100:02d}" for i in range(n)],
            "Email": [f"user{i}@example.com" for i in range(n)],
        }
    )
    why = identifier_like(frame, ["Monthly", "Email"])
    assert "numbers written with a decimal comma, such as '10,00'" in why["Monthly"]
    assert why["Email"].endswith("an identifier or text")


def test_a_column_recorded_after_the_outcome_is_named_before_fitting(tmp_path):
    rng = np.random.default_rng(3)
    n = 400
    churned = rng.random(n) < 0.3
    table = tmp_path / "export.csv"
    pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(n)],
            "tenure": np.where(churned, rng.integers(1, 30, n), rng.integers(10, 72, n)),
            "Churn Date": np.where(churned, "2024-05-01", None),  # only churners have one
            "Reason": np.where(churned, rng.choice(["price", "service"], n), "none"),
            # filled for about 90% of churners and 1% of the others: its values separate
            # nothing (ROC-AUC about 0.95 by being filled), but being filled is the outcome
            "Exit survey": np.where(
                rng.random(n) < np.where(churned, 0.9, 0.01), rng.integers(1, 6, n), np.nan
            ),
            # missing more often for churners (about 0.7 by being filled): a feature
            "Last NPS": np.where(rng.random(n) < np.where(churned, 0.5, 0.1), np.nan, 7.0),
            "churn": np.where(churned, "Yes", "No"),
        }
    ).to_csv(table, index=False)
    spec = _table_spec(table, "logistic")
    data, _, _ = checked_data(spec, tmp_path, lambda _: None)
    (notice,) = [m for m in data.notices if "alone separate churners" in m]
    assert "'Churn Date' (ROC-AUC 1.000), 'Reason' (ROC-AUC 1.000), 'Exit survey' (ROC-AUC 0.9" in (
        notice
    )
    assert "tenure" not in notice  # predictive (about 0.8), not a leak
    assert "Last NPS" not in notice
    assert "train --exclude COLUMN" in notice
    options = dict.fromkeys(["data", "cutoffs", "horizon", "lead", "mrr", "duration", "name"])
    spec = spec_from_options(
        None, table=table, id_col="id", label="churn", model="logistic", experiment=None,
        seed=None, exclude=["Churn Date", "Reason", "Exit survey"], **options,
    )  # fmt: skip
    assert spec.features.exclude == ["Churn Date", "Reason", "Exit survey"]
    data, _, _ = checked_data(spec, tmp_path, lambda _: None)
    assert data.features == ["tenure", "Last NPS"]
    assert not [m for m in data.notices if "alone separate churners" in m]


def test_an_unknown_feature_to_exclude_is_named_with_the_nearest_column(crm):
    spec = parse_spec({**_spec(crm).resolved(), "features": {"exclude": ["tenur", "zzz"]}})
    with pytest.raises(SpecError, match=r"unknown feature\(s\) \['tenur', 'zzz'\]") as info:
        load_training_data(spec)
    assert "'tenur': did you mean 'tenure'?" in str(info.value) and "'zzz': did" not in str(
        info.value
    )


def test_a_near_copy_of_the_label_gets_a_notice_below_the_leak_bar(tmp_path):
    # the bank table's 'Complain': agrees with the label on about 97% of rows, ROC-AUC ~0.97
    # alone: under the leak bar (0.99), yet no column recorded before the outcome is that strong
    rng = np.random.default_rng(4)
    n = 600
    churned = rng.random(n) < 0.25
    table = tmp_path / "bank.csv"
    pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(n)],
            "tenure": np.where(churned, rng.integers(1, 40, n), rng.integers(10, 72, n)),
            "Complain": np.where(rng.random(n) < 0.03, ~churned, churned).astype(int),
            "churn": np.where(churned, "Yes", "No"),
        }
    ).to_csv(table, index=False)
    data, _, _ = checked_data(_table_spec(table, "logistic"), tmp_path, lambda _: None)
    assert not data.leaks
    assert list(data.strong) == ["Complain"] and 0.95 <= data.strong["Complain"] < 0.99
    (notice,) = [m for m in data.notices if "almost perfectly" in m]
    assert "'Complain' (ROC-AUC 0.9" in notice and "tenure" not in notice
    assert "train --exclude COLUMN" in notice


def test_table_columns_read_as_reasons_from_their_names_and_values(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    crm = tmp_path / "crm.csv"
    pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(n)],
            "Contract": rng.choice(["Month-to-month", "Two year"], n),
            "TotalCharges": rng.uniform(10, 5000, n).round(2),
            "tenure": rng.integers(1, 72, n),
            "MonthlyCharges": np.where(rng.random(n) < 0.2, 0.0, rng.uniform(20, 120, n).round(2)),
            "churn": rng.choice(["Yes", "No"], n),
        }
    ).to_csv(crm, index=False)
    spec = _spec(crm, mrr="MonthlyCharges")
    spec = spec.model_copy(
        update={"population": spec.population.model_copy(update={"paying_only": True})}
    )
    data = load_training_data(spec)
    assert (data.frame.mrr > 0).all() and len(data.frame) < n  # paying only
    assert data.feature_spec.population.paying_only
    t = data.reasons
    assert t["TotalCharges"].render(494.3, {}) == "TotalCharges 494"
    assert t["Contract"].render("Month-to-month", {}) == "Contract: Month-to-month"
    assert t["tenure"].context and t["MonthlyCharges"].context and not t["TotalCharges"].context
    for template in t.values():
        assert "customer table column" not in " ".join(template.templates)


def test_date_columns_are_read_as_dates_in_training_and_scoring(tmp_path):
    from churnlab.data.single_table import read_customer_rows

    rng = np.random.default_rng(4)
    n = 300
    last = pd.Timestamp("2024-06-01") - pd.to_timedelta(rng.integers(0, 200, n), "D")
    signup = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), "D")
    # no day above 12: 03/04/2024 could be March 4 or April 3
    renewal = pd.to_datetime(
        {"year": signup.year, "month": signup.month, "day": signup.day % 12 + 1}
    )
    table = tmp_path / "export.csv"
    export = pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(n)],
            "Last Login": last.strftime("%Y-%m-%d %H:%M"),
            "Signup": np.where(rng.random(n) < 0.1, "", signup.strftime("%Y-%m-%d")),
            "Joined": signup.strftime("%d/%m/%Y"),  # 28/03/2021: the days above 12 decide
            "Renewal": renewal.dt.strftime("%m/%d/%Y"),  # nothing decides: stays text
            "churn": np.where(last < pd.Timestamp("2024-03-01"), "Yes", "No"),
        }
    )
    export.to_csv(table, index=False)
    spec = _table_spec(table, "lightgbm")
    data = load_training_data(spec)
    epoch = pd.Timestamp("1970-01-01")
    days = data.frame.set_index("account_id")["Last Login"]
    expected = pd.Series((last - epoch) / pd.Timedelta(days=1), index=[f"C{i}" for i in range(n)])
    np.testing.assert_allclose(days.loc[expected.index], expected, atol=1 / 86400)
    assert data.frame["Signup"].isna().sum() > 0  # blanks stay missing
    assert data.frame["Signup"].dtype == "float64"
    joined = data.frame.set_index("account_id")["Joined"]
    expected = pd.Series((signup - epoch) / pd.Timedelta(days=1), index=expected.index)
    np.testing.assert_allclose(joined.loc[expected.index], expected)
    (notice,) = [m for m in data.notices if "dates" in m]
    assert (
        "'Last Login', 'Signup', 'Joined' (day first): dates, read as days since 1970-01-01"
        in notice
    )
    # 03/04/2024 is March 4 or April 3: text, said so (and then left out as near-unique text)
    assert "['Renewal']: dates written day or month first" in notice
    assert "Renewal" in data.dropped
    assert data.reasons["Last Login"].render(days.loc["C0"], {}) == (
        f"Last Login {pd.Timestamp(last[0]):%Y-%m-%d}"
    )
    # scoring reads the dates the way training did, in the day/month order training decided
    # even where the batch's own values could not decide it (no day above 12)
    assert data.feature_spec.date_orders == (("Joined", "day_first"),)
    undecided = signup.day <= 12
    export[undecided].to_csv(batch := tmp_path / "batch.csv", index=False)
    columns = ["Last Login", "Signup", "Joined"]
    orders = dict(data.feature_spec.date_orders)
    for path, ids in ((table, days.index), (batch, expected.index[undecided])):
        rows = read_customer_rows(path, {"id": "id"}, columns, date_orders=orders)
        rows = rows.set_index("account_id")
        np.testing.assert_allclose(rows.loc[ids, "Last Login"], days.loc[ids], atol=1e-9)
        np.testing.assert_allclose(rows.loc[ids, "Joined"], joined.loc[ids])
    assert FeatureSpec.from_dict(data.feature_spec.to_dict()) == data.feature_spec
    # a column training kept as text (Renewal: nothing decided) stays text at scoring, even
    # where the batch's own values would decide an order (a date above 12)
    export.assign(Renewal="28/03/2024").to_csv(decided := tmp_path / "decided.csv", index=False)
    rows = read_customer_rows(decided, {"id": "id"}, [*columns, "Renewal"], date_orders=orders,
                              dates=data.feature_spec.dates)  # fmt: skip
    assert pd.api.types.is_string_dtype(rows["Renewal"]) and rows["Joined"].dtype == "float64"


@pytest.mark.parametrize("family", ["lightgbm", "logistic", "cox"])
def test_single_table_model_is_refitted_on_training_and_validation_rows(tmp_path, family):
    """After the validation rows chose (rounds, preprocessing) and calibrated, the model scoring
    the test rows is refitted on training + validation rows with those choices fixed; the
    validation rows are still scored by the fit that did not see them."""
    from churnlab.training import train

    rng = np.random.default_rng(1)
    n = 700
    tenure = rng.integers(1, 72, n)
    spend = rng.lognormal(3, 1, n)
    logit = -1.0 - 0.03 * tenure + 0.4 * np.log(spend)
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    csv = tmp_path / "crm.csv"
    pd.DataFrame(
        {"id": [f"C{i}" for i in range(n)], "plan": rng.choice(["a", "b"], n),
         "tenure": tenure, "spend": spend, "churn": np.where(churn, "Yes", "No")}
    ).to_csv(csv, index=False)  # fmt: skip
    raw = _spec(csv, family).resolved()
    if family == "lightgbm":
        raw["model"]["params"] = {"n_estimators": 300, "early_stopping_rounds": 20}
    refit = train(parse_spec(raw))
    kept = train(parse_spec({**raw, "split": {**raw["split"], "refit": False}}))

    split = refit.split.describe()
    record = refit.estimator.fit_choices()["refit"]
    assert record["rows"] == split["train"]["rows"] + split["validation"]["rows"]
    assert "refit" not in kept.estimator.fit_choices()
    first = kept.estimator.estimator
    if family == "lightgbm":  # the early-stopped rounds, scaled by the rows, no early stopping
        ratio = record["rows"] / split["train"]["rows"]
        assert record["fixed"]["n_estimators"] == round(first.best_iteration_ * ratio)
        assert refit.estimator.estimator.booster_.num_trees() == record["fixed"]["n_estimators"]
    else:  # the preprocessing (and penalty) the validation rows kept
        assert record["fixed"]["numeric_transform"] == first.preprocessing_["kept"]
        assert record["fixed"] == first.refit_params()
        assert record["chosen_on_validation"] == first.fit_choices()
        # what the run logs is what the validation rows chose, not the refit's own record
        # (it scored validation rows it was trained on: in-sample)
        logged = refit.estimator.fit_choices()["preprocessing"]
        assert logged == first.fit_choices()["preprocessing"]
        assert refit.estimator.estimator.fit_choices()["preprocessing"] != logged
    # validation: the same first fit and calibration either way; test: the refit's scores
    assert refit.metrics["validation_roc_auc"] == kept.metrics["validation_roc_auc"]
    assert not np.allclose(refit.predictions["test"].p, kept.predictions["test"].p)
    assert abs(refit.metrics["test_roc_auc"] - kept.metrics["test_roc_auc"]) < 0.1
    # the refit's score is put on the scale the calibration was fitted on
    assert abs(refit.predictions["test"].p.mean() - kept.predictions["test"].p.mean()) < 0.03


def test_a_table_with_few_churners_is_warned_of_and_keeps_its_probabilities(tmp_path):
    """4 churners among 300 rows: one notice naming each part's churners; the refitted model
    carried the first fit's calibration onto a shifted score (test mean p 0.998 where
    validation had 0.027): its probabilities now stay on the calibrated scale."""
    from churnlab.training import train

    rng = np.random.default_rng(0)
    n = 300
    churn = np.zeros(n, dtype=bool)
    churn[rng.choice(n, 4, replace=False)] = True
    csv = tmp_path / "few.csv"
    pd.DataFrame(
        {"id": [f"C{i}" for i in range(n)], "tenure": rng.integers(1, 70, n),
         "charges": rng.uniform(10, 100, n).round(2), "churn": np.where(churn, "Yes", "No")}
    ).to_csv(csv, index=False)  # fmt: skip
    spec = _spec(csv, "logistic")
    data, splits, _ = checked_data(spec, tmp_path, lambda _: None)  # what train --table runs
    result = train(spec, data, splits=splits)
    (notice,) = [m for m in result.data.notices if "few rows of one class" in m]
    assert "validation 1 churner(s) among 60, test 1 churner(s) among 60" in notice
    assert "the table has 4 churners and 296 non-churners" in notice
    for part in ("validation", "test"):
        assert result.predictions[part].p.mean() < 0.1, part


def test_an_mrr_column_that_is_not_a_number_is_a_problem_naming_rows(tmp_path):
    """``--mrr`` naming a column with a word in it (or a negative amount) failed at training
    and at scoring with a bare ``could not convert string to float: 'abc'``, naming nothing."""
    from churnlab.data import DataValidationError
    from churnlab.data.single_table import read_customer_rows

    path = tmp_path / "crm.csv"
    path.write_text("id,fee,plan,churn\nC1,$10.50,a,Yes\nC2,abc,b,No\nC3,,a,No\nC4,20,b,Yes\n")
    spec = parse_spec(
        {
            "name": "t",
            "data": {"table": str(path), "id": "id", "label": "churn", "mrr": "fee"},
            "model": {"family": "logistic"},
        }
    )
    with pytest.raises(DataValidationError) as info:
        load_training_data(spec)
    (problem,) = info.value.problems
    assert problem.column == "fee" and "must be a number; 1 value(s)" in str(problem)
    assert "id='C2'" in str(problem) and "fee='abc'" in str(problem)
    with pytest.raises(DataValidationError, match="id='C2'"):
        read_customer_rows(path, {"id": "id", "mrr": "fee"}, ["plan"])
    path.write_text("id,fee,plan,churn\nC1,10.5,a,Yes\nC2,-3,b,No\nC3,,a,No\nC4,20,b,Yes\n")
    with pytest.raises(DataValidationError, match=r"1 negative MRR value.*id='C2'"):
        load_training_data(spec)
    path.write_text("id,fee,plan,churn\nC1,$10.50,a,Yes\nC2,,b,No\nC3,7,a,No\nC4,20,b,Yes\n")
    rows = read_customer_rows(path, {"id": "id", "mrr": "fee"}, ["plan"])
    assert rows.mrr.tolist()[::2] == [10.5, 7.0] and np.isnan(rows.mrr.iloc[1])


def test_the_same_customers_give_the_same_split_in_any_row_order(tmp_path):
    """The seeded split picks rows by position: the rows come in id order, so a table whose
    rows the engine returns (or the file holds) in another order gives the same training,
    validation and test customers and the same frame."""
    rng = np.random.default_rng(3)
    n = 3000
    table = pd.DataFrame(
        {
            "id": [f"C{i}" for i in rng.permutation(n)],
            "usage": rng.normal(size=n).round(3),
            "churn": rng.choice(["Yes", "No"], n, p=[0.3, 0.7]),
        }
    )
    frames, tests = [], []
    for name, rows in (("a", table), ("b", table.sample(frac=1, random_state=1))):
        rows.to_csv(tmp_path / f"{name}.csv", index=False)
        data = load_training_data(_table_spec(tmp_path / f"{name}.csv", "logistic"))
        split = random_split(data.frame.churned_within_h, 0.2, 0.2, seed=42)
        frames.append(data.frame)
        tests.append(set(data.frame.account_id[split.masks["test"]]))
    assert tests[0] == tests[1] and len(tests[0]) == 600
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_text_with_mostly_rare_levels_is_left_out_but_a_city_column_kept():
    """A bank export's Surname repeats too often for the distinct-value rule (a third of the
    rows) but most rows hold a name seen a few times: left out, naming the share and examples.
    A city column of a few hundred levels with most customers in the large ones is kept."""
    from churnlab.training.data import identifier_like

    n = 3000
    surnames = [f"Name{i % 1000}" for i in range(n)]  # 1,000 names, 3 rows each
    # 300 cities: 20 large ones hold 80% of the rows, 280 small ones (8-9 rows) the rest
    cities = [f"City{i % 20}" for i in range(2400)] + [f"Town{i % 280}" for i in range(600)]
    frame = pd.DataFrame({"Surname": surnames, "City": cities}, dtype="string")
    why = identifier_like(frame, ["Surname", "City"])
    assert list(why) == ["Surname"]
    assert why["Surname"] == (
        "1,000 distinct values in 3,000 rows: 100% of the rows hold a value seen fewer than 10 "
        "times (such as 'Name0', 'Name1', 'Name2'): too rare to learn a churn rate from, like a "
        "name or a street"
    )


def test_a_surname_column_is_left_out_when_training_on_a_table(tmp_path):
    """Through training: the rare-levels rule drops the column where the distinct-value rule
    does, so the model's features (and scoring) never read it."""
    rng = np.random.default_rng(5)
    n = 1200
    pool = np.array([f"Name{i}" for i in range(500)])
    weights = 1 / np.arange(1, 501) ** 0.6
    table = tmp_path / "bank.csv"
    pd.DataFrame(
        {
            "CustomerId": np.arange(n) + 15_600_000,
            "Surname": rng.choice(pool, n, p=weights / weights.sum()),
            "Geography": rng.choice(["France", "Germany", "Spain"], n),
            "Age": rng.integers(18, 80, n),
            "Exited": rng.choice([0, 1], n),
        }
    ).to_csv(table, index=False)
    data = load_training_data(
        parse_spec(
            {
                "name": "t",
                "data": {"table": str(table), "id": "CustomerId", "label": "Exited"},
                "model": {"family": "lightgbm"},
            }
        )
    )
    assert data.features == ["Geography", "Age"]
    assert "too rare to learn a churn rate from" in data.dropped["Surname"]
    assert data.feature_spec.features == ("Geography", "Age")


def test_a_table_trained_from_cp1252_scores_without_and_with_encoding(tmp_path):
    """``train --table X --encoding cp1252`` worked, then ``score --features X`` was refused
    ("give its encoding: --encoding latin-1"), and score had no --encoding (exit 2). The
    model records the encoding; a batch that is not UTF-8 is read in it, a UTF-8 batch of the
    same model stays UTF-8 (its accents intact), and ``score --encoding`` exists."""
    from dataclasses import replace
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from churnlab.cli import app
    from churnlab.data import DataValidationError
    from churnlab.scoring.features import read_scoring_table

    rng = np.random.default_rng(5)
    n = 200
    lines = ["N° client;Région;Durée;Résilié"] + [
        f"FR{i:05d};{rng.choice(['Île-de-France', 'Bretagne'])};{rng.integers(1, 37)};"
        f"{rng.integers(0, 2)}"
        for i in range(n)
    ]
    text = "\r\n".join(lines) + "\r\n"
    table = tmp_path / "export_cp1252.csv"
    table.write_bytes(text.encode("cp1252"))
    spec = parse_spec(
        {
            "name": "t",
            "data": {"table": str(table), "id": "N° client", "label": "Résilié",
                     "encoding": "cp1252"},
            "model": {"family": "logistic"},
        }
    )  # fmt: skip
    data = load_training_data(spec)
    assert data.feature_spec.encoding == "cp1252"
    assert FeatureSpec.from_dict(data.feature_spec.to_dict()) == data.feature_spec
    spec_ = data.feature_spec
    model = SimpleNamespace(
        feature_spec=spec_, input_columns=lambda: ["account_id", "mrr", *spec_.features]
    )
    expected = data.frame.set_index("account_id")["Région"].sort_index()
    for path, encoding in ((table, None), (table, "cp1252"), (tmp_path / "utf8.csv", None)):
        if path.name == "utf8.csv":
            path.write_text(text, encoding="utf-8")
        rows = read_scoring_table(model, path, encoding).set_index("account_id")["Région"]
        assert rows.sort_index().tolist() == expected.tolist()
    # a model that recorded no encoding (trained from UTF-8, or before it was recorded)
    utf8_model = SimpleNamespace(
        feature_spec=replace(spec_, encoding="utf-8"), input_columns=model.input_columns
    )
    with pytest.raises(DataValidationError, match=r"is not utf-8 text.*--encoding latin-1"):
        read_scoring_table(utf8_model, table)
    assert read_scoring_table(utf8_model, table, "latin-1").account_id.size == n
    result = CliRunner().invoke(
        app, ["score", "--encoding", "cp1252", "--features", str(table), "--out", str(table)]
    )
    assert result.exit_code == 1 and "this command reads" in result.output


def _export_with_signup(tmp_path, n=600, seed=5):
    """A CRM export: tenure in months to the export date (actives) or to the churn date, a
    signup date that is that end date minus the tenure, the tenure again in years, and three
    honest covariates of the duration (age, plan price, logins in the last 30 days)."""
    rng = np.random.default_rng(seed)
    price = rng.choice([9.0, 19.0, 49.0], n)
    logins = rng.poisson(8, n)
    age = rng.normal(42, 12, n).round()
    rate = np.exp(-2.0 + 0.02 * price - 0.3 * logins - 0.01 * (age - 42))
    lifetime = rng.exponential(1 / rate)
    months_since_signup = rng.integers(1, 73, n)  # to the export date
    churned = lifetime < months_since_signup
    tenure = np.where(churned, np.ceil(lifetime), months_since_signup).astype(int)
    signup = pd.Timestamp("2025-06-30") - pd.to_timedelta(months_since_signup * 30.44, "D")
    table = tmp_path / "export.csv"
    pd.DataFrame(
        {
            "id": [f"C{i:04d}" for i in range(n)],
            "signup_date": signup.strftime("%Y-%m-%d"),
            "tenure_years": (tenure / 12).round(2),
            "age": age,
            "plan_price": price,
            "logins_30d": logins,
            "tenure": tenure,
            "churn": np.where(churned, "Yes", "No"),
        }
    ).to_csv(table, index=False)
    return table


@pytest.mark.parametrize("family", ["cox", "lightgbm_survival"])
def test_columns_that_determine_the_duration_are_left_out_of_survival_models_only(tmp_path, family):
    table = _export_with_signup(tmp_path)
    spec = _spec(table, family, duration_unit="months")
    data, _, _ = checked_data(spec, tmp_path, lambda _: None)
    # the signup date is the export date minus the tenure for every active customer, and
    # tenure_years the duration again: the survival model's target, so not its features
    assert data.features == ["age", "plan_price", "logins_30d"]  # honest covariates kept
    assert set(data.duration_twins) == {"signup_date", "tenure_years"}
    assert min(data.duration_twins.values()) >= 0.95
    assert data.dropped["signup_date"].startswith("nearly determines the duration: |Spearman|")
    assert data.feature_spec.features == ("age", "plan_price", "logins_30d")
    assert data.feature_spec.dates == ()
    assert "signup_date" not in data.frame and set(data.reasons) == set(data.features)
    (notice,) = [m for m in data.notices if "nearly determine the duration" in m]
    assert "'signup_date' (|Spearman| 1.000 on the training rows still active" in notice
    assert "'tenure_years' (|Spearman| 1.000 on the training rows" in notice
    assert "age" not in notice and "logins" not in notice

    # a classifier keeps them all: tenure predicts churn, and is no classifier's target
    data, _, _ = checked_data(_spec(table, "logistic", duration_unit="months"), tmp_path, print)
    assert {"signup_date", "tenure_years", "tenure", "age"} <= set(data.features)
    assert not data.duration_twins
    assert not [m for m in data.notices if "nearly determine the duration" in m]
