"""Shared fixtures (a small simulated dataset, a tiny hand-made one, one Spark session per test
process) and the order in which ``pytest -n N --dist loadfile`` (``make test``) hands out files."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from churnlab.data.simulate import SimulationParams, simulate

# Under xdist every worker runs one test at a time on its own core: LightGBM and DuckDB (and the
# churnlab processes the tests start, which inherit this) use one thread each, not one per core.
# The Spark tests' JVM compiles with C1 only and collects garbage on one thread: on their short
# jobs C2 compiled for 50 of the JVM's 127 CPU seconds (tests/features/test_spark_parity.py)
# on the core the other worker needs; with these flags the JVM took 87 CPU s, in the same time.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("CHURNLAB_THREADS", "1")
    os.environ.setdefault(
        "PYSPARK_SUBMIT_ARGS",
        '--driver-java-options "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" pyspark-shell',
    )

SMALL = SimulationParams(accounts=1500, months=18, seed=7)
# the simulator's event roles, as dataset.json's `events` section carries them (until the
# simulator writes its own mapping, tests that need the role-based builders add it)
B2B_EVENTS = {
    "roles": {
        "session_start": ["login"],
        "core_action": ["create_report"],
        "contact": ["csm_call"],
        "payment_failure": ["payment_failed"],
    },
    "ratios": [["share_report", "create_report"]],
}


@functools.cache
def java_problem() -> str | None:
    """Why a local Spark session cannot start here, or None: Spark 4 needs Java 17 or later,
    found as PySpark finds it ($JAVA_HOME/bin/java, else java on the PATH)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    need = "the Spark tests need Java 17+ (e.g. apt-get install openjdk-17-jre-headless)"
    if not java or not Path(java).exists():
        return f"{need}: no java on the PATH or in JAVA_HOME"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{need}: {java} -version failed ({exc})"
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        return f"{need}: cannot read the version of {java}"
    major = int(found[1]) if found[1] != "1" else int(found[2] or 0)  # "1.8.0" is Java 8
    return None if major >= 17 else f"{need}: {java} is Java {major}"


def requires_java() -> pytest.MarkDecorator:
    """Skip a Spark test module, with the reason, where Java is missing; where
    ``CHURNLAB_REQUIRE_SPARK`` is set (CI) a missing Java is an error instead."""
    problem = java_problem()
    if problem and os.environ.get("CHURNLAB_REQUIRE_SPARK", "") not in ("", "0"):
        raise RuntimeError(f"CHURNLAB_REQUIRE_SPARK is set, but {problem}")
    return pytest.mark.skipif(problem is not None, reason=problem or "")


@functools.cache
def migrated_store() -> Path:
    """An empty MLflow SQLite store, created and migrated by MLflow itself once per test
    process (creating one runs every alembic migration: about 5 s, paid once instead of once
    per throwaway project)."""
    from mlflow.tracking import MlflowClient

    db = Path(tempfile.mkdtemp(prefix="churnlab-store-")) / "mlflow.db"
    uri = f"sqlite:///{db}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models(max_results=1)
    return db


def new_project(root: Path, store: bool = True) -> Path:
    """A throwaway project root: a pyproject naming churnlab and, with ``store``, a copy of an
    empty migrated MLflow store as its ``mlflow.db`` (what the first ``connect()`` would make;
    tests of store creation itself use ``store=False``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    if store and not (root / "mlflow.db").exists():
        shutil.copyfile(migrated_store(), root / "mlflow.db")
    return root


# Chromium's flags for a closed network: without the background-networking ones it keeps
# trying to reach Google's hosts. A fresh profile (--user-data-dir) is Playwright's own per launch.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@functools.cache
def chromium_problem() -> str | None:
    """Why the report cannot be opened in a headless browser here, or None: the browser tests
    drive Debian's Chromium (``chromium`` on the PATH) with Playwright, which never downloads a
    browser of its own."""
    need = "the browser tests need Chromium (e.g. apt-get install chromium)"
    chromium = shutil.which("chromium")
    if not chromium:
        return f"{need}: no chromium on the PATH"
    if importlib.util.find_spec("playwright") is None:
        return f"{need} and the playwright package (make setup): playwright is not installed"
    try:
        out = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{need}: {chromium} --version failed ({exc})"
    if out.returncode != 0 or "Chromium" not in out.stdout:
        return f"{need}: {chromium} --version said {(out.stdout + out.stderr).strip()[:200]!r}"
    return None


def requires_browser() -> pytest.MarkDecorator:
    """Skip a browser test, with the reason, where Chromium is missing; where
    ``CHURNLAB_REQUIRE_BROWSER`` is set (CI) a missing Chromium is an error instead."""
    problem = chromium_problem()
    if problem and os.environ.get("CHURNLAB_REQUIRE_BROWSER", "") not in ("", "0"):
        raise RuntimeError(f"CHURNLAB_REQUIRE_BROWSER is set, but {problem}")
    return pytest.mark.skipif(problem is not None, reason=problem or "")


def add_events_mapping(folder: Path, events: dict | None = None) -> Path:
    """Give ``folder``'s dataset.json an ``events`` section (kept if it already has one)."""
    manifest = folder / "dataset.json"
    raw = json.loads(manifest.read_text()) if manifest.exists() else {}
    raw.setdefault("events", events or B2B_EVENTS)
    manifest.write_text(json.dumps(raw, indent=2))
    return folder


