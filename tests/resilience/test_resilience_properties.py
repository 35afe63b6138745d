"""Property tests: sliding windows against a naive model, backoff bounds, budget bounds."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from seawall.resilience import Backoff, CountWindow, RetryBudget, TimeWindow
from seawall.testing import FakeClock

codes = st.integers(min_value=0, max_value=3)


@given(size=st.integers(1, 50), calls=st.lists(codes, max_size=300))
def test_count_window_matches_the_last_n_calls(size: int, calls: list[int]) -> None:
    window = CountWindow(size)
    for i, code in enumerate(calls):
        stats = window.record(code)
        recent = calls[max(0, i + 1 - size) : i + 1]
        assert stats == (len(recent), sum(c & 1 for c in recent), sum(c >> 1 & 1 for c in recent))
        assert window.bad == sum(1 for c in recent if c)


@given(
    seconds=st.floats(0.5, 100),
    buckets=st.integers(1, 20),
    steps=st.lists(st.tuples(st.floats(0, 30), codes), max_size=200),
)
def test_time_window_matches_calls_in_live_buckets(
    seconds: float, buckets: int, steps: list[tuple[float, int]]
) -> None:
    window = TimeWindow(seconds, buckets)
    width = seconds / buckets
    now = 0.0
    seen: list[tuple[float, int]] = []
    for gap, code in steps:
        now += gap
        seen.append((now, code))
        stats = window.record(code, now)
        current = math.floor(now / width)
        live = [c for t, c in seen if math.floor(t / width) > current - buckets]
        assert stats == (len(live), sum(c & 1 for c in live), sum(c >> 1 & 1 for c in live))


@given(
    initial=st.floats(0, 10),
    extra=st.floats(0, 100),
    multiplier=st.floats(1, 10),
    attempt=st.integers(1, 10_000),
    draw=st.floats(0, 1, exclude_max=True),
)
def test_backoff_stays_within_zero_and_its_cap(
    initial: float, extra: float, multiplier: float, attempt: int, draw: float
) -> None:
    backoff = Backoff(initial=initial, maximum=initial + extra, multiplier=multiplier)
    delay = backoff.delay(attempt, lambda: draw)
    assert 0 <= delay <= backoff.ceiling(attempt) <= backoff.maximum
    assert backoff.ceiling(attempt) <= backoff.ceiling(attempt + 1)
    assert Backoff(initial, initial + extra, multiplier, jitter=False).delay(attempt) == backoff.ceiling(
        attempt
    )


@given(
    actions=st.lists(st.one_of(st.just("spend"), st.just("success"), st.floats(0, 5)), max_size=100),
    capacity=st.floats(1, 20),
)
def test_budget_never_negative_nor_over_capacity(actions: list[object], capacity: float) -> None:
    clock = FakeClock()
    budget = RetryBudget(capacity=capacity, refill_per_second=1.0, per_success=0.3, clock=clock)
    for action in actions:
        if action == "spend":
            budget.try_spend()
        elif action == "success":
            budget.record_success()
        else:
            clock.advance(float(action))  # type: ignore[arg-type]
        assert -1e-9 <= budget.tokens <= capacity + 1e-9
