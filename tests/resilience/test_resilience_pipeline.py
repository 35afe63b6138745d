"""The composed pipeline, timeouts, bulkheads and fallbacks, sync and async."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from seawall.resilience import (
    AsyncBulkhead,
    AsyncFallback,
    AsyncPipeline,
    AsyncRetry,
    AsyncTimeout,
    Breaker,
    Bulkhead,
    BulkheadFullError,
    CircuitOpenError,
    Fallback,
    Pipeline,
    PolicyConfigError,
    Retry,
    State,
    Timeout,
    TimeoutExceeded,
    remaining,
)
from seawall.testing import FakeClock, test_mode, use_clock


def current(breaker: Breaker) -> State:
    """The breaker's state, read afresh (calls change it between reads)."""
    return breaker.state


def failing(counter: list[int]) -> None:
    counter.append(1)
    raise ConnectionError("down")


def test_breaker_records_every_attempt_and_open_circuit_stops_retries() -> None:
    clock = FakeClock()
    breaker = Breaker("dep", window=10, min_calls=3, clock=clock)
    pipe = Pipeline(retry=Retry(on=ConnectionError, attempts=10), breaker=breaker)
    calls: list[int] = []
    with use_clock(clock), pytest.raises(CircuitOpenError) as caught:
        pipe.call(failing, calls)
    assert len(calls) == 3  # the third failure opened the breaker; the fourth attempt was refused
    assert caught.value.name == "dep"
    assert breaker.counts()["failure"] == 3
    assert current(breaker) is State.OPEN


def test_on_open_wait_sleeps_until_half_open_and_tries_again() -> None:
    clock = FakeClock()
    breaker = Breaker("dep", window=10, min_calls=2, open_for=20.0, half_open_calls=1, clock=clock)
    pipe = Pipeline(retry=Retry(on=ConnectionError, attempts=5), breaker=breaker, on_open="wait")
    outcomes = iter([ConnectionError("a"), ConnectionError("b"), None])

    def call() -> str:
        exc = next(outcomes)
        if exc:
            raise exc
        return "recovered"

    with use_clock(clock):
        assert pipe.call(call) == "recovered"
    assert sum(clock.sleeps) >= 20.0  # waited out the open state, not just the backoff
    assert current(breaker) is State.CLOSED


def test_attempt_timeout_counts_as_an_attempt_failure() -> None:
    clock = FakeClock()

    def slow() -> str:
        clock.advance(5)
        return "late"

    breaker = Breaker("dep", window=10, min_calls=10, clock=clock)
    pipe = Pipeline(retry=Retry(on=TimeoutError, attempts=2), breaker=breaker, attempt_timeout=Timeout(1.0))
    with use_clock(clock), pytest.raises(TimeoutExceeded):
        pipe.call(slow)
    assert breaker.counts()["failure"] == 2


def test_bulkhead_holds_one_slot_for_the_whole_retried_call() -> None:
    bulkhead = Bulkhead(1, name="b")
    inside = threading.Event()
    release = threading.Event()
    pipe = Pipeline(bulkhead=bulkhead, retry=Retry(on=ValueError))

    def blocking() -> str:
        inside.set()
        release.wait(5)
        return "done"

    worker = threading.Thread(target=pipe.call, args=(blocking,))
    worker.start()
    inside.wait(5)
    with pytest.raises(BulkheadFullError) as caught:
        pipe.call(lambda: "x")
    assert caught.value.name == "b"
    release.set()
    worker.join()
    assert pipe.call(lambda: "x") == "x"
    assert bulkhead.active == 0


def test_bulkhead_queue_admits_waiters_in_turn() -> None:
    bulkhead = Bulkhead(1, max_queue=1, queue_timeout=5.0)
    order: list[str] = []
    first_in = threading.Event()
    release = threading.Event()

    def first() -> None:
        with bulkhead:
            first_in.set()
            release.wait(5)
            order.append("first")

    def second() -> None:
        with bulkhead:
            order.append("second")

    t1 = threading.Thread(target=first)
    t1.start()
    first_in.wait(5)
    t2 = threading.Thread(target=second)
    t2.start()
    while bulkhead.waiting == 0:
        threading.Event().wait(0.001)
    with pytest.raises(BulkheadFullError):
        bulkhead.acquire()  # one running, one queued: no room
    release.set()
    t1.join()
    t2.join()
    assert order == ["first", "second"]
    assert bulkhead.counts() == {"admitted": 2, "rejected": 1}


