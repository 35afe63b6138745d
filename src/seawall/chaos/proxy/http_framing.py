"""Incremental HTTP/1.1 request framing: where each request's head and body start and end on a stream.

The framer never changes bytes: it splits the client's byte stream into events that carry the raw
wire bytes, so a fault can hold, drop or pass a whole request (keep-alive, Content-Length and
chunked bodies included). What it cannot frame (a protocol switch, CONNECT, a malformed head)
turns the rest of the stream into opaque bytes that pass untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class RequestHead:
    """A parsed request line and headers, with the raw bytes they came in."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    raw: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive name), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def path(self) -> str:
        """The path of the target, without query; absolute-form targets reduced to their path."""
        target = self.target
        if "://" in target:
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        return target.partition("?")[0]

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after this request (HTTP/1.1 default yes, 1.0 no)."""
        tokens = {t.strip().lower() for t in (self.header("connection") or "").split(",")}
        if "close" in tokens:
            return False
        return self.version != "HTTP/1.0" or "keep-alive" in tokens


@dataclass(frozen=True)
class Body:
    """Raw bytes of a request body (chunk framing included)."""

    raw: bytes


@dataclass(frozen=True)
class End:
    """The current request is complete."""


@dataclass(frozen=True)
class Opaque:
    """Bytes that are not framed as requests (after an upgrade, CONNECT, or a malformed head)."""

    raw: bytes


Event = RequestHead | Body | End | Opaque

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _OPAQUE = range(7)


def parse_head(raw: bytes) -> RequestHead | None:
    """A request head from bytes ending in a blank line; None when it is not a valid request."""
    try:
        lines = raw.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1.") or not method.isalpha():
        return None
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        headers.append((name, value.strip()))
    return RequestHead(method.upper(), target, version, tuple(headers), raw)


class RequestFramer:
    """Splits a client->server byte stream into request events; feed it bytes as they arrive."""

    def __init__(self) -> None:
        self._state = _HEAD
        self._buf = b""
        self._left = 0  # bytes left in a Content-Length body or the current chunk
        self._upgrade = False

    def feed(self, data: bytes) -> list[Event]:
        """The events the bytes complete; partial heads and chunk-size lines are kept for later."""
        events: list[Event] = []
        data = self._buf + data if self._buf else data
        self._buf = b""
        pos: int | None = 0
        while pos is not None and pos < len(data):
            state = self._state
            if state == _OPAQUE:
                events.append(Opaque(data[pos:]))
                break
            if state == _HEAD:
                pos = self._feed_head(data, pos, events)
            elif state in (_LENGTH, _CHUNK_DATA):
                pos = self._feed_body(data, pos, events)
            elif state == _CHUNK_CRLF:
                if len(data) - pos < 2:
                    self._buf = data[pos:]
                    break
                events.append(Body(data[pos : pos + 2]))
                pos += 2
                self._state = _CHUNK_SIZE
            else:
                pos = self._feed_line(data, pos, events)
        return events

    def _feed_head(self, data: bytes, pos: int, events: list[Event]) -> int | None:
        end = data.find(b"\r\n\r\n", pos)
        if end >= 0:
            return self._head(data[pos : end + 4], events, end + 4)
        if len(data) - pos > MAX_HEAD:
            self._state = _OPAQUE
            return pos
        self._buf = data[pos:]
        return None

    def _feed_body(self, data: bytes, pos: int, events: list[Event]) -> int:
        take = min(self._left, len(data) - pos)
        events.append(Body(data[pos : pos + take]))
        self._left -= take
        if self._left == 0:
            if self._state == _LENGTH:
                self._end(events)
            else:
                self._state = _CHUNK_CRLF
        return pos + take

    def _feed_line(self, data: bytes, pos: int, events: list[Event]) -> int | None:
        """A chunk-size line or a trailer line."""
        end = data.find(b"\r\n", pos)
        if end < 0:
            if len(data) - pos > MAX_HEAD:
                self._state = _OPAQUE
                return pos
            self._buf = data[pos:]
            return None
        line = data[pos:end]
        events.append(Body(data[pos : end + 2]))
        if self._state == _TRAILER:
            if not line:
                self._end(events)
            return end + 2
        try:
            self._left = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            self._state = _OPAQUE
            return end + 2
        self._state = _CHUNK_DATA if self._left else _TRAILER
        return end + 2

    def _head(self, raw: bytes, events: list[Event], next_pos: int) -> int:
        head = parse_head(raw)
        if head is None:
            self._state = _OPAQUE
            events.append(Opaque(raw))
            return next_pos
        events.append(head)
        connection = (head.header("connection") or "").lower()
        self._upgrade = head.method == "CONNECT" or (
            "upgrade" in connection and head.header("upgrade") is not None
        )
        encoding = (head.header("transfer-encoding") or "").lower()
        length = head.header("content-length")
        if encoding.rsplit(",", 1)[-1].strip() == "chunked":
            self._state = _CHUNK_SIZE
        elif length is not None and length.strip().isdigit() and int(length) > 0:
            self._state, self._left = _LENGTH, int(length)
        else:
            self._end(events)
        return next_pos

    def _end(self, events: list[Event]) -> None:
        events.append(End())
        self._state = _OPAQUE if self._upgrade else _HEAD


__all__ = ["Body", "End", "Event", "Opaque", "RequestFramer", "RequestHead", "parse_head"]
