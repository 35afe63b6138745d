"""Wall and monotonic time behind one small seam, so tests can substitute a fake clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch (wall clock): for timestamps that are stored or shown."""
    return time.time()


def monotonic() -> float:
    """Monotonic seconds: for durations, timeouts and MTTR."""
    return time.monotonic()


def iso(ts: float) -> str:
    """An epoch timestamp as an ISO 8601 UTC string with milliseconds."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")
