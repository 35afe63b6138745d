"""A failure's Retry-After keeps the breaker open at least that long; driven by a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from seawall.resilience import (
    AsyncBreaker,
    Backoff,
    Breaker,
    CircuitOpenError,
    Outcome,
    Pipeline,
    PolicyConfigError,
    Retry,
    State,
    load_policies,
)
from seawall.testing import FakeClock, use_clock


class Unavailable(Exception):
    """A 503 that says when to come back, the way an HTTP client error carries it."""

    def __init__(self, retry_after: object = None, headers: dict[str, str] | None = None) -> None:
        super().__init__("503")
        if retry_after is not None:
            self.retry_after = retry_after
        self.headers = headers or {}


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class ClientError(Exception):
    """An httpx/requests-style error: the response hangs off ``.response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(str(response.status))
        self.response = response


def current(breaker: Breaker) -> State:
    """The breaker's state, read afresh (time moves it from open to half-open)."""
    return breaker.state


def make(clock: FakeClock, **settings: object) -> Breaker:
    base: dict[str, object] = {"window": 4, "min_calls": 2, "open_for": 30.0, "half_open_calls": 1}
    base.update(settings)
    return Breaker("dep", clock=clock, **base)  # type: ignore[arg-type]


def fail_with(breaker: Breaker, exc: Exception) -> None:
    def boom() -> None:
        raise exc

    with contextlib.suppress(type(exc)):
        breaker.call(boom)


def refused_for(breaker: Breaker) -> float:
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(lambda: None)
    return caught.value.retry_after


def test_a_retry_after_longer_than_open_for_keeps_the_breaker_open_that_long() -> None:
    clock = FakeClock()
    breaker = make(clock)
    fail_with(breaker, Unavailable())
    fail_with(breaker, Unavailable(retry_after=120))
    assert current(breaker) is State.OPEN
    assert refused_for(breaker) == 120.0
    clock.advance(119.0)
    assert current(breaker) is State.OPEN
    clock.advance(1.0)
    assert current(breaker) is State.HALF_OPEN


def test_a_shorter_retry_after_never_shortens_open_for() -> None:
    clock = FakeClock()
    breaker = make(clock)
    fail_with(breaker, Unavailable(retry_after=5))
    fail_with(breaker, Unavailable(retry_after=5))
    assert refused_for(breaker) == 30.0


def test_an_earlier_hint_counts_only_while_it_lies_ahead() -> None:
    clock = FakeClock()
    breaker = make(clock, window=10, min_calls=3)
    fail_with(breaker, Unavailable(headers={"Retry-After": "100"}))  # asks for 100 s from now
    clock.advance(40.0)
    fail_with(breaker, Unavailable())
    fail_with(breaker, Unavailable())  # opens: 60 s of the hint are left, more than open_for
    assert refused_for(breaker) == 60.0
    breaker.reset()
    fail_with(breaker, Unavailable(retry_after=10))
    clock.advance(20.0)  # that hint has passed
    fail_with(breaker, Unavailable())
    fail_with(breaker, Unavailable())
    assert refused_for(breaker) == 30.0


def test_a_late_failure_with_retry_after_extends_an_open_breaker() -> None:
    clock = FakeClock()
    breaker = make(clock)
    slow = breaker.guard()
    slow.__enter__()  # admitted while closed; it will answer after the breaker opened
    fail_with(breaker, Unavailable())
    fail_with(breaker, Unavailable())
    assert refused_for(breaker) == 30.0
    slow.__exit__(Unavailable, Unavailable(retry_after=90), None)
    assert refused_for(breaker) == 90.0
    assert breaker.counts()["failure"] == 3


def test_a_failed_trial_with_retry_after_reopens_for_that_long() -> None:
    clock = FakeClock()
    breaker = make(clock)
    fail_with(breaker, Unavailable())
    fail_with(breaker, Unavailable())
    clock.advance(30.0)
    assert current(breaker) is State.HALF_OPEN
    fail_with(breaker, Unavailable(retry_after=45))
    assert current(breaker) is State.OPEN
    assert refused_for(breaker) == 45.0


