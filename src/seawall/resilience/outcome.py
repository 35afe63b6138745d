"""Outcome classification: which exceptions and results count, and Retry-After hints."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, TypeAlias

from .errors import PolicyConfigError

__all__ = [
    "ExceptionPredicate",
    "On",
    "Outcome",
    "exception_predicate",
    "retry_after_of",
]


class Outcome(enum.Enum):
    """How a finished call counts against its dependency."""

    SUCCESS = "success"
    FAILURE = "failure"
    #: neither: the dependency is not at fault (a 404, a cancelled call)
    IGNORED = "ignored"


ExceptionPredicate: TypeAlias = Callable[[BaseException], bool]
On: TypeAlias = type[BaseException] | tuple[type[BaseException], ...] | ExceptionPredicate


def exception_predicate(on: On, *, what: str = "on") -> ExceptionPredicate:
    """Turn exception types or a predicate into a predicate, refusing vague input."""
    if isinstance(on, type):
        if not issubclass(on, BaseException):
            raise PolicyConfigError(f"{what}= takes exception types, got {on.__name__}")
        cls = on
        return lambda exc: isinstance(exc, cls)
    if isinstance(on, tuple):
        if not on:
            raise PolicyConfigError(f"{what}= must name at least one exception type")
        for item in on:
            if not (isinstance(item, type) and issubclass(item, BaseException)):
                raise PolicyConfigError(f"{what}= takes exception types, got {item!r}")
        classes = on
        return lambda exc: isinstance(exc, classes)
    if callable(on):
        return on
    raise PolicyConfigError(f"{what}= takes exception types or a predicate, got {on!r}")


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return float(text)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None


def retry_after_of(outcome: object) -> float | None:
    """Seconds a call asked us to wait, if it said so, else ``None``.

    Looked for, in order: a ``retry_after`` attribute (seconds, or a header value), a
    ``headers`` mapping with ``Retry-After``, and the same on a ``response`` attribute (the
    shape of httpx and requests errors). Header values may be seconds or an HTTP date.
    """
    for candidate in (outcome, getattr(outcome, "response", None)):
        if candidate is None:
            continue
        value = getattr(candidate, "retry_after", None)
        if value is not None:
            return _seconds(value)
        headers: Any = getattr(candidate, "headers", None)
        if isinstance(headers, Mapping) or hasattr(headers, "get"):
            raw = headers.get("Retry-After") or headers.get("retry-after")
            if raw is not None:
                return _seconds(raw)
    return None
