"""Behaviour of the circuit breaker's state machine, driven by a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from seawall.resilience import (
    AsyncBreaker,
    Breaker,
    CircuitOpenError,
    Outcome,
    PolicyConfigError,
    State,
    StateChange,
)
from seawall.testing import FakeClock


def current(breaker: Breaker) -> State:
    """The breaker's state, read afresh (calls change it between reads)."""
    return breaker.state


class Boom(Exception):
    pass


def fail() -> None:
    raise Boom("down")


def ok() -> str:
    return "ok"


def make(clock: FakeClock, **settings: object) -> Breaker:
    base: dict[str, object] = {
        "window": 10,
        "min_calls": 4,
        "failure_rate": 50.0,
        "open_for": 30.0,
        "half_open_calls": 2,
        "max_half_open": 60.0,
        "clock": clock,
    }
    base.update(settings)
    return Breaker("dep", **base)  # type: ignore[arg-type]


def run(breaker: Breaker, fn: object) -> None:
    with contextlib.suppress(Boom):
        breaker.call(fn)  # type: ignore[arg-type]


def trip(breaker: Breaker) -> None:
    for _ in range(4):
        run(breaker, fail)
    assert current(breaker) is State.OPEN


def test_stays_closed_until_min_calls_reached() -> None:
    breaker = make(FakeClock())
    for _ in range(3):
        run(breaker, fail)
    assert current(breaker) is State.CLOSED
    run(breaker, fail)
    assert current(breaker) is State.OPEN


def test_opens_when_failure_rate_reaches_threshold_and_not_below() -> None:
    breaker = make(FakeClock(), min_calls=4, failure_rate=50.0)
    for fn in (ok, ok, ok, fail):  # 25 %
        run(breaker, fn)
    assert current(breaker) is State.CLOSED
    run(breaker, fail)  # 2 of 5 = 40 %
    assert current(breaker) is State.CLOSED
    run(breaker, fail)  # 3 of 6 = 50 %
    assert current(breaker) is State.OPEN


def test_success_completing_min_calls_with_high_failure_rate_opens() -> None:
    breaker = make(FakeClock(), min_calls=4)
    for fn in (fail, fail, fail):
        run(breaker, fn)
    run(breaker, ok)  # 3 of 4 failed; decided on this success
    assert current(breaker) is State.OPEN


def test_decorated_fast_path_counts_every_call() -> None:
    breaker = make(FakeClock(), window=4, min_calls=4)
    guarded_ok = breaker(ok)
    guarded_fail = breaker(fail)
    for _ in range(10):
        assert guarded_ok() == "ok"
    with pytest.raises(Boom):
        guarded_fail()
    assert current(breaker) is State.CLOSED  # 1 of the last 4
    with pytest.raises(Boom):
        guarded_fail()
    assert current(breaker) is State.OPEN  # 2 of the last 4 = 50 %
    assert breaker.counts() == {"success": 10, "failure": 2, "ignored": 0, "rejected": 0}


def test_open_breaker_rejects_with_name_and_retry_time() -> None:
    clock = FakeClock(start=100.0)
    breaker = make(clock)
    trip(breaker)
    clock.advance(10)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(ok)
    assert caught.value.name == "dep"
    assert caught.value.retry_at == pytest.approx(130.0)
    assert caught.value.retry_after == pytest.approx(20.0)
    assert breaker.counts()["rejected"] == 1


def test_half_open_after_open_for_then_closes_when_trials_pass() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(30)
    assert current(breaker) is State.HALF_OPEN
    assert breaker.call(ok) == "ok"
    assert current(breaker) is State.HALF_OPEN
    assert breaker.call(ok) == "ok"
    assert current(breaker) is State.CLOSED


def test_half_open_reopens_when_trials_fail() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(30)
    run(breaker, ok)
    run(breaker, fail)  # 1 of 2 = 50 %
    assert current(breaker) is State.OPEN
    assert breaker.retry_at == pytest.approx(clock.monotonic() + 30)


def test_half_open_admits_only_the_trial_calls() -> None:
    clock = FakeClock()
    breaker = make(clock, half_open_calls=2)
    trip(breaker)
    clock.advance(30)
    guards = [breaker.guard(), breaker.guard()]
    for guard in guards:
        guard.__enter__()
    with pytest.raises(CircuitOpenError):
        breaker.call(ok)
    for guard in guards:
        guard.__exit__(None, None, None)
    assert current(breaker) is State.CLOSED


def test_half_open_never_sticks_past_max_wait() -> None:
    clock = FakeClock()
    breaker = make(clock, half_open_calls=1, max_half_open=5.0)
    trip(breaker)
    clock.advance(30)
    breaker.guard().__enter__()  # a trial call that never finishes
    clock.advance(5)
    with pytest.raises(CircuitOpenError):
        breaker.call(ok)
    assert current(breaker) is State.OPEN
    clock.advance(30)
    assert breaker.call(ok) == "ok"  # a fresh trial slot
    assert current(breaker) is State.CLOSED


def test_slow_calls_open_the_breaker() -> None:
    clock = FakeClock()
    breaker = make(clock, slow_call=1.0, slow_rate=50.0, min_calls=2)

    def slow() -> str:
        clock.advance(2.0)
        return "late"

    breaker.call(ok)
    assert breaker.call(slow) == "late"
    assert current(breaker) is State.OPEN


