"""The circuit breaker's coroutine twin: the same state machine, awaited calls."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from .breaker import Breaker
from .outcome import Outcome

__all__ = ["AsyncBreaker"]

P = ParamSpec("P")
T = TypeVar("T")


class AsyncBreaker(Breaker):
    """:class:`Breaker` for coroutine functions; the state machine is the same."""

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` through the breaker."""
        gen, start = self._begin()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._fail(exc, gen, start)
            raise
        self._finish(result, gen, start)
        return result

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:  # type: ignore[override]
        """Decorate a coroutine function so every call goes through the breaker."""
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not a coroutine function: use Breaker")
        slow_path = self.acall
        fail = self._fail
        record = self._record
        success = Outcome.SUCCESS

        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            if not self._fast:
                return await slow_path(fn, *args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                fail(exc, -1, 0.0)
                raise
            # _finish() inlined: a method call more costs this path ~15%
            window = self._window
            if self._fast and not window.bad:  # type: ignore[union-attr]
                next(window.slots)  # type: ignore[union-attr]
                self._inc_ok()
            else:
                record(success, -1, None)
            return result

        return guarded
