"""Building probe results: a stopwatch, and short readable details for common failures."""

from __future__ import annotations

import errno
import socket

from seawall import clock
from seawall.probes.result import ProbeResult, Status

_ERRNO_DETAILS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out connecting",
    errno.EPIPE: "connection closed",
}


class Stopwatch:
    """Started when a check begins; turns an outcome into a ProbeResult with latency and time."""

    def __init__(self) -> None:
        self.observed_at = clock.now()
        self._began = clock.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the check began."""
        return clock.monotonic() - self._began

    def result(self, status: Status, detail: str = "", **observed: object) -> ProbeResult:
        """A result of ``status`` whose latency is the time elapsed so far."""
        return ProbeResult(status, self.elapsed, detail, self.observed_at, dict(observed))

    def passed(self, detail: str = "", **observed: object) -> ProbeResult:
        """A passing result."""
        return self.result(Status.PASS, detail, **observed)

    def failed(self, detail: str, **observed: object) -> ProbeResult:
        """A failing result."""
        return self.result(Status.FAIL, detail, **observed)


def timed_out(timeout: float) -> str:
    """The detail of a check that ran out of time."""
    return f"timed out after {timeout:g}s"


def describe_os_error(exc: OSError, host: str | None = None) -> str:
    """A short phrase for a network error: "connection refused", "cannot resolve host 'x'", ..."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host {host!r}" if host else "cannot resolve host"
    if isinstance(exc, TimeoutError):
        return "timed out connecting"
    if exc.errno in _ERRNO_DETAILS:
        return _ERRNO_DETAILS[exc.errno]
    return shorten(exc.strerror or str(exc) or type(exc).__name__)


def shorten(text: str, limit: int = 200) -> str:
    """One line of at most ``limit`` characters, for details shown in tables and stored in samples."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
