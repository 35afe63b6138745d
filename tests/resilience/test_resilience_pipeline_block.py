"""The pipeline as a context manager: ``for attempt in pipe.attempts(): with attempt:``, sync and async."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

import pytest

from seawall.resilience import (
    AsyncBulkhead,
    AsyncFallback,
    AsyncPipeline,
    AsyncRetry,
    AsyncTimeout,
    Backoff,
    Breaker,
    Bulkhead,
    BulkheadFullError,
    CircuitOpenError,
    Fallback,
    Pipeline,
    PipelineAttempt,
    PolicyConfigError,
    Retry,
    State,
    Timeout,
    TimeoutExceeded,
    remaining,
)
from seawall.testing import FakeClock, use_clock

FIXED = Backoff(initial=1.0, maximum=1.0, jitter=False)


def current(breaker: Breaker) -> State:
    """The breaker's state, read afresh (calls change it between reads)."""
    return breaker.state


def run_block(pipe: Pipeline, body: Callable[[PipelineAttempt], object]) -> None:
    """Make one pipeline call with ``body`` as the block of each attempt."""
    for attempt in pipe.attempts():
        with attempt:
            body(attempt)


def down(attempt: PipelineAttempt) -> None:
    raise ConnectionError(f"attempt {attempt.number}")


def test_a_block_that_succeeds_runs_once_and_counts_one_success() -> None:
    breaker = Breaker("dep", window=10, min_calls=3)
    retry = Retry(on=ConnectionError, attempts=3)
    pipe = Pipeline(retry=retry, breaker=breaker)
    numbers = []
    for attempt in pipe.attempts():
        with attempt:
            numbers.append(attempt.number)
    assert numbers == [1]
    assert attempt.succeeded
    assert breaker.counts()["success"] == 1
    assert retry.counts()["success"] == 1


def test_covered_failures_are_retried_with_backoff_and_every_attempt_reaches_the_breaker() -> None:
    clock = FakeClock()
    breaker = Breaker("dep", window=10, min_calls=5, clock=clock)
    pipe = Pipeline(retry=Retry(on=ConnectionError, attempts=5, backoff=FIXED), breaker=breaker)
    numbers: list[int] = []
    with use_clock(clock):
        for attempt in pipe.attempts():
            with attempt:
                numbers.append(attempt.number)
                if attempt.number < 3:
                    raise ConnectionError("down")
    assert numbers == [1, 2, 3]
    assert clock.sleeps == [1.0, 1.0]
    assert breaker.counts() == {"success": 1, "failure": 2, "ignored": 0, "rejected": 0}


def test_the_last_failure_propagates_as_the_same_object() -> None:
    raised: list[ConnectionError] = []
    pipe = Pipeline(retry=Retry(on=ConnectionError, attempts=3, backoff=FIXED))

    def body(attempt: PipelineAttempt) -> None:
        raised.append(ConnectionError(f"attempt {attempt.number}"))
        raise raised[-1]

    with use_clock(FakeClock()), pytest.raises(ConnectionError) as caught:
        run_block(pipe, body)
    assert len(raised) == 3
    assert caught.value is raised[-1]


def test_an_exception_retry_does_not_cover_ends_the_call_at_once() -> None:
    pipe = Pipeline(retry=Retry(on=ConnectionError, attempts=5))
    numbers: list[int] = []

    def body(attempt: PipelineAttempt) -> None:
        numbers.append(attempt.number)
        raise KeyError("no")

    with pytest.raises(KeyError):
        run_block(pipe, body)
    assert numbers == [1]


def test_an_open_breaker_refuses_the_next_attempt_and_stops_retrying() -> None:
    clock = FakeClock()
    breaker = Breaker("dep", window=10, min_calls=3, clock=clock)
    pipe = Pipeline(retry=Retry(on=ConnectionError, attempts=10, backoff=FIXED), breaker=breaker)
    bodies: list[int] = []

    def body(attempt: PipelineAttempt) -> None:
        bodies.append(attempt.number)
        down(attempt)

    with use_clock(clock), pytest.raises(CircuitOpenError) as caught:
        run_block(pipe, body)
    assert bodies == [1, 2, 3]  # the third failure opened it; the fourth attempt was refused on entry
    assert caught.value.name == "dep"
    assert current(breaker) is State.OPEN


