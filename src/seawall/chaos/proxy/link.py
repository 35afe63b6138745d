"""One proxied connection: two sockets, a direction each way, fast when no toxic is active.

With no toxic on a direction, bytes go straight from the reading socket's buffer to the other
socket's transport (no queue, no task, no per-chunk work beyond a byte count), and back-pressure
pauses reading while the writing side's buffer is above its high-water mark. When a toxic is
active, chunks are queued with their arrival time and a task passes them through the stages;
when the last toxic is removed, the queue drains and the direction returns to the fast path.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

from seawall.chaos.proxy import precise_timer
from seawall.chaos.proxy.http_faults import HTTP_STAGES
from seawall.chaos.proxy.spec import ToxicSpec
from seawall.chaos.proxy.toxics import NETWORK_STAGES, Stage

READ_BUFFER = 256 * 1024
WRITE_HIGH, WRITE_LOW = 4 * 1024 * 1024, 1024 * 1024
QUEUE_HIGH, QUEUE_LOW = 4 * 1024 * 1024, 1024 * 1024

STAGES: dict[str, type[Stage]] = {**NETWORK_STAGES, **HTTP_STAGES}


class LinkOwner(Protocol):
    """The proxy a link belongs to."""

    upstream: tuple[str, int]

    def link_toxics(self, link: Link, stream: str) -> Sequence[ToxicSpec]: ...

    def link_closed(self, link: Link) -> None: ...


def build_stage(spec: ToxicSpec, ctl: Direction) -> Stage:
    """The working stage of a toxic on one direction of one link."""
    cls = STAGES[spec.type]
    stage: Stage
    if spec.type in HTTP_STAGES:
        stage = HTTP_STAGES[spec.type](spec.attributes, ctl, spec.name)
    else:
        stage = cls(spec.attributes, ctl)
    stage.rng = spec.stage_random(ctl.rng)
    return stage


class Side(asyncio.BufferedProtocol):
    """One socket of a link: reads feed ``out``, ``into`` writes to it."""

    out: Direction
    into: Direction

    def __init__(self, link: Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self._view = memoryview(bytearray(READ_BUFFER))
        self._pauses: set[str] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(WRITE_HIGH, WRITE_LOW)
        self.link.side_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        out = self.out
        dst = out.dst.transport
        if out.fast and dst is not None:
            if out.eof_sent:
                return
            dst.write(self._view[:nbytes])
            out.nbytes += nbytes
            if dst.get_write_buffer_size():
                # The transport may keep a reference to our buffer: read into a fresh one.
                self._view = memoryview(bytearray(READ_BUFFER))
        else:
            out.push(bytes(self._view[:nbytes]))

    def eof_received(self) -> bool:
        self.out.push(None)
        return True  # keep our write half open: the other direction may still be sending

    def pause_writing(self) -> None:
        self.into.src.pause("write")

    def resume_writing(self) -> None:
        self.into.src.resume("write")
        self.into.wake_writer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.link.close()

    def pause(self, reason: str) -> None:
        if not self._pauses and self.transport is not None:
            self.transport.pause_reading()
        self._pauses.add(reason)

    def resume(self, reason: str) -> None:
        if reason in self._pauses:
            self._pauses.discard(reason)
            if not self._pauses and self.transport is not None:
                self.transport.resume_reading()


class Direction:
    """One stream of a link (upstream: client to server; downstream: back); the stages' LinkControl."""

    def __init__(self, link: Link, stream: str, src: Side, dst: Side) -> None:
        self.link, self.stream, self.src, self.dst = link, stream, src, dst
        self.rng = link.rng
        self.loop = link.loop
        self.fast = True
        self.chain: dict[str, tuple[int, Stage]] = {}
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.queued = 0
        self.pending: list[bytes | None] = []
        self.nbytes = 0
        self.eof_sent = False
        self.worker: asyncio.Task[None] | None = None
        self._idle: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._waiters: set[asyncio.Future[None]] = set()

    # -- the LinkControl the stages see ------------------------------------------------------
    def time(self) -> float:
        # Not loop.time(): uvloop's is millisecond-grained, and latency faults are timed to 0.1 ms.
        return time.monotonic()

    async def sleep_until(self, deadline: float, stage: Stage) -> bool:
        """Wait until ``deadline``; False as soon as ``stage`` is removed (or the link closes)."""
        while stage.active:
            if deadline <= time.monotonic():
                return True
            waiter: asyncio.Future[None] = self.loop.create_future()
            timer = (
                None
                if math.isinf(deadline)
                else precise_timer.call_at(self.loop, deadline, functools.partial(_wake, waiter))
            )
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                self._waiters.discard(waiter)
                if timer is not None:
                    timer.cancel()
        return False

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self.loop.call_later(delay, callback)

    def close(self) -> None:
        self.link.close()

    def reset(self) -> None:
        self.link.reset()

    def reply(self, data: bytes, close: bool) -> None:
        """Send ``data`` to the client as if the server had (an HTTP fault's response)."""
        reverse = self.link.down if self is self.link.up else self.link.up
        reverse.push(data)
        if close:
            reverse.push(None)

    # -- data path ---------------------------------------------------------------------------
    def push(self, chunk: bytes | None) -> None:
        """Data (None: end of stream) read from ``src`` while not on the fast path, or injected."""
        if self.dst.transport is None and not self.link.closed:
            self.pending.append(chunk)  # the upstream is still connecting
            return
        if self.fast and not self.queue:
            if chunk is None:
                self._send_eof()
            elif self.dst.transport is not None and not self.eof_sent:
                self.dst.transport.write(chunk)
                self.nbytes += len(chunk)
            return
        self.queue.append((time.monotonic(), chunk))
        if chunk is not None:
            self.queued += len(chunk)
            if self.queued > QUEUE_HIGH:
                self.src.pause("queue")
        self._kick()

    def set_toxics(self, specs: Sequence[ToxicSpec]) -> None:
        """Make ``specs`` (in order) this direction's stages; unchanged toxics keep their stage."""
        chain: dict[str, tuple[int, Stage]] = {}
        for spec in specs:
            old = self.chain.get(spec.name)
            chain[spec.name] = old if old and old[0] == spec.uid else (spec.uid, build_stage(spec, self))
        for name, (_, stage) in self.chain.items():
            if chain.get(name, (0, None))[1] is not stage:
                stage.detach()
        self.chain = chain
        for waiter in list(self._waiters):
            _wake(waiter)  # removed stages stop waiting now; kept ones wait again
        if chain:
            self.fast = False
        self._kick()

    def _kick(self) -> None:
        if self.worker is None and not self.fast:
            self.worker = self.loop.create_task(self._run())
        elif self._idle is not None:
            _wake(self._idle)

    async def _run(self) -> None:
        try:
            while not self.link.closed:
                if not self.queue:
                    if not self.chain:
                        self.fast = True
                        return
                    self._idle = self.loop.create_future()
                    await self._idle
                    self._idle = None
                    continue
                arrived, chunk = self.queue.popleft()
                if chunk is not None:
                    self.queued -= len(chunk)
                    if self.queued <= QUEUE_LOW:
                        self.src.resume("queue")
                stages = [stage for _, stage in self.chain.values()]
                await self._emit(stages, 0, chunk, arrived)
        except (ConnectionError, OSError, RuntimeError):
            self.link.close()
        finally:
            self.worker = None

    async def _emit(self, stages: list[Stage], index: int, chunk: bytes | None, due: float) -> None:
        while index < len(stages) and not stages[index].active:
            index += 1
        if index < len(stages):
            await stages[index](chunk, due, functools.partial(self._emit, stages, index + 1))
        elif chunk is None:
            self._send_eof()
        else:
            await self._deliver(chunk)

    async def _deliver(self, chunk: bytes) -> None:
        transport = self.dst.transport
        if transport is None or self.eof_sent or not chunk:
            return
        transport.write(chunk)
        self.nbytes += len(chunk)
        if transport.get_write_buffer_size() > WRITE_HIGH:
            self._writable = self.loop.create_future()
            await self._writable

    def wake_writer(self) -> None:
        if self._writable is not None:
            _wake(self._writable)
            self._writable = None

    def _send_eof(self) -> None:
        if self.eof_sent:
            return
        self.eof_sent = True
        transport = self.dst.transport
        if transport is not None and transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                transport.write_eof()
        self.link.eof_sent()

    def stop(self) -> None:
        for _, stage in self.chain.values():
            stage.detach()
        self.chain = {}
        for waiter in [*self._waiters, self._idle, self._writable]:
            if waiter is not None:
                _wake(waiter)
        if self.worker is not None and self.worker is not asyncio.current_task():
            self.worker.cancel()


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Link:
    """A client connection and its upstream connection, pumped both ways."""

    def __init__(self, owner: LinkOwner, rng: random.Random, loop: asyncio.AbstractEventLoop) -> None:
        self.owner, self.rng, self.loop = owner, rng, loop
        self.closed = False
        self.client, self.server = Side(self), Side(self)
        self.up = Direction(self, "upstream", self.client, self.server)
        self.down = Direction(self, "downstream", self.server, self.client)
        self.client.out, self.client.into = self.up, self.down
        self.server.out, self.server.into = self.down, self.up
        self._drawn: dict[int, bool] = {}
        self._connect: asyncio.Task[Any] | None = None

    def side_made(self, side: Side) -> None:
        if side is self.client:
            # Reading is not paused meanwhile (uvloop loses a pause made in connection_made):
            # what the client sends before the upstream answers waits in ``pending``.
            self._connect = self.loop.create_task(self._connect_upstream())
        else:
            self.apply_toxics()  # before the early bytes, so a fault applies to them too
            pending, self.up.pending = self.up.pending, []
            for chunk in pending:
                self.up.push(chunk)

    async def _connect_upstream(self) -> None:
        host, port = self.owner.upstream
        try:
            await self.loop.create_connection(lambda: self.server, host, port)
        except OSError:
            self.close()

    def applies(self, spec: ToxicSpec) -> bool:
        """The toxicity draw for this link, made once per toxic version."""
        if spec.uid not in self._drawn:
            self._drawn[spec.uid] = spec.applies(self.rng)
        return self._drawn[spec.uid]

    def apply_toxics(self) -> None:
        """Re-read the owner's toxics (after any change) into both directions."""
        if self.closed:
            return
        for direction in (self.up, self.down):
            specs = self.owner.link_toxics(self, direction.stream)
            direction.set_toxics([s for s in specs if self.applies(s)])

    def eof_sent(self) -> None:
        if self.up.eof_sent and self.down.eof_sent:
            self.close()

    def reset(self) -> None:
        """Abort both sockets with SO_LINGER 0, so each peer sees a TCP RST (ECONNRESET)."""
        for side in (self.client, self.server):
            if side.transport is not None:
                sock = side.transport.get_extra_info("socket")
                with contextlib.suppress(OSError, AttributeError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                side.transport.abort()
        self.close()

    def close(self) -> None:
        """Close both sockets (flushing what was already written) and forget the link; idempotent."""
        if self.closed:
            return
        self.closed = True
        for direction in (self.up, self.down):
            direction.stop()
        if self._connect is not None and not self._connect.done():
            self._connect.cancel()
        for side in (self.client, self.server):
            if side.transport is not None:
                side.transport.close()
        self.owner.link_closed(self)


__all__ = ["READ_BUFFER", "STAGES", "Direction", "Link", "LinkOwner", "Side", "build_stage"]
