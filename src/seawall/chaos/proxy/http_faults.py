"""HTTP/1.1 request-level faults: abort with a status, or delay, per request, matched and rated.

Each request on a link (keep-alive included) is matched by method, path prefix and header, then
hit with probability ``rate`` drawn from the link's seeded RNG. An aborted request never reaches
the server: its head and body are dropped and the client gets the status at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from seawall.chaos.proxy.http_framing import Body, End, Opaque, RequestFramer, RequestHead
from seawall.chaos.proxy.toxics import Emit, LinkControl, Stage


@dataclass(frozen=True)
class RequestMatcher:
    """Which requests a fault hits: every given criterion must hold (empty: any)."""

    method: str = ""
    path_prefix: str = ""
    header: str = ""  # "Name" (present) or "Name: value" (equal, case-sensitive value)

    def __call__(self, head: RequestHead) -> bool:
        if self.method and head.method != self.method.upper():
            return False
        if self.path_prefix and not head.path.startswith(self.path_prefix):
            return False
        if self.header:
            name, sep, value = self.header.partition(":")
            found = head.header(name.strip())
            if found is None or (sep and found != value.strip()):
                return False
        return True


def error_response(status: int, body: str, fault: str, keep_alive: bool) -> bytes:
    """A complete HTTP/1.1 response for an aborted request."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Fault"
    payload = (body or f"{status} {reason} (injected by seawall fault {fault})\n").encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(payload)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        f"X-Seawall-Fault: {fault}\r\n\r\n"
    )
    return head.encode("latin-1") + payload


class HttpFault(Stage):
    """Frames requests and decides, per request, whether this fault hits it."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl, name: str = "") -> None:
        super().__init__(attributes, ctl)
        self.name = name
        self.rate = float(attributes["rate"])
        self.match = RequestMatcher(attributes["method"], attributes["path_prefix"], attributes["header"])
        self.framer = RequestFramer()
        self.hit: RequestHead | None = None

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        if chunk is None:
            await out(None, due)
            return
        passed: list[bytes] = []
        for event in self.framer.feed(chunk):
            if isinstance(event, RequestHead):
                hit = self.match(event) and self.rng.random() < self.rate
                self.hit = event if hit else None
                if hit:
                    if passed:
                        await out(b"".join(passed), due)
                        passed.clear()
                    if await self.on_hit(event, due, out):
                        continue
                    self.hit = None
                passed.append(event.raw)
            elif isinstance(event, End):
                if self.hit is not None:
                    self.on_end(self.hit)
                    self.hit = None
            elif isinstance(event, Body | Opaque) and self.hit is None:
                passed.append(event.raw)
        if passed:
            await out(b"".join(passed), due)

    async def on_hit(self, head: RequestHead, due: float, out: Emit) -> bool:
        """Act on a hit request's head; True drops the request (head and body)."""
        return False

    def on_end(self, head: RequestHead) -> None:
        """The dropped request is complete."""


class HttpAbort(HttpFault):
    """Answers hit requests with ``status`` (and ``body``) instead of forwarding them."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl, name: str = "") -> None:
        super().__init__(attributes, ctl, name)
        self.status = int(attributes["status"])
        self.body = str(attributes["body"])

    async def on_hit(self, head: RequestHead, due: float, out: Emit) -> bool:
        return True

    def on_end(self, head: RequestHead) -> None:
        # Answer once the request is fully read, so the client is not cut off mid-upload.
        keep = head.keep_alive
        self.ctl.reply(error_response(self.status, self.body, self.name, keep), close=not keep)


class HttpDelay(HttpFault):
    """Holds hit requests for ``delay`` ms before forwarding them; later requests queue behind."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl, name: str = "") -> None:
        super().__init__(attributes, ctl, name)
        self.delay = attributes["delay"] / 1000

    async def on_hit(self, head: RequestHead, due: float, out: Emit) -> bool:
        await self.ctl.sleep_until(self.ctl.time() + self.delay, self)
        return False


HTTP_STAGES: dict[str, type[HttpFault]] = {"http_abort": HttpAbort, "http_delay": HttpDelay}

__all__ = ["HTTP_STAGES", "HttpAbort", "HttpDelay", "HttpFault", "RequestMatcher", "error_response"]
