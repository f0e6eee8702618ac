"""Ctrl-C and SIGTERM during a study: raised inside trials, held during Optuna's own
bookkeeping, so every finished trial is stored and logged."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.trial import FrozenTrial


class Interrupts(threading.local):
    """Ctrl-C / SIGTERM while a study runs: raised as ``KeyboardInterrupt`` inside the objective
    (Optuna records that trial as failed and stops), and held while Optuna samples or stores a
    trial or callbacks log one: Optuna 5 turns an interrupt inside its own bookkeeping into an
    ``UnboundLocalError`` in ``_run_trial``. After a finished trial's callbacks a held
    interrupt stops the study, which then raises it; one held while the next trial is sampled
    is raised when that trial starts."""

    active = False  # handlers installed (main thread, inside tune)
    raising = False  # inside the objective: interrupt now
    pending: int | None = None


INTERRUPTS = Interrupts()


def _on_interrupt(signum: int, frame: Any) -> None:
    # recorded even when raised: a KeyboardInterrupt raised where Python swallows it (inside a
    # ``__del__`` that some code triggered) is lost, the record is not, and the study stops
    # after the trial
    INTERRUPTS.pending = signum
    if INTERRUPTS.raising:
        raise KeyboardInterrupt(signal.Signals(signum).name)


def _raise_pending() -> None:
    signum, INTERRUPTS.pending = INTERRUPTS.pending, None
    if signum is not None:
        raise KeyboardInterrupt(signal.Signals(signum).name)


def stop_if_interrupted(study: optuna.Study, trial: FrozenTrial) -> None:
    """The last callback: an interrupt held during this trial's bookkeeping stops the study."""
    if INTERRUPTS.pending is not None:
        study.stop()


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or INTERRUPTS.active:
        yield
        return
    INTERRUPTS.pending, INTERRUPTS.raising = None, False
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if handler is signal.SIG_IGN or handler is None:  # ignored (nohup) or not Python's
            continue
        previous[sig] = signal.signal(sig, _on_interrupt)
    INTERRUPTS.active = True
    try:
        yield
    except Exception as exc:  # an interrupt held when the study failed still interrupts
        if INTERRUPTS.pending is not None:
            raise KeyboardInterrupt(signal.Signals(INTERRUPTS.pending).name) from exc
        raise
    finally:
        INTERRUPTS.active = False
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _raise_pending()


@contextmanager
def interruptible() -> Iterator[None]:
    if not INTERRUPTS.active:
        yield
        return
    before = INTERRUPTS.raising
    try:
        INTERRUPTS.raising = True  # from here a signal raises at once; one held earlier, now
        _raise_pending()
        yield
    except KeyboardInterrupt:
        INTERRUPTS.pending = None  # delivered: nothing left to raise
        raise
    finally:
        INTERRUPTS.raising = before


class quiet_optuna:
    """Optuna logs every trial at INFO; churnlab reports trials through callbacks instead."""

    def __enter__(self) -> None:
        self.level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        optuna.logging.set_verbosity(self.level)
