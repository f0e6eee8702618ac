"""Without Java the Spark tests are skipped with the reason in the summary; with
CHURNLAB_REQUIRE_SPARK (CI) a missing Java fails the run instead of skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPARK_TESTS = ["tests/features/test_spark_parity.py", "tests/scoring/test_spark.py"]


def _pytest_without_java(tmp_path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "CHURNLAB_REQUIRE_SPARK")}
    env.update(PATH=str(tmp_path), **extra)  # no java on this PATH
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-n", "0", "-p", "no:cacheprovider",
         *SPARK_TESTS],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_spark_tests_skip_with_the_reason_where_java_is_missing(tmp_path):
    res = _pytest_without_java(tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 skipped" in res.stdout
    assert "the Spark tests need Java 17+" in res.stdout and "no java on the PATH" in res.stdout


def test_ci_turns_a_missing_java_into_an_error(tmp_path):
    res = _pytest_without_java(tmp_path, CHURNLAB_REQUIRE_SPARK="1")
    assert res.returncode != 0
    assert "CHURNLAB_REQUIRE_SPARK is set, but the Spark tests need Java 17+" in res.stdout
