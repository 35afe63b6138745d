"""Signals during a run: SIGTERM becomes an exception like Ctrl-C, and both wait while restoring."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(BaseException):
    """SIGTERM arrived; like KeyboardInterrupt, it must not be swallowed by `except Exception`."""


@contextmanager
def raising_signals(enabled: bool) -> Iterator[list[str]]:
    """SIGTERM raises Terminated (SIGINT already raises KeyboardInterrupt) in the main thread."""
    received: list[str] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        received.append("SIGTERM")
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def shielded(enabled: bool, received: list[str]) -> Iterator[None]:
    """While restoring, Ctrl-C and SIGTERM are noted, not obeyed: the restore is bounded and must finish."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["Terminated", "raising_signals", "shielded"]
