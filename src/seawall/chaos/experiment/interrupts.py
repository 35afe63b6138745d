"""Signals during a run: Ctrl-C and SIGTERM interrupt the method, and are only noted while restoring.

One handler covers the whole run, so there is no moment when a signal finds no handler of ours (or
the previous one) in place. It raises only inside ``armed()``; anywhere else it notes the signal,
and the runner turns a noted one into an interrupted run once the work that had to finish is done.
A SIGINT that the run inherited as ignored stays ignored: that is how a shell protects the jobs it
starts in the background from the Ctrl-C typed at its terminal.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class Terminated(BaseException):
    """SIGTERM arrived; like KeyboardInterrupt, it must not be swallowed by `except Exception`."""


class RunSignals:
    """The SIGINT and SIGTERM a run received, in order, and whether they may interrupt it right now."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._taken = 0  # how many of ``received`` the runner has accounted for
        self._armed = False

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Signals raise inside the block, including one noted before it or swallowed within it."""
        self._armed = True
        try:
            self.check()
            yield
            self.check()  # raised in the block but caught there (a control, a python provider)
        finally:
            self._armed = False

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Signals wait until the block has ended (where a raise would leave a thread unaccounted for)."""
        armed, self._armed = self._armed, False
        try:
            yield
        finally:
            self._armed = armed
        self.check()

    def check(self) -> None:
        """If armed, raise a signal the runner has not accounted for yet."""
        pending = self.received[self._taken :]
        if self._armed and pending:
            raise KeyboardInterrupt if pending[0] == "SIGINT" else Terminated

    def take(self) -> str | None:
        """The first signal not accounted for yet (None if none), accounting for all of them."""
        pending = self.received[self._taken :]
        self._taken = len(self.received)
        return pending[0] if pending else None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The handler of both signals while the run lasts."""
        self.received.append(signal.Signals(signum).name)
        self.check()


@contextmanager
def run_signals(enabled: bool) -> Iterator[RunSignals]:
    """Handle SIGINT (unless ignored) and SIGTERM with one RunSignals for the block, in the main thread."""
    signals = RunSignals()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield signals
        return
    caught = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
        caught.append(signal.SIGINT)
    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in caught:
            previous[sig] = signal.signal(sig, signals.handle)
        yield signals
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: set outside Python, and Python cannot put it back
                signal.signal(sig, handler)


__all__ = ["RunSignals", "Terminated", "run_signals"]
