"""Sliding windows of call outcomes: the last N calls, or the calls of the last T seconds."""

from __future__ import annotations

import itertools
import math

from .errors import PolicyConfigError

__all__ = ["FAILED", "SLOW", "CountWindow", "TimeWindow", "WindowStats"]

#: bit set in a call's code when it failed
FAILED = 1
#: bit set in a call's code when it was slow
SLOW = 2

#: (calls, failed calls, slow calls) in the window
WindowStats = tuple[int, int, int]


class CountWindow:
    """The last ``size`` recorded calls, in a ring.

    ``record`` must run under the owner's lock. A success that lands while ``bad == 0``
    only needs ``note_success`` (no lock): every slot is already 0, so claiming the next slot
    is all a success changes.
    """

    __slots__ = ("bad", "failed", "ring", "size", "slots", "slowed")

    def __init__(self, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise PolicyConfigError(f"a count window needs a size >= 1 call, got {size!r}")
        self.size = size
        self.ring = [0] * size
        self.slots = itertools.count()
        #: slots holding a failed or slow call
        self.bad = 0
        self.failed = 0
        self.slowed = 0

    def note_success(self) -> None:
        """Record a plain success when ``bad == 0``; lock-free (one C call)."""
        next(self.slots)

    def record(self, code: int, now: float = 0.0) -> WindowStats:
        """Record one call's code (``FAILED | SLOW`` bits); return the window's stats."""
        n = next(self.slots)
        i = n % self.size
        old = self.ring[i]
        self.ring[i] = code
        self.bad += (code != 0) - (old != 0)
        self.failed += (code & FAILED) - (old & FAILED)
        self.slowed += ((code & SLOW) - (old & SLOW)) >> 1
        return (min(n + 1, self.size), self.failed, self.slowed)


class TimeWindow:
    """Calls recorded in the last ``seconds``, in ``buckets`` partial aggregations.

    A call at time ``t`` lands in bucket ``floor(t / width)``; a bucket leaves the window
    once it is ``buckets`` widths old, so the window spans between ``seconds - width`` and
    ``seconds`` of history (resilience4j's time-based window, with a chosen resolution).
    """

    __slots__ = ("_calls", "_epochs", "_failed", "_slowed", "buckets", "seconds", "width")

    def __init__(self, seconds: float, buckets: int = 10) -> None:
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
            raise PolicyConfigError(f"a time window needs seconds > 0, got {seconds!r}")
        if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
            raise PolicyConfigError(f"a time window needs buckets >= 1, got {buckets!r}")
        self.seconds = float(seconds)
        self.buckets = buckets
        self.width = self.seconds / buckets
        self._epochs = [-1] * buckets
        self._calls = [0] * buckets
        self._failed = [0] * buckets
        self._slowed = [0] * buckets

    def _epoch(self, now: float) -> int:
        return math.floor(now / self.width)

    def record(self, code: int, now: float) -> WindowStats:
        epoch = self._epoch(now)
        i = epoch % self.buckets
        if self._epochs[i] != epoch:
            self._epochs[i] = epoch
            self._calls[i] = self._failed[i] = self._slowed[i] = 0
        self._calls[i] += 1
        self._failed[i] += code & FAILED
        self._slowed[i] += (code & SLOW) >> 1
        return self.stats(now)

    def stats(self, now: float) -> WindowStats:
        oldest = self._epoch(now) - self.buckets
        calls = failed = slowed = 0
        for i, epoch in enumerate(self._epochs):
            if epoch > oldest:
                calls += self._calls[i]
                failed += self._failed[i]
                slowed += self._slowed[i]
        return (calls, failed, slowed)
