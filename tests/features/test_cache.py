"""The feature cache: a second build of the same spec reads the stored table, identical to the
first; changed data or a different horizon is a new key, never a stale table."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from churnlab.config import parse_spec
from churnlab.features import cache
from churnlab.training import load_training_data


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


def test_second_build_reads_the_cache_and_is_identical(small_sim, tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNLAB_CACHE", str(tmp_path / "cache"))
    first = load_training_data(_spec(small_sim))
    assert len(_entries()) == 1
    calls = []
    monkeypatch.setattr(
        "churnlab.training.data._build_events",
        lambda *a: calls.append(a) or (_ for _ in ()).throw(AssertionError("rebuilt")),
    )
    second = load_training_data(_spec(small_sim))
    assert calls == []
    pd.testing.assert_frame_equal(first.frame, second.frame, check_exact=True)
    assert first.feature_spec == second.feature_spec and first.notices == second.notices
    # a spec selecting fewer features reuses the same entry
    sub = load_training_data(_spec(small_sim, features={"drivers": ["engagement"]}))
    assert set(sub.features) < set(first.features)
    pd.testing.assert_frame_equal(sub.frame, first.frame[sub.frame.columns], check_exact=True)


def test_changed_data_or_horizon_is_a_new_entry(small_sim, tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNLAB_CACHE", str(tmp_path / "cache"))
    load_training_data(_spec(small_sim))
    load_training_data(_spec(small_sim, horizon=60))
    assert len(_entries()) == 2
    changed = tmp_path / "changed"
    shutil.copytree(small_sim, changed)
    surveys = pd.read_parquet(changed / "surveys.parquet")
    surveys.iloc[: len(surveys) // 2].to_parquet(changed / "surveys.parquet", index=False)
    fresh = load_training_data(_spec(changed))
    assert len(_entries()) == 3
    monkeypatch.setenv("CHURNLAB_FEATURE_CACHE", "0")
    pd.testing.assert_frame_equal(load_training_data(_spec(changed)).frame, fresh.frame)


def test_an_entry_that_is_not_churnlabs_is_rebuilt_and_replaced(
    small_sim, tmp_path, monkeypatch, caplog
):
    """fuzz11 repro_2: an entry's JSON of ``{}`` or ``null`` (valid JSON, not churnlab's)
    crashed every build (KeyError 'dtypes', AttributeError) until data/cache was deleted."""
    monkeypatch.setenv("CHURNLAB_CACHE", str(tmp_path / "cache"))
    first = load_training_data(_spec(small_sim))
    (entry,) = _entries()
    meta = entry.with_suffix(".json")
    kept = meta.read_text()
    for bad in ("{}", "null", '{"dtypes": {"no_such_column": "int64"}}'):
        meta.write_text(bad)
        with caplog.at_level("WARNING", logger="churnlab.features.cache"):
            again = load_training_data(_spec(small_sim))
        assert "unreadable" in caplog.text and "rebuilding" in caplog.text, bad
        caplog.clear()
        # rebuilt: equal up to the last bits of a float sum (DuckDB's parallel aggregation)
        pd.testing.assert_frame_equal(first.frame, again.frame, check_exact=False, rtol=1e-9)
        # replaced by a good entry: read from the cache again, no warning
        assert json.loads(meta.read_text()).keys() == json.loads(kept).keys()
        assert cache.load(entry.stem) is not None and "unreadable" not in caplog.text
