"""A pipeline call made as a block: ``for attempt in pipeline.attempts(): with attempt: ...``."""

from __future__ import annotations

import asyncio
import math
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _clock
from .errors import CircuitOpenError, PolicyConfigError
from .outcome import Outcome
from .timeout import _DEADLINE

if TYPE_CHECKING:
    import contextvars

    from .pipeline import AsyncPipeline, Pipeline, _PipelineBase

__all__ = ["AsyncPipelineAttempt", "AsyncPipelineAttempts", "PipelineAttempt", "PipelineAttempts"]


class _Run:
    """What the attempts of one block call share: the pipeline, its clock, the number and the wait.

    The policies apply in the pipeline's order. The first attempt takes the bulkhead slot,
    held until the call ends. Every attempt asks the breaker first (a refusal ends the call,
    or waits as ``on_open`` says) and runs under the per-attempt timeout. A block cannot
    return a value, so ``retry_on_result``, a breaker's ``classify`` and a fallback do not apply.
    """

    _holding = False  # a bulkhead slot is taken (a class default, for __del__ after a failed __init__)

    def __init__(self, pipeline: _PipelineBase[Any, Any, Any, Any]) -> None:
        if pipeline.fallback is not None:
            raise PolicyConfigError(
                f"pipeline {pipeline.name!r} has a fallback, whose value a block cannot return: "
                "use pipeline.call() or the decorator"
            )
        self._pipeline = pipeline
        retry = pipeline.retry
        self._clock = (retry._clock if retry is not None else None) or _clock.current()
        self._number = 0
        self._began = False
        self._start = 0.0
        self._total_deadline = math.inf  # on the twin's timeout clock (see _timeout_now)
        self._delay: float | None = None
        self._done = False

    def _timeout_now(self) -> float:
        """Now on the clock the timeouts use: the policies' clock (sync), the loop's (async)."""
        return _clock.current().monotonic()

    def _advance(self) -> bool:
        """Whether another attempt follows; numbers it."""
        if self._done:
            return False
        if self._number and self._delay is None:
            raise RuntimeError("use each attempt as `with attempt:` (`async with`) before taking the next")
        self._number += 1
        return True

    def _begin(self) -> bool:
        """Start the call on its first attempt; True when a bulkhead slot must be taken now."""
        if self._began:
            return False
        self._began = True
        self._start = self._clock.monotonic()
        timeout = self._pipeline.timeout
        if timeout is not None:
            self._total_deadline = self._timeout_now() + timeout.seconds
        return self._pipeline.bulkhead is not None

    def _refused(self, attempt: PipelineAttempt | AsyncPipelineAttempt, exc: CircuitOpenError) -> float:
        """The wait before asking the breaker again after it refused ``attempt``; raises to stop."""
        delay = self._decide(exc)
        if delay is None:
            raise exc
        self._fits(delay, exc)
        self._number += 1
        attempt.number = self._number
        return delay

    def _decide(self, error: BaseException) -> float | None:
        """The retry's wait after ``error`` (the pipeline's rules), or None to end the call."""
        if self._pipeline.retry is None:
            return None
        return self._pipeline._decide(self._clock, self._start, self._number, error, result=None)

    def _fits(self, delay: float, error: BaseException) -> None:
        """End the call with the total timeout's error if waiting ``delay`` would outlast it."""
        if self._timeout_now() + delay >= self._total_deadline:
            self._finish()
            raise self._total_expired() from error

    def _total_expired(self) -> BaseException:
        """The total timeout's error (counted), once its deadline has passed or would."""
        timeout = self._pipeline.timeout
        assert timeout is not None  # a finite total deadline comes from it
        return timeout._expired()  # type: ignore[no-any-return]

    def _record(self, attempt: PipelineAttempt | AsyncPipelineAttempt, error: BaseException | None) -> None:
        b = self._pipeline.breaker
        if b is None:
            return
        duration = b._now() - attempt._start if b._timing else None
        if error is None:
            b._record(Outcome.SUCCESS, attempt._gen, duration)
        else:
            b._on_exception(error, attempt._gen, duration)

    def _conclude(
        self,
        attempt: PipelineAttempt | AsyncPipelineAttempt,
        exc: BaseException | None,
        error: BaseException | None,
        *,
        late: bool = False,
    ) -> bool:
        """Count the attempt; True when another one follows (the block's exception is swallowed).

        ``exc`` is what the block raised, ``error`` what the attempt counts as (a late
        return is the per-attempt timeout's error), ``late`` that the total timeout passed.
        """
        self._record(attempt, error)
        pipeline = self._pipeline
        if error is None:
            attempt.succeeded = True
            if pipeline.retry is not None:
                pipeline.retry._succeeded()
            self._finish()
            if late:
                raise self._total_expired()  # the block's work is discarded, as Timeout does
            return False
        delay = self._decide(error)
        if delay is None:
            self._finish()
            if error is exc:
                return False  # the block's own exception goes on, unchanged
            raise error from None  # the per-attempt timeout's, not the cancellation it caused
        self._fits(delay, error)
        attempt.delay = self._delay = delay
        return True

    def _finish(self) -> None:
        self._done = True
        bulkhead = self._pipeline.bulkhead
        if self._holding and bulkhead is not None:
            self._holding = False
            bulkhead.release()

    def close(self) -> None:
        """End the call early (a ``break`` between attempts): give the bulkhead slot back."""
        self._finish()

    def __del__(self) -> None:
        if self._holding:
            self._finish()


