"""Readiness checks: each with its own timeout, run concurrently, reported in health+json."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Check", "CheckResult", "overall_status", "run_checks"]

_RANK = {"pass": 0, "warn": 1, "fail": 2}


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check found: a status and, optionally, what it measured."""

    status: str = "pass"
    observed_value: Any = None
    observed_unit: str | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        if self.status not in _RANK:
            raise ValueError(f"a check status is pass, warn or fail, got {self.status!r}")


@dataclass(frozen=True, slots=True)
class Check:
    """One named dependency check, reported as ``component:measurement``.

    ``probe`` is a function or coroutine function taking no arguments. Returning None or
    True passes, False fails, a :class:`CheckResult` says exactly; raising fails with the
    exception as output. Unless the probe reports its own value, the observed value is the
    probe's response time in seconds. A check that is not ``critical`` warns instead of
    failing readiness.
    """

    component: str
    probe: Callable[[], Any] = field(repr=False)
    measurement: str = "responseTime"
    timeout: float = 2.0
    critical: bool = True
    component_type: str = "component"

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"check {self.component!r}: timeout must be > 0, got {self.timeout!r}")

    @property
    def key(self) -> str:
        return f"{self.component}:{self.measurement}"

    async def _probe(self) -> Any:
        if inspect.iscoroutinefunction(self.probe):
            return await self.probe()
        result = await asyncio.to_thread(self.probe)
        if inspect.isawaitable(result):
            return await result
        return result

    async def run(self) -> dict[str, Any]:
        """Run the probe under its timeout; never raises (but lets cancellation through)."""
        started = time.perf_counter()
        scope = asyncio.timeout(self.timeout)
        try:
            async with scope:
                value = await self._probe()
        except TimeoutError as exc:
            # the check's own timeout, or one the probe reports (say, a breaker's pipeline's)
            own = scope.expired()
            result = CheckResult("fail", output=f"timed out after {self.timeout:g}s" if own else _error(exc))
        except Exception as exc:
            result = CheckResult("fail", output=_error(exc))
        else:
            if isinstance(value, CheckResult):
                result = value
            else:
                result = CheckResult("fail" if value is False else "pass")
        if result.status == "fail" and not self.critical:
            result = CheckResult("warn", result.observed_value, result.observed_unit, result.output)
        entry: dict[str, Any] = {
            "componentId": self.component,
            "componentType": self.component_type,
            "status": result.status,
            "time": now_iso(),
        }
        if result.observed_value is not None:
            entry["observedValue"] = result.observed_value
            if result.observed_unit:
                entry["observedUnit"] = result.observed_unit
        elif self.measurement == "responseTime":
            entry["observedValue"] = round(time.perf_counter() - started, 6)
            entry["observedUnit"] = "s"
        if result.output:
            entry["output"] = result.output
        return entry


def overall_status(entries: Sequence[dict[str, Any]]) -> str:
    """The worst status among ``entries`` (pass when there are none)."""
    worst = max((_RANK[e["status"]] for e in entries), default=0)
    return next(s for s, rank in _RANK.items() if rank == worst)


async def run_checks(checks: Sequence[Check]) -> dict[str, list[dict[str, Any]]]:
    """Run every check concurrently; results keyed ``component:measurement``."""
    entries = await asyncio.gather(*(check.run() for check in checks))
    out: dict[str, list[dict[str, Any]]] = {}
    for check, entry in zip(checks, entries, strict=True):
        out.setdefault(check.key, []).append(entry)
    return out


CheckFn = Callable[[], Awaitable[Any] | Any]
