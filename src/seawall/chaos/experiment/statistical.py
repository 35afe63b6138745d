"""Judging generated traffic (pure): error rate over N requests, a latency percentile over a window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seawall.chaos.experiment.objectives import ErrorRateObjective, LatencyObjective
from seawall.chaos.experiment.stats import percentile
from seawall.chaos.load_gen import RequestSample


def error_rate(samples: Sequence[RequestSample]) -> float | None:
    """The share of requests that failed (no response, or a status that is not ok); None for none."""
    if not samples:
        return None
    return sum(1 for s in samples if not s.ok) / len(samples)


def response_times(samples: Sequence[RequestSample]) -> list[float]:
    """Latencies of the requests that got a response (failures without one count in the error rate)."""
    return [s.latency for s in samples if s.status is not None]


def last_requests(samples: Sequence[RequestSample], count: int) -> list[RequestSample]:
    """The ``count`` most recently sent requests, in the order they were sent."""
    return sorted(samples, key=lambda s: s.start)[-count:] if count > 0 else []


def last_window(samples: Sequence[RequestSample], seconds: float) -> list[RequestSample]:
    """Requests sent in the last ``seconds`` before the last one was sent."""
    if not samples:
        return []
    end = max(s.start for s in samples)
    return [s for s in samples if s.start >= end - seconds]


def _pct(share: float) -> str:
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


@dataclass(frozen=True, slots=True)
class PhaseFigures:
    """What one phase's traffic showed, and the objectives it breached (before/after are judged)."""

    phase: str
    requests: int
    errors: int
    seconds: float
    error_rate: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max_latency: float | None
    judged_requests: int = 0  # the last `over` requests the error rate is judged on
    judged_error_rate: float | None = None
    percentile: float | None = None  # the latency objective's, over its window
    window_latency: float | None = None
    window_responses: int = 0
    breaches: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """No objective breached."""
        return not self.breaches

    def to_dict(self) -> dict[str, Any]:
        """JSON form (seconds, shares as fractions)."""

        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return {
            "phase": self.phase,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "rate": round(self.requests / self.seconds, 2) if self.seconds > 0 else None,
            "error_rate": r(self.error_rate),
            "latency": {
                "p50": r(self.p50),
                "p95": r(self.p95),
                "p99": r(self.p99),
                "max": r(self.max_latency),
            },
            "judged": {
                "requests": self.judged_requests,
                "error_rate": r(self.judged_error_rate),
                "percentile": self.percentile,
                "window_latency": r(self.window_latency),
                "window_responses": self.window_responses,
            },
            "ok": self.ok,
            "breaches": list(self.breaches),
        }


def figures(
    phase: str,
    samples: Sequence[RequestSample],
    error_objective: ErrorRateObjective | None = None,
    latency_objective: LatencyObjective | None = None,
    *,
    judge: bool = True,
) -> PhaseFigures:
    """The figures of one phase; with ``judge``, the breaches of each objective.

    The error rate is judged over the last ``over`` requests and needs that many: fewer (a
    service too slow to answer them within the phase's time bound) is a breach. The latency
    percentile is judged over responses sent in the last ``window`` and needs at least one.
    """
    times = response_times(samples)
    starts = [s.start for s in samples]
    ends = [s.start + s.latency for s in samples]
    seconds = max(ends) - min(starts) if samples else 0.0
    breaches: list[str] = []
    judged: list[RequestSample] = []
    judged_rate = None
    if error_objective is not None:
        judged = last_requests(samples, error_objective.over)
        judged_rate = error_rate(judged)
        if judge and len(judged) < error_objective.over:
            breaches.append(
                f"only {len(judged)} requests completed (the error rate is over {error_objective.over})"
            )
        elif judge and judged_rate is not None and judged_rate > error_objective.max:
            breaches.append(
                f"error rate {_pct(judged_rate)} over the last {len(judged)} requests"
                f" (max {_pct(error_objective.max)})"
            )
    window_value, window_count, q = None, 0, None
    if latency_objective is not None:
        q = latency_objective.percentile
        window_times = response_times(last_window(samples, latency_objective.window))
        window_count = len(window_times)
        window_value = percentile(window_times, q)
        label = f"p{q:g}"
        if judge and window_value is None:
            breaches.append(f"no responses in the last {latency_objective.window:g}s to judge {label}")
        elif judge and window_value is not None and window_value > latency_objective.max:
            breaches.append(
                f"{label} {_ms(window_value)} over the last {latency_objective.window:g}s"
                f" (max {_ms(latency_objective.max)})"
            )
    return PhaseFigures(
        phase=phase,
        requests=len(samples),
        errors=sum(1 for s in samples if not s.ok),
        seconds=seconds,
        error_rate=error_rate(samples),
        p50=percentile(times, 50),
        p95=percentile(times, 95),
        p99=percentile(times, 99),
        max_latency=max(times) if times else None,
        judged_requests=len(judged),
        judged_error_rate=judged_rate,
        percentile=q,
        window_latency=window_value,
        window_responses=window_count,
        breaches=tuple(breaches),
    )


def worst_window(
    samples: Sequence[RequestSample], seconds: float, q: float = 95.0
) -> dict[str, float | None]:
    """The impact while faults act: the highest error rate and q-th percentile among tumbling windows."""
    if seconds <= 0:
        raise ValueError("a window must be above 0 seconds")
    if not samples:
        return {"error_rate": None, "latency": None}
    first = min(s.start for s in samples)
    buckets: dict[int, list[RequestSample]] = {}
    for sample in samples:
        buckets.setdefault(int((sample.start - first) // seconds), []).append(sample)
    rates = [error_rate(b) for b in buckets.values()]
    latencies = [percentile(response_times(b), q) for b in buckets.values()]
    return {
        "error_rate": max((r for r in rates if r is not None), default=None),
        "latency": max((v for v in latencies if v is not None), default=None),
    }


__all__ = [
    "PhaseFigures",
    "error_rate",
    "figures",
    "last_requests",
    "last_window",
    "response_times",
    "worst_window",
]
