"""Typed probe results and the Check protocol every probe kind implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Status(StrEnum):
    """Outcome of one check, in the vocabulary of application/health+json."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One check's outcome: status, latency in seconds, a short human detail, and when it ran."""

    status: Status
    latency: float
    detail: str = ""
    observed_at: float = 0.0
    observed: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Pass and warn both count as healthy; only fail does not."""
        return self.status is not Status.FAIL


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """A probe to run: whose it is, in which role, and its result once known."""

    component: str
    role: str  # startup | ready | live | adhoc

    @property
    def key(self) -> str:
        """The name SLOs and health+json use: component.role."""
        return f"{self.component}.{self.role}"


class Check(Protocol):
    """A probe kind: settings in ``__init__``, one attempt per call (timeout applied by the caller)."""

    async def __call__(self) -> ProbeResult: ...
