"""Writing files and folders atomically, and digests of what was read.

Every output churnlab writes goes through :func:`atomic_file` or :func:`replace_folder`: the
content is written beside the target first and moved into place only when complete, so a
failure or Ctrl-C leaves the previous file (or nothing), never half a file.

Temporary files and folders are named ``.churnlab-tmp.<pid>.<name>.…``: one a killed process
left behind is recognised by its prefix and its dead writer, and removed by the next write
beside it. Every folder churnlab writes holds a marker (:data:`MARKER`) listing its files;
only such a folder (or an empty one) is ever replaced, so nothing churnlab did not write is
deleted. Refusals and unwritable targets are :class:`OSError`\\ s naming the path.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

MARKER = ".churnlab.json"
TEMP_PREFIX = ".churnlab-tmp"
_TEMP_NAME = re.compile(rf"^{re.escape(TEMP_PREFIX)}\.(\d+)\.")


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove churnlab's temporary files and folders in ``folder`` whose writing process is
    gone (killed mid-write); anything else is left alone. Returns what was removed."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m is None or int(m.group(1)) == os.getpid() or process_alive(int(m.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def check_writable(out: str | Path, folder: bool = False) -> Path:
    """The absolute target ``out``, after checking that it can be written: its nearest existing
    parent is a writable folder and ``out`` is not a folder (a file) or a file (a folder).
    Raises an :class:`OSError` naming the path, so a command fails before its work starts."""
    out = Path(os.path.abspath(out))
    if not folder and out.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a file name", str(out))
    if folder and out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(out))
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "no permission to write here", str(parent))
    if out.exists() and not os.access(out, os.W_OK):
        raise PermissionError(errno.EACCES, "no permission to write", str(out))
    return out


def check_not_input(
    out: str | Path, inputs: dict[str, str | Path | None], reads: Iterable[str] = ()
) -> None:
    """Refuse an output that is a file the command reads: ``inputs`` maps each option to its
    path (a file, or a dataset folder, of which the files named ``reads`` are read: a table
    ``NAME.*`` or a folder ``NAME/`` of parts; any other file there, such as last week's
    scores, may be replaced). ``score --features crm.csv --out crm.csv`` would replace the
    user's own table with the scores; the atomic write guards against half a file, not
    against this. Raises :class:`FileExistsError` naming ``out`` and the option, before the
    command does any work."""
    read = {name.casefold() for name in reads}
    target = Path(os.path.abspath(out))
    for option, given in inputs.items():
        if not isinstance(given, str | Path):  # None, or a frame passed in memory
            continue
        source = Path(given)
        if source.is_dir():
            inside = False
            if target.exists() and target.resolve().is_relative_to(source.resolve()):
                first = target.resolve().relative_to(source.resolve()).parts[0]
                inside = first.split(".", 1)[0].casefold() in read
            what = f"a table of the {option} folder {given}"
        else:
            inside = target.exists() and source.exists() and os.path.samefile(target, source)
            what = f"the {option} {'table' if option == '--features' else 'file'}"
        if inside:
            name = f"{target.stem}.scores{target.suffix}" if option == "--features" else None
            raise FileExistsError(
                errno.EEXIST,
                f"is {what} this command reads: writing there would replace your data "
                "(nothing was written); choose another --out"
                + (f", e.g. {target.with_name(name).name}" if name else ""),
                str(out),
            )


def _temp_prefix(out: Path) -> str:
    # the name's start only: a name near the file system's 255 bytes fits, its temp name too
    return f"{TEMP_PREFIX}.{os.getpid()}.{out.name[:64]}."


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, deepest first (removed
    again, if still empty, when the write fails: nothing is left behind)."""
    made = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            break
        made.append(parent)
    folder.mkdir(parents=True, exist_ok=True)
    return made


def _remove_made(made: list[Path]) -> None:
    for folder in made:
        try:
            folder.rmdir()  # only while empty: never what another writer put there
        except OSError:
            return


def _temp_names(out: Path, suffix: str = "") -> Iterator[Path]:
    """Fresh temporary names beside ``out`` (this process's id, a random part).

    The caller takes a name *before* it creates the file or folder (``O_EXCL``/``mkdir``, the
    next name if it exists), so that a Ctrl-C or SIGTERM at any moment finds the name to
    remove: with ``mkstemp`` a signal arriving between the creation and the return of the
    name (a loaded machine stalls a process anywhere) left a temp file nobody removed."""
    for _ in range(100):
        yield out.parent / f"{_temp_prefix(out)}{secrets.token_hex(6)}{suffix}"
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(out.parent))


