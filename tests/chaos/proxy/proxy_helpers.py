"""Test helpers: a fault proxy, its control API and test upstreams on a loop in a background thread.

Tests drive real loopback sockets from the main thread with blocking calls and timeouts, so
measured delays are the proxy's, not the test's scheduling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

from seawall.chaos.proxy import ControlApi, ProxyServer

T = TypeVar("T")


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(256 * 1024):
            pass
    writer.close()


async def _http(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(text=f"ok {request.method} {request.path} {len(body)}")


class Harness:
    """The proxy server, API and upstreams (echo, sink, http) of one test."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = ProxyServer(seed=7)
        self.echo_port = self.sink_port = self.http_port = self.api_port = 0
        self._closers: list[Any] = []
        self.call(self._start())

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the harness loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        await self.server.start()
        self.echo_port = await self._stream_server(_echo)
        self.sink_port = await self._stream_server(_sink)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", _http)
        self.http_port = await self._web_server(app)
        self.api_port = await self._web_server(ControlApi(self.server).app())

    async def _web_server(self, app: web.Application) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._closers.append(runner.cleanup)
        return int(runner.addresses[0][1])

    async def _stream_server(self, handler: Any) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)

        async def close() -> None:
            server.close()

        self._closers.append(close)
        return int(server.sockets[0].getsockname()[1])

    def proxy(self, name: str, upstream_port: int) -> int:
        """Create a proxy to an upstream port; its listening port."""
        proxy = self.call(self.server.add_proxy(name, f"127.0.0.1:{upstream_port}"))
        return proxy.listen_addr[1]

    def toxic(self, proxy: str, **body: Any) -> None:
        self.call(self.server.add_toxic(proxy, body))

    def remove(self, proxy: str, toxic: str) -> None:
        self.call(self.server.remove_toxic(proxy, toxic))

    def api(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """(status, decoded JSON or text) of a control API request."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{path}", data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
            exc.close()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    async def _stop(self) -> None:
        await self.server.stop()
        for closer in self._closers:
            await closer()
        # Let closed transports release their sockets, then end what the upstreams still run.
        await asyncio.sleep(0.1)
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0.05)

    def close(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    """A blocking client socket to 127.0.0.1:port."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def recv_all(sock: socket.socket) -> bytes:
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)
