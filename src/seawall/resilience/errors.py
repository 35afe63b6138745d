"""Exceptions raised by the resilience policies themselves (never wrappers of the caller's)."""

from __future__ import annotations

__all__ = [
    "BulkheadFullError",
    "CircuitOpenError",
    "PolicyConfigError",
    "ResilienceError",
    "TimeoutExceeded",
]


class ResilienceError(Exception):
    """Base class of every error a policy raises on its own behalf.

    ResilienceError
    ├── CircuitOpenError      the breaker refused the call
    ├── BulkheadFullError     no free slot and no room in the wait queue
    ├── TimeoutExceeded       also a TimeoutError, so ``on=TimeoutError`` catches it
    └── PolicyConfigError     also a ValueError: bad settings or config
    """


class CircuitOpenError(ResilienceError):
    """The named breaker is open (or its half-open trial slots are taken)."""

    def __init__(self, name: str, state: str, retry_at: float, retry_after: float) -> None:
        self.name = name
        self.state = state
        #: monotonic time (on the breaker's clock) when a trial call will be allowed
        self.retry_at = retry_at
        #: seconds from the moment of raising until ``retry_at``
        self.retry_after = retry_after
        super().__init__(f"circuit breaker {name!r} is {state}; retry in {retry_after:.3f}s")


class BulkheadFullError(ResilienceError):
    """The named bulkhead has no free slot and its wait queue is full or the wait timed out."""

    def __init__(self, name: str, max_concurrent: int, max_queue: int) -> None:
        self.name = name
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        super().__init__(f"bulkhead {name!r} is full ({max_concurrent} running, queue of {max_queue})")


class TimeoutExceeded(ResilienceError, TimeoutError):
    """A call took longer than its timeout policy allows."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        super().__init__(f"{name!r} timed out after {seconds:g}s")


class PolicyConfigError(ResilienceError, ValueError):
    """A policy was given impossible settings, or a config names something unknown."""