def test_on_open_wait_waits_for_half_open_and_tries_again() -> None:
    clock = FakeClock()
    breaker = Breaker("dep", window=10, min_calls=2, open_for=20.0, half_open_calls=1, clock=clock)
    pipe = Pipeline(
        retry=Retry(on=ConnectionError, attempts=5, backoff=FIXED), breaker=breaker, on_open="wait"
    )
    numbers: list[int] = []
    with use_clock(clock):
        for attempt in pipe.attempts():
            with attempt:
                numbers.append(attempt.number)
                if len(numbers) < 3:
                    raise ConnectionError("down")
    assert numbers == [1, 2, 4]  # the refused third attempt waited out the open breaker
    assert clock.sleeps == [1.0, 1.0, 19.0]
    assert current(breaker) is State.CLOSED


def test_the_bulkhead_slot_is_held_for_the_whole_call_and_given_back() -> None:
    bulkhead = Bulkhead(1)
    pipe = Pipeline(bulkhead=bulkhead, retry=Retry(on=ConnectionError, attempts=3, backoff=FIXED))
    seen: list[int] = []
    with use_clock(FakeClock()):
        for attempt in pipe.attempts():
            with attempt:
                seen.append(bulkhead.active)
                if attempt.number < 2:
                    raise ConnectionError("down")
        assert seen == [1, 1]
        assert bulkhead.active == 0
        with pytest.raises(ConnectionError):
            run_block(Pipeline(bulkhead=bulkhead), down)
    assert bulkhead.active == 0


def test_a_full_bulkhead_refuses_the_block() -> None:
    bulkhead = Bulkhead(1)
    pipe = Pipeline(bulkhead=bulkhead)
    bulkhead.acquire()
    ran: list[int] = []
    with pytest.raises(BulkheadFullError):
        run_block(pipe, lambda attempt: ran.append(attempt.number))
    assert ran == []
    bulkhead.release()
    assert bulkhead.active == 0


def test_leaving_the_loop_between_attempts_gives_the_slot_back() -> None:
    bulkhead = Bulkhead(1)
    pipe = Pipeline(bulkhead=bulkhead, retry=Retry(on=ConnectionError, attempts=3, backoff=FIXED))
    attempts = pipe.attempts()
    with use_clock(FakeClock()):
        for attempt in attempts:
            with attempt:
                raise ConnectionError("down")
            break  # a retry was due; the caller gave up instead
    assert bulkhead.active == 1
    attempts.close()
    assert bulkhead.active == 0
    for attempt in pipe.attempts():  # and dropping an abandoned call gives it back too
        with attempt:
            raise ConnectionError("down")
        break
    del attempt  # the last reference to the abandoned call
    gc.collect()
    assert bulkhead.active == 0


def test_a_late_attempt_fails_with_the_attempt_timeout_and_is_retried() -> None:
    clock = FakeClock()
    breaker = Breaker("dep", window=10, min_calls=5, clock=clock)
    pipe = Pipeline(
        retry=Retry(on=TimeoutError, attempts=3, backoff=FIXED), breaker=breaker, attempt_timeout=Timeout(2.0)
    )
    left: list[float] = []
    with use_clock(clock):
        for attempt in pipe.attempts():
            with attempt:
                left.append(remaining())
                if attempt.number == 1:
                    clock.advance(5.0)  # a sync block cannot be stopped: it fails on leaving late
    assert left == [2.0, 2.0]
    assert breaker.counts()["failure"] == 1
    assert breaker.counts()["success"] == 1


def test_a_late_attempt_without_retry_raises_the_timeout() -> None:
    clock = FakeClock()
    pipe = Pipeline(attempt_timeout=Timeout(1.0))
    with use_clock(clock), pytest.raises(TimeoutExceeded):
        run_block(pipe, lambda _: clock.advance(2.0))


def test_the_total_timeout_discards_a_late_success_and_ends_waits_past_it() -> None:
    clock = FakeClock()
    total = Pipeline(timeout=Timeout(10.0))
    with use_clock(clock), pytest.raises(TimeoutExceeded):
        run_block(total, lambda _: clock.advance(11.0))
    retried = Pipeline(timeout=Timeout(10.0), retry=Retry(on=ConnectionError, attempts=5, backoff=FIXED))
    numbers: list[int] = []

    def slow_failure(attempt: PipelineAttempt) -> None:
        numbers.append(attempt.number)
        clock.advance(4.0)
        raise ConnectionError("down")

    with use_clock(clock), pytest.raises(TimeoutExceeded) as caught:
        run_block(retried, slow_failure)
    assert numbers == [1, 2]  # after 8 s, a 1 s wait and another attempt cannot fit in 10 s
    assert isinstance(caught.value.__cause__, ConnectionError)


