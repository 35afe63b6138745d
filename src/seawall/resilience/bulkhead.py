"""Bulkheads: a concurrency limit with a bounded queue of waiting callers."""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from . import _validate
from ._counters import Counter
from .errors import BulkheadFullError

__all__ = ["AsyncBulkhead", "Bulkhead"]

P = ParamSpec("P")
T = TypeVar("T")


class _BulkheadBase:
    def __init__(
        self,
        max_concurrent: int,
        *,
        max_queue: int = 0,
        queue_timeout: float | None = None,
        name: str = "bulkhead",
    ) -> None:
        self.max_concurrent: int = _validate.count("bulkhead", "max_concurrent", max_concurrent)  # type: ignore[assignment]
        self.max_queue: int = _validate.count("bulkhead", "max_queue", max_queue, minimum=0)  # type: ignore[assignment]
        self.queue_timeout = _validate.seconds("bulkhead", "queue_timeout", queue_timeout, optional=True)
        self.name = name
        self._admitted = Counter()
        self._rejected = Counter()
        self._waiting = 0
        self._init_slots()

    def _init_slots(self) -> None:
        """Set up the twin's own slot bookkeeping (a deque of tokens, or a counter and futures)."""
        raise NotImplementedError

    def counts(self) -> dict[str, int]:
        """Calls admitted and rejected so far."""
        return {"admitted": self._admitted.value, "rejected": self._rejected.value}

    @property
    def waiting(self) -> int:
        """Callers queued for a slot now."""
        return self._waiting

    def _full(self) -> BulkheadFullError:
        self._rejected.inc()
        return BulkheadFullError(self.name, self.max_concurrent, self.max_queue)


class Bulkhead(_BulkheadBase):
    """At most ``max_concurrent`` calls at once across threads; ``max_queue`` more may wait.

    The slots are tokens in a deque: taking one (``pop``) and giving it back (``append``) are
    single C calls, atomic under the GIL, so an uncontended call takes no lock. Only callers
    that must wait use the condition variable. Usable as ``with bulkhead:`` or a decorator.
    """

    def _init_slots(self) -> None:
        self._slots: collections.deque[None] = collections.deque([None] * self.max_concurrent)
        self._cond = threading.Condition(threading.Lock())

    @property
    def active(self) -> int:
        """Calls running now."""
        return self.max_concurrent - len(self._slots)

    def acquire(self) -> None:
        """Take a slot, waiting in the queue if allowed; raises :class:`BulkheadFullError`."""
        try:
            self._slots.pop()
        except IndexError:
            self._wait_for_slot()
        self._admitted.inc()

    def _wait_for_slot(self) -> None:
        with self._cond:
            if self._waiting >= self.max_queue:
                raise self._full() from None
            # Count ourselves before looking again, so a release that missed our count must
            # have put its slot back where this look finds it (no lost wake-up).
            self._waiting += 1
            try:
                while True:
                    try:
                        self._slots.pop()
                        return
                    except IndexError:
                        pass
                    if not self._cond.wait(self.queue_timeout):
                        try:
                            self._slots.pop()
                            return
                        except IndexError:
                            raise self._full() from None
            finally:
                self._waiting -= 1

    def release(self) -> None:
        """Give a slot back."""
        self._slots.append(None)
        if self._waiting:
            self.release_waiter()

    def release_waiter(self) -> None:
        """Wake one queued caller after a slot went back (the slow half of :meth:`release`)."""
        with self._cond:
            self._cond.notify()

    def __enter__(self) -> Bulkhead:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        self.acquire()
        try:
            return fn(*args, **kwargs)
        finally:
            self.release()

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is a coroutine function: use AsyncBulkhead")
        pop = self._slots.pop
        wait = self._wait_for_slot
        release = self.release
        admitted = self._admitted.inc

        @functools.wraps(fn)
        def limited(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                pop()
            except IndexError:
                wait()
            admitted()
            try:
                return fn(*args, **kwargs)
            finally:
                release()

        return limited


class AsyncBulkhead(_BulkheadBase):
    """The asyncio twin of :class:`Bulkhead`; use one per event loop.

    Everything runs on the loop's thread, so a plain counter suffices; waiters queue in
    FIFO order as futures.
    """

    def _init_slots(self) -> None:
        self._active = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def active(self) -> int:
        return self._active

    async def acquire(self) -> None:
        if self._active < self.max_concurrent and not self._waiters:
            self._active += 1
            self._admitted.inc()
            return
        if self._waiting >= self.max_queue:
            raise self._full()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._waiting += 1
        try:
            async with asyncio.timeout(self.queue_timeout):
                await waiter
        except TimeoutError:
            self._abandon(waiter)
            raise self._full() from None
        except BaseException:
            self._abandon(waiter)
            raise
        finally:
            self._waiting -= 1
        self._admitted.inc()

    def _abandon(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done() and not waiter.cancelled():
            self._hand_over()  # we were handed a slot just as we gave up: pass it on
        elif waiter in self._waiters:
            self._waiters.remove(waiter)

    def _hand_over(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to the waiter; _active is unchanged
                return
        self._active -= 1

    def release(self) -> None:
        self._hand_over()

    async def __aenter__(self) -> AsyncBulkhead:
        await self.acquire()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        await self.acquire()
        try:
            return await fn(*args, **kwargs)
        finally:
            self.release()

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not a coroutine function: use Bulkhead")

        @functools.wraps(fn)
        async def limited(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(fn, *args, **kwargs)

        return limited
