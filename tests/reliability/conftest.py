"""Real processes for the reliability cases: the installed ``churnlab`` console script run in a
throwaway project root (its own SQLite MLflow store), with a chosen umask, file-size limit or
signal; a small simulated dataset (200 accounts, 12 months) shared by a test process."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from churnlab.data.simulate import SimulationParams, simulate

CHURNLAB = str(Path(sys.executable).with_name("churnlab"))
TINY = SimulationParams(accounts=200, months=12, seed=3)
CUTOFFS = "2024-06-01:2024-10-01:2M"


def project_env(root: Path) -> dict[str, str]:
    env = {**os.environ, "CHURNLAB_HOME": str(root), "CHURNLAB_CACHE": str(root / "cache")}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _limits(umask: int | None, max_file_bytes: int | None) -> Callable[[], None] | None:
    if umask is None and max_file_bytes is None:
        return None

    def apply() -> None:
        if umask is not None:
            os.umask(umask)
        if max_file_bytes is not None:
            # a full disk, as far as the writer can tell: writes past the limit fail (EFBIG)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return apply


def run(
    *args: str,
    root: Path,
    cwd: Path | None = None,
    umask: int | None = None,
    max_file_bytes: int | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """``churnlab ARGS`` to completion in the project ``root``."""
    return subprocess.run(
        [CHURNLAB, *args],
        cwd=cwd or root,
        env={**project_env(root), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limits(umask, max_file_bytes),
    )


def start(*args: str, root: Path) -> subprocess.Popen:
    """``churnlab ARGS`` started in the background (to be signalled)."""
    return subprocess.Popen(
        [CHURNLAB, *args],
        cwd=root,
        env=project_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Callable[[], bool], proc: subprocess.Popen, timeout: float = 120) -> bool:
    """Poll until ``predicate`` holds (True) or ``proc`` exits or time runs out (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """The error of a failed command (exit 1, no traceback): its ``error:`` line and any
    lines listing details under it, joined."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert len(starts) == 1, done.stderr
    return " ".join(lines[starts[0] :])


@pytest.fixture(scope="session")
def tiny_sim(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny-sim") / "data"
    simulate(out, TINY)
    return out


@pytest.fixture
def project(tmp_path) -> Path:
    """An empty project root: pyproject naming churnlab, nothing else."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    return root
