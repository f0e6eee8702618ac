"""Without Java the Spark tests are skipped with the reason in the summary; with
CHURNLAB_REQUIRE_SPARK (CI) a missing Java is an error instead of a skip."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import java_problem, requires_java

REPO = Path(__file__).resolve().parents[1]


def test_spark_tests_skip_with_the_reason_where_java_is_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "CHURNLAB_REQUIRE_SPARK")}
    env["PATH"] = str(tmp_path)  # no java on this PATH
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-n", "0", "-p", "no:cacheprovider",
         "tests/features/test_spark_parity.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"\b\d+ skipped in ", res.stdout) and "passed" not in res.stdout
    assert "the Spark tests need Java 17+" in res.stdout and "no java on the PATH" in res.stdout


def test_ci_turns_a_missing_java_into_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("CHURNLAB_REQUIRE_SPARK", raising=False)  # CI sets it
    monkeypatch.setenv("PATH", str(tmp_path))
    java_problem.cache_clear()
    try:
        assert requires_java().kwargs["reason"].startswith("the Spark tests need Java 17+")
        monkeypatch.setenv("CHURNLAB_REQUIRE_SPARK", "1")
        with pytest.raises(RuntimeError, match="CHURNLAB_REQUIRE_SPARK is set, but the Spark"):
            requires_java()
    finally:
        java_problem.cache_clear()


def test_spark_engine_without_pyspark_says_how_to_install_it(tmp_path):
    """`make setup` leaves the Spark engine out (it comes with `make setup-spark`): asking for
    it then says so in one line, not with Ibis's advice to install its own extra."""
    code = (
        "import sys; sys.modules['pyspark'] = None\n"  # as if pyspark were not installed
        "from churnlab.data import connect\n"
        "connect('spark')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == (
        "ValueError: engine 'spark' needs pyspark: make setup-spark "
        "(or pip install 'churnlab[spark]')"
    )
