"""fuzz11 repro_4 and repro_7: a SQLite store locked by another process, and a mistyped
tracking URI, give one line naming the store (no traceback); a command that only reads never
creates a store, and ``score --log`` leaves the previous ``--out`` as it was when logging
fails."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import new_project
from tests.reliability.conc_support import env_for, make_project


def _run(root, *args, uri=None, timeout=120):
    env = env_for(root)
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    return subprocess.run(
        [sys.executable, "-m", "churnlab.cli", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_a_read_only_command_never_creates_a_store(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    typo = root / "typo" / "dir" / "mlflow.db"
    done = _run(root, "compare", "--experiment", "demo", uri=f"sqlite:///{typo}")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"error: no MLflow store at {typo} "), done.stderr
    assert f"MLFLOW_TRACKING_URI=sqlite:///{typo}" in done.stderr
    assert not (root / "typo").exists()
    # the project's own store, not there yet
    done = _run(root, "compare", "--experiment", "demo")
    assert done.stderr.startswith(f"error: no MLflow store at {root / 'mlflow.db'} ")
    assert sorted(p.name for p in root.iterdir()) == ["pyproject.toml"]


def test_a_mistyped_tracking_uri_is_named_without_a_traceback(tmp_path):
    root = new_project(tmp_path / "p")
    for uri, says in (
        (f"sqlite:/{root}/mlflow.db", "a malformed SQLite URI"),
        ("sqllite:///mlflow.db", "unknown scheme 'sqllite'"),
    ):
        done = _run(root, "compare", "--experiment", "demo", uri=uri)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(f"error: MLFLOW_TRACKING_URI={uri}: {says}"), done.stderr
        assert "Traceback" not in done.stderr


def _hold_lock(db, seconds):
    """A second process holding a write transaction on the SQLite store ``db``."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(float(sys.argv[2]))",
         str(db), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_locked_store_is_one_line_naming_it(tmp_path):
    root = new_project(tmp_path / "p")
    holder = _hold_lock(root / "mlflow.db", 60)
    try:
        done = _run(root, "compare", "--experiment", "demo")
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(
        f"error: the MLflow store sqlite:///{root / 'mlflow.db'} is locked by another process"
    ), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_score_log_on_a_locked_store_leaves_the_previous_scores(tmp_path):
    """repro_4: the new scores replaced --out, then logging hit the lock: a failed job whose
    scores were in place and no batch logged. The model is an export, so only the logging
    step needs the store."""
    import sqlite3

    from churnlab.config import load_spec
    from churnlab.tracking import train_and_log
    from churnlab.tracking.registry import export_model

    root = make_project(tmp_path / "p")
    mp = pytest.MonkeyPatch()  # the model made in this process: only `score` needs its own
    mp.setenv("CHURNLAB_HOME", str(root))
    mp.setenv("CHURNLAB_CACHE", str(root / "cache"))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        summary = train_and_log(load_spec(root / "spec.yaml"), root=root)
        export_model(f"models:/churn-rel/{summary.model_version}", root / "models" / "rel")
    finally:
        mp.undo()
    out = root / "scores.parquet"
    out.write_bytes(b"last week's scores")
    holder = _hold_lock(root / "mlflow.db", 120)
    try:
        done = _run(root, "score", "--model", "models/rel", "--data", "data/sim", "--log",
                    "--out", str(out), timeout=600)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "is locked by another process" in done.stderr and "Traceback" not in done.stderr
    assert out.read_bytes() == b"last week's scores"
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".scores")) == []
    with sqlite3.connect(root / "mlflow.db") as con:
        (runs,) = con.execute(
            "select count(*) from runs where name like 'score-%' and status = 'FINISHED'"
        ).fetchone()
    assert runs == 0
