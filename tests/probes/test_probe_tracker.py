"""ProbeTracker: Kubernetes-style failure and success thresholds, without I/O."""

from __future__ import annotations

import pytest

from seawall.config.probes import ProbeSpec
from seawall.probes import ProbeResult, ProbeTracker, Status

PASS = ProbeResult(Status.PASS, 0.01)
WARN = ProbeResult(Status.WARN, 0.9)
FAIL = ProbeResult(Status.FAIL, 1.0, "connection refused")


def spec(failure: int = 3, success: int = 1) -> ProbeSpec:
    return ProbeSpec.model_validate({"tcp": 1, "failure_threshold": failure, "success_threshold": success})


def test_startup_and_readiness_start_unhealthy_and_liveness_healthy() -> None:
    roles = ("startup", "ready", "live")
    assert [ProbeTracker(spec(), role).healthy for role in roles] == [False, False, True]


def test_readiness_becomes_ready_after_success_threshold() -> None:
    tracker = ProbeTracker(spec(success=2), "ready")
    assert tracker.observe(PASS) is False
    assert tracker.observe(PASS) is True
    assert tracker.healthy
    assert tracker.consecutive_successes == 2


def test_liveness_fails_only_after_failure_threshold() -> None:
    tracker = ProbeTracker(spec(failure=3), "live")
    assert [tracker.observe(FAIL) for _ in range(3)] == [False, False, True]
    assert not tracker.healthy
    assert tracker.consecutive_failures == 3


def test_a_success_between_failures_restarts_the_failure_count() -> None:
    tracker = ProbeTracker(spec(failure=2), "live")
    tracker.observe(FAIL)
    tracker.observe(PASS)
    assert tracker.consecutive_failures == 0
    assert tracker.observe(FAIL) is False
    assert tracker.healthy
    assert tracker.observe(FAIL) is True


def test_a_failure_between_successes_restarts_the_success_count() -> None:
    tracker = ProbeTracker(spec(success=2), "startup")
    tracker.observe(PASS)
    tracker.observe(FAIL)
    assert tracker.observe(PASS) is False
    assert tracker.observe(PASS) is True


def test_warn_counts_as_a_success() -> None:
    tracker = ProbeTracker(spec(), "ready")
    assert tracker.observe(WARN) is True
    assert tracker.healthy


def test_failures_while_unhealthy_do_not_report_a_change() -> None:
    tracker = ProbeTracker(spec(failure=1), "ready")
    assert [tracker.observe(FAIL) for _ in range(5)] == [False] * 5
    assert tracker.transitions == 0
    assert tracker.observations == 5
    assert tracker.last is FAIL


def test_flapping_flips_each_time_a_threshold_is_reached() -> None:
    tracker = ProbeTracker(spec(failure=1, success=1), "ready")
    changes = [tracker.observe(r) for r in (PASS, FAIL, PASS, PASS, FAIL)]
    assert changes == [True, True, True, False, True]
    assert tracker.transitions == 4


def test_reset_returns_to_the_initial_state_of_the_role() -> None:
    tracker = ProbeTracker(spec(failure=1), "live")
    tracker.observe(FAIL)
    tracker.reset()
    assert tracker.healthy
    assert tracker.consecutive_failures == 0
    assert tracker.last is None


def test_explicit_initial_state_overrides_the_role_default() -> None:
    assert ProbeTracker(spec(), "ready", healthy=True).healthy
    assert ProbeTracker(spec(), "adhoc", healthy=False).healthy is False


def test_role_aliases_are_accepted_and_unknown_roles_rejected() -> None:
    assert ProbeTracker(spec(), "liveness").healthy
    with pytest.raises(ValueError, match="unknown probe role"):
        ProbeTracker(spec(), "sometimes")