def test_an_http_date_on_a_client_errors_response_is_honoured() -> None:
    clock = FakeClock()
    breaker = make(clock)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=200), usegmt=True)
    fail_with(breaker, ClientError(Response(503)))
    fail_with(breaker, ClientError(Response(503, {"Retry-After": when})))
    assert 190.0 <= refused_for(breaker) <= 200.0


def test_a_result_classified_as_failure_reports_its_retry_after() -> None:
    clock = FakeClock()
    breaker = make(clock, classify=lambda r: Outcome.FAILURE if r.status >= 500 else Outcome.SUCCESS)
    breaker.call(lambda: Response(503))
    breaker.call(lambda: Response(503, {"retry-after": "200"}))
    assert refused_for(breaker) == 200.0


def test_hints_on_successes_and_ignored_calls_count_for_nothing() -> None:
    clock = FakeClock()
    breaker = make(clock, failure_on=ConnectionError, ignore_on=KeyError)
    fail_with(breaker, Unavailable(retry_after=500))  # not a failure_on exception: a success
    ignored = KeyError("x")
    ignored.retry_after = 500  # type: ignore[attr-defined]
    fail_with(breaker, ignored)
    fail_with(breaker, ConnectionError())  # 1 failure in 2 counted calls: 50 %, it opens
    assert current(breaker) is State.OPEN
    assert refused_for(breaker) == 30.0


def test_max_retry_after_caps_the_hint_and_none_ignores_it() -> None:
    clock = FakeClock()
    capped = make(clock, max_retry_after=60.0)
    fail_with(capped, Unavailable(retry_after=10_000))
    fail_with(capped, Unavailable(retry_after=10_000))
    assert refused_for(capped) == 60.0
    deaf = make(clock, retry_after=None)
    fail_with(deaf, Unavailable(retry_after=10_000))
    fail_with(deaf, Unavailable(retry_after=10_000))
    assert refused_for(deaf) == 30.0
    nonsense = make(clock)
    fail_with(nonsense, Unavailable(retry_after="soon"))
    fail_with(nonsense, Unavailable(retry_after=-5))
    assert refused_for(nonsense) == 30.0
    with pytest.raises(PolicyConfigError, match="max_retry_after"):
        make(clock, max_retry_after=0)


def test_reset_forgets_a_pending_retry_after() -> None:
    clock = FakeClock()
    breaker = make(clock)
    fail_with(breaker, Unavailable(retry_after=1000))
    fail_with(breaker, Unavailable())
    breaker.reset()
    fail_with(breaker, Unavailable())
    fail_with(breaker, Unavailable())
    assert refused_for(breaker) == 30.0


def test_a_pipeline_waiting_for_half_open_waits_the_honoured_time() -> None:
    clock = FakeClock()
    breaker = make(clock)
    pipe = Pipeline(
        retry=Retry(on=Unavailable, attempts=4, backoff=Backoff(1.0, 1.0, jitter=False), retry_after=None),
        breaker=breaker,
        on_open="wait",
    )
    outcomes = iter([Unavailable(), Unavailable(retry_after=75), None])

    def call() -> str:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return "ok"

    with use_clock(clock):
        assert pipe.call(call) == "ok"
    assert clock.sleeps == [1.0, 1.0, 74.0]  # opened 75 s before the trial that closed it
    assert current(breaker) is State.CLOSED


def test_async_breaker_honours_retry_after() -> None:
    clock = FakeClock()
    breaker = AsyncBreaker("dep", window=4, min_calls=2, open_for=30.0, clock=clock)

    async def unavailable() -> None:
        raise Unavailable(retry_after=240)

    async def main() -> None:
        for _ in range(2):
            with contextlib.suppress(Unavailable):
                await breaker.acall(unavailable)

    asyncio.run(main())
    assert refused_for(breaker) == 240.0


def test_max_retry_after_is_read_from_config() -> None:
    policies = load_policies(
        {"instances": {"catalog": {"breaker": {"open_for": "10s", "max_retry_after": "2m"}}}}
    )
    breaker = policies.breaker("catalog")
    assert breaker is not None
    assert breaker.max_retry_after == 120.0
