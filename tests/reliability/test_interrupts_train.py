"""Issue 16, items 8 and 15: `train` interrupted by Ctrl-C or SIGTERM exits 130 with one line
saying its run was marked KILLED; a run left RUNNING by a killed process (SIGKILL) is marked
KILLED by the next command, and no version was registered for it."""

from __future__ import annotations

import os
import signal

import pytest

from tests.reliability.conc_support import make_project, run, run_states, start, wait_for


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("interrupts"))


def _start_train_and_wait_for_its_run(root):
    before = set(run_states(root))
    proc = start(root, "train", "spec.yaml")
    new = lambda: [r for r, s in run_states(root).items() if r not in before and s == "RUNNING"]  # noqa: E731
    assert wait_for(lambda: bool(new()) or proc.poll() is not None, timeout=180)
    assert proc.poll() is None, proc.communicate()
    return proc, new()[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_train_says_its_run_was_killed(project, sig):
    proc, run_id = _start_train_and_wait_for_its_run(project)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert lines == [f"interrupted: run {run_id} was marked KILLED"], err
    assert "Traceback" not in err
    assert run_states(project)[run_id] == "KILLED"


def test_run_of_a_killed_process_is_marked_killed_on_the_next_start(project):
    proc, run_id = _start_train_and_wait_for_its_run(project)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert run_states(project)[run_id] == "RUNNING"
    run(project, "compare", "--experiment", "rel")
    assert run_states(project)[run_id] == "KILLED"
