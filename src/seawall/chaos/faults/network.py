"""Network faults on one edge, as toxics of the fault proxy, through its Toxiproxy-compatible HTTP API."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar

from seawall.chaos.edges import parse_edge, proxy_name
from seawall.chaos.faults.base import FaultContext, InjectionFailed, Inverse, RestoreFailed

if TYPE_CHECKING:
    from seawall.chaos.compose_edges import EdgeRouter

API_TIMEOUT = 5.0  # seconds; a control call never waits on live traffic

# fault kind -> (toxic type, default stream)
TOXIC_KINDS: dict[str, tuple[str, str]] = {
    "latency": ("latency", "downstream"),
    "bandwidth": ("bandwidth", "downstream"),
    "timeout": ("timeout", "downstream"),
    "reset_peer": ("reset_peer", "downstream"),
    "slow_close": ("slow_close", "downstream"),
    "slicer": ("slicer", "downstream"),
    "limit_data": ("limit_data", "downstream"),
    "down": ("down", "downstream"),
    "http_abort": ("http_abort", "upstream"),
    "http_delay": ("http_delay", "upstream"),
}


def call_api(api: str, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
    """One control request; (status, decoded JSON or None). Raises OSError when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        api.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=API_TIMEOUT) as response:
            raw = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
        exc.close()
    except urllib.error.URLError as exc:
        # unwrap, so callers can tell "nothing listens" (ConnectionRefusedError) from other failures
        if isinstance(exc.reason, OSError):
            raise exc.reason from exc
        raise
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _edge_router(ctx: FaultContext, api: str) -> EdgeRouter | None:
    """The router of a compose stack's edges when ``api`` is its own edge proxy, else None."""
    if ctx.stack.runtime != "compose":
        return None
    from seawall.chaos.compose_edges import router_for

    return router_for(ctx, api)


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class RemoveToxic:
    """Inverse of a network fault: delete the toxic (absent toxic, proxy or proxy server: nothing to do)."""

    kind: ClassVar[str] = "remove_toxic"

    def __init__(self, api: str, proxy: str, toxic: str) -> None:
        self.api = api
        self.proxy = proxy
        self.toxic = toxic

    def __call__(self, ctx: FaultContext) -> str:
        router = _edge_router(ctx, self.api)
        if router is None:
            return self._remove()
        # on a compose stack the edge's route goes too, even when the toxic could not be removed
        try:
            detail = self._remove()
        finally:
            routed = router.release(self.proxy, self.toxic)
        return f"{detail}; {routed}"

    def _remove(self) -> str:
        try:
            status, body = call_api(
                self.api, "DELETE", f"/proxies/{_quote(self.proxy)}/toxics/{_quote(self.toxic)}"
            )
        except ConnectionRefusedError:
            # toxics live in the proxy's memory: a proxy server that is not running holds none
            return f"proxy API {self.api} is not running: no toxic left"
        except OSError as exc:
            raise RestoreFailed(f"cannot remove toxic {self.toxic!r} from {self.proxy!r}: {exc}") from exc
        if status in (200, 204):
            return f"removed toxic {self.toxic} from {self.proxy}"
        if status == 404:
            return f"toxic {self.toxic} is not on {self.proxy}: nothing to remove"
        raise RestoreFailed(f"cannot remove toxic {self.toxic!r} from {self.proxy!r}: HTTP {status} {body}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "api": self.api, "proxy": self.proxy, "toxic": self.toxic}


class ProxyToxic:
    """One toxic on the proxy of an edge: latency, bandwidth, timeout, reset_peer, down, http_abort, ...

    Attributes use the proxy's (Toxiproxy's) units: milliseconds, KB/s, bytes. ``ttl`` (seconds)
    makes the proxy remove the toxic by itself even if nobody runs the inverse. ``seed`` (Seawall's
    proxy only; Toxiproxy ignores the field) decides which connections a partial ``toxicity`` hits.
    """

    kind: ClassVar[str] = "toxic"

    def __init__(
        self,
        fault_id: str,
        fault_kind: str,
        edge: str,
        attributes: dict[str, Any],
        *,
        api: str,
        stream: str | None = None,
        toxicity: float = 1.0,
        ttl: float | None = None,
        seed: int | None = None,
    ) -> None:
        if fault_kind not in TOXIC_KINDS:
            raise ValueError(f"unknown network fault {fault_kind!r}: use one of {', '.join(TOXIC_KINDS)}")
        self.id = fault_id
        self.fault_kind = fault_kind
        self.edge = edge
        self.caller, self.callee = parse_edge(edge)
        self.attributes = attributes
        self.api = api
        self.toxic_type, default_stream = TOXIC_KINDS[fault_kind]
        self.stream = stream or default_stream
        self.toxicity = toxicity
        self.ttl = ttl
        self.seed = seed

    @property
    def target(self) -> str:
        return self.edge

    @property
    def proxy(self) -> str:
        return proxy_name(self.caller, self.callee)

    @property
    def toxic_name(self) -> str:
        return f"seawall-{self.id}"

    def inverse(self) -> Inverse:
        return RemoveToxic(self.api, self.proxy, self.toxic_name)

    def __call__(self, ctx: FaultContext) -> str:
        body: dict[str, Any] = {
            "name": self.toxic_name,
            "type": self.toxic_type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": self.attributes,
        }
        if self.ttl is not None:
            body["ttl"] = round(self.ttl * 1000)
        if self.seed is not None:
            body["seed"] = self.seed
        router = _edge_router(ctx, self.api)
        # on a compose stack the edge is routed through the stack's proxy first (its inverse undoes it)
        routed = "" if router is None else "; " + router.route(self.caller, self.callee, self.toxic_name)
        try:
            status, answer = call_api(self.api, "POST", f"/proxies/{_quote(self.proxy)}/toxics", body)
        except OSError as exc:
            raise InjectionFailed(
                f"cannot reach the fault proxy at {self.api}: {exc}",
                hint="start it with `seawall proxy` (or the stack's supervisor) before the experiment",
            ) from exc
        if status != 200:
            detail = answer.get("error", answer) if isinstance(answer, dict) else answer
            raise InjectionFailed(
                f"the proxy refused {self.fault_kind} on {self.edge}: HTTP {status} {detail}"
            )
        return f"{self.fault_kind} {self.attributes} on {self.edge} ({self.stream}){routed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.fault_kind,
            "edge": self.edge,
            "attributes": self.attributes,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "ttl": self.ttl,
            "seed": self.seed,
        }


__all__ = ["TOXIC_KINDS", "ProxyToxic", "RemoveToxic", "call_api"]
