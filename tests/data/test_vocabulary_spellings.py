"""Spellings of one event type (``Task Created``, ``task_created``, ``TASK CREATED ``) read as
one type, and the ``group`` mappings suggested for id-carrying names (tiny frames, DuckDB)."""

from __future__ import annotations

import json
import re

import pandas as pd

from churnlab.data import (
    Vocabulary,
    describe_vocabulary,
    fit_vocabulary,
    load_dataset,
    near_duplicate_types,
    numbered_types,
    with_names,
)
from churnlab.features import build_features, build_observations
from churnlab.features.registry import get_builder
from tests.conftest import add_events_mapping, tiny_frames, write_frames

END = "2024-07-01"
CUTOFF = "2024-04-15"


def _spelled_frames(spellings=("Task Created", "task_created", "TASK CREATED ")):
    """Account 1: three task events in the 30 days before the cutoff, account 2 one, account
    3 two; 'Task Created' 3 events, 'task_created' 2, 'TASK CREATED ' 1."""
    web, mobile, trailing = spellings
    frames = tiny_frames()
    ts = pd.Timestamp
    rows = [
        (1, 1001, ts("2024-01-05 10:00"), "login"),
        (1, 1001, ts("2024-04-01 10:00"), web),
        (1, 1002, ts("2024-04-02 10:00"), web),
        (1, 1002, ts("2024-04-03 10:00"), mobile),
        (2, 2001, ts("2024-02-02 10:00"), "login"),
        (2, 2001, ts("2024-04-05 10:00"), mobile),
        (3, 3001, ts("2024-03-11 10:00"), "login"),
        (3, 3001, ts("2024-04-10 10:00"), trailing),
        (3, 3001, ts("2024-04-11 10:00"), web),
    ]
    frames["events"] = pd.DataFrame(rows, columns=["account_id", "user_id", "ts", "event_type"])
    return frames


def _dataset(folder, frames, events=None):
    folder = write_frames(frames, folder)
    if events is not None:
        add_events_mapping(folder, events)
    return load_dataset(folder, observed_until=END)


def _features(ds, vocabulary):
    obs = build_observations(ds, [CUTOFF], horizon_days=30)
    table, _ = build_features(ds, obs, names=["event_type_activity"], vocabulary=vocabulary)
    return ds.con.execute(table).set_index("account_id")


def test_spellings_of_one_event_are_one_type_with_summed_counts(tmp_path):
    # a role naming one spelling (the mobile one) applies to the merged type
    ds = _dataset(tmp_path / "ds", _spelled_frames(), {"roles": {"core_action": ["task_created"]}})
    vocab = fit_vocabulary(ds)
    assert vocab.types == ("Task Created", "login")  # named by its most frequent spelling
    assert dict(vocab.spellings) == {
        "task_created": "Task Created",
        "TASK CREATED ": "Task Created",
    }
    assert vocab.role("core_action") == ("Task Created",)
    f = _features(ds, vocab)
    assert f.loc[[1, 2, 3], "n_task_created_30d"].tolist() == [3, 1, 2]
    assert not [c for c in f.columns if re.search(r"task_created_[23](_|$)", c)]
    # one notice (train shows the dataset's notices) naming every spelling and its events
    (notice,) = [n for n in ds.notices if "spelling" in n]
    assert (
        "'Task Created' (6 events) = 'Task Created' 3 + 'task_created' 2 + 'TASK CREATED ' 1"
        in (notice)
    )
    assert "roles.ignore" not in notice and '"group": {"task_created_apart": ["task_created"]}' in (
        notice
    )


def test_validate_lists_one_type_and_every_spelling(tmp_path):
    ds = _dataset(tmp_path / "ds", _spelled_frames())
    rows = describe_vocabulary(ds)
    (task,) = [r for r in rows if r["event_type"] == "Task Created"]
    assert task["events"] == 6 and task["accounts"] == 3
    assert task["spellings"] == {"Task Created": 3, "task_created": 2, "TASK CREATED ": 1}
    assert [r["event_type"] for r in rows] == ["Task Created", "login"]
    notice = near_duplicate_types(rows)
    for spelling in ("'Task Created' 3", "'task_created' 2", "'TASK CREATED ' 1"):
        assert spelling in notice
    assert "roles.ignore" not in notice


