"""Errors of the fault proxy, each carrying the HTTP status the Toxiproxy-compatible API answers with."""

from __future__ import annotations

from seawall.errors import OperationError, UsageError


class ProxyRequestError(UsageError):
    """A control request the proxy refuses; ``status`` is the Toxiproxy API status code."""

    status = 400


class BadRequest(ProxyRequestError):
    """A malformed body, a missing field or an invalid attribute (400)."""


class ProxyNotFound(ProxyRequestError):
    """No proxy of that name (404)."""

    status = 404

    def __init__(self, name: str) -> None:
        super().__init__("proxy not found")
        self.name = name


class ToxicNotFound(ProxyRequestError):
    """No toxic of that name on the proxy (404)."""

    status = 404

    def __init__(self, name: str) -> None:
        super().__init__("toxic not found")
        self.name = name


class ProxyExists(ProxyRequestError):
    """A proxy of that name already exists (409)."""

    status = 409

    def __init__(self, name: str) -> None:
        super().__init__("proxy already exists")
        self.name = name


class ToxicExists(ProxyRequestError):
    """A toxic of that name already exists on the proxy (409)."""

    status = 409

    def __init__(self, name: str) -> None:
        super().__init__("toxic already exists")
        self.name = name


class ListenError(OperationError):
    """A proxy could not listen on its address (port taken, bad host)."""

    status = 500


__all__ = [
    "BadRequest",
    "ListenError",
    "ProxyExists",
    "ProxyNotFound",
    "ProxyRequestError",
    "ToxicExists",
    "ToxicNotFound",
]
