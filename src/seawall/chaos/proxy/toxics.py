"""The network toxics as small callable stages: settings in ``__init__``, work on a chunk in ``__call__``.

A stage gets each chunk (``None`` for end of stream) with the time it is due and passes it on
with ``out``. Stages wait only through ``LinkControl.sleep_until``, which returns early once the
toxic is removed, so a removal never waits for traffic. Units are Toxiproxy's (see spec.py).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

Emit = Callable[[bytes | None, float], Awaitable[None]]


class LinkControl(Protocol):
    """What a stage may do to the connection it works on."""

    rng: random.Random

    def time(self) -> float: ...

    async def sleep_until(self, deadline: float, stage: Stage) -> bool: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle: ...

    def close(self) -> None: ...

    def reset(self) -> None: ...

    def reply(self, data: bytes, close: bool) -> None: ...


class Stage:
    """A toxic at work on one direction of one link; the base passes everything through."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl) -> None:
        self.ctl = ctl
        self.rng = ctl.rng  # replaced by the toxic's own stream when it has a seed (build_stage)
        self.active = True

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        await out(chunk, due)

    def detach(self) -> None:
        """The toxic was removed (or the link closed): stop timers; pending waits return early."""
        self.active = False


class Latency(Stage):
    """Delays each chunk by ``latency`` ms ± up to ``jitter`` ms, without limiting throughput."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl) -> None:
        super().__init__(attributes, ctl)
        self.latency = attributes["latency"] / 1000
        self.jitter = attributes["jitter"] / 1000

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        if chunk is None:
            await out(None, due)
            return
        delay = self.latency + (self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)
        # Due times add up, so two latency toxics stack; each chunk is timed from its arrival,
        # so a delay does not cut throughput.
        due += max(0.0, delay)
        await self.ctl.sleep_until(due, self)
        await out(chunk, due)


class Bandwidth(Stage):
    """Limits the direction to ``rate`` KB/s (1 KB = 1000 bytes), in pieces of at most 100 ms worth."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl) -> None:
        super().__init__(attributes, ctl)
        self.rate = attributes["rate"] * 1000.0
        self.piece = max(1, int(self.rate / 10))
        self.next = 0.0

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        if chunk is None or self.rate <= 0:
            await out(chunk, due)
            return
        for start in range(0, len(chunk), self.piece):
            part = chunk[start : start + self.piece]
            self.next = max(self.next, self.ctl.time()) + len(part) / self.rate
            if not await self.ctl.sleep_until(self.next, self):
                await out(chunk[start:], due)
                return
            await out(part, due)


class SlowClose(Stage):
    """Delays the end of the stream (the close) by ``delay`` ms."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl) -> None:
        super().__init__(attributes, ctl)
        self.delay = attributes["delay"] / 1000

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        if chunk is None:
            await self.ctl.sleep_until(self.ctl.time() + self.delay, self)
        await out(chunk, due)


class Timeout(Stage):
    """Stops all data (held, not lost) and closes the link after ``timeout`` ms; 0 holds until removed."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl) -> None:
        super().__init__(attributes, ctl)
        timeout = attributes["timeout"] / 1000
        self.timer = ctl.call_later(timeout, ctl.close) if timeout > 0 else None

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        await self.ctl.sleep_until(math.inf, self)
        await out(chunk, due)

    def detach(self) -> None:
        super().detach()
        if self.timer is not None:
            self.timer.cancel()


class ResetPeer(Stage):
    """Resets the connection (TCP RST) ``timeout`` ms after the first data; data is dropped."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl) -> None:
        super().__init__(attributes, ctl)
        self.timeout = attributes["timeout"] / 1000
        self.timer: asyncio.TimerHandle | None = None

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        if self.timer is None:
            self.timer = self.ctl.call_later(self.timeout, self.ctl.reset)

    def detach(self) -> None:
        super().detach()
        if self.timer is not None:
            self.timer.cancel()


class Slicer(Stage):
    """Cuts chunks into slices of ``average_size`` ± ``size_variation`` bytes, ``delay`` µs apart."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl) -> None:
        super().__init__(attributes, ctl)
        self.average = attributes["average_size"]
        self.variation = min(attributes["size_variation"], max(0, self.average - 1))
        self.delay = attributes["delay"] / 1_000_000

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        if chunk is None or self.average <= 0:
            await out(chunk, due)
            return
        start = 0
        while start < len(chunk):
            size = self.average + (self.rng.randint(-self.variation, self.variation) if self.variation else 0)
            await out(chunk[start : start + size], due)
            start += size
            if (
                start < len(chunk)
                and self.delay
                and not await self.ctl.sleep_until(self.ctl.time() + self.delay, self)
            ):
                await out(chunk[start:], due)
                return


class LimitData(Stage):
    """Passes ``bytes`` bytes in this direction, then closes the link."""

    def __init__(self, attributes: Mapping[str, Any], ctl: LinkControl) -> None:
        super().__init__(attributes, ctl)
        self.left = attributes["bytes"]

    async def __call__(self, chunk: bytes | None, due: float, out: Emit) -> None:
        if chunk is None or len(chunk) < self.left:
            self.left -= len(chunk or b"")
            await out(chunk, due)
            return
        if self.left:
            await out(chunk[: self.left], due)
            self.left = 0
        self.ctl.close()


NETWORK_STAGES: dict[str, type[Stage]] = {
    "latency": Latency,
    "bandwidth": Bandwidth,
    "slow_close": SlowClose,
    "timeout": Timeout,
    "reset_peer": ResetPeer,
    "slicer": Slicer,
    "limit_data": LimitData,
}

__all__ = [
    "NETWORK_STAGES",
    "Bandwidth",
    "Emit",
    "Latency",
    "LimitData",
    "LinkControl",
    "ResetPeer",
    "Slicer",
    "SlowClose",
    "Stage",
    "Timeout",
]
