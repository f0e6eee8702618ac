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