def test_ignored_exceptions_and_results_count_for_nothing() -> None:
    breaker = make(
        FakeClock(),
        ignore_on=KeyError,
        classify=lambda r: Outcome.IGNORED if r == 404 else Outcome.SUCCESS,
    )
    for _ in range(10):
        with pytest.raises(KeyError):
            breaker.call(lambda: {"present": 1}["missing"])
        assert breaker.call(lambda: 404) == 404
    assert current(breaker) is State.CLOSED
    assert breaker.counts()["ignored"] == 20


def test_exceptions_outside_failure_on_count_as_success() -> None:
    breaker = make(FakeClock(), failure_on=ConnectionError)
    for _ in range(10):
        with pytest.raises(Boom):
            breaker.call(fail)
    assert current(breaker) is State.CLOSED
    assert breaker.counts()["success"] == 10


def test_caller_exception_is_reraised_unchanged() -> None:
    breaker = make(FakeClock())
    error = Boom("exact")

    def raiser() -> None:
        raise error

    with pytest.raises(Boom) as caught:
        breaker(raiser)()
    assert caught.value is error


def test_force_open_force_closed_and_reset() -> None:
    clock = FakeClock()
    breaker = make(clock)
    breaker.force_open()
    clock.advance(10_000)
    with pytest.raises(CircuitOpenError):
        breaker.call(ok)
    assert current(breaker) is State.FORCED_OPEN
    breaker.force_closed()
    for _ in range(20):
        run(breaker, fail)
    assert current(breaker) is State.FORCED_CLOSED
    breaker.reset()
    assert current(breaker) is State.CLOSED
    assert breaker.open_seconds() == pytest.approx(10_000)


def test_state_change_hooks_see_every_transition() -> None:
    clock = FakeClock()
    seen: list[StateChange] = []
    breaker = make(clock, on_state_change=seen.append)
    trip(breaker)
    clock.advance(30)
    breaker.call(ok)
    breaker.call(ok)
    assert [(e.old, e.new) for e in seen] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert "failure rate" in seen[0].reason


def test_a_failing_hook_does_not_fail_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: StateChange) -> None:
        raise RuntimeError("hook bug")

    breaker = make(FakeClock(), on_state_change=broken)
    trip(breaker)
    assert "hook bug" in caplog.text


def test_time_window_forgets_old_failures() -> None:
    clock = FakeClock(start=0.0)
    breaker = make(clock, window_type="time", window=10.0, buckets=10, min_calls=4)
    for _ in range(3):
        run(breaker, fail)
    clock.advance(11)
    run(breaker, fail)
    assert current(breaker) is State.CLOSED  # only one failure in the last 10 s
    for _ in range(3):
        run(breaker, fail)
    assert current(breaker) is State.OPEN


def test_result_of_a_call_admitted_before_a_state_change_is_not_a_trial() -> None:
    clock = FakeClock()
    breaker = make(clock)
    early = breaker.guard()
    early.__enter__()
    trip(breaker)
    clock.advance(30)
    assert current(breaker) is State.HALF_OPEN
    early.__exit__(None, None, None)
    assert current(breaker) is State.HALF_OPEN


def test_counts_are_exact_across_threads() -> None:
    breaker = make(FakeClock(), window=100, min_calls=100)
    guarded = breaker(ok)

    def hammer() -> None:
        for _ in range(5000):
            guarded()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert breaker.counts()["success"] == 40_000


def test_async_breaker_twin_opens_and_recovers() -> None:
    clock = FakeClock()
    breaker = AsyncBreaker("adep", window=4, min_calls=2, open_for=5.0, half_open_calls=1, clock=clock)

    @breaker
    async def call(good: bool) -> str:
        if not good:
            raise Boom("x")
        return "ok"

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(Boom):
                await call(False)
        with pytest.raises(CircuitOpenError):
            await call(True)
        clock.advance(5)
        assert await call(True) == "ok"
        async with breaker.guard():
            pass

    asyncio.run(scenario())
    assert current(breaker) is State.CLOSED


def test_decorators_refuse_the_wrong_kind_of_function() -> None:
    async def coro() -> None:
        pass

    with pytest.raises(TypeError, match="AsyncBreaker"):
        Breaker("x")(coro)
    with pytest.raises(TypeError, match="use Breaker"):
        AsyncBreaker("x")(ok)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"failure_rate": 0}, "failure_rate"),
        ({"failure_rate": 120}, "failure_rate"),
        ({"window": 0}, "size >= 1"),
        ({"window": -5}, "size >= 1"),
        ({"window": 5, "min_calls": 10}, "impossible breaker window"),
        ({"min_calls": 0}, "min_calls"),
        ({"open_for": 0}, "open_for"),
        ({"open_for": -1}, "open_for"),
        ({"half_open_calls": 0}, "half_open_calls"),
        ({"slow_rate": 50}, "slow_call"),
        ({"window_type": "sliding"}, "window_type"),
        ({"window_type": "time", "window": 0}, "seconds > 0"),
        ({"max_half_open": 0}, "max_half_open"),
    ],
)
def test_impossible_settings_fail_clearly(settings: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        Breaker("bad", **settings)  # type: ignore[arg-type]
