"""A registry of named policies: look breakers up by name, and collect them for metrics."""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from .breaker import Breaker
from .bulkhead import AsyncBulkhead, Bulkhead
from .errors import PolicyConfigError
from .retry import AsyncRetry, Retry
from .timeout import AsyncTimeout, Timeout

__all__ = ["Registry", "default_registry"]

Policy = Breaker | Retry | AsyncRetry | Bulkhead | AsyncBulkhead | Timeout | AsyncTimeout
PolicyT = TypeVar("PolicyT", bound=Policy)

_KINDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("breaker", (Breaker,)),
    ("retry", (Retry, AsyncRetry)),
    ("bulkhead", (Bulkhead, AsyncBulkhead)),
    ("timeout", (Timeout, AsyncTimeout)),
)


def _kind(policy: object) -> str:
    for kind, classes in _KINDS:
        if isinstance(policy, classes):
            return kind
    raise TypeError(f"not a registrable policy: {policy!r}")


class Registry:
    """Named policies of each kind; names are unique within a kind.

    Chaos hooks and health checks find breakers here by name, and the metrics exporter
    reports every policy registered here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._policies: dict[str, dict[str, Any]] = {kind: {} for kind, _ in _KINDS}

    def add(self, policy: PolicyT) -> PolicyT:
        """Register ``policy`` under its ``name``.

        Breaker names are unique (a second, different breaker of the same name is an error);
        other policies may share a name, as the sync and async twins of one dependency's
        pipeline do, and their metrics are summed.
        """
        kind = _kind(policy)
        with self._lock:
            if kind == "breaker":
                existing = self._policies[kind].get(policy.name)
                if existing is not None and existing is not policy:
                    raise PolicyConfigError(f"a breaker named {policy.name!r} is already registered")
                self._policies[kind][policy.name] = policy
            else:
                group = self._policies[kind].setdefault(policy.name, [])
                if all(p is not policy for p in group):
                    group.append(policy)
        return policy

    def remove(self, kind: str, name: str) -> None:
        """Forget the ``kind`` policy called ``name`` (no error if absent)."""
        with self._lock:
            self._policies[kind].pop(name, None)

    def clear(self) -> None:
        with self._lock:
            for policies in self._policies.values():
                policies.clear()

    def breaker(self, name: str, **settings: Any) -> Breaker:
        """The breaker called ``name``, created with ``settings`` if it does not exist yet."""
        with self._lock:
            found = self._policies["breaker"].get(name)
            if found is None:
                found = self._policies["breaker"][name] = Breaker(name, **settings)
            return found

    def get_breaker(self, name: str) -> Breaker:
        """The registered breaker called ``name``; a clear error names the known ones."""
        with self._lock:
            found = self._policies["breaker"].get(name)
            known = sorted(self._policies["breaker"])
        if found is None:
            raise PolicyConfigError(
                f"no circuit breaker named {name!r} (known: {', '.join(known) or 'none'})"
            )
        return found  # type: ignore[no-any-return]

    def all(self, kind: str) -> list[Any]:
        """Registered policies of ``kind`` (breaker, retry, bulkhead, timeout), by name."""
        with self._lock:
            found = sorted(self._policies[kind].items())
        if kind == "breaker":
            return [p for _, p in found]
        return [p for _, group in found for p in group]

    def breakers(self) -> list[Breaker]:
        return self.all("breaker")


#: the process-wide registry the metrics endpoint and chaos hooks use unless given another
default_registry = Registry()
