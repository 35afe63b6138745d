"""Fault expiry: which faults' time-to-live has run out, and when the next one will."""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Expiries(Generic[K]):
    """Deadlines (monotonic seconds) per key; setting a key again replaces its deadline."""

    def __init__(self) -> None:
        self._deadline: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0  # ties broken by insertion order; keys need not be orderable

    def set(self, key: K, deadline: float | None) -> None:
        """Expire ``key`` at ``deadline``; None forgets it (no expiry)."""
        if deadline is None:
            self._deadline.pop(key, None)
            return
        self._deadline[key] = deadline
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, key))

    def discard(self, key: K) -> None:
        """Forget ``key`` (the fault was removed by hand)."""
        self._deadline.pop(key, None)

    def deadline(self, key: K) -> float | None:
        """When ``key`` expires, or None."""
        return self._deadline.get(key)

    def _prune(self) -> None:
        # Stale heap entries (replaced or discarded keys) are dropped lazily.
        while self._heap and self._deadline.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)

    def next_deadline(self) -> float | None:
        """The earliest deadline, or None when nothing expires."""
        self._prune()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[K]:
        """The keys whose deadline is at or before ``now``, earliest first, forgotten as they are returned."""
        due: list[K] = []
        self._prune()
        while self._heap and self._heap[0][0] <= now:
            _, _, key = heapq.heappop(self._heap)
            del self._deadline[key]
            due.append(key)
            self._prune()
        return due

    def __len__(self) -> int:
        return len(self._deadline)


__all__ = ["Expiries"]
