"""Start writing an artifact to disk while it is still being made, so the closing fsync is short.

Without it the kernel holds every page of a new artifact in memory until the fsync that makes it
durable (a 200 MB artifact stays under the default dirty thresholds), and that fsync then waits
for all of it at the end. ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, as PostgreSQL's own
``*_flush_after`` settings use it, queues each written window for writeback at once and returns
without waiting, so the disk works while the compressor does. It is a hint, not the durability:
the fsync that follows is still what makes the artifact safe. Linux only; elsewhere the file is
written as before.
"""

from __future__ import annotations

import ctypes
import io
import os
import sys
from collections.abc import Callable
from typing import Any

WINDOW = 8 << 20  # bytes between writeback requests: large enough to cost nothing per chunk
_SYNC_FILE_RANGE_WRITE = 2


def _load() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the process's own symbols, libc's among them (find_library would run ldconfig at import)
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


_sync_file_range = _load()


class EarlyWriteback(io.BufferedWriter):
    """A new file (exclusive create) whose written windows are handed to the disk as they fill."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(io.FileIO(path, "xb"))
        self.written = self.queued = 0

    def write(self, data: Any, /) -> int:
        n = super().write(data)
        self.written += n
        if _sync_file_range is not None and self.written - self.queued >= WINDOW:
            self.flush()
            # a refusal (a filesystem without it) only leaves all the work to the closing fsync
            _sync_file_range(self.fileno(), self.queued, self.written - self.queued, _SYNC_FILE_RANGE_WRITE)
            self.queued = self.written
        return n


__all__ = ["WINDOW", "EarlyWriteback"]
