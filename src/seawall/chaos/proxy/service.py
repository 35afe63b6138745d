"""``seawall proxy`` as a long-running service: startup, main loop, graceful shutdown on signals."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from seawall.chaos.proxy.api import ControlApi
from seawall.chaos.proxy.errors import BadRequest, ListenError
from seawall.chaos.proxy.server import DEFAULT_TTL, ProxyServer
from seawall.errors import ConfigError

log = logging.getLogger("seawall.proxy")


def load_config(path: Path) -> list[dict[str, Any]]:
    """Proxies to create at startup: a Toxiproxy config (JSON list) or the same list in YAML."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=path) from exc
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else _yaml(text)
    except ValueError as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise ConfigError(f"not valid {kind}: {exc}", file=path) from exc
    if isinstance(data, dict) and "proxies" in data:
        data = data["proxies"]
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        raise ConfigError("expected a list of proxies ({name, listen, upstream})", file=path)
    return data


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc


class ProxyService:
    """The proxy server and its control API on ``host:port``, run until stopped."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8474,
        *,
        proxies: list[dict[str, Any]] | None = None,
        seed: int | None = None,
        default_ttl: float | None = DEFAULT_TTL,
    ) -> None:
        self.host, self.port = host, port
        self.server = ProxyServer(seed=seed, default_ttl=default_ttl)
        self._proxies = proxies or []
        self._runner: web.AppRunner | None = None
        self._stop = asyncio.Event()

    async def startup(self) -> None:
        """Start the reaper, create the configured proxies, then serve the API (port 0: any free port)."""
        await self.server.start()
        try:
            await self.server.populate(self._proxies)
        except (BadRequest, ListenError) as exc:
            await self.server.stop()
            raise ConfigError(f"proxies: {exc.message}") from exc
        self._runner = web.AppRunner(ControlApi(self.server).app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.shutdown()
            where = f"{self.host}:{self.port}"
            raise ListenError(f"cannot serve the control API on {where}: {exc.strerror}") from exc
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])
        log.info("fault proxy API on http://%s:%d (seed %d)", self.host, self.port, self.server.seed)

    def stop(self) -> None:
        """Ask the main loop to end (signal handlers call this)."""
        self._stop.set()

    async def shutdown(self) -> None:
        """Stop the API, close every listener and link."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.server.stop()

    async def serve(self) -> None:
        """The whole lifecycle: startup, wait for SIGINT/SIGTERM (or stop()), graceful shutdown."""
        loop = asyncio.get_running_loop()
        await self.startup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        try:
            await self._stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            log.info("fault proxy shutting down")
            await self.shutdown()


def run(service: ProxyService) -> None:
    """Run a service to completion, on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(service.serve())
    else:
        uvloop.run(service.serve())


__all__ = ["ProxyService", "load_config", "run"]
