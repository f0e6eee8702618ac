"""The Typer app, the consoles, and the one error handler every command runs under."""

from __future__ import annotations

import json
import logging
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from churnlab import __version__
from churnlab.errors import ChurnlabError

app = typer.Typer(
    name="churnlab",
    help="Predictive churn modeling workbench: who leaves, when, why, and what it is worth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # help as click prints it: rich markup would read `[...]` and `:name:` in help text and
    # error messages as styles and emoji (START:END:STEP became "START🔚STEP")
    rich_markup_mode=None,
)
# no markup and no emoji codes: user text (paths, names, dates, messages) prints as it is;
# styles are given as Text (see `styled`)
# MLflow's loggers that speak when a store is opened for the first time
MLFLOW_STORE_LOGGERS = ("mlflow.store.db.utils", "alembic")
console = Console(markup=False, emoji=False)
err = Console(stderr=True, markup=False, emoji=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line of text from plain strings and ``(text, style)`` pairs; nothing in it is read
    as markup or emoji. ``styled(("error:", "bold red"), " ", message)``"""
    return Text.assemble(*parts)


def _version(value: bool) -> None:
    if value:
        console.print(f"churnlab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log debug messages")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s")
    # MLflow logs at INFO through its own handler when it creates or migrates a store
    # ("Creating initial MLflow database tables..."), which lands among churnlab's output; -v
    # shows it
    for name in MLFLOW_STORE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
    # `kill` and job schedulers stop a command with SIGTERM: handled like Ctrl-C, so temp files
    # are removed and runs closed (unless the parent chose to ignore it, as nohup does)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)
    # the command line only writes plots to files; the library leaves the backend to its host
    # (a notebook's inline backend, a script's default)
    import matplotlib

    matplotlib.use("Agg")
    # event names in scripts the plot font lacks (CJK) print as boxes in the plots, and
    # matplotlib warned twice per character, burying the command's own output
    warnings.filterwarnings("ignore", r"Glyph \d+ .*missing from font", UserWarning)
    sys.unraisablehook = _quiet_at_shutdown


def _quiet_at_shutdown(unraisable: Any) -> None:
    """Ibis's ``Comparable.__del__`` can raise ``KeyError`` while the interpreter shuts down
    after an interrupt (its equality cache is torn down first); Python prints that as an
    "Exception ignored" traceback after churnlab's own one-line message. Only that case is
    silenced; every other unraisable exception is printed as usual."""
    obj = getattr(unraisable, "object", None)
    if (sys.is_finalizing() or isinstance(unraisable.exc_value, KeyError)) and "ibis" in getattr(
        obj, "__module__", ""
    ) + getattr(obj, "__qualname__", ""):
        return
    sys.__unraisablehook__(unraisable)


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON (``--json`` output)."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    err.print(styled(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _store_locked(exc: BaseException) -> str | None:
    """One line for a SQLite MLflow store another process holds locked, else None."""
    from churnlab.config import tracking_uri
    from churnlab.tracking.store import is_locked

    if not is_locked(exc):
        return None
    return (
        f"the MLflow store {tracking_uri()} is locked by another process (SQLite: database is "
        "locked; a running `mlflow ui` or migration, a backup, a stuck writer?): this command "
        "stopped before it finished; run it again once that process has released the store"
    )


def _io_problem(exc: BaseException) -> str | None:
    """One line for an I/O failure (no permission, disk full, a DuckDB I/O error) or DuckDB
    running out of memory, else None."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if type(exc).__name__ == "IOException" and type(exc).__module__.startswith("_duckdb"):
        return f"cannot read or write a file: {str(exc).splitlines()[0]}"
    if type(exc).__name__ == "OutOfMemoryException" and type(exc).__module__.startswith("_duckdb"):
        from churnlab.data.engines import duckdb_memory

        return (
            f"DuckDB ran out of memory within its limit of {duckdb_memory()} "
            "(CHURNLAB_DUCKDB_MEMORY): raise the limit, or build fewer cutoffs at a time "
            f"({str(exc).splitlines()[0]})"
        )
    return None


@contextmanager
def errors_reported() -> Iterator[None]:
    """The one error handler: churnlab's input errors and missing files print their message,
    any other ``ValueError`` its type and message, I/O failures (permissions, a full disk, a
    folder churnlab will not replace) one line naming the path; each exits 1 without a
    traceback. A query interrupted by Ctrl-C or SIGTERM is an interrupt (exit 130)."""
    try:
        yield
    except (ChurnlabError, FileNotFoundError) as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    except RuntimeError as exc:
        if "interrupted" in str(exc).lower():
            raise KeyboardInterrupt(str(exc)) from None
        raise
    except Exception as exc:
        if type(exc).__name__ == "InterruptException":
            raise KeyboardInterrupt(str(exc)) from None
        message = _store_locked(exc) or _io_problem(exc)
        if message is None:
            raise
        fail(message)


def notices(items: list[str]) -> None:
    for notice in items:
        err.print(styled(("notice:", "yellow"), " ", notice), highlight=False, soft_wrap=True)
