"""Fallback: answer with a value or a handler when a call fails with chosen exceptions."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar

from ._counters import Counter
from .errors import PolicyConfigError
from .outcome import On, exception_predicate

__all__ = ["AsyncFallback", "Fallback"]

P = ParamSpec("P")
T = TypeVar("T")
_MISSING: Any = object()


class _FallbackBase(Generic[T]):
    def __init__(
        self,
        *,
        on: On,
        value: T = _MISSING,
        handler: Callable[[BaseException], T] | None = None,
        name: str = "fallback",
    ) -> None:
        if (value is _MISSING) == (handler is None):
            raise PolicyConfigError("fallback needs exactly one of value= or handler=")
        self._on = exception_predicate(on)
        self._value = value
        self._handler = handler
        self.name = name
        self._used = Counter()

    def counts(self) -> dict[str, int]:
        """How many calls were answered by the fallback."""
        return {"used": self._used.value}

    def covers(self, exc: BaseException) -> bool:
        """Whether this fallback answers for ``exc``."""
        return self._on(exc)

    def answer(self, exc: BaseException) -> T:
        """The fallback's answer for ``exc`` (which it covers)."""
        self._used.inc()
        if self._handler is not None:
            return self._handler(exc)
        return self._value


class Fallback(_FallbackBase[T]):
    """Returns ``value`` (or ``handler(exc)``) instead of raising an exception ``on=`` covers."""

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            if not self._on(exc):
                raise
            return self.answer(exc)

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is a coroutine function: use AsyncFallback")

        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.call(fn, *args, **kwargs)

        return guarded


class AsyncFallback(_FallbackBase[T]):
    """The coroutine twin of :class:`Fallback` (``handler`` stays a plain function)."""

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except BaseException as exc:
            if not self._on(exc):
                raise
            return self.answer(exc)

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not a coroutine function: use Fallback")

        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(fn, *args, **kwargs)

        return guarded