@contextmanager
def atomic_file(out: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``out`` to write to; renamed onto ``out`` when the block ends
    without an error, deleted otherwise.

    >>> with atomic_file("report.html") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("<html>...</html>")
    """
    out = check_writable(out)
    made = _make_parents(out.parent)
    clean_stale_temps(out.parent)
    suffix = out.suffix if suffix is None else suffix
    tmp: Path | None = None
    try:  # Ctrl-C or SIGTERM at any moment, even as the file is being created, removes it
        for tmp in _temp_names(out, suffix):
            try:
                os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                break
            except FileExistsError:
                tmp = None
        yield tmp
        # the temp file is private; the result gets the permissions a new file would
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, out)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        _remove_made(made)
        raise


def _written_files(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MARKER
    )


def check_replaceable(dst: str | Path, force: bool = False) -> Path:
    """The absolute ``dst`` if a finished folder may be moved onto it: it does not exist, is
    empty, or is a folder churnlab made holding only what churnlab wrote (with ``force``, also
    one where files were added since). Raises :class:`FileExistsError` otherwise: a folder
    churnlab did not make is never replaced, not even with ``force``."""
    dst = check_writable(dst, folder=True)
    cwd = Path.cwd().resolve()
    if dst.resolve() == cwd or dst.resolve() in cwd.parents:
        raise FileExistsError(
            errno.EEXIST, "is the working folder (or holds it); choose a new folder", str(dst)
        )
    if not dst.exists() or not any(dst.iterdir()):
        return dst
    marker = dst / MARKER
    if not marker.is_file():
        raise FileExistsError(
            errno.EEXIST,
            "holds files churnlab did not write; refusing to replace it (--force only replaces "
            "a folder churnlab made): choose another folder, or empty it yourself",
            str(dst),
        )
    try:
        listed = set(json.loads(marker.read_text()).get("files", []))
    except (OSError, ValueError, AttributeError):
        listed = set()
    added = sorted(set(_written_files(dst)) - listed)
    if added and not force:
        shown = ", ".join(added[:5]) + (", ..." if len(added) > 5 else "")
        raise FileExistsError(
            errno.EEXIST,
            f"was made by churnlab but holds {len(added)} file(s) it did not write ({shown}); "
            "pass --force to replace it anyway",
            str(dst),
        )
    return dst


@contextmanager
def temp_folder(out: str | Path, force: bool = False) -> Iterator[Path]:
    """An empty temporary folder beside ``out`` to write a new folder into (after checking that
    ``out`` may be replaced, before any work); removed when the block ends."""
    out = check_replaceable(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(out.parent)
    tmp: Path | None = None
    try:  # named before it is made, as in atomic_file: an interrupt never leaves it behind
        for tmp in _temp_names(out):
            try:
                tmp.mkdir(mode=0o700)
                break
            except FileExistsError:
                tmp = None
        yield tmp
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def replace_folder(src: str | Path, dst: str | Path, force: bool = False) -> Path:
    """Move the finished folder ``src`` onto ``dst``, marked as churnlab's (:data:`MARKER`)
    with permissions from the umask. An existing ``dst`` must pass :func:`check_replaceable`;
    it is swapped out and removed only after ``src`` took its place (restored if the move
    fails)."""
    src, dst = Path(src), check_replaceable(dst, force)
    (src / MARKER).write_text(
        json.dumps({"written_by": "churnlab", "files": _written_files(src)}, indent=1) + "\n"
    )
    mode = 0o777 & ~_umask()
    for folder in [src, *(p for p in src.rglob("*") if p.is_dir())]:
        folder.chmod(mode)  # temp_folder made it private
    old = None
    if dst.exists():
        old = dst.with_name(f"{_temp_prefix(dst)}old")
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


__all__ = [
    "MARKER",
    "atomic_file",
    "check_not_input",
    "check_replaceable",
    "check_writable",
    "clean_stale_temps",
    "file_digest",
    "replace_folder",
    "temp_folder",
]


@contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block: one process
    at a time, released by the kernel when the holder dies, so a killed holder never blocks the
    next one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
