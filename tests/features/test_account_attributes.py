"""The accounts table's own columns: read as features only where dataset.json names them
(an undated column may have been written after the outcome), dates point in time."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnlab.data import Vocabulary, VocabularyError, fit_vocabulary, load_dataset
from churnlab.features import build_features, build_observations
from churnlab.features.registry import catalogue
from tests.conftest import tiny_frames, write_frames

T = pd.Timestamp


def _dataset(tmp_path, names, fmt="csv"):
    frames = tiny_frames()
    frames["accounts"] = frames["accounts"].assign(
        region=["north", "south", None],
        employees=["12", "250", ""],  # numbers, as a CSV export writes them
        trial_ended_at=[T("2024-01-20"), T("2024-05-01"), T("2024-03-24")],
        status=["active", "cancelled", "active"],  # written at export time: would leak
    )
    path = write_frames(frames, tmp_path / "ds", fmt)
    if names is not None:
        (path / "dataset.json").write_text(json.dumps({"account_attributes": names}))
    return load_dataset(path, observed_until="2024-07-01")


def test_named_attributes_become_features_and_the_others_are_named(tmp_path):
    ds = _dataset(tmp_path, ["region", "employees", "trial_ended_at"])
    (unread,) = [n for n in ds.notices if "are not read" in n]
    assert "column(s) status are not read" in unread and "account_attributes" in unread
    vocab = fit_vocabulary(ds)
    assert vocab.attributes == (
        ("region", "category"),
        ("employees", "number"),
        ("trial_ended_at", "date"),
    )
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab  # travels in the feature spec
    obs = build_observations(ds, ["2024-04-15"], 30)
    table, used = build_features(ds, obs, names=["account_attributes"], vocabulary=vocab)
    f = ds.con.execute(table).set_index("account_id")
    assert f.region.loc[[1, 2]].tolist() == ["north", "south"] and pd.isna(f.region.loc[3])
    assert f.employees.loc[[1, 2]].tolist() == [12.0, 250.0] and pd.isna(f.employees.loc[3])
    # point in time: account 2's trial ends after the cutoff, so it is not known yet
    assert f.trial_ended_at.loc[1] == (T("2024-04-15") - T("2024-01-20")).days
    assert pd.isna(f.trial_ended_at.loc[2])
    assert f.trial_ended_at.loc[3] == 22.0
    names = [x.name for x in used[0].outputs(vocab)]
    assert names == ["region", "employees", "trial_ended_at"] and "status" not in f


def test_numbers_and_booleans_written_for_people_are_numbers(tmp_path):
    """A CSV's 1,234 and $1,500.00, True/False and yes/no, with NA or - for a missing value:
    numbers, as a customer table reads them (before: categories of ~300 levels)."""
    frames = tiny_frames()
    frames["accounts"] = frames["accounts"].assign(
        employees=["1,234", "NA", "$1,500.00"],
        partner=["True", "no", "-"],
    )
    path = write_frames(frames, tmp_path / "ds", "csv")
    (path / "dataset.json").write_text(json.dumps({"account_attributes": ["employees", "partner"]}))
    ds = load_dataset(path, observed_until="2024-07-01")
    vocab = fit_vocabulary(ds)
    assert vocab.attributes == (("employees", "number"), ("partner", "number"))
    obs = build_observations(ds, ["2024-04-15"], 30)
    table, _ = build_features(ds, obs, names=["account_attributes"], vocabulary=vocab)
    f = ds.con.execute(table).set_index("account_id")
    assert f.employees.loc[[1, 3]].tolist() == [1234.0, 1500.0] and pd.isna(f.employees.loc[2])
    assert f.partner.loc[[1, 2]].tolist() == [1.0, 0.0] and pd.isna(f.partner.loc[3])


def test_without_names_nothing_is_read_and_the_notice_says_how(tmp_path):
    ds = _dataset(tmp_path, None, fmt="parquet")
    (unread,) = [n for n in ds.notices if "are not read" in n]
    assert "region, employees, trial_ended_at, status" in unread
    assert fit_vocabulary(ds).attributes == ()
    obs = build_observations(ds, ["2024-04-15"], 30)
    table, _ = build_features(ds, obs, vocabulary=fit_vocabulary(ds))
    assert not {"region", "employees", "status"} & set(table.columns)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["region", "revenue"], "does not have: ['revenue']"),
        (["segment"], "read by churnlab already"),
        ("region", "must be a list of column names"),
    ],
)
def test_bad_names_fail_the_load_naming_them(tmp_path, names, message):
    with pytest.raises(VocabularyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _dataset(tmp_path, names)


def test_a_scoring_table_without_the_trained_attributes_is_named(tmp_path):
    from churnlab.errors import ChurnlabError

    ds = _dataset(tmp_path, None, fmt="parquet")
    vocab = Vocabulary(attributes=(("region", "category"), ("plan_tier", "category")))
    obs = build_observations(ds, ["2024-04-15"], 30)
    with pytest.raises(ChurnlabError, match=r"no column\(s\) \['plan_tier'\]"):
        build_features(ds, obs, names=["account_attributes"], vocabulary=vocab)


def test_a_name_taken_by_a_built_in_feature_is_prefixed():
    from churnlab.features.builtin.account import _attribute_names

    vocab = Vocabulary(attributes=(("Tenure Days", "number"), ("Region", "category")))
    assert _attribute_names(vocab) == {"Tenure Days": "account_tenure_days", "Region": "region"}
    assert any(f.name == "<attribute>" for f in catalogue_features())


def catalogue_features():
    return [f for b in catalogue_builders() for f in b.features]


def catalogue_builders():
    from churnlab.features.registry import builders

    return [b for b in builders() if b.name == "account_attributes"]


assert catalogue  # the catalogue lists the builder (its template row: <attribute>)
