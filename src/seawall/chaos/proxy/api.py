"""The Toxiproxy 2.x-compatible HTTP control API over a ProxyServer, plus GET /metrics.

Paths, JSON shapes and status codes follow Toxiproxy's api.go: 201 on create and populate,
204 on delete and reset, errors as ``{"error": message, "status": code}``, and browsers (a
``Mozilla/`` user agent) refused with 403 so a web page cannot drive the proxy.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from seawall.chaos.proxy.errors import BadRequest, ListenError, ProxyRequestError
from seawall.chaos.proxy.metrics import CONTENT_TYPE, render
from seawall.chaos.proxy.server import ProxyServer

API_VERSION = "2.12.0"  # the Toxiproxy API level this server speaks

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


def _error(message: str, status: int) -> web.Response:
    return _json({"error": message, "status": status}, status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(text="User agent not allowed\n", status=403)
    try:
        return await handler(request)
    except ProxyRequestError as exc:
        return _error(exc.message, exc.status)
    except ListenError as exc:
        return _error(exc.message, 500)


async def _body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError as exc:
        raise BadRequest(f"bad request body: {exc}") from None


class ControlApi:
    """Routes of the control API bound to one ProxyServer."""

    def __init__(self, server: ProxyServer, version: str | None = None) -> None:
        self.server = server
        if version is None:
            from seawall import __version__

            version = f"{API_VERSION}+seawall.{__version__}"
        self.version = version

    def app(self) -> web.Application:
        """The aiohttp application serving every route."""
        app = web.Application(middlewares=[_errors])
        r = app.router
        r.add_post("/reset", self.reset)
        r.add_get("/proxies", self.proxy_index)
        r.add_post("/proxies", self.proxy_create)
        r.add_post("/populate", self.populate)
        r.add_get("/proxies/{proxy}", self.proxy_show)
        r.add_post("/proxies/{proxy}", self.proxy_update)
        r.add_patch("/proxies/{proxy}", self.proxy_update)
        r.add_delete("/proxies/{proxy}", self.proxy_delete)
        r.add_get("/proxies/{proxy}/toxics", self.toxic_index)
        r.add_post("/proxies/{proxy}/toxics", self.toxic_create)
        r.add_get("/proxies/{proxy}/toxics/{toxic}", self.toxic_show)
        r.add_post("/proxies/{proxy}/toxics/{toxic}", self.toxic_update)
        r.add_patch("/proxies/{proxy}/toxics/{toxic}", self.toxic_update)
        r.add_delete("/proxies/{proxy}/toxics/{toxic}", self.toxic_delete)
        r.add_get("/version", self.version_show)
        r.add_get("/metrics", self.metrics)
        return app

    async def reset(self, request: web.Request) -> web.Response:
        await self.server.reset()
        return web.Response(status=204)

    async def proxy_index(self, request: web.Request) -> web.Response:
        return _json({name: p.to_json() for name, p in self.server.proxies.items()})

    async def proxy_create(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise BadRequest("bad request body: expected a JSON object")
        name, upstream = body.get("name"), body.get("upstream")
        if not isinstance(name, str) or not name:
            raise BadRequest("missing required field: name")
        if not isinstance(upstream, str) or not upstream:
            raise BadRequest("missing required field: upstream")
        listen = body.get("listen") or "127.0.0.1:0"
        proxy = await self.server.add_proxy(name, upstream, listen, body.get("enabled", True) is not False)
        return _json(proxy.to_json(), 201)

    async def populate(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, dict) and "proxies" in body:
            body = body["proxies"]  # the config-file shape some tools send
        if not isinstance(body, list):
            raise BadRequest("bad request body: expected a list of proxies")
        try:
            proxies = await self.server.populate(body)
        except (ProxyRequestError, ListenError) as exc:
            status = exc.status if isinstance(exc, ProxyRequestError) else 500
            return _json({"error": exc.message, "status": status, "proxies": []}, status)
        return _json({"proxies": [p.to_json() for p in proxies]}, 201)

    async def proxy_show(self, request: web.Request) -> web.Response:
        return _json(self.server.get(request.match_info["proxy"]).to_json())

    async def proxy_update(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise BadRequest("bad request body: expected a JSON object")
        enabled = body.get("enabled")
        proxy = await self.server.update_proxy(
            request.match_info["proxy"],
            listen=body.get("listen") or None,
            upstream=body.get("upstream") or None,
            enabled=None if enabled is None else bool(enabled),
        )
        return _json(proxy.to_json())

    async def proxy_delete(self, request: web.Request) -> web.Response:
        await self.server.remove_proxy(request.match_info["proxy"])
        return web.Response(status=204)

    async def toxic_index(self, request: web.Request) -> web.Response:
        proxy = self.server.get(request.match_info["proxy"])
        return _json([t.to_json() for t in proxy.toxics.values()])

    async def toxic_create(self, request: web.Request) -> web.Response:
        spec = await self.server.add_toxic(request.match_info["proxy"], await _body(request))
        return _json(spec.to_json())

    async def toxic_show(self, request: web.Request) -> web.Response:
        proxy = self.server.get(request.match_info["proxy"])
        toxic = proxy.toxics.get(request.match_info["toxic"])
        if toxic is None:
            return _error("toxic not found", 404)
        return _json(toxic.to_json())

    async def toxic_update(self, request: web.Request) -> web.Response:
        body = await _body(request)
        spec = await self.server.update_toxic(request.match_info["proxy"], request.match_info["toxic"], body)
        return _json(spec.to_json())

    async def toxic_delete(self, request: web.Request) -> web.Response:
        await self.server.remove_toxic(request.match_info["proxy"], request.match_info["toxic"])
        return web.Response(status=204)

    async def version_show(self, request: web.Request) -> web.Response:
        return web.Response(
            text=json.dumps({"version": self.version}) + "\n",
            content_type="application/json",
            charset="utf-8",
        )

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=render(self.server.stats()).encode(), headers={"Content-Type": CONTENT_TYPE})


__all__ = ["API_VERSION", "ControlApi"]
