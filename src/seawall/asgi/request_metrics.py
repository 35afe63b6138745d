"""Request metrics for the wrapped app: counts by method and status, and durations."""

from __future__ import annotations

import time

from seawall.resilience.metrics import metric_family

from ._http import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestMetrics"]


class RequestMetrics:
    """Counts and total durations of the app's requests.

    An ASGI app runs its requests on the event loop's one thread, so plain integer and float
    updates are never interleaved and need no lock.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._seconds: dict[str, float] = {}
        self._requests: dict[str, int] = {}

    def observe(self, method: str, status: int, seconds: float, *, injected: bool = False) -> None:
        key = (method, "injected" if injected else str(status))
        self._counts[key] = self._counts.get(key, 0) + 1
        self._seconds[method] = self._seconds.get(method, 0.0) + seconds
        self._requests[method] = self._requests.get(method, 0) + 1

    async def measure(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500  # if the app raises before starting a response
        started = time.perf_counter()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, watch)
        finally:
            self.observe(scope.get("method", "GET"), status, time.perf_counter() - started)

    def render(self) -> str:
        return (
            metric_family(
                "seawall_http_requests_total",
                "counter",
                "Requests the app answered, by method and status (health paths excluded).",
                [({"method": m, "status": s}, n) for (m, s), n in sorted(self._counts.items())],
            )
            + metric_family(
                "seawall_http_request_duration_seconds_sum",
                "counter",
                "Total seconds spent answering requests, by method.",
                [({"method": m}, round(v, 6)) for m, v in sorted(self._seconds.items())],
            )
            + metric_family(
                "seawall_http_request_duration_seconds_count",
                "counter",
                "Requests timed, by method.",
                [({"method": m}, n) for m, n in sorted(self._requests.items())],
            )
        )
