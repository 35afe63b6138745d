"""Exponential backoff with full jitter: pure arithmetic, no clocks."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .errors import PolicyConfigError

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits of ``initial * multiplier ** (n - 1)`` capped at ``maximum``, with full jitter.

    Full jitter (AWS architecture blog, "Exponential Backoff and Jitter") draws each wait
    uniformly from ``[0, ceiling]``: it spreads a crowd of retrying callers best.
    """

    initial: float = 0.1
    maximum: float = 5.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if not self.initial >= 0:
            raise PolicyConfigError(f"backoff initial must be >= 0, got {self.initial!r}")
        if not self.maximum >= self.initial:
            raise PolicyConfigError(
                f"backoff maximum ({self.maximum!r}) must be >= initial ({self.initial!r})"
            )
        if not self.multiplier >= 1:
            raise PolicyConfigError(f"backoff multiplier must be >= 1, got {self.multiplier!r}")

    def ceiling(self, attempt: int) -> float:
        """The largest wait after failed attempt number ``attempt`` (1-based)."""
        if attempt < 1:
            raise PolicyConfigError(f"attempt numbers start at 1, got {attempt}")
        try:
            grown = self.initial * self.multiplier ** (attempt - 1)
        except OverflowError:
            return self.maximum
        return min(self.maximum, grown)

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait after failed attempt ``attempt``; ``rand`` returns a float in [0, 1)."""
        ceiling = self.ceiling(attempt)
        return rand() * ceiling if self.jitter else ceiling