@pytest.mark.parametrize(
    "settings", [{"max_concurrent": 0}, {"max_concurrent": -1}, {"max_concurrent": 1, "max_queue": -1}]
)
def test_bulkhead_bad_limits(settings: dict[str, Any]) -> None:
    with pytest.raises(PolicyConfigError):
        Bulkhead(**settings)


def test_sync_deadline_timeout_publishes_remaining_and_raises_when_late() -> None:
    clock = FakeClock()
    seen: list[float] = []

    def call() -> str:
        seen.append(remaining())
        clock.advance(3)
        return "late"

    with use_clock(clock), pytest.raises(TimeoutExceeded) as caught:
        Timeout(2.0, name="t").call(call)
    assert seen == [2.0]
    assert isinstance(caught.value, TimeoutError)


def test_own_timeout_error_passes_through_unchanged() -> None:
    error = TimeoutError("mine")

    async def call() -> None:
        raise error

    with pytest.raises(TimeoutError) as caught:
        asyncio.run(AsyncTimeout(5.0).call(call))
    assert caught.value is error


def test_async_timeout_cancels_the_call() -> None:
    cancelled = []

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(TimeoutExceeded):
        asyncio.run(AsyncTimeout(0.01).call(hang))
    assert cancelled == [True]


def test_thread_mode_stops_waiting_but_says_so() -> None:
    release = threading.Event()
    with pytest.raises(TimeoutExceeded):
        Timeout(0.01, mode="thread").call(release.wait, 5)
    release.set()
    assert Timeout(5.0, mode="thread").call(lambda: 7) == 7


def test_fallback_answers_only_for_its_exceptions() -> None:
    pipe = Pipeline(fallback=Fallback(on=ConnectionError, value="cached"), retry=Retry(on=ConnectionError))
    with test_mode():
        assert pipe.call(failing, []) == "cached"
    with pytest.raises(ValueError, match="invalid literal"):
        pipe.call(int, "x")
    with pytest.raises(PolicyConfigError):
        Fallback(on=ValueError)


def test_async_pipeline_in_order() -> None:
    clock = FakeClock()
    breaker = Breaker("adep", window=10, min_calls=2, clock=clock)
    calls: list[int] = []

    async def call() -> None:
        failing(calls)

    pipe = AsyncPipeline(
        timeout=AsyncTimeout(5.0),
        bulkhead=AsyncBulkhead(2),
        retry=AsyncRetry(on=ConnectionError, attempts=5),
        breaker=breaker,
        attempt_timeout=AsyncTimeout(1.0),
        fallback=AsyncFallback(on=CircuitOpenError, handler=lambda e: f"fallback:{e.name}"),  # type: ignore[attr-defined]
    )

    async def ok() -> str:
        return "ok"

    with use_clock(clock):
        assert asyncio.run(pipe.call(call)) == "fallback:adep"
        assert len(calls) == 2
        breaker.reset()
        assert asyncio.run(pipe(ok)()) == "ok"


def test_async_bulkhead_rejects_and_queues() -> None:
    async def scenario() -> list[str]:
        bulkhead = AsyncBulkhead(1, max_queue=1, queue_timeout=5.0)
        gate = asyncio.Event()
        done: list[str] = []

        async def job(tag: str) -> None:
            async with bulkhead:
                await gate.wait()
                done.append(tag)

        first = asyncio.create_task(job("a"))
        await asyncio.sleep(0)
        second = asyncio.create_task(job("b"))
        await asyncio.sleep(0)
        with pytest.raises(BulkheadFullError):
            await bulkhead.acquire()
        gate.set()
        await asyncio.gather(first, second)
        assert bulkhead.active == 0
        return done

    assert asyncio.run(scenario()) == ["a", "b"]


def test_async_bulkhead_queue_timeout() -> None:
    async def scenario() -> None:
        bulkhead = AsyncBulkhead(1, max_queue=1, queue_timeout=0.01)
        await bulkhead.acquire()
        with pytest.raises(BulkheadFullError):
            await bulkhead.acquire()
        assert bulkhead.waiting == 0
        bulkhead.release()
        await bulkhead.acquire()

    asyncio.run(scenario())


def test_pipeline_rejects_unknown_on_open() -> None:
    with pytest.raises(PolicyConfigError, match="on_open"):
        Pipeline(on_open="later")
