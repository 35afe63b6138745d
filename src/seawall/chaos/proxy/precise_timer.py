"""Sub-millisecond timers for asyncio loops, for latency faults that must land on time.

Event loops wait in ``epoll_wait``, whose timeout is whole milliseconds (uvloop's clock is
millisecond-grained too), so a chunk asked to wait 100 ms leaves 0–1 ms late, and p99 is worse.
``call_at`` here lets the loop's own timer run until ``LEAD`` before the deadline, then hands the
rest to one shared thread that waits on a condition variable (nanosecond timeouts) and wakes the
loop with ``call_soon_threadsafe``. The thread holds only deadlines inside the lead window, so it
sleeps almost always; the loop keeps its cheap timers for everything far away.
Deadlines are ``time.monotonic()`` seconds (the clock asyncio and libuv both read).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable

LEAD = 0.003  # longer than the loop timer's worst lateness, so the thread gets the deadline in time


class PreciseHandle:
    """A scheduled callback; ``cancel`` works at any stage (loop timer, thread, or already queued)."""

    __slots__ = ("_callback", "_coarse", "_loop", "cancelled")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._coarse: asyncio.TimerHandle | None = None
        self.cancelled = False

    def cancel(self) -> None:
        """Never run the callback (safe to call twice, or after it ran)."""
        self.cancelled = True
        if self._coarse is not None:
            self._coarse.cancel()

    def _run(self) -> None:
        if not self.cancelled:
            self.cancelled = True  # at most once
            self._callback()


class _TimerThread:
    """One daemon thread for every loop in the process; started on first use."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every timer and the thread (a forked child has no copy of the thread)."""
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, PreciseHandle]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, when: float, handle: PreciseHandle) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="seawall-precise-timer", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (when, next(self._seq), handle))
            if self._heap[0][2] is handle:
                self._cond.notify()

    def _serve(self) -> None:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                when, _, handle = self._heap[0]
                remaining = when - time.monotonic()
                if remaining > 0 and not handle.cancelled:
                    self._cond.wait(remaining)
                    continue
                heapq.heappop(self._heap)
                if not handle.cancelled:
                    with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                        handle._loop.call_soon_threadsafe(handle._run)


_thread = _TimerThread()


os.register_at_fork(after_in_child=_thread.reset)


def _hand_over(when: float, handle: PreciseHandle) -> None:
    if not handle.cancelled:
        _thread.add(when, handle)


def call_at(loop: asyncio.AbstractEventLoop, when: float, callback: Callable[[], None]) -> PreciseHandle:
    """Run ``callback`` on ``loop`` at monotonic time ``when``, within a fraction of a millisecond."""
    handle = PreciseHandle(loop, callback)
    lead = when - LEAD - time.monotonic()
    if lead > 0:
        handle._coarse = loop.call_later(lead, functools.partial(_hand_over, when, handle))
    else:
        _thread.add(when, handle)
    return handle


__all__ = ["LEAD", "PreciseHandle", "call_at"]
