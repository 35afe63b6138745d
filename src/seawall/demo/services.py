"""The demo stack's services: `catalog` (items in SQLite), `web` (calls catalog, stores uploads), `migrate`.

Stdlib only, so the demo needs nothing beyond the package. Run as
``python -m seawall.demo.services {migrate,catalog,web} ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HEALTH_JSON = "application/health+json"
SEED = ["lifebuoy", "sandbag", "breakwater stone", "tide gauge", "storm shutter"]
STARTED = time.time()


def migrate(db: Path) -> None:
    """Create the catalog schema and seed it (idempotent): the stack's one-shot job."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
        conn.executemany("INSERT OR IGNORE INTO items(name) VALUES (?)", [(n,) for n in SEED])
    print(f"migrated {db}", flush=True)


def _health(status: str, checks: dict[str, Any]) -> dict[str, Any]:
    return {"status": status, "serviceId": "seawall-demo", "checks": checks}


class _Handler(BaseHTTPRequestHandler):
    """Shared plumbing: JSON replies, quiet access log with a timestamp."""

    server_version = "seawall-demo/1"

    def reply(self, code: int, body: dict[str, Any] | list[Any], ctype: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {self.address_string()} {format % args}\n")

    def live(self) -> None:
        uptime = {"observedValue": round(time.time() - STARTED, 1), "observedUnit": "s", "status": "pass"}
        self.reply(200, _health("pass", {"uptime": [uptime]}), HEALTH_JSON)


class CatalogHandler(_Handler):
    """GET /items, POST /items, health endpoints; data in SQLite."""

    db: Path

    def do_GET(self) -> None:
        if self.path == "/health/live":
            self.live()
        elif self.path == "/health/ready":
            try:
                with sqlite3.connect(self.db, timeout=1) as conn:
                    count = conn.execute("SELECT count(*) FROM items").fetchone()[0]
                check = {"observedValue": count, "observedUnit": "items", "status": "pass"}
                self.reply(200, _health("pass", {"sqlite:items": [check]}), HEALTH_JSON)
            except sqlite3.Error as exc:
                fail = {"status": "fail", "output": str(exc)}
                self.reply(503, _health("fail", {"sqlite:items": [fail]}), HEALTH_JSON)
        elif self.path == "/items":
            with sqlite3.connect(self.db, timeout=2) as conn:
                rows = conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
            self.reply(200, [{"id": i, "name": n} for i, n in rows])
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/items":
            self.reply(404, {"error": "not found"})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        with sqlite3.connect(self.db, timeout=2) as conn:
            cur = conn.execute("INSERT OR IGNORE INTO items(name) VALUES (?)", (str(body.get("name")),))
        self.reply(201, {"id": cur.lastrowid, "name": body.get("name")})


class WebHandler(_Handler):
    """GET / lists the catalog through catalog's API; POST /orders writes an order file."""

    catalog: str
    files: Path

    def _catalog(self, path: str, timeout: float = 2.0) -> Any:
        with urllib.request.urlopen(self.catalog.rstrip("/") + path, timeout=timeout) as resp:
            return json.loads(resp.read())

    def do_GET(self) -> None:
        if self.path == "/health/live":
            self.live()
        elif self.path == "/health/ready":
            checks: dict[str, Any] = {}
            try:
                started = time.monotonic()
                self._catalog("/health/ready", timeout=1.0)
                ms = round((time.monotonic() - started) * 1000, 1)
                checks["catalog:responseTime"] = [
                    {"observedValue": ms, "observedUnit": "ms", "status": "pass"}
                ]
            except (OSError, ValueError) as exc:
                checks["catalog:responseTime"] = [{"status": "fail", "output": str(exc)}]
            writable = self.files.is_dir()
            checks["uploads:writable"] = [
                {"observedValue": writable, "status": "pass" if writable else "fail"}
            ]
            ok = all(c[0]["status"] == "pass" for c in checks.values())
            self.reply(200 if ok else 503, _health("pass" if ok else "fail", checks), HEALTH_JSON)
        elif self.path == "/":
            try:
                self.reply(200, {"shop": "seawall demo", "items": self._catalog("/items")})
            except (OSError, ValueError) as exc:
                self.reply(502, {"error": f"catalog unavailable: {exc}"})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/orders":
            self.reply(404, {"error": "not found"})
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}"
        order_id = uuid.uuid4().hex[:12]
        target = self.files / f"order-{order_id}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(body)
        tmp.replace(target)
        self.reply(201, {"order": order_id})


def serve(handler: type[_Handler], port: int) -> None:
    """Serve until SIGTERM/SIGINT, then shut down cleanly."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"{handler.__name__} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()


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
        CatalogHandler.db = args.db
        serve(CatalogHandler, args.port)
    else:
        if not args.catalog_url:
            parser.error("web needs --catalog-url or CATALOG_URL")
        args.files.mkdir(parents=True, exist_ok=True)
        WebHandler.catalog, WebHandler.files = args.catalog_url, args.files
        serve(WebHandler, args.port)


if __name__ == "__main__":
    main()