def test_a_block_cannot_take_a_fallback_and_attempts_must_be_used_in_turn() -> None:
    with pytest.raises(PolicyConfigError, match="fallback"):
        Pipeline(fallback=Fallback(on=ConnectionError, value=[])).attempts()
    with pytest.raises(PolicyConfigError, match="fallback"):
        AsyncPipeline(fallback=AsyncFallback(on=ConnectionError, value=[])).attempts()
    attempts = Pipeline().attempts()
    next(attempts)
    with pytest.raises(RuntimeError, match="before taking the next"):
        next(attempts)


def test_async_block_retries_then_succeeds() -> None:
    clock = FakeClock()
    breaker = Breaker("dep", window=10, min_calls=5, clock=clock)
    bulkhead = AsyncBulkhead(2)
    pipe = AsyncPipeline(
        bulkhead=bulkhead, retry=AsyncRetry(on=ConnectionError, attempts=4, backoff=FIXED), breaker=breaker
    )

    async def main() -> list[int]:
        numbers: list[int] = []
        async for attempt in pipe.attempts():
            async with attempt:
                numbers.append(attempt.number)
                await asyncio.sleep(0)
                if attempt.number < 3:
                    raise ConnectionError("down")
        return numbers

    with use_clock(clock):
        assert asyncio.run(main()) == [1, 2, 3]
    assert clock.sleeps == [1.0, 1.0]
    assert breaker.counts()["failure"] == 2
    assert bulkhead.active == 0


def test_async_attempt_timeout_cancels_the_block_and_counts_a_failure() -> None:
    breaker = Breaker("dep", window=10, min_calls=5)
    pipe = AsyncPipeline(
        retry=AsyncRetry(on=TimeoutError, attempts=2, backoff=Backoff(initial=0.001, maximum=0.001)),
        breaker=breaker,
        attempt_timeout=AsyncTimeout(0.05),
    )

    async def main() -> list[str]:
        seen: list[str] = []
        async for attempt in pipe.attempts():
            async with attempt:
                if attempt.number == 1:
                    try:
                        await asyncio.sleep(10)
                    except asyncio.CancelledError:
                        seen.append("cancelled")
                        raise
                seen.append("done")
        return seen

    assert asyncio.run(asyncio.wait_for(main(), 5)) == ["cancelled", "done"]
    assert breaker.counts()["failure"] == 1
    assert breaker.counts()["success"] == 1


def test_async_total_timeout_ends_the_call_without_retrying() -> None:
    breaker = Breaker("dep", window=10, min_calls=5)
    pipe = AsyncPipeline(
        timeout=AsyncTimeout(0.05),
        retry=AsyncRetry(on=TimeoutError, attempts=5, backoff=Backoff(initial=0.001, maximum=0.001)),
        breaker=breaker,
        attempt_timeout=AsyncTimeout(1.0),
    )
    numbers: list[int] = []

    async def main() -> None:
        async for attempt in pipe.attempts():
            async with attempt:
                numbers.append(attempt.number)
                await asyncio.sleep(10)

    with pytest.raises(TimeoutExceeded) as caught:
        asyncio.run(asyncio.wait_for(main(), 5))
    assert caught.value.seconds == 0.05
    assert numbers == [1]
    assert breaker.counts()["failure"] == 0  # cancelled by the total timeout: not the dependency's fault


def test_async_cancellation_from_outside_propagates_and_is_not_a_failure() -> None:
    breaker = Breaker("dep", window=10, min_calls=5)
    pipe = AsyncPipeline(
        retry=AsyncRetry(on=Exception, attempts=5), breaker=breaker, attempt_timeout=AsyncTimeout(5.0)
    )

    async def call() -> None:
        async for attempt in pipe.attempts():
            async with attempt:
                await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(call())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert breaker.counts() == {"success": 0, "failure": 0, "ignored": 1, "rejected": 0}


def test_async_open_breaker_refuses_the_block() -> None:
    breaker = Breaker("dep", window=10, min_calls=2)
    breaker.force_open()
    pipe = AsyncPipeline(retry=AsyncRetry(on=ConnectionError, attempts=3), breaker=breaker)
    ran: list[int] = []

    async def main() -> None:
        async for attempt in pipe.attempts():
            async with attempt:
                ran.append(1)

    with pytest.raises(CircuitOpenError):
        asyncio.run(main())
    assert ran == []
