"""The business simulator: the embedded demo data source, one module per product profile.

* ``b2b_saas`` (default): a SaaS product sold per seat; logins, reports, CSM calls, annual
  contracts, failed payments, bugs, usability friction and NPS (:mod:`.b2b_saas`).
* ``consumer_social``: a free social app with an optional paid tier; posts, likes, replies,
  messages, ads and a friend graph that grows and shrinks (:mod:`.consumer_social`).
* ``streaming``: a monthly video subscription; plays, completions, skips, browsing and a
  catalogue the household works through (:mod:`.streaming`).

Every profile writes the five tables (``tickets``/``surveys`` where the product has them) plus
``truth`` (per account and week, the weekly hazard the simulator used: the oracle) and
``dataset.json``, whose ``events`` key maps the profile's event names to roles; ``b2b_saas``
also writes ``campaigns``, monthly randomized retention contacts whose true effect
:func:`oracle_uplift` gives (:mod:`.campaigns`, :mod:`.oracle`). Each is vectorized over accounts (a loop over weeks, not rows) and generated in fixed-size account
chunks streamed to Parquet, so the same seed gives byte-identical files on any machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churnlab.data.dataset import MANIFEST
from churnlab.data.simulate import b2b_saas, consumer_social, streaming
from churnlab.data.simulate._common import (
    CHUNK_ACCOUNTS,
    Clock,
    SimulationParams,
    change_day,
    signup_days,
)
from churnlab.data.simulate.oracle import oracle_uplift
from churnlab.files import MARKER, file_digest, replace_folder, temp_folder
from churnlab.vocab import SIMULATOR_PROFILES as PROFILES
from churnlab.vocab import SIMULATOR_SCENARIOS as SCENARIOS

__all__ = ["PROFILES", "SCENARIOS", "SimulationParams", "existing", "oracle_uplift", "simulate"]

log = logging.getLogger(__name__)

SIMULATOR_VERSION = 1
OPTIONAL_TABLES = ("tickets", "surveys", "campaigns")
_MODULES = {"b2b_saas": b2b_saas, "consumer_social": consumer_social, "streaming": streaming}


def _simulate_chunk(
    p: SimulationParams,
    clock: Clock,
    first_id: int,
    signup: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, pa.Table]:
    return _MODULES[p.profile].simulate_chunk(p, clock, first_id, signup, rng)


def _append(
    tables: dict[str, pa.Table], folder: Path, writers: dict[str, pq.ParquetWriter], rows: dict
) -> None:
    """Append one chunk's tables to their Parquet files (opened on first use) and count rows."""
    for name, table in tables.items():
        if name not in writers:
            writers[name] = pq.ParquetWriter(
                folder / f"{name}.parquet", table.schema, compression="zstd"
            )
        writers[name].write_table(table, row_group_size=1 << 20)
        rows[name] = rows.get(name, 0) + table.num_rows


def _drop_empty_optional(folder: Path, rows: dict[str, int]) -> None:
    """A sparse table that no account filled (a tiny simulation) is absent rather than empty,
    as the data model allows ``tickets``, ``surveys`` and ``campaigns`` to be missing but not
    empty."""
    for name in OPTIONAL_TABLES:
        if rows.get(name) == 0:
            (folder / f"{name}.parquet").unlink()
            del rows[name]


