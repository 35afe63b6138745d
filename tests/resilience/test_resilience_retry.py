"""Retry behaviour: what is retried, how long it waits, when it gives up, sync and async."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from seawall.resilience import (
    AsyncRetry,
    Backoff,
    PolicyConfigError,
    Retry,
    RetryBudget,
    RetryEvent,
)
from seawall.testing import FakeClock, test_mode, use_clock


class Flaky:
    """Fails ``failures`` times with ``error`` then returns ``value``."""

    def __init__(self, failures: int, error: type[BaseException] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.raised: list[BaseException] = []

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            exc = self.error(f"failure {self.calls}")
            self.raised.append(exc)
            raise exc
        return "ok"


def no_jitter(**kw: float) -> Backoff:
    return Backoff(jitter=False, **kw)


def test_retries_until_success_with_exponential_waits() -> None:
    with use_clock(FakeClock()) as clock:
        flaky = Flaky(3)
        retry = Retry(on=ConnectionError, attempts=5, backoff=no_jitter(initial=1, maximum=3))
        assert retry.call(flaky) == "ok"
    assert flaky.calls == 4
    assert clock.sleeps == [1, 2, 3]  # type: ignore[attr-defined]
    assert retry.counts() == {"success": 1, "failure": 0, "retries": 3, "budget_exhausted": 0}


def test_reraises_the_last_exception_object_after_max_attempts() -> None:
    flaky = Flaky(10)
    with test_mode(), pytest.raises(ConnectionError) as caught:
        Retry(on=ConnectionError, attempts=3)(flaky)()
    assert flaky.calls == 3
    assert caught.value is flaky.raised[-1]


def test_does_not_retry_exceptions_outside_on() -> None:
    flaky = Flaky(1, error=ValueError)
    with test_mode(), pytest.raises(ValueError, match="failure 1") as caught:
        Retry(on=ConnectionError).call(flaky)
    assert flaky.calls == 1
    assert caught.value is flaky.raised[0]


def test_on_accepts_a_predicate() -> None:
    flaky = Flaky(2, error=OSError)
    retry = Retry(on=lambda e: "failure 1" in str(e), attempts=5)
    with test_mode(), pytest.raises(OSError, match="failure 2"):
        retry.call(flaky)
    assert flaky.calls == 2


@pytest.mark.parametrize("on", [(), int, (ValueError, str), 42])
def test_vague_or_wrong_on_is_refused(on: object) -> None:
    with pytest.raises(PolicyConfigError):
        Retry(on=on)  # type: ignore[arg-type]


@pytest.mark.parametrize("settings", [{"attempts": 0}, {"attempts": -1}, {"timeout": 0}, {"attempts": None}])
def test_bad_limits_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(PolicyConfigError):
        Retry(on=ValueError, **settings)  # type: ignore[arg-type]


def test_retry_on_result_returns_last_result_when_exhausted() -> None:
    results = iter([500, 500, 500, 500])
    with test_mode():
        got = Retry(on=ValueError, attempts=3, retry_on_result=lambda r: r >= 500).call(lambda: next(results))
    assert got == 500
    assert next(results) == 500  # exactly three were used


def test_retry_on_result_until_good() -> None:
    results = iter([503, 200])
    with test_mode():
        assert Retry(on=ValueError, retry_on_result=lambda r: r != 200).call(lambda: next(results)) == 200


def test_total_timeout_stops_retrying() -> None:
    with use_clock(FakeClock()) as clock:
        flaky = Flaky(100)
        retry = Retry(
            on=ConnectionError, attempts=None, timeout=10.0, backoff=no_jitter(initial=4, maximum=4)
        )
        with pytest.raises(ConnectionError):
            retry.call(flaky)
    # waits of 4 at t=0 and t=4; a third wait would end at 12 > 10
    assert clock.sleeps == [4, 4]  # type: ignore[attr-defined]
    assert flaky.calls == 3


def test_retry_after_from_the_exception_is_honoured() -> None:
    class Throttled(Exception):
        retry_after = 7.5

    calls = iter([Throttled(), None])

    def call() -> str:
        exc = next(calls)
        if exc is not None:
            raise exc
        return "ok"

    with use_clock(FakeClock()) as clock:
        assert Retry(on=Throttled, backoff=no_jitter(initial=0.1)).call(call) == "ok"
    assert clock.sleeps == [7.5]  # type: ignore[attr-defined]


def test_retry_after_header_on_a_result() -> None:
    class Response:
        def __init__(self, status: int) -> None:
            self.status = status
            self.headers = {"Retry-After": "3"}

    responses = iter([Response(429), Response(200)])
    with use_clock(FakeClock()) as clock:
        got = Retry(
            on=OSError, retry_on_result=lambda r: r.status == 429, backoff=no_jitter(initial=0.1)
        ).call(lambda: next(responses))
    assert got.status == 200
    assert clock.sleeps == [3.0]  # type: ignore[attr-defined]


def test_budget_shared_by_callers_stops_a_retry_storm() -> None:
    clock = FakeClock()
    budget = RetryBudget(capacity=3, refill_per_second=0, per_success=0, clock=clock)
    retry = Retry(on=ConnectionError, attempts=5, budget=budget)
    total = 0
    with use_clock(clock):
        for _ in range(10):
            flaky = Flaky(100)
            with pytest.raises(ConnectionError):
                retry.call(flaky)
            total += flaky.calls
    assert total == 10 + 3  # every caller tried once; only three retries in all
    assert retry.counts()["budget_exhausted"] == 10


def test_budget_refills_with_time_and_successes() -> None:
    clock = FakeClock()
    budget = RetryBudget(capacity=2, refill_per_second=0.5, per_success=0.5, clock=clock)
    assert budget.try_spend()
    assert budget.try_spend()
    assert not budget.try_spend()
    clock.advance(2)  # +1 token
    assert budget.try_spend()
    assert not budget.try_spend()
    budget.record_success()
    budget.record_success()  # +1 token
    assert budget.try_spend()
    assert budget.tokens == pytest.approx(0.0)


def test_events_report_each_retry_and_the_give_up() -> None:
    events: list[RetryEvent] = []
    flaky = Flaky(5)
    with test_mode(), pytest.raises(ConnectionError):
        Retry(on=ConnectionError, attempts=3, on_retry=events.append, name="dep").call(flaky)
    assert [(e.attempt, e.action) for e in events] == [(1, "retry"), (2, "retry"), (3, "exhausted")]
    assert all(e.retry == "dep" and isinstance(e.exception, ConnectionError) for e in events)


def test_statistics_are_per_call_across_threads() -> None:
    events: list[RetryEvent] = []
    lock = threading.Lock()

    def record(event: RetryEvent) -> None:
        with lock:
            events.append(event)

    retry = Retry(on=ConnectionError, attempts=3, on_retry=record)

    def worker(failures: int) -> None:
        retry.call(Flaky(failures))

    with test_mode():
        threads = [threading.Thread(target=worker, args=(n % 3,)) for n in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert max(e.attempt for e in events) == 2  # no call saw another call's attempts
    assert retry.counts()["success"] == 30
    assert retry.counts()["retries"] == 10 * 1 + 10 * 2


def test_attempts_iterator_as_context_manager() -> None:
    flaky = Flaky(2)
    numbers = []
    with test_mode():
        for attempt in Retry(on=ConnectionError).attempts():
            with attempt:
                numbers.append(attempt.number)
                flaky()
    assert numbers == [1, 2, 3]


def test_attempts_iterator_lets_the_last_error_out() -> None:
    flaky = Flaky(5)

    def block() -> None:
        for attempt in Retry(on=ConnectionError, attempts=2).attempts():
            with attempt:
                flaky()

    with test_mode(), pytest.raises(ConnectionError) as caught:
        block()
    assert caught.value is flaky.raised[1]


def test_async_retry_twin() -> None:
    flaky = Flaky(2)

    async def call() -> str:
        return flaky()

    async def scenario() -> list[int]:
        numbers = []
        retry = AsyncRetry(on=ConnectionError, attempts=3)
        assert await retry(call)() == "ok"
        other = Flaky(1)
        async for attempt in retry.attempts():
            with attempt:
                numbers.append(attempt.number)
                other()
        return numbers

    with test_mode() as clock:
        assert asyncio.run(scenario()) == [1, 2]
    assert len(clock.sleeps) == 3


def test_async_retry_reraises_unchanged() -> None:
    flaky = Flaky(9)

    async def call() -> str:
        return flaky()

    with test_mode(), pytest.raises(ConnectionError) as caught:
        asyncio.run(AsyncRetry(on=ConnectionError, attempts=2).call(call))
    assert caught.value is flaky.raised[-1]


def test_decorators_refuse_the_wrong_kind_of_function() -> None:
    async def coro() -> None:
        pass

    sync_fn: Callable[[], None] = lambda: None  # noqa: E731
    with pytest.raises(TypeError):
        Retry(on=ValueError)(coro)
    with pytest.raises(TypeError):
        AsyncRetry(on=ValueError)(sync_fn)  # type: ignore[arg-type]
