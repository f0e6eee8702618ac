"""The feature cache: a second build of the same spec reads the stored table, identical to the
first; changed data or a different horizon is a new key, never a stale table."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from churnlab.config import parse_spec
from churnlab.data.simulate import SimulationParams, simulate
from churnlab.features import cache
from churnlab.training import load_training_data
from tests.conftest import add_events_mapping


def _spec(path, horizon=90, **extra):
    return parse_spec(
        {
            "name": "cached",
            "data": {"path": str(path)},
            "cutoffs": "2024-06-01:2025-03-01:3M",
            "horizon_days": horizon,
            "model": {"family": "lightgbm"},
            **extra,
        }
    )


def _entries():
    return sorted((cache.config.cache_dir() / "features").glob("*.parquet"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A simulation of 300 accounts over 18 months: what is cached does not matter here, only
    that it is (a build of it costs about half the CPU of one of the shared 1,500 accounts)."""
    out = tmp_path_factory.mktemp("sim") / "mini"
    simulate(out, SimulationParams(accounts=300, months=18, seed=7))
    return add_events_mapping(out)


@pytest.fixture(scope="module")
def built(data, tmp_path_factory):
    """``_spec(data)``'s training data built once, into an empty cache folder of its own
    (one entry), and that folder: each test starts from a copy (a build takes seconds)."""
    folder = tmp_path_factory.mktemp("built") / "cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURNLAB_CACHE", str(folder))
        first = load_training_data(_spec(data))
        assert len(_entries()) == 1
    return first, folder


def _from_built(built, tmp_path, monkeypatch):
    """This test's cache: a copy of ``built``'s folder; returns the data built into it."""
    first, folder = built
    shutil.copytree(folder, tmp_path / "cache")
    monkeypatch.setenv("CHURNLAB_CACHE", str(tmp_path / "cache"))
    return first


def test_second_build_reads_the_cache_and_is_identical(built, data, tmp_path, monkeypatch):
    first = _from_built(built, tmp_path, monkeypatch)  # the first build, into an empty cache
    assert len(_entries()) == 1
    calls = []
    monkeypatch.setattr(
        "churnlab.training.data._build_events",
        lambda *a: calls.append(a) or (_ for _ in ()).throw(AssertionError("rebuilt")),
    )
    second = load_training_data(_spec(data))
    assert calls == []
    pd.testing.assert_frame_equal(first.frame, second.frame, check_exact=True)
    assert first.feature_spec == second.feature_spec and first.notices == second.notices
    # a spec selecting fewer features reuses the same entry
    sub = load_training_data(_spec(data, features={"drivers": ["engagement"]}))
    assert set(sub.features) < set(first.features)
    pd.testing.assert_frame_equal(sub.frame, first.frame[sub.frame.columns], check_exact=True)


def test_changed_data_or_horizon_is_a_new_entry(built, data, tmp_path, monkeypatch):
    _from_built(built, tmp_path, monkeypatch)
    load_training_data(_spec(data))
    assert len(_entries()) == 1
    load_training_data(_spec(data, horizon=60))
    assert len(_entries()) == 2
    changed = tmp_path / "changed"
    shutil.copytree(data, changed)
    surveys = pd.read_parquet(changed / "surveys.parquet")
    surveys.iloc[: len(surveys) // 2].to_parquet(changed / "surveys.parquet", index=False)
    fresh = load_training_data(_spec(changed))
    assert len(_entries()) == 3
    monkeypatch.setenv("CHURNLAB_FEATURE_CACHE", "0")
    pd.testing.assert_frame_equal(load_training_data(_spec(changed)).frame, fresh.frame)


def test_an_entry_that_is_not_churnlabs_is_rebuilt_and_replaced(
    built, data, tmp_path, monkeypatch, caplog
):
    """fuzz11 repro_2: an entry's JSON of ``{}`` or ``null`` (valid JSON, not churnlab's)
    crashed every build (KeyError 'dtypes', AttributeError) until data/cache was deleted."""
    first = _from_built(built, tmp_path, monkeypatch)
    (entry,) = _entries()
    meta = entry.with_suffix(".json")
    kept = meta.read_text()
    for bad in ("{}", "null", '{"dtypes": {"no_such_column": "int64"}}'):
        meta.write_text(bad)
        with caplog.at_level("WARNING", logger="churnlab.features.cache"):
            again = load_training_data(_spec(data))
        assert "unreadable" in caplog.text and "rebuilding" in caplog.text, bad
        caplog.clear()
        # rebuilt: equal up to the last bits of a float sum (DuckDB's parallel aggregation)
        pd.testing.assert_frame_equal(first.frame, again.frame, check_exact=False, rtol=1e-9)
        # replaced by a good entry: read from the cache again, no warning
        assert json.loads(meta.read_text()).keys() == json.loads(kept).keys()
        assert cache.load(entry.stem) is not None and "unreadable" not in caplog.text
