"""The fault proxy: TCP proxies with toxics, HTTP request faults, TTLs and a Toxiproxy-compatible API."""

from __future__ import annotations

from seawall.chaos.proxy.api import ControlApi
from seawall.chaos.proxy.errors import (
    BadRequest,
    ListenError,
    ProxyExists,
    ProxyNotFound,
    ProxyRequestError,
    ToxicExists,
    ToxicNotFound,
)
from seawall.chaos.proxy.server import DEFAULT_TTL, Proxy, ProxyServer, ProxyStats
from seawall.chaos.proxy.service import ProxyService, load_config, run
from seawall.chaos.proxy.spec import ATTRIBUTES, ToxicSpec, parse_toxic

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_TTL",
    "BadRequest",
    "ControlApi",
    "ListenError",
    "Proxy",
    "ProxyExists",
    "ProxyNotFound",
    "ProxyRequestError",
    "ProxyServer",
    "ProxyService",
    "ProxyStats",
    "ToxicExists",
    "ToxicNotFound",
    "ToxicSpec",
    "load_config",
    "parse_toxic",
    "run",
]
