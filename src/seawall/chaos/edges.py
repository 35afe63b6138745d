"""Edges: which component calls which, and rewiring callers through one fault-proxy listener per edge.

A component declares ``edges: {catalog: CATALOG_URL}``: it calls ``catalog`` at the address held in
its env var ``CATALOG_URL``. ``plan_edges`` (pure) turns every edge into a route from a proxy
listener to that address; ``rewrite_env`` returns the stack with each caller's variable pointing at
its listener; ``proxy_definitions`` is the Toxiproxy ``populate`` body that creates the listeners.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from seawall.config import StackConfig
from seawall.errors import ConfigError, UsageError

# host:port inside a URL (scheme://[user@]host:port) or alone; IPv6 in brackets
_ADDRESS = re.compile(r"(?:(?<=://)|(?<=@)|^)(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})(?=[/?#]|$)")


@dataclass(frozen=True, slots=True)
class EdgeRoute:
    """One edge routed through the proxy: the caller's ``env_var`` points at ``listen``."""

    caller: str
    callee: str
    env_var: str
    upstream: str  # host:port the callee really listens on
    listen: str  # host:port of the proxy listener

    @property
    def edge(self) -> str:
        """``caller->callee``."""
        return f"{self.caller}->{self.callee}"

    @property
    def proxy(self) -> str:
        """The proxy's name in the control API."""
        return proxy_name(self.caller, self.callee)


def parse_edge(text: str) -> tuple[str, str]:
    """``"web->catalog"`` as ``("web", "catalog")``."""
    caller, sep, callee = text.partition("->")
    caller, callee = caller.strip(), callee.strip()
    if not sep or not caller or not callee:
        raise UsageError(f"invalid edge {text!r}: write it as 'caller->callee', e.g. 'web->catalog'")
    return caller, callee


def join_edges(edges: list[str]) -> str:
    """Several edges as one target string (a partition's): ``"web->catalog, worker->catalog"``."""
    return ", ".join(edges)


def split_edges(target: str) -> list[str]:
    """The edges of a target string; one edge gives a one-item list."""
    return [edge.strip() for edge in target.split(",") if edge.strip()]


def proxy_name(caller: str, callee: str) -> str:
    """The control-API name of the proxy of edge ``caller->callee`` (URL-safe)."""
    return f"{caller}_to_{callee}"


def find_address(value: str) -> tuple[int, int] | None:
    """The span of the ``host:port`` in an env value (a URL or a bare address), or None."""
    match = _ADDRESS.search(value.strip())
    if match is None:
        return None
    offset = len(value) - len(value.lstrip())
    return match.start() + offset, match.end() + offset


def plan_edges(
    stack: StackConfig, allocate: Callable[[str], int], host: str = "127.0.0.1"
) -> list[EdgeRoute]:
    """A route per declared edge; ``allocate(edge)`` gives the listener port (pure given it)."""
    routes = []
    for caller, spec in stack.components.items():
        for callee, var in spec.edges.items():
            value = spec.env.get(var)
            if value is None:
                raise ConfigError(
                    f"edge {caller}->{callee} names env var {var!r}, which {caller!r} does not set",
                    key=f"components.{caller}.edges.{callee}",
                )
            span = find_address(value)
            if span is None:
                raise ConfigError(
                    f"edge {caller}->{callee}: no host:port in {var}={value!r}",
                    key=f"components.{caller}.env.{var}",
                )
            upstream = value[span[0] : span[1]]
            routes.append(
                EdgeRoute(caller, callee, var, upstream, f"{host}:{allocate(f'{caller}->{callee}')}")
            )
    return routes


def rewrite_env(stack: StackConfig, routes: list[EdgeRoute]) -> StackConfig:
    """The stack with each caller's edge variable pointing at its proxy listener (a new model)."""
    components = dict(stack.components)
    for route in routes:
        spec = components[route.caller]
        value = spec.env[route.env_var]
        span = find_address(value)
        if span is None:  # plan_edges checked it; the env changed in between
            raise ConfigError(f"edge {route.edge}: no host:port in {route.env_var}")
        env = {**spec.env, route.env_var: value[: span[0]] + route.listen + value[span[1] :]}
        components[route.caller] = spec.model_copy(update={"env": env})
    rewired = stack.model_copy(update={"components": components})
    return rewired.bind(stack.root, stack.source)


def proxy_definitions(routes: list[EdgeRoute]) -> list[dict[str, object]]:
    """The Toxiproxy ``POST /populate`` body creating one listener per route."""
    return [{"name": r.proxy, "listen": r.listen, "upstream": r.upstream, "enabled": True} for r in routes]


__all__ = [
    "EdgeRoute",
    "find_address",
    "join_edges",
    "parse_edge",
    "plan_edges",
    "proxy_definitions",
    "proxy_name",
    "rewrite_env",
    "split_edges",
]
