"""Issue 16, item 12: SIGTERM is handled like Ctrl-C (temp file removed, exit 130, no
traceback), and a temp file a SIGKILLed run left behind is removed by the next run writing
beside it, while files that are not churnlab's, or whose writer lives, are left alone. Real
processes and real signals."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from churnlab.files import TEMP_PREFIX
from tests.reliability.conftest import run, start

# a dozen monthly cutoffs: the write (where the feature query runs) lasts long enough to be hit
CUTOFFS = "2024-01-01:2024-12-01:1M"


def _temps(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{TEMP_PREFIX}.*"))


def test_signals_during_the_features_write(project, tiny_sim):
    procs = {}
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        out = project / sig.name / "features.parquet"
        out.parent.mkdir()
        proc = start("features", "--data", str(tiny_sim), "--cutoffs", CUTOFFS, "--horizon", "30",
                     "--out", str(out), root=project)  # fmt: skip
        procs[sig] = (proc, out.parent)
    # each signal arrives while that process writes the table to its temp file
    waiting = dict(procs)
    deadline = time.monotonic() + 180
    while waiting and time.monotonic() < deadline:
        for sig, (proc, folder) in list(waiting.items()):
            if _temps(folder):
                os.kill(proc.pid, sig)
                del waiting[sig]
            else:
                assert proc.poll() is None, proc.communicate()
        time.sleep(0.002)
    assert not waiting
    for sig, (proc, folder) in procs.items():
        _, stderr = proc.communicate(timeout=120)
        if sig is signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
            left = _temps(folder)
            assert [p.name.split(".")[2] for p in left] == [str(proc.pid)]
        else:
            assert proc.returncode == 130, stderr
            assert "Traceback" not in stderr and "RuntimeError" not in stderr, stderr
            # interrupted mid-write: nothing; the rename is atomic, so never a partial file
            assert not _temps(folder) and not (folder / "features.parquet").exists(), stderr

    # the next churnlab write in that folder removes the dead run's temp file, nothing else
    folder = procs[signal.SIGKILL][1]
    not_ours = folder / ".features.parquet.abc123.parquet"
    not_ours.write_text("a user's or another tool's file")
    live = folder / f"{TEMP_PREFIX}.{os.getpid()}.features.parquet.xyz.parquet"
    live.write_text("being written by a live process")
    done = run("catalogue", "--format", "json", "--out", str(folder / "catalogue.json"),
               root=project)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _temps(folder) == [live]
    assert not_ours.exists() and (folder / "catalogue.json").exists()


def test_an_interrupt_just_as_a_temp_file_or_folder_is_created_leaves_nothing(
    tmp_path, monkeypatch
):
    """The race the signal test above hit once in CI, made deterministic: Ctrl-C (or SIGTERM,
    raised as the same exception) arriving right after the temp file or folder exists, before
    its name reached the code that cleans up. Nothing is left, and nothing is written."""
    import pytest

    from churnlab import files

    real_open, real_mkdir = os.open, os.mkdir

    def open_then_interrupt(path, flags, mode=0o777, *args, **kwargs):
        os.close(real_open(path, flags, mode, *args, **kwargs))
        raise KeyboardInterrupt

    def mkdir_then_interrupt(path, mode=0o777, *args, **kwargs):
        real_mkdir(path, mode, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt), files.atomic_file(tmp_path / "scores.csv"):
        pass
    monkeypatch.setattr(os, "open", real_open)
    monkeypatch.setattr(os, "mkdir", mkdir_then_interrupt)
    with pytest.raises(KeyboardInterrupt), files.temp_folder(tmp_path / "models"):
        pass
    monkeypatch.setattr(os, "mkdir", real_mkdir)
    assert list(tmp_path.iterdir()) == []
