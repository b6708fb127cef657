"""Stopping a command that owns child processes: SIGTERM, SIGINT and SIGHUP unwind it cleanly, once."""
from __future__ import annotations

import signal
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stopped(Exception):
    """Raised in the main thread by a stop signal; `with` blocks and `finally`s that own children stop them."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _ignore_further() -> None:
    # One stop is enough: a second Ctrl-C must not interrupt the stop itself (it kills what ignores SIGTERM).
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextmanager
def stop_on_signals():
    """Within the block a stop signal raises Stopped (what `timeout`, a CI runner, a scheduler or Ctrl-C send)."""
    def handle(signum, _frame):
        _ignore_further()
        raise Stopped(signum)

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def on_stop_signals(callback) -> None:
    """For a loop that checks a flag (the supervisor of `up`): a stop signal calls `callback()` instead."""
    def handle(_signum, _frame):
        callback()
    for signum in STOP_SIGNALS:
        signal.signal(signum, handle)
