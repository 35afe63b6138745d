"""The process-wide clock the policies read, swappable by seawall.testing."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "current", "set_clock"]


class Clock(Protocol):
    """What a policy needs of time: a monotonic reading and two ways to wait."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    async def asleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time: ``time.monotonic``, ``time.sleep`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Holder:
    # One attribute on one object, so swapping the clock is a single store that every
    # policy sees on its next call, without each policy keeping its own reference.
    __slots__ = ("clock",)

    def __init__(self) -> None:
        self.clock: Clock = SystemClock()


_HOLDER = _Holder()


def current() -> Clock:
    """The clock in force now."""
    return _HOLDER.clock


def set_clock(clock: Clock) -> Clock:
    """Install ``clock`` for every policy without its own; returns the previous one."""
    previous = _HOLDER.clock
    _HOLDER.clock = clock
    return previous
