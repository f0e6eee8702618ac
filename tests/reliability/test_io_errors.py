"""Issue 16, item 11: an output that cannot be written is reported in one line (exit 1, no
traceback), before the work when it can be known up front (a folder where a file belongs, a
file where a folder belongs, the working folder), and after it when the disk fills up
(a file-size limit on the real process: writes fail like on a full disk)."""

from __future__ import annotations

from churnlab.files import TEMP_PREFIX
from tests.reliability.conftest import CUTOFFS, one_line_error, run


def test_unwritable_outputs_fail_first_in_one_line(project, tiny_sim):
    (project / "a_folder").mkdir()
    (project / "a_file").write_text("x")
    feats = ("features", "--data", str(tiny_sim), "--cutoffs", CUTOFFS)
    cases = {
        (*feats, "--out", "a_folder"): "a_folder: is a folder, expected a file name",
        (*feats, "--out", "a_file/features.parquet"): "a_file: is not a folder",
        ("simulate", "--accounts", "10", "--months", "2", "--out", "a_file"): (
            "a_file: exists and is not a folder"
        ),
        ("report", "--out", "a_file"): "a_file: exists and is not a folder",
    }
    for args, expected in cases.items():
        message = one_line_error(run(*args, root=project))
        assert expected in message, (args, message)
    # nothing was built: the feature cache is untouched
    assert not (project / "cache").exists()
    assert sorted(p.name for p in project.iterdir()) == ["a_file", "a_folder", "pyproject.toml"]


def test_disk_full_during_a_write_is_one_line_and_leaves_no_temp_file(project, tiny_sim):
    out = project / "out"
    out.mkdir()
    done = run("features", "--data", str(tiny_sim), "--cutoffs", CUTOFFS, "--horizon", "30",
               "--out", str(out / "features.parquet"), root=project, max_file_bytes=16_384)  # fmt: skip
    message = one_line_error(done)
    assert "File too large" in message or "cannot read or write" in message, message
    assert list(out.iterdir()) == []
    done = run("simulate", "--accounts", "200", "--months", "6", "--out", str(out / "sim"),
               root=project, max_file_bytes=16_384)  # fmt: skip
    assert "File too large" in one_line_error(done)
    assert not [p for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert list(out.iterdir()) == []


def test_duckdb_out_of_memory_is_one_line_naming_the_limit(project, tiny_sim):
    """A build that does not fit DuckDB's memory limit (it spills what it can) says so in one
    line naming the limit and the variable that sets it; no traceback, no file."""
    out = project / "features.parquet"
    done = run("features", "--data", str(tiny_sim), "--cutoffs", CUTOFFS, "--out", str(out),
               root=project, env={"CHURNLAB_DUCKDB_MEMORY": "2MB"})  # fmt: skip
    message = one_line_error(done)
    assert "DuckDB ran out of memory within its limit of 2MB (CHURNLAB_DUCKDB_MEMORY)" in message
    assert not out.exists()


def test_a_long_output_name_is_written_and_a_failed_write_leaves_no_new_folders(tmp_path):
    """A 228-character file name (within the 255 a file system allows) is written: its temp
    name takes only the name's start (before, the temp name ran past 255 and the write
    failed naming the temp file). A write that fails removes the folders it created for the
    output, and nothing else."""
    import pytest

    from churnlab.files import atomic_file

    long = tmp_path / ("s" * 220 + ".parquet")
    with atomic_file(long) as tmp:
        tmp.write_text("x")
    assert long.read_text() == "x"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("yours")
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "mine" / "new" / "deeper" / "o.csv"):
        raise RuntimeError("the write failed")
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["keep.txt"]