# How `make test` (`pytest -n N --dist loadfile --no-loadscope-reorder`) hands out work: one
# unit per test file, so its module fixtures are built once, except the files of a GROUP, which
# are one unit so the expensive session fixture they share is built once (the monitoring
# champion, 3,000 accounts; the scoring champion; one Spark JVM warmed up once). Units start in
# the order below, slowest first, so the workers finish together; the rest follow in file
# order. Re-measure with `make test` (it prints the slowest tests) when this drifts.
# (pytest 9 ignores xdist's own `xdist_group` mark: it renames items through a private field.)
GROUPS = {
    "tests/monitoring/": "monitoring",
    "tests/scoring/": "scoring and Spark",
    "tests/features/test_spark_parity.py": "scoring and Spark",
}
HEAVY_FIRST = [
    "scoring and Spark",
    "monitoring",
    "tests/tracking/test_runs.py",
    "tests/analytics/test_notebooks_report.py",
    "tests/features/test_leakage.py",
    "tests/test_cli.py",
    "tests/training/test_train.py",
    "tests/tracking/test_server.py",
    "tests/tracking/test_tuning.py",
    "tests/tracking/test_survival_runs.py",
    "tests/reliability/test_interrupts_train.py",
    "tests/tracking/test_reuse.py",
    "tests/reliability/test_concurrency_tune.py",
]


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its group, else its file."""
    path = nodeid.split("::")[0]
    return next((g for prefix, g in GROUPS.items() if path.startswith(prefix)), path)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    first = {}  # a group's files stay together, at its rank or its first file's place
    for i, item in enumerate(items):
        first.setdefault(work_unit(item.nodeid), i)
    items.sort(
        key=lambda item: (
            rank.get(work_unit(item.nodeid), len(rank)),
            first[work_unit(item.nodeid)],
        )
    )


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the GROUPS above as single units."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class GroupedFiles(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return GroupedFiles(config, log)


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession per test process, shared by the Spark test files (a session
    start costs seconds)."""
    from churnlab.data import spark_session

    session = spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="session", autouse=True)
def _feature_cache(tmp_path_factory):
    """Feature tables built by the tests are kept in a temporary folder, not in data/cache;
    under xdist one folder for all workers (entries are keyed by content and written
    atomically, so a worker reuses what another built)."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the session's folder, above each worker's popen-gwN
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_CACHE", str(root / "feature-cache"))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory) -> Path:
    """A simulated dataset large enough for the mechanisms to show (about 1 s to make)."""
    out = tmp_path_factory.mktemp("sim") / "small"
    simulate(out, SMALL)
    return add_events_mapping(out)


def tiny_frames() -> dict[str, pd.DataFrame]:
    """A valid five-table dataset of three accounts; tests break one thing at a time."""
    ts = pd.Timestamp
    return {
        "accounts": pd.DataFrame(
            {
                "account_id": [1, 2, 3],
                "signup_at": [ts("2024-01-05"), ts("2024-02-01"), ts("2024-03-10")],
                "segment": ["smb", "smb", "enterprise"],
                "seats": [3, 1, 40],
            }
        ),
        "subscriptions": pd.DataFrame(
            {
                "account_id": [1, 1, 2, 3],
                "plan": ["basic", "pro", "basic", "enterprise"],
                "mrr": [45.0, 105.0, 15.0, 2400.0],
                "billing_period": ["monthly", "monthly", "monthly", "annual"],
                "started_at": [
                    ts("2024-01-05"),
                    ts("2024-03-01"),
                    ts("2024-02-01"),
                    ts("2024-03-10"),
                ],
                "ended_at": [ts("2024-03-01"), pd.NaT, ts("2024-05-20"), pd.NaT],
                "end_reason": ["upgrade", None, "too_expensive", None],
            }
        ),
        "events": pd.DataFrame(
            {
                "account_id": [1, 1, 2, 3, 3],
                "user_id": [1001, 1002, 2001, 3001, 3001],
                "ts": [
                    ts("2024-01-05 10:00"),
                    ts("2024-04-01"),
                    ts("2024-02-02"),
                    ts("2024-03-11"),
                    ts("2024-06-29"),
                ],
                "event_type": ["login", "create_report", "login", "login", "export"],
                "duration_s": [300.0, 120.0, 20.0, 900.0, 30.0],
            }
        ),
        "tickets": pd.DataFrame(
            {
                "account_id": [1, 3],
                "ticket_id": [10, 11],
                "created_at": [ts("2024-02-01"), ts("2024-04-01")],
                "resolved_at": [ts("2024-02-03"), pd.NaT],
                "category": ["bug", "how_to"],
                "severity": ["high", "low"],
            }
        ),
        "surveys": pd.DataFrame(
            {"account_id": [1, 3], "ts": [ts("2024-04-01"), ts("2024-06-01")], "nps": [9, 4]}
        ),
    }


def write_frames(frames: dict[str, pd.DataFrame], folder: Path, fmt: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        if fmt == "parquet":
            df.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            df.to_csv(folder / f"{name}.csv", index=False)
    return folder
