"""One call through a circuit breaker as a context manager, sync or async."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from .outcome import Outcome

if TYPE_CHECKING:
    from .breaker import Breaker

__all__ = ["Guard"]


class Guard:
    """One call through a breaker as a context manager, sync or async.

    A guard cannot see the block's result, so ``classify`` does not apply to it.
    """

    __slots__ = ("_breaker", "_gen", "_start")

    def __init__(self, breaker: Breaker) -> None:
        self._breaker = breaker
        self._gen = 0
        self._start = 0.0

    def __enter__(self) -> Guard:
        self._gen, self._start = self._breaker._begin()
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        b = self._breaker
        duration = b._now() - self._start if b._timing else None
        if exc is None:
            b._record(Outcome.SUCCESS, self._gen, duration)
        else:
            b._on_exception(exc, self._gen, duration)

    async def __aenter__(self) -> Guard:
        return self.__enter__()

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(et, exc, tb)
