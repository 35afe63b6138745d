"""Retry with exponential backoff, full jitter, a deadline, Retry-After and a shared budget."""

from __future__ import annotations

import functools
import inspect
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, ParamSpec, Protocol, TypeVar

from . import _clock, _validate
from ._counters import Counter
from .backoff import Backoff
from .budget import RetryBudget
from .errors import PolicyConfigError
from .events import Hooks, RetryEvent
from .outcome import On, exception_predicate, retry_after_of

__all__ = ["AsyncRetry", "Attempt", "Retry"]

P = ParamSpec("P")
T = TypeVar("T")


class _Decide(Protocol):
    """:meth:`_RetrySettings._decide`'s shape: the wait before the next attempt, or None to stop."""

    def __call__(
        self, clock: _clock.Clock, start: float, attempt: int, exc: BaseException | None, /, *, result: object
    ) -> float | None: ...


class _RetrySettings:
    """What :class:`Retry` and :class:`AsyncRetry` share: settings, decisions, counters."""

    def __init__(
        self,
        *,
        on: On,
        attempts: int | None = 3,
        timeout: float | None = None,
        backoff: Backoff | None = None,
        retry_on_result: Callable[[Any], bool] | None = None,
        budget: RetryBudget | None = None,
        retry_after: Callable[[object], float | None] | None = retry_after_of,
        name: str = "retry",
        clock: _clock.Clock | None = None,
        on_retry: Callable[[RetryEvent], object] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._on = exception_predicate(on)
        self.attempts_max = _validate.count("retry", "attempts", attempts, optional=True)
        self.timeout = _validate.seconds("retry", "timeout", timeout, optional=True)
        if self.attempts_max is None and self.timeout is None:
            raise PolicyConfigError("retry needs attempts or timeout (or both): it must stop")
        self.backoff = backoff if backoff is not None else Backoff()
        self.retry_on_result = retry_on_result
        self.budget = budget
        self.retry_after = retry_after
        self.name = name
        self._clock = clock
        self._rand = rand
        self.on_retry: Hooks[RetryEvent] = Hooks(on_retry)
        self._ok = Counter()
        self._failed = Counter()
        self._retries = Counter()
        self._budget_refusals = Counter()

    def counts(self) -> dict[str, int]:
        """Calls by outcome (success, failure), retries made, and retries the budget refused."""
        return {
            "success": self._ok.value,
            "failure": self._failed.value,
            "retries": self._retries.value,
            "budget_exhausted": self._budget_refusals.value,
        }

    def retries_exception(self, exc: BaseException) -> bool:
        """Whether ``on=`` covers ``exc``."""
        return self._on(exc)

    def _succeeded(self) -> None:
        self._ok.inc()
        if self.budget is not None:
            self.budget.record_success()

    def _rejects(self, exc: BaseException) -> bool:
        """Whether ``on=`` leaves ``exc`` alone; such an exception counts as the call's failure."""
        if self._on(exc):
            return False
        self._failed.inc()
        return True

    def _accepts(self, result: object) -> bool:
        """Whether ``result`` ends the call as a success (``retry_on_result`` does not reject it)."""
        check = self.retry_on_result
        if check is not None and check(result):
            return False
        self._ok.inc()  # _succeeded() inlined: this is the success path of call()
        if self.budget is not None:
            self.budget.record_success()
        return True

    def _restart(self, start: float | None) -> tuple[_clock.Clock, float]:
        """The clock of the attempts after a failed first one, and when the call began on it."""
        clock = self._clock or _clock.current()
        return clock, clock.monotonic() if start is None else start

    def _series(self) -> Iterator[Attempt]:
        """The attempts of a retried block, without the waits between them (the twins sleep)."""
        clock = self._clock or _clock.current()
        start = clock.monotonic()
        number = 0
        while True:
            number += 1
            attempt = Attempt(self, clock, start, number)
            yield attempt
            if attempt.succeeded or attempt.delay is None:
                return

    def _decide(
        self,
        clock: _clock.Clock,
        start: float,
        attempt: int,
        exc: BaseException | None,
        *,
        result: object = None,
        floor: float = 0.0,
    ) -> float | None:
        """The wait before attempt ``attempt + 1``, or None to give up. Emits the event."""
        elapsed = clock.monotonic() - start
        delay = 0.0
        action = "retry"
        if self.attempts_max is not None and attempt >= self.attempts_max:
            action = "exhausted"
        else:
            delay = max(self.backoff.delay(attempt, self._rand), floor)
            if self.retry_after is not None:
                hint = self.retry_after(exc if exc is not None else result)
                if hint is not None:
                    delay = max(delay, hint)  # the server knows best when it will be back
            if not math.isfinite(delay) or (self.timeout is not None and elapsed + delay >= self.timeout):
                action = "exhausted"
            elif self.budget is not None and not self.budget.try_spend():
                self._budget_refusals.inc()
                action = "budget"
        if action == "retry":
            self._retries.inc()
        else:
            self._failed.inc()
        if self.on_retry:
            self.on_retry.emit(RetryEvent(self.name, attempt, delay, exc, elapsed, action))
        return delay if action == "retry" else None


class Attempt:
    """One attempt of a retried block: ``for attempt in retry.attempts(): with attempt: ...``.

    Leaving the block with a retryable exception swallows it so the loop goes on; the last
    attempt's exception, or one ``on=`` does not cover, propagates unchanged.
    """

    __slots__ = ("_clock", "_settings", "_start", "delay", "number", "succeeded")

    def __init__(self, settings: _RetrySettings, clock: _clock.Clock, start: float, number: int):
        self._settings = settings
        self._clock = clock
        self._start = start
        #: 1-based number of this attempt within the call
        self.number = number
        self.succeeded = False
        #: the wait before the next attempt, once this one failed and will be retried
        self.delay: float | None = None

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        s = self._settings
        if exc is None:
            self.succeeded = True
            s._succeeded()
            return False
        if s._rejects(exc):
            return False
        self.delay = s._decide(self._clock, self._start, self.number, exc)
        return self.delay is not None


class Retry(_RetrySettings):
    """Retries a sync callable on the exceptions ``on=`` names (there is no default).

    The first attempt runs without reading the clock unless a ``timeout`` is set; without
    one, the ``elapsed`` of events counts from the first failure.
    """

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn`` until it succeeds or the policy gives up; re-raise the last error as is."""
        start = (self._clock or _clock.current()).monotonic() if self.timeout else None
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if self._rejects(exc):
                raise
            return self._again(fn, args, kwargs, start, exc=exc, result=None)
        if self._accepts(result):
            return result
        return self._again(fn, args, kwargs, start, exc=None, result=result)

    def _again(
        self,
        fn: Callable[..., T],
        args: Any,
        kwargs: Any,
        start: float | None,
        *,
        exc: BaseException | None,
        result: Any,
        decide: _Decide | None = None,
    ) -> T:
        """Attempts after the first failed one (``exc``, or a ``result`` to retry).

        ``decide`` (a pipeline's) replaces :meth:`_decide` and screens every exception itself.
        """
        clock, began = self._restart(start)
        n = 1
        while (delay := (decide or self._decide)(clock, began, n, exc, result=result)) is not None:
            clock.sleep(delay)
            n += 1
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                if decide is None and self._rejects(error):
                    raise
                exc = error
                continue
            exc = None
            if self._accepts(result):
                return result  # type: ignore[no-any-return]
        if exc is not None:
            raise exc  # the caller's own exception object, not a wrapper
        return result  # type: ignore[no-any-return]

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is a coroutine function: use AsyncRetry")
        rejects = self._rejects
        again = self._again
        ok = self._ok.inc

        @functools.wraps(fn)
        def retried(*args: P.args, **kwargs: P.kwargs) -> T:
            # the success path inlines call() and _accepts(): a method call more would cost ~20%
            start = (self._clock or _clock.current()).monotonic() if self.timeout else None
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                if rejects(exc):
                    raise
                return again(fn, args, kwargs, start, exc=exc, result=None)
            check = self.retry_on_result
            if check is not None and check(result):
                return again(fn, args, kwargs, start, exc=None, result=result)
            ok()
            if self.budget is not None:
                self.budget.record_success()
            return result

        return retried

    def attempts(self) -> Iterator[Attempt]:
        """Attempts for a retried block; stops after success or when the policy gives up."""
        for attempt in self._series():
            yield attempt
            if attempt.delay is not None and not attempt.succeeded:
                attempt._clock.sleep(attempt.delay)


class AsyncRetry(_RetrySettings):
    """Retries a coroutine function; the twin of :class:`Retry`."""

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn`` until it succeeds or the policy gives up; re-raise the last error as is."""
        start = (self._clock or _clock.current()).monotonic() if self.timeout else None
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            if self._rejects(exc):
                raise
            return await self._again(fn, args, kwargs, start, exc=exc, result=None)
        if self._accepts(result):
            return result
        return await self._again(fn, args, kwargs, start, exc=None, result=result)

    async def _again(
        self,
        fn: Callable[..., Awaitable[T]],
        args: Any,
        kwargs: Any,
        start: float | None,
        *,
        exc: BaseException | None,
        result: Any,
        decide: _Decide | None = None,
    ) -> T:
        clock, began = self._restart(start)
        n = 1
        while (delay := (decide or self._decide)(clock, began, n, exc, result=result)) is not None:
            await clock.asleep(delay)
            n += 1
            try:
                result = await fn(*args, **kwargs)
            except BaseException as error:
                if decide is None and self._rejects(error):
                    raise
                exc = error
                continue
            exc = None
            if self._accepts(result):
                return result  # type: ignore[no-any-return]
        if exc is not None:
            raise exc
        return result  # type: ignore[no-any-return]

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not a coroutine function: use Retry")
        call = self.call

        @functools.wraps(fn)
        async def retried(*args: P.args, **kwargs: P.kwargs) -> T:
            return await call(fn, *args, **kwargs)

        return retried

    async def attempts(self) -> AsyncIterator[Attempt]:
        """Attempts for a retried block: ``async for attempt in retry.attempts(): with attempt:``."""
        for attempt in self._series():
            yield attempt
            if attempt.delay is not None and not attempt.succeeded:
                await attempt._clock.asleep(attempt.delay)
