"""The tcp probe kind: a TCP connection to host:port that opens (and is closed again)."""

from __future__ import annotations

import asyncio
import contextlib

from seawall.config.probes import TcpCheck
from seawall.probes.outcome import Stopwatch, describe_os_error
from seawall.probes.result import ProbeResult


class TcpProbe:
    """Pass when a TCP connection to host:port can be opened."""

    def __init__(self, check: TcpCheck) -> None:
        self.host = check.host
        self.port = check.port

    async def __call__(self) -> ProbeResult:
        watch = Stopwatch()
        try:
            _, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            return watch.failed(describe_os_error(exc, self.host))
        result = watch.passed(f"connected to {self.host}:{self.port}")  # latency of the connect alone
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return result
