"""The fakes in seawall.testing: a fake clock and a test mode without waiting."""

from __future__ import annotations

import asyncio

import pytest

from seawall.resilience import Retry, _clock
from seawall.testing import FakeClock, test_mode, use_clock


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(start=5.0)
    assert clock.monotonic() == 5.0
    clock.advance(2.5)
    clock.sleep(1.0)
    asyncio.run(clock.asleep(0.5))
    assert clock.monotonic() == 9.0
    assert clock.sleeps == [1.0, 0.5]
    with pytest.raises(ValueError, match="back"):
        clock.advance(-1)


def test_use_clock_installs_and_restores() -> None:
    before = _clock.current()
    with use_clock(FakeClock()) as fake:
        assert _clock.current() is fake
    assert _clock.current() is before


def test_test_mode_skips_waits_but_keeps_them_visible() -> None:
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError

    with test_mode() as clock:
        Retry(on=ConnectionError, attempts=3).call(flaky)
    assert len(calls) == 3
    assert len(clock.sleeps) == 2  # the two backoff waits, asked for and skipped
    assert _clock.current() is not clock
