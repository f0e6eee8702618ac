"""Writing files and folders atomically, and digests of what was read.

Every output churnlab writes goes through :func:`atomic_file` or :func:`replace_folder`: the
content is written beside the target first and moved into place only when complete, so a
failure or Ctrl-C leaves the previous file (or nothing), never half a file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(out: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``out`` to write to; renamed onto ``out`` when the block ends
    without an error, deleted otherwise.

    >>> with atomic_file("report.html") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("<html>...</html>")
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix if suffix is None else suffix
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private; the result gets the permissions a new file would
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_folder(src: str | Path, dst: str | Path) -> Path:
    """Move the finished folder ``src`` onto ``dst``: an existing ``dst`` is swapped out and
    removed only after ``src`` took its place (restored if the move fails)."""
    src, dst = Path(src), Path(dst)
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    try:
        os.replace(src, dst)
    except OSError:
        if old is not None:
            os.replace(old, dst)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return dst


def file_digest(path: str | Path) -> str:
    """SHA-256 (16 hex digits) over a file, or over a folder's files (names and bytes, in name
    order)."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


__all__ = ["atomic_file", "file_digest", "replace_folder"]
