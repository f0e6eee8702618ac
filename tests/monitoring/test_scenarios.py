"""Drift scenarios: the first batch after the change is flagged, with the drivers the change
touches, and no batch before it."""

from __future__ import annotations

import pytest

from churnlab.monitoring import monitor
from tests.monitoring.conftest import AFTER, BEFORE, _project, scenario_project, score_batches

# what each scenario changes (churnlab.data.simulate.b2b_saas), as churn drivers
DRIVERS = {
    "price_increase": {"billing"},
    "product_redesign": {"engagement", "usability"},
    "new_channel": {"account", "onboarding"},
}


@pytest.fixture(scope="module", params=sorted(DRIVERS))
def monitored(request, champion, tmp_path_factory):
    root, data = scenario_project(champion, tmp_path_factory, request.param)
    mp = _project(root)
    score_batches(champion.uri, data, BEFORE + AFTER)
    # the pass a weekly job runs right after scoring the first batch after the change: labels
    # are those known by then
    result = monitor(champion.uri, data=data, as_of=AFTER[0])
    yield request.param, result
    mp.undo()


def test_first_batch_after_the_change_is_flagged_with_its_drivers(monitored):
    scenario, result = monitored
    by_date = {b["batch_date"]: b for b in result.batches}
    before = [(d, by_date[d]["reasons"]) for d in BEFORE if by_date[d]["verdict"] != "ok"]
    assert before == []
    first = by_date[AFTER[0]]
    assert first["verdict"] in ("warn", "retrain"), first["reasons"]
    # the change is sudden: the features that moved since the previous batch name its drivers
    top = first["shift"]["drivers"][0]
    assert top["drifted"] > 0 and top["driver"] in DRIVERS[scenario], first["shift"]["drivers"]
    assert any(top["driver"] in reason for reason in first["reasons"])
