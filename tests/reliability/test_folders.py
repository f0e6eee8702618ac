"""Issue 16, items 1 and 10: `simulate --out` never deletes what churnlab did not write, and
the folders and files it writes respect the umask. Real filesystem; the command line's
refusal through the installed console script."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from churnlab.data.simulate import SimulationParams, simulate
from churnlab.files import MARKER
from tests.reliability.conftest import one_line_error, run

SMALL = SimulationParams(accounts=200, months=6, seed=2)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_simulate_refuses_a_folder_it_did_not_make_even_with_force(project):
    own = project / "mine"
    own.mkdir()
    (own / "raw_export.csv").write_text("account_id,mrr\n1,10\n")
    with pytest.raises(FileExistsError, match="did not write"):
        simulate(own, SMALL)
    done = run("simulate", "--accounts", "200", "--months", "6", "--out", "mine", "--force",
               root=project)  # fmt: skip
    message = one_line_error(done)
    assert "mine: holds files churnlab did not write" in message and "--force" in message
    assert sorted(p.name for p in own.iterdir()) == ["raw_export.csv"]
    assert (own / "raw_export.csv").read_text() == "account_id,mrr\n1,10\n"


def test_simulate_out_dot_leaves_the_working_folder_alone(project, monkeypatch):
    (project / "notes.txt").write_text("keep me")
    monkeypatch.chdir(project)
    for out in (".", project, project.parent):
        with pytest.raises(FileExistsError, match="working folder") as info:
            simulate(out, SMALL)
        assert info.value.errno == errno.EEXIST
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt", "pyproject.toml"]


def test_simulate_replaces_its_own_folder_and_force_covers_added_files(project):
    out = project / "data" / "demo"
    simulate(out, SMALL)
    listed = json.loads((out / MARKER).read_text())["files"]
    assert "events.parquet" in listed and "dataset.json" in listed
    simulate(out, SMALL)  # churnlab's own folder is replaced without asking (make data twice)
    (out / "my_notes.md").write_text("x")  # a file the user added: refused unless --force
    with pytest.raises(FileExistsError, match=r"my_notes\.md.*--force"):
        simulate(out, SMALL)
    assert (out / "my_notes.md").exists()
    simulate(out, SMALL, force=True)
    assert not (out / "my_notes.md").exists() and (out / "events.parquet").exists()
    empty = project / "data" / "empty"
    empty.mkdir()
    simulate(empty, SMALL)  # an empty folder is fine
    # no temp folder is left beside them
    assert sorted(p.name for p in (project / "data").iterdir()) == ["demo", "empty"]


@pytest.mark.parametrize(("umask", "folder_mode", "file_mode"), [(0o022, 0o755, 0o644),
                                                                (0o027, 0o750, 0o640)])  # fmt: skip
def test_simulated_folders_and_files_respect_the_umask(tmp_path, umask, folder_mode, file_mode):
    before = os.umask(umask)
    try:
        simulate(tmp_path / "sim", SMALL)
    finally:
        os.umask(before)
    assert _mode(tmp_path / "sim") == folder_mode
    assert {_mode(p) for p in (tmp_path / "sim").iterdir()} == {file_mode}
