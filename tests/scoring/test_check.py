"""The input check batch, REST and Spark scoring share (:mod:`churnlab.scoring.check`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.types import ColSpec, Schema

from churnlab.data.single_table import read_customer_rows
from churnlab.scoring import ScoringError
from churnlab.scoring.check import check_feature_table

SCHEMA = Schema(
    [
        ColSpec("string", "account_id"),
        ColSpec("double", "mrr"),
        ColSpec("long", "tenure"),
        ColSpec("double", "TotalCharges"),
        ColSpec("string", "Contract"),
    ]
)


@pytest.mark.parametrize("blank", [" ", "  ", "NA", " n/a "])
def test_a_batch_whose_every_number_is_a_blank_reads_them_as_missing(tmp_path, blank):
    """The Telco export writes TotalCharges ``' '`` for tenure-0 customers: training read them
    as missing, and so did scoring beside numbers, but a batch of new sign-ups only (or one
    customer) was refused: "column(s) with the wrong type: 'TotalCharges' (double): [' ']"."""
    path = tmp_path / "new_signups.csv"
    for rows in (2, 1):
        lines = ["customerID,tenure,Contract,MonthlyCharges,TotalCharges"] + [
            f"000{i}-ABCDE,0,Month-to-month,{20 + i}.5,{blank}" for i in range(rows)
        ]
        path.write_text("\n".join(lines) + "\n")
        read = read_customer_rows(
            path,
            {"id": "customerID", "mrr": "MonthlyCharges"},
            ["tenure", "TotalCharges", "Contract"],
        )
        checked = check_feature_table(read, SCHEMA, str(path))
        assert checked.TotalCharges.dtype == "float64" and checked.TotalCharges.isna().all()
        assert checked.mrr.tolist() == [20.5, 21.5][:rows]
    # the same row sent as JSON (REST)
    one = pd.DataFrame([{"account_id": "0001-ABCDE", "mrr": 20.5, "tenure": 0,
                         "TotalCharges": blank, "Contract": "One year"}])  # fmt: skip
    assert np.isnan(check_feature_table(one, SCHEMA, "request").TotalCharges[0])


def test_words_in_a_number_column_are_still_refused_naming_them():
    frame = pd.DataFrame(
        {"account_id": ["a", "b"], "mrr": [1.0, 2.0], "tenure": [1, 2],
         "TotalCharges": [" ", "abc"], "Contract": ["x", "y"]}
    )  # fmt: skip
    with pytest.raises(ScoringError, match=r"wrong type: 'TotalCharges' \(double\): \['abc'\]"):
        check_feature_table(frame, SCHEMA, "batch.csv")
    # a category column keeps its text: "none" may be a category
    frame["TotalCharges"] = [" ", "1.5"]
    frame["Contract"] = ["none", " "]
    assert check_feature_table(frame, SCHEMA, "batch.csv").Contract.tolist()[0] == "none"


def test_keys_are_compared_after_conversion_and_wide_ids_stay_distinct():
    """Duplicates were looked for before the cast: ``7`` and ``"7"`` passed as two accounts,
    and two 22-digit ids were cast onto one wrapped key. Keys are compared as converted, and
    ids too wide for int64 are kept as text, so they stay two accounts."""
    schema = Schema([ColSpec("long", "account_id"), ColSpec("datetime", "cutoff")])
    same = pd.DataFrame({"account_id": [7, "7"], "cutoff": ["2025-03-01", "2025-03-01"]})
    with pytest.raises(ScoringError, match=r"2 rows share duplicate key\(s\)"):
        check_feature_table(same, schema)
    wide = pd.DataFrame({"account_id": [2**70, 2**70 + 1], "cutoff": [20250301, 20250301]})
    out = check_feature_table(wide, schema)
    assert out.account_id.tolist() == [str(2**70), str(2**70 + 1)]
    assert (out.cutoff == pd.Timestamp("2025-03-01")).all()
