"""Events the policies emit (state changes, retries) and the hook lists that receive them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Hooks", "RetryEvent", "StateChange"]

_log = logging.getLogger("seawall.resilience")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class StateChange:
    """A breaker moved from one state to another."""

    breaker: str
    old: str
    new: str
    #: monotonic time on the breaker's clock
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """A call failed and is about to be retried after ``delay`` seconds (or gave up)."""

    retry: str
    #: the attempt that just failed (1-based)
    attempt: int
    delay: float
    #: the exception the attempt raised, or None when its result was retried
    exception: BaseException | None
    #: seconds since the call began
    elapsed: float
    #: "retry", "exhausted" (attempts or time ran out), or "budget" (retry budget empty)
    action: str = "retry"


class Hooks(Generic[E]):
    """Callbacks for one kind of event; a failing callback is logged, never propagated."""

    __slots__ = ("_callbacks",)

    def __init__(self, callbacks: Callable[[E], object] | list[Callable[[E], object]] | None = None):
        if callbacks is None:
            self._callbacks: list[Callable[[E], object]] = []
        elif isinstance(callbacks, list):
            self._callbacks = list(callbacks)
        else:
            self._callbacks = [callbacks]

    def add(self, callback: Callable[[E], object]) -> Callable[[E], object]:
        """Register ``callback``; returns it, so this works as a decorator."""
        self._callbacks.append(callback)
        return callback

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def emit(self, event: E) -> None:
        for callback in tuple(self._callbacks):
            try:
                callback(event)
            except Exception:
                # A metrics or logging hook must never turn a good call into a failed one.
                _log.exception("seawall.resilience hook %r failed", callback)
