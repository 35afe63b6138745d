"""Lock-free monotonic counters for the hot path, readable without advancing them."""

from __future__ import annotations

import itertools

__all__ = ["Counter"]


class Counter:
    """A counter whose increment is one C call, atomic under the GIL.

    ``itertools.count.__next__`` runs entirely in C and cannot be interrupted by another
    thread, so concurrent increments are never lost and no lock is taken. Reading parses
    ``repr(count)``, which does not advance it; reads are rare (a metrics scrape).
    """

    __slots__ = ("_count", "inc")

    def __init__(self) -> None:
        self._count = itertools.count()
        #: call to add one; bind it once (``inc = counter.inc``) on a hot path
        self.inc = self._count.__next__

    @property
    def value(self) -> int:
        return int(repr(self._count)[6:-1])
