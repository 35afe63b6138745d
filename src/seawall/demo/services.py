"""The demo stack's services: `catalog` (items in SQLite), `web` (calls catalog, stores uploads), `migrate`.

Both are small ASGI apps behind seawall.asgi's health endpoints (/health/live, /health/ready,
/health/metrics), served by uvicorn. web calls catalog through seawall.resilience: a retry on
connection errors, a circuit breaker and a short per-attempt timeout. Run as
``python -m seawall.demo.services {migrate,catalog,web} ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sqlite3
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from seawall.asgi import ChaosHooks, Check, CheckResult, Health
from seawall.resilience import (
    AsyncPipeline,
    AsyncRetry,
    AsyncTimeout,
    Backoff,
    CircuitOpenError,
    Registry,
)

SEED = ["lifebuoy", "sandbag", "breakwater stone", "tide gauge", "storm shutter"]
#: web's readiness asks catalog with this per-attempt timeout: under web's probe budget (250 ms)
READY_TIMEOUT = 0.2
#: each attempt of web's GET /items to catalog
ITEMS_TIMEOUT = 0.5
#: seconds web's breaker around catalog stays open before a trial call
OPEN_FOR = 2.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


def migrate(db: Path) -> None:
    """Create the catalog schema and seed it (idempotent): the stack's one-shot job."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
        conn.executemany("INSERT OR IGNORE INTO items(name) VALUES (?)", [(n,) for n in SEED])
    print(f"migrated {db}", flush=True)


# -- a little ASGI -----------------------------------------------------------------------------


