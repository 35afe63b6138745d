"""Run statuses, their exit codes, and the verdict from what happened during a run (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RunStatus(StrEnum):
    """How a chaos run ended; each has its own exit code."""

    PASSED = "passed"
    DEVIATED = "deviated"
    NOT_RECOVERED = "not_recovered"
    INJECTION_FAILED = "injection_failed"
    RESTORE_FAILED = "restore_failed"
    ABORTED_BY_GUARD = "aborted_by_guard"
    INTERRUPTED = "interrupted"


EXIT_CODES: dict[RunStatus, int] = {
    RunStatus.PASSED: 0,
    RunStatus.DEVIATED: 10,
    RunStatus.NOT_RECOVERED: 11,
    RunStatus.INJECTION_FAILED: 12,
    RunStatus.RESTORE_FAILED: 13,
    RunStatus.ABORTED_BY_GUARD: 14,
    RunStatus.INTERRUPTED: 130,
}

# Chaos Toolkit's journal status for each of ours (its vocabulary is completed/failed/aborted/interrupted)
CTK_STATUS: dict[RunStatus, str] = {
    RunStatus.PASSED: "completed",
    RunStatus.DEVIATED: "completed",
    RunStatus.NOT_RECOVERED: "completed",
    RunStatus.INJECTION_FAILED: "failed",
    RunStatus.RESTORE_FAILED: "failed",
    RunStatus.ABORTED_BY_GUARD: "aborted",
    RunStatus.INTERRUPTED: "interrupted",
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What the runner observed; the verdict is a function of these alone."""

    before_ok: bool = True
    during_ok: bool = True
    after_ok: bool = True
    recovered: bool = True
    recovered_in_time: bool = True
    injection_failed: bool = False
    restore_failed: bool = False
    guard_tripped: bool = False
    interrupted: bool = False
    strict: bool = True  # breaches while faults are active count as a deviation
    statistics_ok: bool = True  # the generated traffic met its objectives after the method


def verdict(facts: Facts) -> RunStatus:
    """The single status of a run; the most dangerous outcome wins.

    restore_failed first (something may still be injected), then interrupted, aborted_by_guard,
    injection_failed, not_recovered (no sustained recovery, or slower than expect.recover_within),
    deviated (the steady state did not hold before, during in strict mode, or after; or the
    generated traffic breached its error-rate or latency objective after the method), passed.
    """
    if facts.restore_failed:
        return RunStatus.RESTORE_FAILED
    if facts.interrupted:
        return RunStatus.INTERRUPTED
    if facts.guard_tripped:
        return RunStatus.ABORTED_BY_GUARD
    if facts.injection_failed:
        return RunStatus.INJECTION_FAILED
    if not facts.before_ok:
        return RunStatus.DEVIATED
    if not facts.recovered or not facts.recovered_in_time or not facts.after_ok:
        return RunStatus.NOT_RECOVERED
    if facts.strict and not facts.during_ok:
        return RunStatus.DEVIATED
    if not facts.statistics_ok:
        return RunStatus.DEVIATED
    return RunStatus.PASSED


__all__ = ["CTK_STATUS", "EXIT_CODES", "Facts", "RunStatus", "verdict"]
