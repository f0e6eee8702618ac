"""Uplift training data: only randomized observations, each with the arm of the campaign
contact in the week before its cutoff; the spec rules of the uplift families; a dataset
without campaigns is refused by name."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.config import SpecError, parse_spec
from churnlab.data.simulate import SimulationParams, simulate
from churnlab.training import load_training_data, make_splits

CUTOFFS = "2024-03-01:2025-06-01:1M"


def _raw(path, family: str = "uplift_x", **extra) -> dict:
    return {
        "name": "u",
        "data": {"path": str(path)},
        "cutoffs": CUTOFFS,
        "horizon_days": 60,
        "model": {"family": family},
        **extra,
    }


def test_only_randomized_rows_with_their_arm(small_sim):
    spec = parse_spec(_raw(small_sim))
    data = load_training_data(spec)
    frame = data.frame
    assert len(frame) and set(frame.treated.unique()) <= {0, 1}
    assert "treated" not in data.features
    # the expected status, from the raw table: a contact in [cutoff - 7 days, cutoff)
    contacts = pd.read_parquet(small_sim / "campaigns.parquet")
    keys = frame[["account_id", "cutoff"]]
    pairs = keys.merge(contacts, on="account_id")
    pairs = pairs[(pairs.ts < pairs.cutoff) & (pairs.ts >= pairs.cutoff - pd.Timedelta(days=7))]
    latest = pairs.sort_values("ts").groupby(["account_id", "cutoff"]).treated.last()
    got = frame.set_index(["account_id", "cutoff"]).treated.astype(bool)
    assert len(latest) == len(frame)
    assert (latest.reindex(got.index) == got).all()
    # every part of the split has both arms
    for part, mask in make_splits(spec, data)[0].masks.items():
        assert set(frame.treated[mask]) == {0, 1}, part


def test_spec_rules_of_the_uplift_families(tmp_path):
    spec = parse_spec(_raw(tmp_path))
    assert spec.uplift.contact_window_days == 7 and spec.uplift.offer_cost == 50.0
    with pytest.raises(SpecError, match="needs event data with a campaigns table"):
        parse_spec(
            {
                "name": "u",
                "data": {"table": str(tmp_path / "t.csv"), "id": "id", "label": "churn"},
                "model": {"family": "uplift_t"},
            }
        )
    with pytest.raises(SpecError, match="tuning is for the churn families"):
        parse_spec(
            _raw(tmp_path, search_space={"num_leaves": {"type": "int", "low": 4, "high": 8}})
        )
    with pytest.raises(SpecError, match="uplift: a section for the uplift families"):
        parse_spec(_raw(tmp_path, "lightgbm", uplift={"offer_cost": 5}))
    with pytest.raises(SpecError, match="did you mean 'cate_num_leaves'"):
        from churnlab.modeling import check_model_params

        check_model_params(
            parse_spec(
                _raw(tmp_path, model={"family": "uplift_dr", "params": {"cate_num_leave": 3}})
            )
        )


def test_a_dataset_without_campaigns_is_refused(tmp_path):
    path = tmp_path / "nocamp"
    simulate(path, SimulationParams(accounts=300, months=10, seed=3, campaigns=False))
    spec = parse_spec({**_raw(path), "cutoffs": "2024-03-01:2024-08-01:1M"})
    with pytest.raises(SpecError, match="needs a campaigns table"):
        load_training_data(spec)
