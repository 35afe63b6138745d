"""The fault proxy: named TCP proxies (listen -> upstream), their toxics, TTLs and counters.

``ProxyServer`` is the in-process API an experiment runner drives; the HTTP control API
(api.py) is a thin layer over it. Every control operation changes state and returns without
waiting for traffic: links pick up the new toxics at once, and a removed toxic's pending waits end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from seawall.chaos.proxy.errors import (
    BadRequest,
    ListenError,
    ProxyExists,
    ProxyNotFound,
    ToxicExists,
    ToxicNotFound,
)
from seawall.chaos.proxy.link import Link
from seawall.chaos.proxy.spec import LinkRandom, ToxicSpec, parse_address, parse_toxic, update_toxic
from seawall.chaos.proxy.ttl import Expiries

log = logging.getLogger("seawall.proxy")

DEFAULT_TTL = 3600.0  # seconds; a fault nobody removes still goes away
DISABLED = "<disabled>"  # the TTL key of a proxy disabled through the API


@dataclass(frozen=True)
class ProxyStats:
    """Counters of one proxy for /metrics."""

    name: str
    enabled: bool
    bytes_upstream: int
    bytes_downstream: int
    connections_total: int
    connections_active: int
    faults_active: int
    faults_expired: int


class Proxy:
    """One listener forwarding to one upstream, with its toxics and live links."""

    def __init__(self, name: str, listen: str, upstream: str, rng: random.Random) -> None:
        self.name = name
        self.listen_addr = parse_address(listen or "127.0.0.1:0", "listen")
        self.upstream = parse_address(upstream, "upstream")
        self.upstream_text = upstream
        self.enabled = False
        self.toxics: dict[str, ToxicSpec] = {}
        self.links: set[Link] = set()
        self._rng = rng
        self._server: asyncio.Server | None = None
        self._closed_bytes = [0, 0]
        self.connections_total = 0
        self.expired = 0

    @property
    def listen(self) -> str:
        host, port = self.listen_addr
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def down(self) -> bool:
        """A ``down`` toxic is active: the listener is closed."""
        return any(t.type == "down" for t in self.toxics.values())

    def to_json(self) -> dict[str, Any]:
        """The Toxiproxy 2.x proxy shape, toxics included."""
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream_text,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxics.values()],
        }

    async def start(self) -> None:
        """Listen (the port chosen the first time is kept, so a re-enabled proxy comes back in place)."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        host, port = self.listen_addr
        try:
            self._server = await loop.create_server(
                self._accept, host, port, reuse_address=True, backlog=1024
            )
        except OSError as exc:
            raise ListenError(f"proxy {self.name}: cannot listen on {self.listen}: {exc.strerror}") from exc
        sock = self._server.sockets[0].getsockname()
        self.listen_addr = (host, int(sock[1]))

    def stop(self) -> None:
        """Stop listening and close every link (new connections are refused)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self.links):
            link.close()

    async def sync(self) -> None:
        """Listen or not, as ``enabled`` and the ``down`` toxic say; push toxics to live links."""
        if self.enabled and not self.down:
            await self.start()
        else:
            self.stop()
        for link in list(self.links):
            link.apply_toxics()

    def _accept(self) -> asyncio.BaseProtocol:
        rng = LinkRandom(self._rng.getrandbits(64), self.connections_total)
        link = Link(self, rng, asyncio.get_running_loop())
        self.links.add(link)
        self.connections_total += 1
        return link.client

    # -- LinkOwner ---------------------------------------------------------------------------
    def link_toxics(self, link: Link, stream: str) -> Sequence[ToxicSpec]:
        return [t for t in self.toxics.values() if t.stream == stream and t.type != "down"]

    def link_closed(self, link: Link) -> None:
        if link in self.links:
            self.links.discard(link)
            self._closed_bytes[0] += link.up.nbytes
            self._closed_bytes[1] += link.down.nbytes

    def stats(self) -> ProxyStats:
        up = self._closed_bytes[0] + sum(link.up.nbytes for link in self.links)
        down = self._closed_bytes[1] + sum(link.down.nbytes for link in self.links)
        faults = len(self.toxics) + (0 if self.enabled else 1)
        return ProxyStats(
            self.name, self.enabled, up, down, self.connections_total, len(self.links), faults, self.expired
        )


class ProxyServer:
    """All proxies of one process: create, update, delete, toxics, reset, TTL expiry.

    ``seed`` makes toxicity draws and jitter reproducible (per proxy: its name is mixed in); a toxic
    created with its own ``seed`` draws its toxicity from that instead (see ``ToxicSpec``).
    ``default_ttl`` (seconds, None: none) applies to every fault created without a ``ttl``.
    """

    def __init__(self, *, seed: int | None = None, default_ttl: float | None = DEFAULT_TTL) -> None:
        self.seed = seed if seed is not None else random.SystemRandom().getrandbits(32)
        self.default_ttl = default_ttl
        self.proxies: dict[str, Proxy] = {}
        self._expiries: Expiries[tuple[str, str]] = Expiries()
        self._changed = asyncio.Event()
        self._reaper: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the TTL reaper (proxies listen as they are added)."""
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap())

    async def stop(self) -> None:
        """Close every listener and link and stop the reaper; the proxies are forgotten."""
        for proxy in self.proxies.values():
            proxy.stop()
        self.proxies.clear()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- proxies -----------------------------------------------------------------------------
    def get(self, name: str) -> Proxy:
        """The proxy called ``name``; ProxyNotFound otherwise."""
        try:
            return self.proxies[name]
        except KeyError:
            raise ProxyNotFound(name) from None

    async def add_proxy(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> Proxy:
        """Create a proxy and, if enabled, start listening; returns it with its bound address."""
        if not name:
            raise BadRequest("missing required field: name")
        if not upstream:
            raise BadRequest("missing required field: upstream")
        if name in self.proxies:
            raise ProxyExists(name)
        proxy = Proxy(name, listen, upstream, random.Random(f"{self.seed}:{name}"))
        proxy.enabled = enabled
        await proxy.sync()
        self.proxies[name] = proxy
        self._set_disabled_ttl(proxy)
        log.info("proxy %s listening on %s -> %s", name, proxy.listen, upstream)
        return proxy

    async def update_proxy(
        self,
        name: str,
        *,
        listen: str | None = None,
        upstream: str | None = None,
        enabled: bool | None = None,
    ) -> Proxy:
        """Change a proxy's fields; a new listen address or a disable closes its links."""
        proxy = self.get(name)
        if upstream is not None and upstream != proxy.upstream_text:
            proxy.upstream, proxy.upstream_text = parse_address(upstream, "upstream"), upstream
            proxy.stop()
        if listen is not None and parse_address(listen, "listen") != proxy.listen_addr:
            proxy.stop()
            proxy.listen_addr = parse_address(listen, "listen")
        if enabled is not None:
            proxy.enabled = enabled
        await proxy.sync()
        self._set_disabled_ttl(proxy)
        return proxy

    async def remove_proxy(self, name: str) -> None:
        """Delete a proxy: its listener and links close."""
        proxy = self.get(name)
        proxy.stop()
        del self.proxies[name]
        for key in (DISABLED, *proxy.toxics):
            self._expiries.discard((name, key))

    async def populate(self, items: Iterable[Mapping[str, Any]]) -> list[Proxy]:
        """Create or replace proxies from Toxiproxy populate items; same listen and upstream are kept."""
        result = []
        for item in items:
            if not isinstance(item, Mapping):
                raise BadRequest("bad request body: expected a list of proxies")
            name, upstream = item.get("name") or "", item.get("upstream") or ""
            if not name or not upstream:
                raise BadRequest(f"missing required field: {'name' if not name else 'upstream'}")
            listen = item.get("listen") or "127.0.0.1:0"
            existing = self.proxies.get(name)
            port = parse_address(listen, "listen")[1]
            if existing is not None and (
                existing.upstream_text != upstream or port not in (0, existing.listen_addr[1])
            ):
                await self.remove_proxy(name)
                existing = None
            enabled = item.get("enabled", True) is not False
            if existing is None:
                existing = await self.add_proxy(name, upstream, listen, enabled)
            result.append(existing)
        return result

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's POST /reset)."""
        for proxy in self.proxies.values():
            for toxic in proxy.toxics:
                self._expiries.discard((proxy.name, toxic))
            proxy.toxics.clear()
            proxy.enabled = True
            self._set_disabled_ttl(proxy)
            await proxy.sync()

    # -- toxics ------------------------------------------------------------------------------
    async def add_toxic(self, proxy_name: str, toxic: Mapping[str, Any] | ToxicSpec) -> ToxicSpec:
        """Add a toxic (a Toxiproxy JSON body or a ToxicSpec); it applies to live and new links."""
        proxy = self.get(proxy_name)
        spec = toxic if isinstance(toxic, ToxicSpec) else parse_toxic(toxic, self.default_ttl)
        if spec.seed is not None:
            # seeded draws count links from here, so the same seed hits the same connections of a replay
            spec = replace(spec, first_link=proxy.connections_total)
        if spec.name in proxy.toxics:
            raise ToxicExists(spec.name)
        proxy.toxics[spec.name] = spec
        self._set_ttl(proxy, spec)
        await proxy.sync()
        return spec

    async def update_toxic(self, proxy_name: str, name: str, changes: Mapping[str, Any]) -> ToxicSpec:
        """Merge attributes, toxicity and ttl into a toxic; links rebuild its stage."""
        proxy = self.get(proxy_name)
        if name not in proxy.toxics:
            raise ToxicNotFound(name)
        spec = update_toxic(proxy.toxics[name], changes)
        proxy.toxics[name] = spec
        if changes.get("ttl") is not None:
            self._set_ttl(proxy, spec)
        await proxy.sync()
        return spec

    async def remove_toxic(self, proxy_name: str, name: str) -> None:
        """Remove a toxic; returns at once, whatever traffic is in flight."""
        proxy = self.get(proxy_name)
        if proxy.toxics.pop(name, None) is None:
            raise ToxicNotFound(name)
        self._expiries.discard((proxy_name, name))
        await proxy.sync()

    def expires_in(self, proxy_name: str, name: str) -> float | None:
        """Seconds until a toxic (or, with DISABLED, a disabled proxy) is removed by its TTL."""
        deadline = self._expiries.deadline((proxy_name, name))
        return None if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())

    # -- TTL ---------------------------------------------------------------------------------
    def _set_ttl(self, proxy: Proxy, spec: ToxicSpec) -> None:
        now = asyncio.get_running_loop().time()
        self._expiries.set((proxy.name, spec.name), None if spec.ttl is None else now + spec.ttl)
        self._changed.set()

    def _set_disabled_ttl(self, proxy: Proxy) -> None:
        # Disabling a proxy is a fault too: it is undone after the default TTL.
        ttl = None if proxy.enabled or self.default_ttl is None else self.default_ttl
        key = (proxy.name, DISABLED)
        if ttl is None or self._expiries.deadline(key) is None:
            self._expiries.set(key, None if ttl is None else asyncio.get_running_loop().time() + ttl)
        self._changed.set()

    async def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = self._expiries.next_deadline()
            self._changed.clear()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            for proxy_name, toxic in self._expiries.pop_due(loop.time()):
                proxy = self.proxies.get(proxy_name)
                if proxy is None:
                    continue
                log.info("proxy %s: fault %s expired", proxy_name, toxic)
                proxy.expired += 1
                if toxic == DISABLED:
                    proxy.enabled = True
                else:
                    proxy.toxics.pop(toxic, None)
                with contextlib.suppress(ListenError):
                    await proxy.sync()

    def stats(self) -> list[ProxyStats]:
        """Counters of every proxy, by name."""
        return [self.proxies[name].stats() for name in sorted(self.proxies)]


__all__ = ["DEFAULT_TTL", "Proxy", "ProxyServer", "ProxyStats"]
