"""One pipeline of policies, composed in a fixed, documented order (Polly v8's)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar

from . import _clock
from .breaker import Breaker
from .bulkhead import AsyncBulkhead, Bulkhead
from .errors import CircuitOpenError, PolicyConfigError
from .fallback import AsyncFallback, Fallback
from .pipeline_block import AsyncPipelineAttempts, PipelineAttempts
from .retry import AsyncRetry, Retry
from .timeout import AsyncTimeout, Timeout

__all__ = ["AsyncPipeline", "Pipeline"]

P = ParamSpec("P")
T = TypeVar("T")
FallbackT = TypeVar("FallbackT", Fallback[Any], AsyncFallback[Any])
TimeoutT = TypeVar("TimeoutT", Timeout, AsyncTimeout)
BulkheadT = TypeVar("BulkheadT", Bulkhead, AsyncBulkhead)
RetryT = TypeVar("RetryT", Retry, AsyncRetry)


class _PipelineBase(Generic[FallbackT, TimeoutT, BulkheadT, RetryT]):
    """Order, outermost first: fallback -> total timeout -> bulkhead -> retry -> breaker ->
    per-attempt timeout -> the call.

    So the bulkhead holds one slot for a whole retried call, the breaker sees (and counts)
    every attempt, and a per-attempt timeout counts as that attempt's failure. When the
    breaker refuses an attempt, ``on_open="raise"`` stops retrying at once with the
    :class:`CircuitOpenError`; ``on_open="wait"`` sleeps until the breaker will allow a
    trial call (if the retry's attempts and time allow) and tries again.
    """

    def __init__(
        self,
        *,
        name: str = "pipeline",
        fallback: FallbackT | None = None,
        timeout: TimeoutT | None = None,
        bulkhead: BulkheadT | None = None,
        retry: RetryT | None = None,
        breaker: Breaker | None = None,
        attempt_timeout: TimeoutT | None = None,
        on_open: str = "raise",
    ) -> None:
        if on_open not in ("raise", "wait"):
            raise PolicyConfigError(f"pipeline on_open must be 'raise' or 'wait', got {on_open!r}")
        self.name = name
        self.breaker = breaker
        self.on_open = on_open
        self.fallback: FallbackT | None = fallback
        self.timeout: TimeoutT | None = timeout
        self.bulkhead: BulkheadT | None = bulkhead
        self.retry: RetryT | None = retry
        self.attempt_timeout: TimeoutT | None = attempt_timeout

    def _decide(
        self, clock: _clock.Clock, start: float, n: int, exc: BaseException | None, *, result: object
    ) -> float | None:
        """The wait before retrying after ``exc`` (or ``result``), or None to give up.

        The retry's own decision, but the pipeline's breaker refusing an attempt ends or
        waits out the retrying as ``on_open`` says.
        """
        retry = self.retry
        assert retry is not None
        if exc is None:
            return retry._decide(clock, start, n, None, result=result)
        if isinstance(exc, CircuitOpenError) and exc.name == getattr(self.breaker, "name", None):
            if self.on_open == "raise":
                retry._failed.inc()
                return None
            return retry._decide(clock, start, n, exc, floor=exc.retry_after)
        if not retry._on(exc):
            retry._failed.inc()
            return None
        return retry._decide(clock, start, n, exc)


class Pipeline(_PipelineBase[Fallback[Any], Timeout, Bulkhead, Retry]):
    """The sync pipeline: ``pipeline.call(fn, ...)`` or ``@pipeline``."""

    def _attempt(self, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        b = self.breaker
        limit = self.attempt_timeout
        if b is None:
            return fn(*args, **kwargs) if limit is None else limit.call(fn, *args, **kwargs)
        gen = -1 if b._fast else b._acquire()
        start = b._now() if b._timing else 0.0
        try:
            result = fn(*args, **kwargs) if limit is None else limit.call(fn, *args, **kwargs)
        except BaseException as exc:
            b._fail(exc, gen, start)
            raise
        if gen == -1 and b._fast and not b._window.bad:  # type: ignore[union-attr]
            next(b._window.slots)  # type: ignore[union-attr]
            b._inc_ok()  # b._finish() inlined: a method call more costs the pipeline ~10%
        else:
            b._finish(result, gen, start)
        return result

    def _limited(self, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        bulkhead = self.bulkhead
        if bulkhead is not None:
            try:
                bulkhead._slots.pop()
            except IndexError:
                bulkhead._wait_for_slot()
            bulkhead._admitted.inc()
        try:
            retry = self.retry
            if retry is None:
                return self._attempt(fn, args, kwargs)
            start = (retry._clock or _clock.current()).monotonic() if retry.timeout else None
            try:
                result = self._attempt(fn, args, kwargs)
            except BaseException as exc:
                return retry._again(
                    functools.partial(self._attempt, fn, args, kwargs),
                    (),
                    {},
                    start,
                    exc=exc,
                    result=None,
                    decide=self._decide,
                )
            check = retry.retry_on_result
            if check is not None and check(result):
                return retry._again(
                    functools.partial(self._attempt, fn, args, kwargs),
                    (),
                    {},
                    start,
                    exc=None,
                    result=result,
                    decide=self._decide,
                )
            retry._ok.inc()
            if retry.budget is not None:
                retry.budget.record_success()
            return result
        finally:
            if bulkhead is not None:
                bulkhead._slots.append(None)
                if bulkhead._waiting:
                    bulkhead.release_waiter()

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn`` through every policy of the pipeline."""
        try:
            if self.timeout is None:
                return self._limited(fn, args, kwargs)
            return self.timeout.call(self._limited, fn, args, kwargs)
        except BaseException as exc:
            if self.fallback is None or not self.fallback.covers(exc):
                raise
            return self.fallback.answer(exc)  # type: ignore[no-any-return]

    def attempts(self) -> PipelineAttempts:
        """The pipeline as a context manager, one block per attempt.

        ``for attempt in pipeline.attempts(): with attempt: ...`` runs the block through every
        policy (no fallback, which needs a value to return) and leaves the loop after the
        first success; the last failure propagates unchanged. Timeouts work as deadlines.
        """
        return PipelineAttempts(self)

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is a coroutine function: use AsyncPipeline")
        call = self.call
        limited = self._limited

        @functools.wraps(fn)
        def protected(*args: P.args, **kwargs: P.kwargs) -> T:
            if self.timeout is None and self.fallback is None:
                return limited(fn, args, kwargs)
            return call(fn, *args, **kwargs)

        return protected


class AsyncPipeline(_PipelineBase[AsyncFallback[Any], AsyncTimeout, AsyncBulkhead, AsyncRetry]):
    """The coroutine twin of :class:`Pipeline`; the breaker may be shared with sync code."""

    async def _attempt(self, fn: Callable[..., Awaitable[T]], args: Any, kwargs: Any) -> T:
        b = self.breaker
        limit = self.attempt_timeout
        if b is None:
            if limit is None:
                return await fn(*args, **kwargs)
            return await limit.call(fn, *args, **kwargs)
        gen = -1 if b._fast else b._acquire()
        start = b._now() if b._timing else 0.0
        try:
            result = await (fn(*args, **kwargs) if limit is None else limit.call(fn, *args, **kwargs))
        except BaseException as exc:
            b._fail(exc, gen, start)
            raise
        if gen == -1 and b._fast and not b._window.bad:  # type: ignore[union-attr]
            next(b._window.slots)  # type: ignore[union-attr]
            b._inc_ok()  # b._finish() inlined: a method call more costs the pipeline ~10%
        else:
            b._finish(result, gen, start)
        return result

    async def _limited(self, fn: Callable[..., Awaitable[T]], args: Any, kwargs: Any) -> T:
        bulkhead = self.bulkhead
        if bulkhead is not None:
            await bulkhead.acquire()
        try:
            retry = self.retry
            if retry is None:
                return await self._attempt(fn, args, kwargs)
            start = (retry._clock or _clock.current()).monotonic() if retry.timeout else None
            try:
                result = await self._attempt(fn, args, kwargs)
            except BaseException as exc:
                return await retry._again(
                    functools.partial(self._attempt, fn, args, kwargs),
                    (),
                    {},
                    start,
                    exc=exc,
                    result=None,
                    decide=self._decide,
                )
            check = retry.retry_on_result
            if check is not None and check(result):
                return await retry._again(
                    functools.partial(self._attempt, fn, args, kwargs),
                    (),
                    {},
                    start,
                    exc=None,
                    result=result,
                    decide=self._decide,
                )
            retry._ok.inc()
            if retry.budget is not None:
                retry.budget.record_success()
            return result
        finally:
            if bulkhead is not None:
                bulkhead.release()

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn`` through every policy of the pipeline."""
        try:
            if self.timeout is None:
                return await self._limited(fn, args, kwargs)
            async with self.timeout.guard():
                return await self._limited(fn, args, kwargs)
        except BaseException as exc:
            if self.fallback is None or not self.fallback.covers(exc):
                raise
            return self.fallback.answer(exc)  # type: ignore[no-any-return]

    def attempts(self) -> AsyncPipelineAttempts:
        """``async for attempt in pipeline.attempts(): async with attempt: ...``; see
        :meth:`Pipeline.attempts`. Timeouts cancel the block at their deadline."""
        return AsyncPipelineAttempts(self)

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not a coroutine function: use Pipeline")
        call = self.call
        limited = self._limited

        @functools.wraps(fn)
        async def protected(*args: P.args, **kwargs: P.kwargs) -> T:
            if self.timeout is None and self.fallback is None:
                return await limited(fn, args, kwargs)
            return await call(fn, *args, **kwargs)

        return protected
