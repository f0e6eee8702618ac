"""fuzz14 finding 4: after an event type the model reads was renamed, monitor's verdict named
"engagement" drift but never the event type whose features all went to 0, nor the fix."""

from __future__ import annotations

import pandas as pd

from churnlab.features.builtin.event_types import type_slugs
from churnlab.monitoring import monitor
from churnlab.scoring import load_model
from tests.monitoring.conftest import scenario_project, score_batches

RENAMED_FROM = "2025-03-01"


def test_monitor_names_the_event_type_whose_features_drifted_and_the_mapping(
    champion, tmp_path_factory, in_project
):
    root, data = scenario_project(champion, tmp_path_factory, "none")
    in_project(root)
    vocabulary = load_model(champion.uri).model.feature_spec.vocabulary
    events = pd.read_parquet(data / "events.parquet")
    events["event_type"] = events.event_type.astype(str)
    counts = events.event_type.value_counts()
    core = max(vocabulary.types, key=lambda t: counts.get(t, 0))
    renamed = (events.event_type == core) & (events.ts >= pd.Timestamp(RENAMED_FROM))
    events.loc[renamed, "event_type"] = f"{core} v2"
    events.to_parquet(data / "events.parquet", index=False)
    score_batches(champion.uri, data, ["2025-02-01", "2025-04-01"])
    result = monitor(champion.uri, data=None, log_run=False)
    before, after = result.batches
    stem = type_slugs(vocabulary.types)[core]
    (said,) = [r for r in after["reasons"] if "event type(s)" in r]
    assert repr(stem) in said and "PSI up to" in said
    assert "vocabulary" in said and "events.group" in said
    assert not [r for r in before["reasons"] if "event type(s)" in r]
