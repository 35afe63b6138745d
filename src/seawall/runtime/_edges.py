"""The stack's fault proxy, hosted by the supervisor: one listener per edge, ports kept in edges.json.

``EdgeProxy.start`` (in the daemon's event loop) plans a route per declared edge, reusing the
listener ports of ``<state_dir>/edges.json`` for edges that did not change, starts the in-process
fault proxy with its Toxiproxy-compatible control API, writes ``<state_dir>/proxy.json``
(``{"api": url, "pid": daemon pid, "edges": {edge: listen}}``) and returns the stack whose callers'
env variables point at their listeners. ``stop`` closes it all and removes proxy.json.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from seawall.config import StackConfig

if TYPE_CHECKING:
    from seawall.chaos.edges import EdgeRoute
    from seawall.chaos.proxy import ProxyService

log = logging.getLogger("seawall.supervisor")

EDGES_FILE = "edges.json"
PROXY_FILE = "proxy.json"
HOST = "127.0.0.1"


def has_edges(stack: StackConfig) -> bool:
    """Whether any component declares an edge (only then does the supervisor host a proxy)."""
    return any(spec.edges for spec in stack.components.values())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stack_proxy_api(state_dir: Path) -> str | None:
    """The control API URL in ``proxy.json`` while the supervisor that wrote it lives, else None."""
    data = _read_json(state_dir / PROXY_FILE)
    api, pid = data.get("api"), data.get("pid")
    if not isinstance(api, str) or not isinstance(pid, int):
        return None
    # a supervisor killed with SIGKILL leaves the file behind; its proxy died with it
    try:
        alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        alive = False
    return api if alive else None


def free_ports(count: int, avoid: set[int]) -> list[int]:
    """``count`` distinct ports the OS says are free on 127.0.0.1, none of them in ``avoid``."""
    ports: list[int] = []
    with ExitStack() as held:
        # every socket stays bound until all are chosen, so the OS never hands out one port twice
        while len(ports) < count:
            sock = held.enter_context(socket.socket())
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
            if port not in avoid:
                ports.append(port)
    return ports


def plan_routes(stack: StackConfig, saved: dict[str, Any]) -> list[EdgeRoute]:
    """A route per edge: the saved port when caller, env var and upstream are unchanged, else a new one."""
    from seawall.chaos.edges import plan_edges

    draft = plan_edges(stack, lambda edge: 0, HOST)
    ports: dict[str, int] = {}
    for route in draft:
        old = saved.get(route.edge)
        if (
            isinstance(old, dict)
            and old.get("env_var") == route.env_var
            and old.get("upstream") == route.upstream
            and isinstance(old.get("port"), int)
            and old["port"] not in ports.values()
        ):
            ports[route.edge] = old["port"]
    declared = {p for spec in stack.components.values() for p in spec.ports}
    missing = [r.edge for r in draft if r.edge not in ports]
    for edge, port in zip(missing, free_ports(len(missing), declared | set(ports.values())), strict=True):
        ports[edge] = port
    return plan_edges(stack, ports.__getitem__, HOST)


class EdgeProxy:
    """The fault proxy of one stack, living as long as its supervisor."""

    def __init__(self, stack: StackConfig, state_dir: Path) -> None:
        self.stack = stack
        self.edges_file = state_dir / EDGES_FILE
        self.proxy_file = state_dir / PROXY_FILE
        self.routes: list[EdgeRoute] = []
        self.service: ProxyService | None = None

    @property
    def api(self) -> str | None:
        """The control API URL while the proxy runs."""
        return None if self.service is None else f"http://{HOST}:{self.service.port}"

    def plan(self) -> list[EdgeRoute]:
        """Plan the routes from the saved ports (raises ConfigError for an edge it cannot route)."""
        saved = _read_json(self.edges_file)
        edges = saved.get("edges")
        self.routes = plan_routes(self.stack, edges if isinstance(edges, dict) else {})
        return self.routes

    async def start(self) -> StackConfig:
        """Serve the proxy and its API; the stack with callers rewired through it."""
        from seawall.chaos.edges import rewrite_env
        from seawall.errors import ConfigError

        if not self.routes:
            self.plan()
        saved_api = _read_json(self.edges_file).get("api_port")
        api_port = saved_api if isinstance(saved_api, int) else 0
        try:
            self.service = await self._serve(api_port)
        except ConfigError as exc:
            # a saved listener port was taken while no supervisor held it: new ports for every edge
            log.warning("cannot reuse the saved edge ports (%s); choosing new ones", exc)
            self.routes = plan_routes(self.stack, {})
            self.service = await self._serve(api_port)
        _write_json(
            self.edges_file,
            {
                "edges": {
                    r.edge: {"env_var": r.env_var, "upstream": r.upstream, "port": _port(r.listen)}
                    for r in self.routes
                },
                "api_port": self.service.port,
            },
        )
        _write_json(
            self.proxy_file,
            {"api": self.api, "pid": os.getpid(), "edges": {r.edge: r.listen for r in self.routes}},
        )
        for route in self.routes:
            log.info("edge %s: %s -> %s (%s)", route.edge, route.listen, route.upstream, route.env_var)
        return rewrite_env(self.stack, self.routes)

    async def _serve(self, api_port: int) -> ProxyService:
        from seawall.chaos.edges import proxy_definitions
        from seawall.chaos.proxy import ListenError, ProxyService

        service = ProxyService(HOST, api_port, proxies=proxy_definitions(self.routes))
        try:
            await service.startup()
        except ListenError:
            if api_port == 0:
                raise
            # the saved API port is taken: any free one (proxy.json tells clients where it is)
            log.warning("cannot reuse the proxy API port %d; choosing a new one", api_port)
            service = ProxyService(HOST, 0, proxies=proxy_definitions(self.routes))
            await service.startup()
        return service

    async def stop(self) -> None:
        """Forget proxy.json first (nobody should find a closing proxy), then close every listener."""
        with contextlib.suppress(FileNotFoundError):
            self.proxy_file.unlink()
        if self.service is not None:
            service, self.service = self.service, None
            await service.shutdown()


def _port(listen: str) -> int:
    return int(listen.rpartition(":")[2])


__all__ = [
    "EDGES_FILE",
    "PROXY_FILE",
    "EdgeProxy",
    "free_ports",
    "has_edges",
    "plan_routes",
    "stack_proxy_api",
]