def _code_digest() -> str:
    """SHA-256 (16 hex digits) over the simulator's source: what else decides its bytes."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def existing(out: str | Path, params: SimulationParams) -> dict | None:
    """The manifest of ``out`` if it already holds this simulation, untouched: made by the same
    simulator code with the same parameters, every file it wrote present with the digest it
    had, nothing added. The same seed gives the same bytes, so simulating again is skipped."""
    folder = Path(out)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if (
        not isinstance(files, dict)
        or manifest.get("params") != json.loads(json.dumps(asdict(params)))
        or manifest.get("code") != _code_digest()
        or not (folder / MARKER).is_file()
    ):
        return None
    present = {p.name for p in folder.iterdir()} - {MARKER, MANIFEST}
    if present != set(files):
        return None
    if any(file_digest(folder / name) != digest for name, digest in files.items()):
        return None
    return manifest


def _check_params(p: SimulationParams) -> None:
    if p.accounts < 1 or p.months < 1:
        raise ValueError("accounts and months must be at least 1")
    if p.profile not in _MODULES:
        raise ValueError(f"unknown profile {p.profile!r}; choose one of {list(PROFILES)}")
    if p.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {p.scenario!r}; choose one of {list(SCENARIOS)}")
    if p.scenario != "none" and p.profile != "b2b_saas":
        raise ValueError(
            f"scenario {p.scenario!r} is simulated for the b2b_saas profile only, not {p.profile!r}"
        )


def simulate(
    out: str | Path,
    params: SimulationParams | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    reuse: bool = False,
) -> dict:
    """Write the profile's tables plus ``truth`` and ``dataset.json`` to ``out``; return the
    manifest.

    The folder is written beside ``out`` and moved into place at the end, so a failure never
    leaves a half-written dataset; an existing ``out`` is replaced only if churnlab made it
    (``force``: even with files added since), see :func:`churnlab.files.replace_folder`.
    ``reuse``: if ``out`` already holds this simulation (:func:`existing`), keep it and return
    its manifest with ``"reused": True``.
    """
    p = params or SimulationParams()
    _check_params(p)
    if reuse and (kept := existing(out, p)) is not None:
        return {**kept, "reused": True}
    clock = Clock(p.start, p.months)
    if p.scenario != "none" and not 0 < change_day(p, clock) < clock.days:
        raise ValueError(
            f"change_at {p.change_at} is outside the simulated history "
            f"({clock.start.date()} to {clock.end.date()})"
        )
    root = np.random.SeedSequence(p.seed)
    global_ss, chunk_root = root.spawn(2)
    signup = signup_days(p, clock, np.random.default_rng(global_ss))
    n_chunks = -(-p.accounts // CHUNK_ACCOUNTS)
    chunk_seeds = chunk_root.spawn(n_chunks)

    writers: dict[str, pq.ParquetWriter] = {}
    rows: dict[str, int] = {}
    next_ticket = 1
    with temp_folder(out, force) as tmp:
        try:
            for c in range(n_chunks):
                lo, hi = c * CHUNK_ACCOUNTS, min((c + 1) * CHUNK_ACCOUNTS, p.accounts)
                tables = _simulate_chunk(
                    p, clock, lo + 1, signup[lo:hi], np.random.default_rng(chunk_seeds[c])
                )
                if "tickets" in tables:  # ticket ids run on over chunks
                    tk = tables["tickets"]
                    ids = np.arange(next_ticket, next_ticket + tk.num_rows, dtype=np.int64)
                    tables["tickets"] = tk.set_column(1, "ticket_id", pa.array(ids))
                    next_ticket += tk.num_rows
                _append(tables, tmp, writers, rows)
                if progress:
                    progress(hi, p.accounts)
        finally:
            for w in writers.values():
                w.close()
        _drop_empty_optional(tmp, rows)
        manifest = {
            "generator": f"churnlab.simulate v{SIMULATOR_VERSION}",
            "profile": p.profile,
            **(
                {
                    "scenario": p.scenario,
                    "change_at": str(
                        (clock.start + pd.Timedelta(days=change_day(p, clock))).date()
                    ),
                }
                if p.scenario != "none"
                else {}
            ),
            "start": clock.start.isoformat(),
            "observed_until": clock.end.isoformat(),
            "params": asdict(p),
            "rows": rows,
            "events": _MODULES[p.profile].EVENT_MAPPING,
            # no event is written twice: the feature build skips counting rows once
            "events_unique": True,
            "code": _code_digest(),
            "files": {f.name: file_digest(f) for f in sorted(tmp.iterdir())},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        replace_folder(tmp, out, force)
    return manifest
