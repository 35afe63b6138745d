"""Kubernetes-style probe thresholds as a pure state machine: when does a component change state."""

from __future__ import annotations

from seawall.config.probes import ProbeSpec
from seawall.probes.result import ProbeResult

ROLES = ("startup", "ready", "live")
_ALIASES = {"readiness": "ready", "liveness": "live"}


class ProbeTracker:
    """Counts consecutive outcomes of one probe and decides when its healthy state flips.

    Healthy becomes false after ``failure_threshold`` consecutive failures and true again after
    ``success_threshold`` consecutive successes (pass or warn). As in Kubernetes, a liveness probe
    starts healthy (a process is presumed alive until proven otherwise) while startup and readiness
    probes start unhealthy (not ready until proven ready). No I/O and no clock: the caller runs the
    probe every ``spec.period`` after ``spec.initial_delay`` and feeds each result to ``observe``.
    """

    def __init__(self, spec: ProbeSpec, role: str = "ready", *, healthy: bool | None = None) -> None:
        role = _ALIASES.get(role, role)
        if role not in ROLES and healthy is None:
            raise ValueError(f"unknown probe role {role!r}: use one of {', '.join(ROLES)} or pass healthy=")
        self.spec = spec
        self.role = role
        self._initial = (role == "live") if healthy is None else healthy
        self._healthy = self._initial
        self.consecutive_failures = 0
        self.consecutive_successes = 0
        self.observations = 0
        self.transitions = 0
        self.last: ProbeResult | None = None

    @property
    def healthy(self) -> bool:
        """The state the thresholds have settled on: ready / alive / started."""
        return self._healthy

    @property
    def failure_threshold(self) -> int:
        """Consecutive failures that make a healthy probe unhealthy."""
        return self.spec.failure_threshold

    @property
    def success_threshold(self) -> int:
        """Consecutive successes that make an unhealthy probe healthy."""
        return self.spec.success_threshold

    def observe(self, result: ProbeResult) -> bool:
        """Count one result; True when it flipped ``healthy`` (the caller should act on that)."""
        self.observations += 1
        self.last = result
        if result.ok:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            flips = not self._healthy and self.consecutive_successes >= self.success_threshold
        else:
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            flips = self._healthy and self.consecutive_failures >= self.failure_threshold
        if flips:
            self._healthy = not self._healthy
            self.transitions += 1
        return flips

    def reset(self) -> None:
        """Back to the initial state, e.g. after the component was restarted."""
        self._healthy = self._initial
        self.consecutive_failures = 0
        self.consecutive_successes = 0
        self.last = None

    def __repr__(self) -> str:
        state = "healthy" if self.healthy else "unhealthy"
        return (
            f"ProbeTracker({self.role}, {state}, failures={self.consecutive_failures}/"
            f"{self.failure_threshold}, successes={self.consecutive_successes}/{self.success_threshold})"
        )
