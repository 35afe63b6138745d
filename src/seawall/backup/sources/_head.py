"""A stream's first bytes read to look at them (a format's magic, a dump's binlog position), then the
whole stream handed on: those bytes again, then the rest."""

from __future__ import annotations

import os
from typing import IO

from seawall.backup.pipeline import CHUNK


def read_head(stream: IO[bytes], size: int) -> bytes:
    """The first ``size`` bytes (fewer at EOF), read past any buffering so the fd can be handed on."""
    try:
        fd: int | None = stream.fileno()
    except (OSError, AttributeError, ValueError):
        fd = None
    out = b""
    while len(out) < size:
        chunk = os.read(fd, size - len(out)) if fd is not None else stream.read(size - len(out))
        if not chunk:
            break
        out += chunk
    return out


class Rest:
    """A stream whose first bytes were already read: those bytes again, then the rest."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head, self.stream = head, stream
        try:
            self.fd: int | None = stream.fileno()
        except (OSError, AttributeError, ValueError):
            self.fd = None

    def read(self, size: int = -1, /) -> bytes:
        """The head first, then the stream (past its buffer when it has an fd: see ``read_head``)."""
        if self.head:
            out = self.head if size < 0 else self.head[:size]
            self.head = self.head[len(out) :]
            return out
        if self.fd is None:
            return self.stream.read(size)
        if size < 0:
            parts = []
            while chunk := os.read(self.fd, CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        return os.read(self.fd, size)


__all__ = ["Rest", "read_head"]
