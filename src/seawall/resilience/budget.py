"""A retry budget: a token bucket shared by callers so failures cannot cause a retry storm."""

from __future__ import annotations

import itertools
import threading

from . import _clock
from .errors import PolicyConfigError

__all__ = ["RetryBudget"]


class RetryBudget:
    """Retries spend one token each; tokens come back with time and with successes.

    Share one budget between every caller of a dependency. While the dependency is healthy
    the bucket stays full; when it fails, retries drain it at most ``capacity`` at once and
    then at ``refill_per_second`` plus ``per_success`` for each successful call, so the
    extra load retries add is bounded however many callers there are (Finagle's model).
    """

    def __init__(
        self,
        *,
        capacity: float = 10.0,
        refill_per_second: float = 1.0,
        per_success: float = 0.1,
        clock: _clock.Clock | None = None,
    ) -> None:
        if not capacity > 0:
            raise PolicyConfigError(f"retry budget capacity must be > 0, got {capacity!r}")
        if not refill_per_second >= 0:
            raise PolicyConfigError(f"retry budget refill_per_second must be >= 0, got {refill_per_second!r}")
        if not per_success >= 0:
            raise PolicyConfigError(f"retry budget per_success must be >= 0, got {per_success!r}")
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self.per_success = float(per_success)
        self._clock = clock
        self._tokens = float(capacity)
        self._updated: float | None = None
        # Successes only advance a C counter (no lock on the success path); the spending side
        # folds them into the bucket under the lock. Each fold also advances the counter once,
        # hence ``_peeks``.
        self._successes = itertools.count()
        self._peeks = 0
        self._credited = 0
        self._lock = threading.Lock()
        #: call once per successful call; lock-free
        self.record_success = self._successes.__next__

    def _refill(self) -> None:
        now = (self._clock or _clock.current()).monotonic()
        successes = next(self._successes) - self._peeks
        self._peeks += 1
        earned = (successes - self._credited) * self.per_success
        self._credited = successes
        if self._updated is not None:
            earned += max(0.0, now - self._updated) * self.refill_per_second
        self._updated = now
        self._tokens = min(self.capacity, self._tokens + earned)

    def try_spend(self, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are that many; say whether a retry may go ahead."""
        with self._lock:
            self._refill()
            if self._tokens >= cost:
                self._tokens -= cost
                return True
            return False

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        with self._lock:
            self._refill()
            return self._tokens