async def reply(
    send: Send, status: int, payload: object, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send ``payload`` as a whole JSON response."""
    body = json.dumps(payload).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*start, *headers]})
    await send({"type": "http.response.body", "body": body})


async def read_json(receive: Receive, limit: int = 65536) -> Any:
    """The request body as JSON (an empty body reads as ``{}``); ValueError if it is not."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > limit:
            raise ValueError(f"request body over {limit} bytes")
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return json.loads(body or b"{}")


class App:
    """Routes ``(method, path)`` to handlers, runs ``startup`` on lifespan startup; 404/405 otherwise."""

    def __init__(
        self, routes: dict[tuple[str, str], Handler], startup: Callable[[], object] | None = None
    ) -> None:
        self.routes = routes
        self.startup = startup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                try:
                    if self.startup is not None:
                        self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        handler = self.routes.get((scope["method"], scope["path"]))
        if handler is not None:
            await handler(scope, receive, send)
        elif any(path == scope["path"] for _, path in self.routes):
            await reply(send, 405, {"error": f"method {scope['method']} not allowed"})
        else:
            await reply(send, 404, {"error": "not found"})


# -- catalog -----------------------------------------------------------------------------------


def catalog_app(db: Path) -> Health:
    """catalog: GET/POST /items on SQLite; ready while the items table answers a query."""

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(db, timeout=2)

    def count_items() -> CheckResult:
        with contextlib.closing(connect()) as conn:
            (count,) = conn.execute("SELECT count(*) FROM items").fetchone()
        return CheckResult("pass", count, "items")

    def read_items() -> list[dict[str, Any]]:
        with contextlib.closing(connect()) as conn:
            rows = conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
        return [{"id": i, "name": n} for i, n in rows]

    def add_item(name: str) -> int | None:
        with contextlib.closing(connect()) as conn, conn:
            return conn.execute("INSERT OR IGNORE INTO items(name) VALUES (?)", (name,)).lastrowid

    async def get_items(scope: Scope, receive: Receive, send: Send) -> None:
        await reply(send, 200, await asyncio.to_thread(read_items))

    async def post_items(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_json(receive)
            name = body["name"]
            if not isinstance(name, str) or not name:
                raise TypeError("name must be a non-empty string")
        except (ValueError, KeyError, TypeError) as exc:
            await reply(send, 400, {"error": f"expected {{'name': '...'}}: {exc}"})
            return
        await reply(send, 201, {"id": await asyncio.to_thread(add_item, name), "name": name})

    app = App({("GET", "/items"): get_items, ("POST", "/items"): post_items})
    return Health(
        app,
        checks=[Check("sqlite", count_items, measurement="items", timeout=1.0)],
        registry=Registry(),  # catalog calls nothing: no breakers of its own
        require_startup=True,
        cache_ttl=0.1,
        service="seawall-demo-catalog",
    )


# -- web ---------------------------------------------------------------------------------------


class UpstreamError(Exception):
    """catalog answered with an error status; ``headers`` carry its Retry-After, if any."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__(f"catalog answered {status}")
        self.status = status
        self.headers = headers


async def get_json(url: str) -> Any:
    """GET ``url`` (HTTP/1.1, one connection per call) and decode its JSON body.

    Plain asyncio streams, so a timeout cancels the call for real. Statuses >= 400 raise
    :class:`UpstreamError`; a reply that is not HTTP raises ``ConnectionError``.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        writer.write(
            f"GET {target or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        raw = await reader.read()  # to the end: the server closes after one response
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        raise ConnectionError(f"not an HTTP reply from {parts.netloc}: {status_line[:80]!r}") from None
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    if status >= 400:
        raise UpstreamError(status, headers)
    return json.loads(body)


def web_app(
    catalog_url: str, files: Path, *, registry: Registry | None = None, open_for: float = OPEN_FOR
) -> Health:
    """web: GET / lists catalog's items, POST /orders stores an order file.

    Calls to catalog go through one breaker (named ``catalog``): GET /items retries
    connection errors with a 0.5 s per-attempt timeout, readiness asks catalog's readiness
    once with a 0.2 s one. An open breaker fails web's readiness (``fail_ready_on_open``),
    never its liveness.
    """
    registry = registry if registry is not None else Registry()
    base = catalog_url.rstrip("/")
    breaker = registry.breaker(
        "catalog",
        window=10,
        min_calls=4,
        failure_rate=50,
        open_for=open_for,
        half_open_calls=1,
        max_half_open=10.0,
        failure_on=(OSError, UpstreamError),  # timeouts are OSErrors too
        ignore_on=lambda exc: isinstance(exc, UpstreamError) and exc.status < 500,  # our fault
    )
    items = AsyncPipeline(
        name="catalog-items",
        retry=registry.add(
            AsyncRetry(on=ConnectionError, attempts=3, backoff=Backoff(0.05, 0.2), name="catalog-items")
        ),
        breaker=breaker,
        attempt_timeout=registry.add(AsyncTimeout(ITEMS_TIMEOUT, name="catalog-items")),
    )
    ready = AsyncPipeline(
        name="catalog-ready",
        breaker=breaker,
        attempt_timeout=registry.add(AsyncTimeout(READY_TIMEOUT, name="catalog-ready")),
    )

    async def catalog_ready() -> None:
        async for attempt in ready.attempts():
            async with attempt:
                await get_json(f"{base}/health/ready")

    def uploads_writable() -> CheckResult:
        ok = files.is_dir() and os.access(files, os.W_OK)
        return CheckResult("pass" if ok else "fail", ok, output=None if ok else f"{files} is not writable")

    async def index(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            listed = await items.call(get_json, f"{base}/items")
        except CircuitOpenError as exc:
            wait = str(max(1, math.ceil(exc.retry_after))).encode()
            await reply(send, 503, {"error": f"catalog unavailable: {exc}"}, [(b"retry-after", wait)])
            return
        except (OSError, UpstreamError, ValueError) as exc:
            await reply(send, 502, {"error": f"catalog unavailable: {type(exc).__name__}: {exc}"})
            return
        await reply(send, 200, {"shop": "seawall demo", "items": listed})

    def store(order_id: str, body: bytes) -> None:
        target = files / f"order-{order_id}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(body)
        tmp.replace(target)

    async def orders(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            order = await read_json(receive)
        except ValueError as exc:
            await reply(send, 400, {"error": f"an order is JSON: {exc}"})
            return
        order_id = uuid.uuid4().hex[:12]
        await asyncio.to_thread(store, order_id, json.dumps(order).encode())
        await reply(send, 201, {"order": order_id})

    app = App(
        {("GET", "/"): index, ("POST", "/orders"): orders},
        startup=lambda: files.mkdir(parents=True, exist_ok=True),
    )
    return Health(
        app,
        checks=[
            Check("catalog", catalog_ready, timeout=1.0),
            Check("uploads", uploads_writable, measurement="writable", timeout=1.0),
        ],
        registry=registry,
        fail_ready_on_open=True,
        require_startup=True,
        cache_ttl=0.1,
        chaos=ChaosHooks(os.environ.get("SEAWALL_CHAOS_TOKEN"), registry=registry),
        service="seawall-demo-web",
    )


# -- serving -----------------------------------------------------------------------------------


def serve(app: Health, port: int) -> None:
    """Serve ``app`` with uvicorn until SIGTERM/SIGINT, then stop gracefully and exit 0."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="on", log_level="info", timeout_graceful_shutdown=5
        )
    )

    def stop(signum: int, frame: object) -> None:
        # Before uvicorn listens for signals this stops it before it starts; after its graceful
        # shutdown it raises the signal again for this handler, and a stop asked for is not a crash.
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.run()
    if not server.started and not server.should_exit:
        sys.exit(1)  # it could not start (port taken, startup failed): uvicorn said why


def main(argv: list[str] | None = None) -> None:
    """Command line of the demo services."""
    parser = argparse.ArgumentParser(prog="python -m seawall.demo.services")
    sub = parser.add_subparsers(dest="service", required=True)
    mig = sub.add_parser("migrate")
    mig.add_argument("--db", type=Path, required=True)
    cat = sub.add_parser("catalog")
    cat.add_argument("--port", type=int, required=True)
    cat.add_argument("--db", type=Path, required=True)
    web = sub.add_parser("web")
    web.add_argument("--port", type=int, required=True)
    # the address comes from the environment so a fault proxy can be put on the edge
    web.add_argument("--catalog-url", default=os.environ.get("CATALOG_URL"))
    web.add_argument("--files", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.service == "migrate":
        migrate(args.db)
    elif args.service == "catalog":
        serve(catalog_app(args.db), args.port)
    else:
        if not args.catalog_url:
            parser.error("web needs --catalog-url or CATALOG_URL")
        serve(web_app(args.catalog_url, args.files), args.port)


if __name__ == "__main__":
    main()
