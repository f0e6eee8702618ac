"""Feature tables built once and reused: every spec, the tuner and the report that ask for the
same observations and features of the same data read them from here instead of rebuilding.

An entry is keyed by the dataset's digest (every byte of its files), the cutoffs, horizon and
lead, the engine, what the event vocabulary is fitted from (the ``events`` section and the
split that decides which rows are training rows; see ``training.data``), and every registered builder with its parameters and the source code of the
module that defines it (plus the shared feature code), so a change to any of them is a new key
and a stale table is never served. Entries are Parquet files written atomically beside a JSON
file of what training needs besides the table (drivers, descriptions, notices, end of data).
Set ``CHURNLAB_FEATURE_CACHE=0`` to build every time; delete the folder to reclaim space.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab import __version__, config
from churnlab.features.registry import FeatureBuilder
from churnlab.files import atomic_file

log = logging.getLogger(__name__)
FORMAT = 1  # bump when the stored layout changes


def enabled() -> bool:
    return os.environ.get("CHURNLAB_FEATURE_CACHE", "1") not in ("0", "false", "no")


def _code_digest(builders: Sequence[FeatureBuilder]) -> str:
    """Of churnlab's feature code (every module of this package) and of the modules that define
    builders registered from elsewhere (a user's own)."""
    package = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    outside = {inspect.getmodule(b.fn) for b in builders} - {None}
    for module in sorted(outside, key=lambda m: m.__name__):
        if module.__name__.startswith(__package__ + "."):
            continue
        try:
            h.update(inspect.getsource(module).encode())
        except (OSError, TypeError):  # no source (a notebook cell): never reuse the entry
            h.update(os.urandom(16))
    return h.hexdigest()


def frame_key(
    data_digest: str,
    cutoffs: Sequence[pd.Timestamp],
    horizon_days: int,
    lead_days: int,
    engine: str,
    builders: Sequence[FeatureBuilder],
    vocabulary: dict[str, Any] | None = None,
) -> str:
    """The cache key of observations + features for these inputs; ``vocabulary`` is what the
    vocabulary is fitted from (or the fitted vocabulary itself)."""
    raw = {
        "format": FORMAT,
        "churnlab": __version__,
        "data": data_digest,
        "cutoffs": [str(pd.Timestamp(c).date()) for c in cutoffs],
        "horizon_days": horizon_days,
        "lead_days": lead_days,
        "engine": engine,
        "builders": [[b.name, b.params] for b in builders],
        "vocabulary": vocabulary,
        "code": _code_digest(builders),
    }
    text = json.dumps(raw, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _paths(key: str) -> tuple[Path, Path]:
    folder = config.cache_dir() / "features"
    return folder / f"{key}.parquet", folder / f"{key}.json"


def load(key: str, required: Sequence[str] = ()) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The frame and metadata stored under ``key``, or None; ``required``: metadata keys the
    caller reads. An entry that cannot be read, or is not what churnlab stored (a zeroed or
    hand-edited file, another layout, a column that no longer casts), is a miss: the caller
    rebuilds it and :func:`store` replaces it."""
    table, meta = _paths(key)
    if not (enabled() and table.exists() and meta.exists()):
        return None
    try:
        info = json.loads(meta.read_text())
        frame = pd.read_parquet(table)
        if not isinstance(info, dict) or not isinstance(info.get("dtypes"), dict):
            raise ValueError(f"{meta.name} is not a feature cache entry (no 'dtypes')")
        absent = [k for k in required if k not in info]
        if absent:
            raise ValueError(f"{meta.name} lacks {', '.join(map(repr, absent))}")
        for column, dtype in info.pop("dtypes").items():
            if str(frame[column].dtype) != dtype:
                frame[column] = frame[column].astype(dtype)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged entry is rebuilt
        log.warning("feature cache entry %s unreadable (%s); rebuilding", key, exc)
        return None
    log.info("features from the cache (%s)", table)
    return frame, info


def store(key: str, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
    """Keep ``frame`` and ``meta`` under ``key`` (atomically; failures only log)."""
    if not enabled():
        return
    table, info = _paths(key)
    try:
        with atomic_file(table) as tmp:
            frame.to_parquet(tmp, index=False)
        meta = {**meta, "dtypes": {c: str(t) for c, t in frame.dtypes.items()}}
        with atomic_file(info) as tmp:
            tmp.write_text(json.dumps(meta, default=str))
    except OSError as exc:
        log.warning("could not keep features in the cache %s: %s", table.parent, exc)
