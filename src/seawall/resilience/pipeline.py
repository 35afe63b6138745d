"""One pipeline of policies, composed in a fixed, documented order (Polly v8's)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from . import _clock
from .breaker import Breaker
from .bulkhead import AsyncBulkhead, Bulkhead
from .errors import CircuitOpenError, PolicyConfigError
from .fallback import AsyncFallback, Fallback
from .retry import AsyncRetry, Retry
from .timeout import AsyncTimeout, Timeout

__all__ = ["AsyncPipeline", "Pipeline"]

P = ParamSpec("P")
T = TypeVar("T")


class _PipelineBase:
    """Order, outermost first: fallback -> total timeout -> bulkhead -> retry -> breaker ->
    per-attempt timeout -> the call.

    So the bulkhead holds one slot for a whole retried call, the breaker sees (and counts)
    every attempt, and a per-attempt timeout counts as that attempt's failure. When the
    breaker refuses an attempt, ``on_open="raise"`` stops retrying at once with the
    :class:`CircuitOpenError`; ``on_open="wait"`` sleeps until the breaker will allow a
    trial call (if the retry's attempts and time allow) and tries again.
    """

    retry: Retry | AsyncRetry | None
    breaker: Breaker | None

    def _setup(self, name: str, breaker: Breaker | None, on_open: str) -> None:
        if on_open not in ("raise", "wait"):
            raise PolicyConfigError(f"pipeline on_open must be 'raise' or 'wait', got {on_open!r}")
        self.name = name
        self.breaker = breaker
        self.on_open = on_open

    def _give_up_on(self, exc: BaseException, clock: _clock.Clock, start: float, n: int) -> float | None:
        """The wait before retrying after ``exc``, or None to re-raise it."""
        retry = self.retry
        assert retry is not None
        if isinstance(exc, CircuitOpenError) and exc.name == getattr(self.breaker, "name", None):
            if self.on_open == "raise":
                retry._failed.inc()
                return None
            return retry._decide(clock, start, n, exc, floor=exc.retry_after)
        if not retry._on(exc):
            retry._failed.inc()
            return None
        return retry._decide(clock, start, n, exc)


class Pipeline(_PipelineBase):
    """The sync pipeline: ``pipeline.call(fn, ...)`` or ``@pipeline``."""

    def __init__(
        self,
        *,
        name: str = "pipeline",
        fallback: Fallback[Any] | None = None,
        timeout: Timeout | None = None,
        bulkhead: Bulkhead | None = None,
        retry: Retry | None = None,
        breaker: Breaker | None = None,
        attempt_timeout: Timeout | None = None,
        on_open: str = "raise",
    ) -> None:
        self._setup(name, breaker, on_open)
        self.fallback = fallback
        self.timeout = timeout
        self.bulkhead = bulkhead
        self.retry: Retry | None = retry
        self.attempt_timeout = attempt_timeout

    def _attempt(self, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        b = self.breaker
        limit = self.attempt_timeout
        if b is None:
            return fn(*args, **kwargs) if limit is None else limit.call(fn, *args, **kwargs)
        gen = -1 if b._fast else b._acquire()
        timing = b._timing
        start = b._now() if timing else 0.0
        try:
            result = fn(*args, **kwargs) if limit is None else limit.call(fn, *args, **kwargs)
        except BaseException as exc:
            b._on_exception(exc, gen, b._now() - start if timing else None)
            raise
        if gen == -1 and b._fast and not b._window.bad:  # type: ignore[union-attr]
            next(b._window.slots)  # type: ignore[union-attr]
            b._inc_ok()
        else:
            b._on_result(result, gen, b._now() - start if timing else None)
        return result

    def _again(
        self,
        fn: Callable[..., T],
        args: Any,
        kwargs: Any,
        start: float | None,
        *,
        exc: BaseException | None,
        result: Any,
    ) -> T:
        """Attempts after a failed first one."""
        retry = self.retry
        assert retry is not None
        clock = retry._clock or _clock.current()
        began = clock.monotonic() if start is None else start
        n = 1
        while True:
            if exc is not None:
                delay = self._give_up_on(exc, clock, began, n)
                if delay is None:
                    raise exc  # the caller's own exception object, not a wrapper
            else:
                delay = retry._decide(clock, began, n, None, result=result)
                if delay is None:
                    return result  # type: ignore[no-any-return]
            clock.sleep(delay)
            n += 1
            try:
                result = self._attempt(fn, args, kwargs)
            except BaseException as error:
                exc = error
                continue
            exc = None
            check = retry.retry_on_result
            if check is None or not check(result):
                retry._succeeded()
                return result  # type: ignore[no-any-return]

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
                return self._again(fn, args, kwargs, start, exc=exc, result=None)
            check = retry.retry_on_result
            if check is not None and check(result):
                return self._again(fn, args, kwargs, start, exc=None, result=result)
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


class AsyncPipeline(_PipelineBase):
    """The coroutine twin of :class:`Pipeline`; the breaker may be shared with sync code."""

    def __init__(
        self,
        *,
        name: str = "pipeline",
        fallback: AsyncFallback[Any] | None = None,
        timeout: AsyncTimeout | None = None,
        bulkhead: AsyncBulkhead | None = None,
        retry: AsyncRetry | None = None,
        breaker: Breaker | None = None,
        attempt_timeout: AsyncTimeout | None = None,
        on_open: str = "raise",
    ) -> None:
        self._setup(name, breaker, on_open)
        self.fallback = fallback
        self.timeout = timeout
        self.bulkhead = bulkhead
        self.retry: AsyncRetry | None = retry
        self.attempt_timeout = attempt_timeout

    async def _attempt(self, fn: Callable[..., Awaitable[T]], args: Any, kwargs: Any) -> T:
        b = self.breaker
        limit = self.attempt_timeout
        if b is None:
            if limit is None:
                return await fn(*args, **kwargs)
            return await limit.call(fn, *args, **kwargs)
        gen = -1 if b._fast else b._acquire()
        timing = b._timing
        start = b._now() if timing else 0.0
        try:
            if limit is None:
                result = await fn(*args, **kwargs)
            else:
                result = await limit.call(fn, *args, **kwargs)
        except BaseException as exc:
            b._on_exception(exc, gen, b._now() - start if timing else None)
            raise
        if gen == -1 and b._fast and not b._window.bad:  # type: ignore[union-attr]
            next(b._window.slots)  # type: ignore[union-attr]
            b._inc_ok()
        else:
            b._on_result(result, gen, b._now() - start if timing else None)
        return result

    async def _again(
        self,
        fn: Callable[..., Awaitable[T]],
        args: Any,
        kwargs: Any,
        start: float | None,
        *,
        exc: BaseException | None,
        result: Any,
    ) -> T:
        retry = self.retry
        assert retry is not None
        clock = retry._clock or _clock.current()
        began = clock.monotonic() if start is None else start
        n = 1
        while True:
            if exc is not None:
                delay = self._give_up_on(exc, clock, began, n)
                if delay is None:
                    raise exc
            else:
                delay = retry._decide(clock, began, n, None, result=result)
                if delay is None:
                    return result  # type: ignore[no-any-return]
            await clock.asleep(delay)
            n += 1
            try:
                result = await self._attempt(fn, args, kwargs)
            except BaseException as error:
                exc = error
                continue
            exc = None
            check = retry.retry_on_result
            if check is None or not check(result):
                retry._succeeded()
                return result  # type: ignore[no-any-return]

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
                return await self._again(fn, args, kwargs, start, exc=exc, result=None)
            check = retry.retry_on_result
            if check is not None and check(result):
                return await self._again(fn, args, kwargs, start, exc=None, result=result)
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
