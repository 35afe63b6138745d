"""Timeouts: cancellation for coroutines; for sync calls, a deadline or a worker thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ParamSpec, TypeVar

from . import _clock, _validate
from ._counters import Counter
from .errors import PolicyConfigError, TimeoutExceeded

__all__ = ["AsyncTimeout", "Timeout", "remaining"]

P = ParamSpec("P")
T = TypeVar("T")

_DEADLINE: contextvars.ContextVar[float] = contextvars.ContextVar(
    "seawall_resilience_deadline", default=math.inf
)


def remaining() -> float:
    """Seconds left before the innermost enclosing timeout (``inf`` when there is none).

    A sync call under a ``Timeout`` in deadline mode should pass this to its own I/O (a
    socket timeout, a driver's statement timeout): that is the honest way to stop it.
    """
    return _DEADLINE.get() - _clock.current().monotonic()


class _TimeoutBase:
    def __init__(self, seconds: float, *, name: str = "timeout") -> None:
        self.seconds: float = _validate.seconds("timeout", "seconds", seconds)  # type: ignore[assignment]
        self.name = name
        self._timeouts = Counter()

    def counts(self) -> dict[str, int]:
        """How many calls timed out."""
        return {"timeouts": self._timeouts.value}

    def _expired(self) -> TimeoutExceeded:
        self._timeouts.inc()
        return TimeoutExceeded(self.name, self.seconds)


class Timeout(_TimeoutBase):
    """A time limit for a sync call; Python cannot interrupt a running sync call, so choose.

    ``mode="deadline"`` (default) runs the call in the caller's thread, publishes the deadline
    through :func:`remaining` for the call to honour, and if the call still returns late,
    discards its result and raises :class:`TimeoutExceeded`. It never stops the call early.

    ``mode="thread"`` runs the call in a fresh daemon thread and stops *waiting* at the
    deadline; the call itself runs on in the background to its end (threads cannot be
    killed), so use it only for calls that are safe to abandon.
    """

    def __init__(self, seconds: float, *, mode: str = "deadline", name: str = "timeout") -> None:
        super().__init__(seconds, name=name)
        if mode not in ("deadline", "thread"):
            raise PolicyConfigError(f"timeout mode must be 'deadline' or 'thread', got {mode!r}")
        self.mode = mode

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Deadline mode as a context manager: raises on leaving the block late."""
        clock = _clock.current()
        deadline = min(clock.monotonic() + self.seconds, _DEADLINE.get())
        token = _DEADLINE.set(deadline)
        try:
            yield
        finally:
            _DEADLINE.reset(token)
        if clock.monotonic() > deadline:
            raise self._expired()

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self.mode == "deadline":
            with self.guard():
                return fn(*args, **kwargs)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        context = contextvars.copy_context()
        deadline = _clock.current().monotonic() + self.seconds

        def run() -> None:
            _DEADLINE.set(deadline)
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=context.run, args=(run,), daemon=True, name=self.name).start()
        try:
            return future.result(timeout=self.seconds)
        except concurrent.futures.TimeoutError:
            if future.done():
                return future.result()
            raise self._expired() from None

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is a coroutine function: use AsyncTimeout")

        @functools.wraps(fn)
        def limited(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.call(fn, *args, **kwargs)

        return limited


class AsyncTimeout(_TimeoutBase):
    """A time limit for a coroutine: at the deadline the call is cancelled.

    Raises :class:`TimeoutExceeded` (a ``TimeoutError``); a ``TimeoutError`` the call raises
    by itself passes through unchanged. Uses the event loop's time, not the fake clock.
    """

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        token = _DEADLINE.set(min(_clock.current().monotonic() + self.seconds, _DEADLINE.get()))
        try:
            async with asyncio.timeout(self.seconds) as scope:
                yield
        except TimeoutError:
            if scope.expired():
                raise self._expired() from None
            raise
        finally:
            _DEADLINE.reset(token)

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        async with self.guard():
            return await fn(*args, **kwargs)

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not a coroutine function: use Timeout")

        @functools.wraps(fn)
        async def limited(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(fn, *args, **kwargs)

        return limited
