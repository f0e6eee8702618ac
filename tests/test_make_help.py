"""`make help`: every target with the values of the variables it uses, plain text when piped,
and the `run` line naming every stage `make run` runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _help(*args: str) -> str:
    res = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "help", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_help_expands_variables_and_prints_no_ansi_codes_when_piped():
    out = _help()
    assert "\x1b" not in out and "$(" not in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "data/demo" in lines["data"] and "20 trials" in lines["tune"]
    assert (
        "experiments/lightgbm.yaml" in lines["tune"] and "reports/notebooks" in lines["notebooks"]
    )
    # the run line lists the prerequisites of `run`, validate among them, in order
    makefile = (REPO / "Makefile").read_text()
    steps = re.search(r"^RUN_STEPS := (.+)$", makefile, re.M).group(1).split()
    assert "validate" in steps
    assert " -> ".join(steps) in lines["run"]
    assert re.search(r"^run: \$\(RUN_STEPS\) ##", makefile, re.M)
    # a value given on the command line is the one shown
    assert "/tmp/mine" in {ln.split()[0]: ln for ln in _help("DATA=/tmp/mine").splitlines()}["data"]


@pytest.mark.parametrize(("verdict", "expected_rc", "retrained"), [(3, 0, True), (0, 0, False), (1, 2, False)])  # fmt: skip
def test_make_watch_retrains_on_the_retrain_exit_code_only(
    tmp_path, verdict, expected_rc, retrained
):
    """make turns every failing exit code into 2, so a scheduler cannot branch on
    `make monitor`'s 3; `make watch` branches itself (the CLI stands in for churnlab here: what
    is tested is the target's logic, the commands are tested elsewhere)."""
    calls = tmp_path / "calls"
    fake = tmp_path / "churnlab"
    fake.write_text(
        f'#!/bin/sh\necho "$1" >> {calls}\n[ "$1" = monitor ] && exit {verdict}\nexit 0\n'
    )
    fake.chmod(0o755)
    res = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "watch", f"CHURNLAB={fake}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == expected_rc, res.stderr
    assert calls.read_text().split() == (["monitor", "retrain"] if retrained else ["monitor"])