class PipelineAttempts(_Run):
    """The attempts of one sync block call; see :meth:`Pipeline.attempts`."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(pipeline)
        self._sync = pipeline

    def __iter__(self) -> PipelineAttempts:
        return self

    def __next__(self) -> PipelineAttempt:
        if not self._advance():
            raise StopIteration
        if self._delay is not None:
            delay, self._delay = self._delay, None
            self._clock.sleep(delay)
        return PipelineAttempt(self, self._number)

    def _enter(self, attempt: PipelineAttempt) -> None:
        pipeline = self._sync
        if self._begin():
            pipeline.bulkhead.acquire()  # type: ignore[union-attr]
            self._holding = True
        breaker = pipeline.breaker
        try:
            while breaker is not None:
                try:
                    attempt._gen, attempt._start = breaker._begin()
                    break
                except CircuitOpenError as exc:
                    self._clock.sleep(self._refused(attempt, exc))
        except BaseException:
            self._finish()
            raise
        deadline = self._total_deadline
        if pipeline.attempt_timeout is not None:
            attempt._limit = self._timeout_now() + pipeline.attempt_timeout.seconds
            deadline = min(deadline, attempt._limit)
        attempt._token = _DEADLINE.set(min(deadline, _DEADLINE.get()))

    def _exit(self, attempt: PipelineAttempt, exc: BaseException | None) -> bool:
        if attempt._token is not None:
            _DEADLINE.reset(attempt._token)
        now = self._timeout_now()
        error = exc
        limit = self._sync.attempt_timeout
        if error is None and limit is not None and now > attempt._limit:
            error = limit._expired()  # Python cannot stop a sync block: it fails on leaving late
        return self._conclude(attempt, exc, error, late=now > self._total_deadline)


class AsyncPipelineAttempts(_Run):
    """The attempts of one async block call; see :meth:`AsyncPipeline.attempts`."""

    def __init__(self, pipeline: AsyncPipeline) -> None:
        super().__init__(pipeline)
        self._async = pipeline

    def _timeout_now(self) -> float:
        return asyncio.get_running_loop().time()

    def __aiter__(self) -> AsyncPipelineAttempts:
        return self

    async def __anext__(self) -> AsyncPipelineAttempt:
        if not self._advance():
            raise StopAsyncIteration
        if self._delay is not None:
            delay, self._delay = self._delay, None
            await self._clock.asleep(delay)
        return AsyncPipelineAttempt(self, self._number)

    async def _enter(self, attempt: AsyncPipelineAttempt) -> None:
        pipeline = self._async
        if self._begin():
            await pipeline.bulkhead.acquire()  # type: ignore[union-attr]
            self._holding = True
        breaker = pipeline.breaker
        try:
            while breaker is not None:
                try:
                    attempt._gen, attempt._start = breaker._begin()
                    break
                except CircuitOpenError as exc:
                    await self._clock.asleep(self._refused(attempt, exc))
        except BaseException:
            self._finish()
            raise
        deadline = self._total_deadline
        limit = pipeline.attempt_timeout
        if limit is not None and self._timeout_now() + limit.seconds < deadline:
            deadline = self._timeout_now() + limit.seconds
            attempt._by_total = False
        if math.isfinite(deadline):
            remaining = deadline - self._timeout_now()
            attempt._token = _DEADLINE.set(min(_clock.current().monotonic() + remaining, _DEADLINE.get()))
            attempt._scope = asyncio.timeout_at(deadline)
            await attempt._scope.__aenter__()

    async def _exit(self, attempt: AsyncPipelineAttempt, exc: BaseException | None) -> bool:
        scope = attempt._scope
        if scope is None:
            return self._conclude(attempt, exc, exc)
        fired = False
        try:
            await scope.__aexit__(type(exc) if exc is not None else None, exc, None)
        except TimeoutError:
            fired = True  # the scope's own: it cancelled the block, and nothing else did
        finally:
            if attempt._token is not None:
                _DEADLINE.reset(attempt._token)
        if not fired and not (scope.expired() and exc is None):
            return self._conclude(attempt, exc, exc)  # including a cancellation from outside
        if attempt._by_total:
            self._record(attempt, exc if exc is not None else asyncio.CancelledError())  # ignored
            self._finish()
            raise self._total_expired() from None
        return self._conclude(attempt, exc, self._async.attempt_timeout._expired())  # type: ignore[union-attr]


class PipelineAttempt:
    """One attempt of a sync block call: ``with attempt: ...``.

    A failure the pipeline will retry is swallowed so the loop goes on; the last one, or one
    the retry does not cover, propagates unchanged.
    """

    __slots__ = ("_gen", "_limit", "_run", "_start", "_token", "delay", "number", "succeeded")

    def __init__(self, run: PipelineAttempts, number: int) -> None:
        self._run = run
        self._gen = 0
        self._start = 0.0
        self._limit = math.inf
        self._token: contextvars.Token[float] | None = None
        #: 1-based number of this attempt within the call (breaker refusals count)
        self.number = number
        self.succeeded = False
        #: the wait before the next attempt, once this one failed and will be retried
        self.delay: float | None = None

    def __enter__(self) -> PipelineAttempt:
        self._run._enter(self)
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return self._run._exit(self, exc)


class AsyncPipelineAttempt:
    """One attempt of an async block call: ``async with attempt: ...``; cancelled at its deadline."""

    __slots__ = ("_by_total", "_gen", "_run", "_scope", "_start", "_token", "delay", "number", "succeeded")

    def __init__(self, run: AsyncPipelineAttempts, number: int) -> None:
        self._run = run
        self._gen = 0
        self._start = 0.0
        self._scope: asyncio.Timeout | None = None
        self._by_total = True  # whether the total timeout, not the attempt's, is the nearer deadline
        self._token: contextvars.Token[float] | None = None
        self.number = number
        self.succeeded = False
        self.delay: float | None = None

    async def __aenter__(self) -> AsyncPipelineAttempt:
        await self._run._enter(self)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return await self._run._exit(self, exc)
