"""seawall.resilience: retry, circuit breaker, timeout, bulkhead and fallback for services.

Standard library only; imports nothing else from Seawall.
"""

from __future__ import annotations

from ._clock import Clock, SystemClock
from .async_breaker import AsyncBreaker
from .backoff import Backoff
from .breaker import Breaker, State
from .budget import RetryBudget
from .bulkhead import AsyncBulkhead, Bulkhead
from .config import Policies, load_policies
from .errors import (
    BulkheadFullError,
    CircuitOpenError,
    PolicyConfigError,
    ResilienceError,
    TimeoutExceeded,
)
from .events import Hooks, RetryEvent, StateChange
from .fallback import AsyncFallback, Fallback
from .guard import Guard
from .metrics import render_metrics
from .outcome import Outcome, retry_after_of
from .pipeline import AsyncPipeline, Pipeline
from .pipeline_block import AsyncPipelineAttempt, PipelineAttempt
from .registry import Registry, default_registry
from .retry import AsyncRetry, Attempt, Retry
from .timeout import AsyncTimeout, Timeout, remaining
from .window import CountWindow, TimeWindow

__all__ = [
    "AsyncBreaker",
    "AsyncBulkhead",
    "AsyncFallback",
    "AsyncPipeline",
    "AsyncPipelineAttempt",
    "AsyncRetry",
    "AsyncTimeout",
    "Attempt",
    "Backoff",
    "Breaker",
    "Bulkhead",
    "BulkheadFullError",
    "CircuitOpenError",
    "Clock",
    "CountWindow",
    "Fallback",
    "Guard",
    "Hooks",
    "Outcome",
    "Pipeline",
    "PipelineAttempt",
    "Policies",
    "PolicyConfigError",
    "Registry",
    "ResilienceError",
    "Retry",
    "RetryBudget",
    "RetryEvent",
    "State",
    "StateChange",
    "SystemClock",
    "TimeWindow",
    "Timeout",
    "TimeoutExceeded",
    "default_registry",
    "load_policies",
    "remaining",
    "render_metrics",
    "retry_after_of",
]
