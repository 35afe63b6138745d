"""Health endpoints: live, ready (checks, cache, single flight, breakers), metrics, lifespan."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from seawall.asgi import Check, CheckResult, Health, HealthPaths
from seawall.resilience import AsyncTimeout, Registry

Scope = dict[str, Any]
Message = dict[str, Any]


async def plain_app(
    scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"app"})


async def request(
    app: Any,
    path: str,
    method: str = "GET",
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {"type": "http", "method": method, "path": path, "headers": headers or [], "query_string": b""}
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def get(app: Any, path: str, **kw: Any) -> tuple[int, dict[bytes, bytes], bytes]:
    return asyncio.run(request(app, path, **kw))


def test_live_passes_in_health_json_and_app_still_answers() -> None:
    health = Health(plain_app, registry=Registry())
    status, headers, body = get(health, "/health/live")
    assert status == 200
    assert headers[b"content-type"] == b"application/health+json"
    doc = json.loads(body)
    assert doc["status"] == "pass"
    assert doc["checks"]["uptime"][0]["observedUnit"] == "s"
    assert get(health, "/other")[2] == b"app"


def test_ready_reports_each_check_keyed_component_measurement() -> None:
    async def db() -> CheckResult:
        return CheckResult("pass", observed_value=3, observed_unit="connections")

    health = Health(
        plain_app,
        registry=Registry(),
        checks=[
            Check("postgres", db, measurement="connections"),
            Check("redis", lambda: True),
        ],
    )
    status, _, body = get(health, "/health/ready")
    doc = json.loads(body)
    assert status == 200
    assert doc["status"] == "pass"
    assert doc["checks"]["postgres:connections"][0]["observedValue"] == 3
    entry = doc["checks"]["redis:responseTime"][0]
    assert entry["observedUnit"] == "s"
    assert entry["status"] == "pass"
    assert "time" in entry


def test_failing_or_hanging_check_fails_readiness_but_not_liveness() -> None:
    def broken() -> None:
        raise ConnectionRefusedError("no db")

    async def hang() -> None:
        await asyncio.Event().wait()

    health = Health(
        plain_app,
        registry=Registry(),
        cache_ttl=0,
        checks=[
            Check("db", broken),
            Check("cache", hang, timeout=0.01),
            Check("search", lambda: False, critical=False),
        ],
    )
    status, _, body = get(health, "/health/ready")
    doc = json.loads(body)
    assert status == 503
    assert doc["status"] == "fail"
    assert "ConnectionRefusedError" in doc["checks"]["db:responseTime"][0]["output"]
    assert "timed out" in doc["checks"]["cache:responseTime"][0]["output"]
    assert doc["checks"]["search:responseTime"][0]["status"] == "warn"
    assert get(health, "/health/live")[0] == 200


def test_a_timeout_the_probe_reports_is_not_mistaken_for_the_checks_own() -> None:
    """A probe whose own call timed out (a pipeline's TimeoutExceeded) says so, not "timed out after 2s"."""

    async def slow_dependency() -> None:
        await AsyncTimeout(0.01, name="catalog-ready").call(asyncio.sleep, 5)

    health = Health(plain_app, registry=Registry(), checks=[Check("catalog", slow_dependency, timeout=2.0)])
    status, _, body = get(health, "/health/ready")
    output = json.loads(body)["checks"]["catalog:responseTime"][0]["output"]
    assert status == 503
    assert output == "TimeoutExceeded: 'catalog-ready' timed out after 0.01s"


def test_probe_storm_runs_each_check_once_and_caches() -> None:
    runs = 0

    async def slow_check() -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.01)

    health = Health(plain_app, registry=Registry(), cache_ttl=60, checks=[Check("dep", slow_check)])

    async def storm() -> list[int]:
        results = await asyncio.gather(*(request(health, "/health/ready") for _ in range(50)))
        again = await request(health, "/health/ready")
        return [r[0] for r in results] + [again[0]]

    statuses = asyncio.run(storm())
    assert statuses == [200] * 51
    assert runs == 1


def test_open_breaker_warns_by_default_and_fails_readiness_when_opted_in() -> None:
    registry = Registry()
    registry.breaker("catalog").force_open()
    status, _, body = get(Health(plain_app, registry=registry, cache_ttl=0), "/health/ready")
    doc = json.loads(body)
    assert status == 200
    assert doc["status"] == "warn"
    assert doc["checks"]["catalog:circuitBreaker"][0]["observedValue"] == "forced_open"
    strict = Health(plain_app, registry=registry, cache_ttl=0, fail_ready_on_open=True)
    assert get(strict, "/health/ready")[0] == 503
    assert get(strict, "/health/live")[0] == 200  # never liveness


def test_metrics_have_requests_and_breakers_but_not_health_paths() -> None:
    registry = Registry()
    registry.breaker("catalog").call(lambda: 1)
    health = Health(plain_app, registry=registry)
    get(health, "/a")
    get(health, "/b", method="POST")
    get(health, "/health/live")
    status, headers, body = get(health, "/health/metrics")
    text = body.decode()
    assert status == 200
    assert headers[b"content-type"].startswith(b"text/plain; version=0.0.4")
    assert 'seawall_http_requests_total{method="GET",status="200"} 1' in text
    assert 'seawall_http_requests_total{method="POST",status="200"} 1' in text
    assert 'seawall_breaker_calls_total{breaker="catalog",outcome="success"} 1' in text
    assert "/health" not in text


def test_paths_are_configurable_and_methods_checked() -> None:
    health = Health(
        plain_app, registry=Registry(), paths=HealthPaths(live="/livez", ready="/readyz", metrics="/metricz")
    )
    assert get(health, "/livez")[0] == 200
    assert get(health, "/readyz")[0] == 200
    assert get(health, "/health/live")[2] == b"app"
    assert get(health, "/livez", method="POST")[0] == 405
    status, _, body = get(health, "/livez", method="HEAD")
    assert status == 200
    assert body == b""


def test_readiness_waits_for_lifespan_startup() -> None:
    async def app_with_lifespan(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await plain_app(scope, receive, send)

    health = Health(app_with_lifespan, registry=Registry(), require_startup=True, cache_ttl=0)
    assert get(health, "/health/ready")[0] == 503

    async def lifespan() -> None:
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

        async def receive() -> Message:
            return next(messages)

        async def send(message: Any) -> None:
            pass

        await health({"type": "lifespan"}, receive, send)

    asyncio.run(lifespan())
    assert get(health, "/health/ready")[0] == 200


def test_standalone_health_app_404s_everything_else() -> None:
    health = Health(registry=Registry())
    assert get(health, "/health/ready")[0] == 200
    assert get(health, "/nope")[0] == 404


def test_bad_check_settings() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Check("x", lambda: None, timeout=0)
    with pytest.raises(ValueError, match="pass, warn or fail"):
        CheckResult("ok")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.integration
def test_wraps_a_starlette_app_served_by_uvicorn() -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Health(Starlette(routes=[Route("/hello", hello)]), registry=Registry(), require_startup=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/hello", timeout=5) as r:
            assert r.read() == b"hello"
        with urllib.request.urlopen(f"{base}/health/ready", timeout=5) as r:
            assert r.status == 200
            assert json.loads(r.read())["checks"]["startup:completed"][0]["status"] == "pass"
        with urllib.request.urlopen(f"{base}/health/metrics", timeout=5) as r:
            assert b'seawall_http_requests_total{method="GET",status="200"} 1' in r.read()
    finally:
        server.should_exit = True
        thread.join(10)
