"""The per-stack supervisor daemon: ``python -m seawall.runtime._daemon --config FILE [--detach]``.

Startup (lock the pidfile, start the stack's fault proxy when it declares edges, adopt orphans,
open the socket), main loop (serve JSON-line requests until SIGTERM/SIGINT or a ``shutdown``
request), graceful shutdown (stop every component with its grace, record it, stop the proxy,
remove the socket and the pidfile).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

from seawall.config import StackConfig, load_stack
from seawall.errors import RuntimeDriverError, SeawallError, UsageError
from seawall.runtime._edges import EdgeProxy, has_edges
from seawall.runtime._protocol import StatePaths, decode, encode, status_to_dict
from seawall.runtime._recorder import Recorder
from seawall.runtime._unit import Unit

log = logging.getLogger("seawall.supervisor")

FLUSH_PERIOD = 1.0  # seconds between batched writes of probe samples
EXIT_ALREADY_RUNNING = 3


class Supervisor:
    """Supervises the components of one stack and answers control requests."""

    def __init__(self, stack: StackConfig, paths: StatePaths, edges: EdgeProxy | None = None) -> None:
        self.stack = stack
        self.paths = paths
        self.edges = edges
        self.recorder = Recorder(paths.state_dir)
        self.units: dict[str, Unit] = {}
        self._stop = asyncio.Event()

    def _make_units(self, stack: StackConfig) -> None:
        stack_id = hashlib.sha256(str(self.paths.state_dir).encode()).hexdigest()[:8]
        self.units = {
            name: Unit(stack, name, self.paths, self.recorder, f"seawall.{stack.stack}.{stack_id}.{name}")
            for name in stack.components
        }

    async def serve(self) -> None:
        """The whole lifecycle: startup, main loop, graceful shutdown."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        # the proxy comes first: components are spawned with the env that routes them through it
        run_stack = self.stack if self.edges is None else await self.edges.start()
        if self.edges is not None:
            self.recorder.event("proxy_start", None, api=self.edges.api, edges=len(self.edges.routes))
        self._make_units(run_stack)
        for unit in self.units.values():
            unit.adopt()
        with contextlib.suppress(FileNotFoundError):
            self.paths.socket.unlink()  # left by a daemon that was killed
        server = await asyncio.start_unix_server(self._client, path=str(self.paths.socket))
        self.recorder.event("supervisor_start", None, pid=os.getpid())
        log.info("supervising %s (%d components), pid %d", self.stack.stack, len(self.units), os.getpid())
        flusher = loop.create_task(self._flush_periodically())
        try:
            await self._stop.wait()
        finally:
            log.info("shutting down")
            server.close()
            for wave in reversed(self.stack.waves()):
                await asyncio.gather(*(self.units[n].stop() for n in wave))
            for unit in self.units.values():
                await unit.close()
            if self.edges is not None:
                # after the callers stopped, so none of them sees the edge vanish under it
                await self.edges.stop()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            self.recorder.event("supervisor_stop", None, pid=os.getpid())
            self.recorder.close()
            with contextlib.suppress(FileNotFoundError):
                self.paths.socket.unlink()
            await server.wait_closed()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_PERIOD)
            self.recorder.flush()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            if not line:
                return
            try:
                request = decode(line)
                response: dict[str, Any] = {"ok": True, "result": await self.dispatch(request)}
            except SeawallError as exc:
                response = {"ok": False, "type": type(exc).__name__, "error": exc.message}
            except (ValueError, KeyError, TypeError) as exc:
                response = {"ok": False, "type": "UsageError", "error": f"bad request: {exc}"}
            writer.write(encode(response))
            await writer.drain()
        except ConnectionError:
            pass  # the client went away; nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _units(self, names: list[str] | None) -> list[Unit]:
        unknown = [n for n in names or () if n not in self.units]
        if unknown:
            raise UsageError(f"unknown component {unknown[0]!r}")
        return [self.units[n] for n in names] if names else list(self.units.values())

    async def dispatch(self, request: dict[str, Any]) -> Any:
        """Carry out one request; returns the JSON-able result."""
        op = request.get("op")
        names: list[str] | None = request.get("names")
        if op == "ping":
            return {"pid": os.getpid(), "stack": self.stack.stack, "config": str(self.stack.source)}
        if op == "status":
            return [status_to_dict(u.status()) for u in self._units(names)]
        if op == "start":
            units = self._units(names)
            problems = await asyncio.gather(*(u.start() for u in units))
            return {u.name: p for u, p in zip(units, problems, strict=True) if p is not None}
        if op == "stop":
            grace = request.get("grace")
            await asyncio.gather(*(u.stop(grace) for u in self._units(names)))
            return None
        if op == "shutdown":
            self._stop.set()
            return {"pid": os.getpid()}
        unit = self._units([str(request["name"])])[0]
        if op == "kill":
            await unit.kill(int(request["signal"]))
        elif op == "pause":
            await unit.pause()
        elif op == "resume":
            await unit.resume()
        elif op == "restart":
            problem = await unit.restart(request.get("grace"))
            if problem is not None:
                raise RuntimeDriverError(f"component {unit.name!r} cannot start: {problem}")
        else:
            raise UsageError(f"unknown operation {op!r}")
        return None


def _lock_pidfile(paths: StatePaths) -> IO[str] | None:
    """Open and lock the pidfile; None if another supervisor holds it (the lock dies with it)."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(paths.pidfile, "a+", encoding="ascii")  # noqa: SIM115 - held for the daemon's life
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _detach(paths: StatePaths) -> None:
    """Fork once more so the caller can exit, and send our stdio to supervisor.log."""
    if os.fork():
        os._exit(0)  # the lock is shared with the child through the inherited descriptor
    out = os.open(paths.daemon_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)


def main(argv: list[str] | None = None) -> int:
    """Run the supervisor; exit 2 on a bad config, 3 when one already runs for this stack."""
    parser = argparse.ArgumentParser(prog="python -m seawall.runtime._daemon")
    parser.add_argument("--config", required=True, type=Path, help="the stack's seawall.yaml")
    parser.add_argument("--detach", action="store_true", help="run in the background")
    args = parser.parse_args(argv)
    try:
        stack = load_stack(args.config)
    except SeawallError as exc:
        print(f"seawall supervisor: {exc}", file=sys.stderr)
        return 2
    paths = StatePaths(stack.state_dir)
    handle = _lock_pidfile(paths)
    if handle is None:
        print("seawall supervisor: already running for this stack", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    try:
        edges = EdgeProxy(stack, paths.state_dir) if has_edges(stack) else None
        if edges is not None:
            # planned before detaching, so an edge that cannot be routed reaches the caller's stderr
            edges.plan()
    except SeawallError as exc:
        print(f"seawall supervisor: {exc}", file=sys.stderr)
        handle.close()
        return 2
    if args.detach:
        _detach(paths)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(Supervisor(stack, paths, edges).serve())
    finally:
        with contextlib.suppress(FileNotFoundError):
            paths.pidfile.unlink()
        handle.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
