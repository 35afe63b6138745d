"""Minimal ASGI plumbing: types, reading a request body, sending a whole response."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

__all__ = ["ASGIApp", "Receive", "Scope", "Send", "header", "read_body", "send_json", "send_text"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
#: any ASGI 3 application; loosely typed so Starlette's and plain dict-typed apps both fit
ASGIApp: TypeAlias = Callable[[Any, Any, Any], Awaitable[None]]

HEALTH_JSON = "application/health+json"
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of request header ``name`` (lower-case), or None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


async def read_body(receive: Receive, limit: int = 65536) -> bytes:
    """The request body, refusing more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ValueError(f"request body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_text(send: Send, status: int, body: bytes, content_type: str, *, head: bool = False) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_json(
    send: Send,
    status: int,
    payload: object,
    *,
    content_type: str = "application/json",
    head: bool = False,
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await send_text(send, status, body, content_type, head=head)
