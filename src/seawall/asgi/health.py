"""The health middleware: /health/live, /health/ready and /health/metrics for any ASGI app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seawall.resilience import Registry, State, default_registry, render_metrics

from ._http import HEALTH_JSON, PROMETHEUS_TEXT, ASGIApp, Message, Receive, Scope, Send, send_json, send_text
from .chaos import ChaosHooks
from .checks import Check, now_iso, overall_status, run_checks
from .request_metrics import RequestMetrics

__all__ = ["Health", "HealthPaths"]

_BREAKER_STATUS = {
    State.CLOSED: "pass",
    State.FORCED_CLOSED: "pass",
    State.HALF_OPEN: "warn",
    State.OPEN: "warn",
    State.FORCED_OPEN: "warn",
}


@dataclass(frozen=True, slots=True)
class HealthPaths:
    live: str = "/health/live"
    ready: str = "/health/ready"
    metrics: str = "/health/metrics"
    chaos: str = "/health/chaos"


class Health:
    """Wraps an ASGI app (or stands alone) and answers the health paths itself.

    Readiness runs the registered checks concurrently, each under its own timeout, and
    caches the report for ``cache_ttl`` seconds; concurrent probes while a run is in flight
    share that run (single flight), so a probe storm costs the dependencies one check each.
    Breakers in ``registry`` appear as ``<name>:circuitBreaker`` checks: an open one warns,
    or fails readiness when ``fail_ready_on_open``. Liveness never looks at dependencies.
    Health, metrics and chaos paths are left out of the request metrics and of fault
    injection.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        checks: Sequence[Check] = (),
        registry: Registry | None = None,
        fail_ready_on_open: bool = False,
        require_startup: bool = False,
        cache_ttl: float = 1.0,
        paths: HealthPaths | None = None,
        chaos: ChaosHooks | None = None,
        service: str | None = None,
    ) -> None:
        if cache_ttl < 0:
            raise ValueError(f"cache_ttl must be >= 0, got {cache_ttl!r}")
        self.app = app
        self.checks = list(checks)
        self.registry = registry if registry is not None else default_registry
        self.fail_ready_on_open = fail_ready_on_open
        self.require_startup = require_startup
        self.cache_ttl = cache_ttl
        self.paths = paths or HealthPaths()
        self.chaos = chaos if chaos is not None and chaos.enabled else None
        self.service = service
        self.metrics = RequestMetrics()
        self.started = app is None
        self._born = time.monotonic()
        self._cached: tuple[float, int, dict[str, Any]] | None = None
        self._inflight: asyncio.Future[tuple[int, dict[str, Any]]] | None = None
        own = [self.paths.live, self.paths.ready, self.paths.metrics]
        if self.chaos is not None:
            own.append(self.paths.chaos)
        self._own = frozenset(own)

    def mark_started(self) -> None:
        """Declare startup done (also done on the app's ``lifespan.startup.complete``)."""
        self.started = True

    def add_check(self, check: Check) -> None:
        self.checks.append(check)
        self._cached = None

    def _document(self, status: str, checks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        doc: dict[str, Any] = {"status": status}
        if self.service:
            doc["serviceId"] = self.service
        doc["checks"] = checks
        return doc

    def liveness(self) -> dict[str, Any]:
        uptime = {
            "componentType": "system",
            "observedValue": round(time.monotonic() - self._born, 3),
            "observedUnit": "s",
            "status": "pass",
            "time": now_iso(),
        }
        return self._document("pass", {"uptime": [uptime]})

    async def _evaluate(self) -> tuple[int, dict[str, Any]]:
        checks = await run_checks(self.checks)
        for breaker in self.registry.breakers():
            state = breaker.state
            status = _BREAKER_STATUS[state]
            if status == "warn" and state in (State.OPEN, State.FORCED_OPEN) and self.fail_ready_on_open:
                status = "fail"
            checks[f"{breaker.name}:circuitBreaker"] = [
                {
                    "componentType": "component",
                    "observedValue": state.value,
                    "status": status,
                    "time": now_iso(),
                }
            ]
        if self.require_startup:
            checks["startup:completed"] = [
                {
                    "componentType": "system",
                    "observedValue": self.started,
                    "status": "pass" if self.started else "fail",
                    "time": now_iso(),
                }
            ]
        status = overall_status([e for entries in checks.values() for e in entries])
        return (503 if status == "fail" else 200), self._document(status, checks)

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        """The readiness report (HTTP status, document), cached and single-flight."""
        now = time.monotonic()
        cached = self._cached
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._evaluate())
            self._inflight.add_done_callback(self._settle)
        return await asyncio.shield(self._inflight)

    def _settle(self, future: asyncio.Future[tuple[int, dict[str, Any]]]) -> None:
        self._inflight = None
        if not future.cancelled() and future.exception() is None:
            code, doc = future.result()
            self._cached = (time.monotonic() + self.cache_ttl, code, doc)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path = scope.get("path", "")
        if kind == "http" and path in self._own:
            await self._serve_own(path, scope, receive, send)
            return
        if self.app is None:
            if kind == "http":
                await send_json(send, 404, {"error": "not found"})
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        if self.chaos is not None and await self.chaos.apply(scope, send):
            self.metrics.observe(scope.get("method", "GET"), 0, 0.0, injected=True)
            return
        await self.metrics.measure(self.app, scope, receive, send)

    async def _serve_own(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        if path == self.paths.chaos and self.chaos is not None:
            await self.chaos.handle(scope, receive, send)
            return
        if method not in ("GET", "HEAD"):
            await send_json(send, 405, {"error": f"method {method} not allowed"})
            return
        head = method == "HEAD"
        if path == self.paths.live:
            await send_json(send, 200, self.liveness(), content_type=HEALTH_JSON, head=head)
        elif path == self.paths.ready:
            code, doc = await self.readiness()
            await send_json(send, code, doc, content_type=HEALTH_JSON, head=head)
        else:
            text = self.metrics.render() + render_metrics(self.registry)
            await send_text(send, 200, text.encode(), PROMETHEUS_TEXT, head=head)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.started = True
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

        async def watch(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.started = True
            await send(message)

        assert self.app is not None
        await self.app(scope, receive, watch)
