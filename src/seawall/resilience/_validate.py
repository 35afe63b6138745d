"""Argument checks shared by the policies, each failing with a PolicyConfigError."""

from __future__ import annotations

import math

from .errors import PolicyConfigError
from .window import CountWindow, TimeWindow

__all__ = ["breaker_settings", "count", "percent", "seconds"]


def seconds(owner: str, name: str, value: object, *, optional: bool = False) -> float | None:
    """A finite duration > 0 (or None when ``optional``)."""
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not value > 0
    ):
        raise PolicyConfigError(f"{owner} {name} must be a number of seconds > 0, got {value!r}")
    return float(value)


def count(owner: str, name: str, value: object, *, minimum: int = 1, optional: bool = False) -> int | None:
    """An integer >= ``minimum`` (or None when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PolicyConfigError(f"{owner} {name} must be an integer >= {minimum}, got {value!r}")
    return value


def percent(owner: str, name: str, value: object, *, optional: bool = False) -> float | None:
    """A percentage in (0, 100]."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise PolicyConfigError(f"{owner} {name} must be a percentage in (0, 100], got {value!r}")
    return float(value)


def breaker_settings(
    *,
    failure_rate: float,
    slow_rate: float | None,
    slow_call: float | None,
    open_for: float,
    max_half_open: float | None,
    min_calls: int,
    half_open_calls: int,
    window: float,
    window_type: str,
    buckets: int,
) -> None:
    """Refuse impossible breaker settings with a message that says why."""
    percent("breaker", "failure_rate", failure_rate)
    percent("breaker", "slow_rate", slow_rate, optional=True)
    seconds("breaker", "slow_call", slow_call, optional=True)
    seconds("breaker", "open_for", open_for)
    seconds("breaker", "max_half_open", max_half_open, optional=True)
    count("breaker", "min_calls", min_calls)
    count("breaker", "half_open_calls", half_open_calls)
    if slow_rate is not None and slow_call is None:
        raise PolicyConfigError("breaker slow_rate needs slow_call (the seconds that are slow)")
    if window_type == "count":
        if isinstance(window, float) and window.is_integer():
            window = int(window)
        CountWindow(window)  # type: ignore[arg-type]
        if min_calls > window:
            raise PolicyConfigError(
                f"impossible breaker window: min_calls={min_calls} can never be reached "
                f"in a window of the last {window} calls"
            )
    elif window_type == "time":
        TimeWindow(window, buckets)
    else:
        raise PolicyConfigError(f"breaker window_type must be 'count' or 'time', got {window_type!r}")
