"""seawall.asgi: health endpoints, Prometheus metrics and chaos hooks for any ASGI app.

Standard library only; uses seawall.resilience (for breakers) and nothing else from Seawall.
"""

from __future__ import annotations

from .chaos import ChaosHooks, Injection
from .checks import Check, CheckResult
from .health import Health, HealthPaths
from .request_metrics import RequestMetrics

__all__ = ["ChaosHooks", "Check", "CheckResult", "Health", "HealthPaths", "Injection", "RequestMetrics"]
