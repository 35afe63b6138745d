"""A fake clock and a test mode for code that uses seawall.resilience."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from seawall.resilience import _clock
from seawall.resilience._clock import Clock

__all__ = ["FakeClock", "NoWaitClock", "test_mode", "use_clock"]


class FakeClock:
    """Time that moves only when told to: by :meth:`advance` or by sleeping.

    ``sleep`` and ``asleep`` return at once after moving the time forward, and record each
    wait in :attr:`sleeps`, so a test can check a policy's backoff without waiting for it.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        #: every wait requested, in order
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the time forward by ``seconds`` (never backward)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back {seconds}s")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # still a scheduling point, as a real sleep is


class NoWaitClock:
    """Real monotonic time, but waits return at once (recorded in :attr:`sleeps`)."""

    def __init__(self) -> None:
        self._real = _clock.SystemClock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._real.monotonic()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Make every policy without its own ``clock=`` read ``clock`` inside the block."""
    previous = _clock.set_clock(clock)
    try:
        yield clock
    finally:
        _clock.set_clock(previous)


@contextmanager
def test_mode() -> Iterator[NoWaitClock]:
    """Turn all waiting off (backoff, Retry-After, waiting for half-open) inside the block.

    Yields the :class:`NoWaitClock` in force, whose ``sleeps`` lists the waits skipped.
    """
    with use_clock(NoWaitClock()) as clock:
        yield clock  # type: ignore[misc]


test_mode.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
