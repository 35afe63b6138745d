"""The demo's catalog and web services: ASGI apps behind seawall.asgi, web -> catalog through a breaker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from seawall.demo import free_port
from seawall.demo.services import App, Receive, Scope, Send, catalog_app, migrate, reply, web_app
from seawall.resilience import Registry, State


@contextmanager
def served(app: Any, port: int | None = None) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on 127.0.0.1; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def call(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """One HTTP request: status, headers (lower-case names) and the decoded JSON body."""
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, json.loads(exc.read())


def check(doc: dict[str, Any], key: str) -> dict[str, Any]:
    entry: dict[str, Any] = doc["checks"][key][0]
    return entry


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "catalog.db"
    migrate(path)
    return path


@pytest.fixture
def catalog(db: Path) -> Iterator[str]:
    with served(catalog_app(db)) as url:
        yield url


def test_catalog_lists_adds_and_is_ready_while_sqlite_answers(db: Path) -> None:
    with served(catalog_app(db)) as url:
        status, _, items = call(f"{url}/items")
        assert status == 200
        assert "lifebuoy" in [i["name"] for i in items]
        status, _, added = call(f"{url}/items", "POST", b'{"name": "pump"}')
        assert (status, added["name"]) == (201, "pump")
        assert call(f"{url}/items", "POST", b"not json")[0] == 400
        assert call(f"{url}/items", "DELETE")[0] == 405
        assert call(f"{url}/nope")[0] == 404
        status, headers, doc = call(f"{url}/health/ready")
        assert status == 200
        assert headers["content-type"] == "application/health+json"
        assert check(doc, "sqlite:items")["observedValue"] == 6
        assert check(doc, "startup:completed")["status"] == "pass"


def test_catalog_is_not_ready_without_its_table_but_stays_live(tmp_path: Path) -> None:
    with served(catalog_app(tmp_path / "empty.db")) as url:
        status, _, doc = call(f"{url}/health/ready")
        assert status == 503
        assert "no such table" in check(doc, "sqlite:items")["output"]
        assert call(f"{url}/health/live")[0] == 200


def test_web_lists_the_catalog_stores_orders_and_reports_its_checks(catalog: str, tmp_path: Path) -> None:
    files = tmp_path / "uploads"
    with served(web_app(catalog, files)) as web:
        status, _, page = call(f"{web}/")
        assert status == 200
        assert "lifebuoy" in [i["name"] for i in page["items"]]
        status, _, order = call(f"{web}/orders", "POST", b'{"item": 1}')
        assert status == 201
        assert json.loads((files / f"order-{order['order']}.json").read_text()) == {"item": 1}
        status, _, doc = call(f"{web}/health/ready")
        assert status == 200
        assert check(doc, "catalog:responseTime")["status"] == "pass"
        assert check(doc, "uploads:writable")["observedValue"] is True
        assert check(doc, "catalog:circuitBreaker")["observedValue"] == "closed"
        metrics = urllib.request.urlopen(f"{web}/health/metrics", timeout=5).read().decode()
        assert 'seawall_breaker_calls_total{breaker="catalog",outcome="success"}' in metrics
        assert 'seawall_http_requests_total{method="POST",status="201"} 1' in metrics


def test_a_dead_catalog_opens_webs_breaker_fails_readiness_not_liveness_and_recovers(
    db: Path, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there yet
    registry = Registry()
    with served(web_app(f"http://127.0.0.1:{port}", tmp_path / "up", registry=registry, open_for=0.5)) as web:
        breaker = registry.get_breaker("catalog")
        status, _, body = call(f"{web}/")
        assert status == 502
        assert "ConnectionRefusedError" in body["error"]
        assert breaker.counts()["failure"] == 3  # GET /items retried connection errors, all recorded
        status, _, doc = call(f"{web}/health/ready")
        assert status == 503
        assert check(doc, "catalog:responseTime")["status"] == "fail"
        wait_for(lambda: breaker.state is State.OPEN)
        status, headers, body = call(f"{web}/")
        assert status == 503
        assert headers["retry-after"] == "1"
        assert "circuit breaker 'catalog' is open" in body["error"]
        time.sleep(0.15)  # past readiness' cache
        status, _, doc = call(f"{web}/health/ready")
        assert status == 503
        assert check(doc, "catalog:circuitBreaker")["status"] == "fail"  # opted in
        assert "CircuitOpenError" in check(doc, "catalog:responseTime")["output"]
        assert call(f"{web}/health/live")[0] == 200  # never the breaker's business
        with served(catalog_app(db), port):
            wait_for(lambda: call(f"{web}/health/ready")[0] == 200)  # a half-open trial closed it
            assert breaker.state is State.CLOSED
            assert call(f"{web}/")[0] == 200


async def slow_catalog(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await asyncio.sleep(0.8)  # the demo's latency fault
        await reply(send, 200, [])


def test_a_slow_catalog_fails_webs_readiness_fast(tmp_path: Path) -> None:
    with served(slow_catalog) as catalog, served(web_app(catalog, tmp_path / "up")) as web:
        began = time.monotonic()
        status, _, doc = call(f"{web}/health/ready")
        took = time.monotonic() - began
        assert status == 503
        assert took < 0.5  # inside the 500 ms probe timeout of the demo stack
        assert check(doc, "catalog:responseTime")["output"] == (
            "TimeoutExceeded: 'catalog-ready' timed out after 0.2s"
        )


def test_catalogs_retry_after_keeps_webs_breaker_open_that_long(tmp_path: Path) -> None:
    async def unavailable(scope: Scope, receive: Receive, send: Send) -> None:
        await reply(send, 503, {"error": "maintenance"}, [(b"retry-after", b"30")])

    registry = Registry()
    fake = App({("GET", "/items"): unavailable, ("GET", "/health/ready"): unavailable})
    with served(fake) as catalog, served(web_app(catalog, tmp_path / "up", registry=registry)) as web:
        breaker = registry.get_breaker("catalog")
        for _ in range(4):
            assert call(f"{web}/")[0] == 502
        assert breaker.state is State.OPEN
        status, headers, _ = call(f"{web}/")
        assert status == 503
        assert 29 <= int(headers["retry-after"]) <= 30  # catalog's word, not open_for's 2 s


@pytest.mark.integration
def test_the_command_line_runs_the_services_and_sigterm_stops_them_cleanly(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "seawall.demo.services"]
    db = tmp_path / "catalog.db"
    subprocess.run([*cmd, "migrate", "--db", str(db)], check=True, capture_output=True, timeout=30)
    catalog_port, web_port = free_port(), free_port()
    catalog = subprocess.Popen(
        [*cmd, "catalog", "--port", str(catalog_port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    web = subprocess.Popen(
        [*cmd, "web", "--port", str(web_port), "--files", str(tmp_path / "up")],
        env={**os.environ, "CATALOG_URL": f"http://127.0.0.1:{catalog_port}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def ready() -> bool:
            try:
                return call(f"http://127.0.0.1:{web_port}/health/ready")[0] == 200
            except OSError:
                return False

        wait_for(ready, 20)
        assert "lifebuoy" in json.dumps(call(f"http://127.0.0.1:{web_port}/")[2])
        for proc in (web, catalog):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
            assert proc.stdout is not None
            assert b"Finished server process" in proc.stdout.read()
    finally:
        for proc in (web, catalog):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
