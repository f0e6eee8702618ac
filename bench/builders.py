"""Time of each feature builder on the bench demo (DuckDB), materialized one at a time, beside
the roll-up query and the shared per-build tables. Prints; writes nothing.

Usage: python bench/builders.py [DATASET_FOLDER]   (default: data/bench/demo-5000x24, made by
bench/features.py)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from churnlab.data import fit_vocabulary, load_dataset
from churnlab.features import build_observations, parse_cutoffs
from churnlab.features.cube import with_cube, with_windows
from churnlab.features.engine import KEYS, select_builders

CUTOFFS = "2024-01-01:2025-12-01:1M"
sys.path.insert(0, str(Path(__file__).parent))
from features import rollup_expr  # noqa: E402  (the bench's fixed yardstick)


def _timed(label: str, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{label:28s} {time.perf_counter() - t:6.2f} s")
    return out


def main() -> None:
    ds = load_dataset(sys.argv[1] if len(sys.argv) > 1 else "data/bench/demo-5000x24")
    con = ds.con
    _timed("roll-up query", lambda: con.create_table("_r", rollup_expr(ds), temp=True))
    obs = _timed(
        "observations",
        lambda: con.create_table("_o", build_observations(ds, CUTOFFS, 90), temp=True),
    )
    vocab = fit_vocabulary(ds, before=max(parse_cutoffs(CUTOFFS)))
    ds = _timed("with_cube", lambda: with_cube(ds, vocab))
    keys = obs.select(*KEYS)
    ds = _timed("with_windows", lambda: with_windows(ds, keys, vocab))
    chosen, _ = select_builders(ds, vocabulary=vocab)
    for b in chosen:
        cols = [f.name for f in b.outputs(vocab)]
        if cols:
            part = b.build(ds, keys, vocab).select(*KEYS, *cols)
            _timed(b.name, lambda p=part, n=b.name: con.create_table(f"_p_{n}", p, temp=True))


if __name__ == "__main__":
    main()