def test_scoring_replays_the_stored_merge_and_reads_a_new_spelling_as_the_type(tmp_path):
    ds = _dataset(tmp_path / "train", _spelled_frames())
    stored = Vocabulary.from_dict(json.loads(json.dumps(fit_vocabulary(ds).to_dict())))
    assert ("TASK CREATED ", "Task Created") in stored.spellings
    # the scored log: the stored spellings, and one the training log never had
    batch = _dataset(
        tmp_path / "batch", _spelled_frames(("task-created", "task_created", "TASK CREATED "))
    )
    f = _features(batch, stored)
    assert f.loc[[1, 2, 3], "n_task_created_30d"].tolist() == [3, 1, 2]
    assert not [c for c in f.columns if re.search(r"task_created_[23](_|$)", c)]
    # a vocabulary stored before spellings were merged counted them apart: scoring does too
    old = Vocabulary.from_dict({k: v for k, v in stored.to_dict().items() if k != "spellings"})
    types = batch.con.execute(with_names(batch, old)["events"].event_type.value_counts())
    assert "task-created" in set(types.event_type)
    types = batch.con.execute(with_names(batch, stored)["events"].event_type.value_counts())
    assert set(types.event_type) == {"Task Created", "login"}


def test_a_spelling_given_a_name_of_its_own_under_group_stays_apart(tmp_path):
    events = {"group": {"task_created_mobile": ["task_created"]}}
    ds = _dataset(tmp_path / "ds", _spelled_frames(), events)
    vocab = fit_vocabulary(ds)
    assert set(vocab.types) == {"Task Created", "task_created_mobile", "login"}
    f = _features(ds, vocab)
    assert f.loc[[1, 2, 3], "n_task_created_30d"].tolist() == [2, 0, 2]
    assert f.loc[[1, 2, 3], "n_task_created_mobile_30d"].tolist() == [1, 1, 0]
    # kept apart under its own spelling: the two types still share a stem, and the columns of
    # the second say which type they count
    ds = _dataset(
        tmp_path / "same", _spelled_frames(), {"group": {"task_created": ["task_created"]}}
    )
    vocab = fit_vocabulary(ds)
    assert set(vocab.types) == {"Task Created", "task_created", "login"}
    outputs = {f.name: f.description for f in get_builder("event_type_activity").outputs(vocab)}
    assert outputs["n_task_created_30d"] == "Task Created events in the last 30 days"
    assert outputs["n_task_created_2_30d"] == "task_created events in the last 30 days"


def _suggested(notice: str) -> dict:
    """The mapping a notice prints, parsed as the JSON object it must be."""
    return json.loads(notice[notice.index('{"group"') :])


def test_group_suggestions_name_every_family_once_as_one_json_object():
    board = [f"/projects/{i}/board" for i in range(30)]
    edit = [f"/projects/{i}/edit" for i in range(20)]
    views = [f"page_view /products/{i}" for i in range(12)]
    notice = numbered_types([*board, *edit, *views, "login"])
    assert _suggested(notice) == {
        "group": {
            "projects_board": ["/projects/*/board"],
            "projects_edit": ["/projects/*/edit"],
            "page_view_products": ["page_view /products/*"],
        }
    }
    # a family the section groups already is not suggested again; names stay unique against
    # the section's own, which the printed mapping keeps so that it can replace it as is
    own = {"projects_edit": ["/projects/*/board"]}
    notice = numbered_types([*edit, "projects_edit", "login"], own)
    assert _suggested(notice) == {
        "group": {"projects_edit": ["/projects/*/board"], "projects_edit_2": ["/projects/*/edit"]}
    }
    assert numbered_types(["projects_edit", *edit], {"e": ["/projects/*/edit"]}) is None
