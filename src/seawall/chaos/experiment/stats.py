"""Measured recovery (pure): time to impact, sustained recovery, MTTR, and p50/p95 across runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Sample = tuple[float, bool]  # (monotonic seconds, steady-state probe passed)


@dataclass(frozen=True, slots=True)
class Recovery:
    """One probe's view of one fault, in seconds relative to the fault's injection.

    ``impact``: first failing sample at or after injection (None: the fault had no visible impact).
    ``recovered``: first sample of the first run of ``k`` consecutive passes that starts after both
    the impact and the removal. ``mttr``: recovered - impact. ``after_removal``: recovered - removed,
    which is what ``expect.recover_within`` bounds.
    """

    injected: float
    removed: float | None
    impact: float | None
    recovered: float | None

    @property
    def time_to_impact(self) -> float | None:
        """Seconds from injection to the first breach."""
        return None if self.impact is None else self.impact - self.injected

    @property
    def mttr(self) -> float | None:
        """Seconds from the first breach to sustained recovery."""
        if self.impact is None or self.recovered is None:
            return None
        return self.recovered - self.impact

    @property
    def after_removal(self) -> float | None:
        """Seconds from the fault's removal to sustained recovery (0 when there was no impact)."""
        if self.impact is None:
            return 0.0
        if self.recovered is None or self.removed is None:
            return None
        return max(0.0, self.recovered - self.removed)

    @property
    def recovered_ok(self) -> bool:
        """No impact, or a sustained recovery was seen."""
        return self.impact is None or self.recovered is not None


def measure(samples: Sequence[Sample], injected: float, removed: float | None, k: int) -> Recovery:
    """The recovery of one probe from time-ordered samples around one fault."""
    if k < 1:
        raise ValueError("k (consecutive passes) must be at least 1")
    later = [(t, ok) for t, ok in samples if t >= injected]
    impact = next((t for t, ok in later if not ok), None)
    if impact is None:
        return Recovery(injected, removed, None, None)
    start = max(impact, removed) if removed is not None else None
    recovered = None
    if start is not None:
        streak_start, streak = None, 0
        for t, ok in later:
            if t < impact:
                continue
            if ok and t >= start:
                streak_start = t if streak == 0 else streak_start
                streak += 1
                if streak >= k:
                    recovered = streak_start
                    break
            elif not ok:
                streak_start, streak = None, 0
    return Recovery(injected, removed, impact, recovered)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p95 and max of a set of MTTRs."""
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values) if values else None,
    }


__all__ = ["Recovery", "Sample", "measure", "percentile", "summarize"]
